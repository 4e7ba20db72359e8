"""The log: the API users call to add, read and inspect nodes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .encodings import Encoding, get_encoding
from .errors import (
    AmbiguousKeyError,
    CorruptLogError,
    NodeNotFoundError,
    ReadOnlyLogError,
    UnknownLinkError,
    UsageError,
)
from .keys import KEY_HEX, node_key_bytes, normalize_key, normalize_prefix
from .node import Node
from .notebook.mixin import NotebookMixin
from .store import segments
from .store.directory import LogStore, SegmentGone
from .store.keyindex import KeyIndex
from .store.manifest import Manifest, SegmentInfo

if TYPE_CHECKING:
    import networkx as nx
    import pyarrow as pa

DEFAULT_ENCODING = "utf-8"
_NO_LINKS: list[bytes] = []


class Log(NotebookMixin):
    """An append-only Merkle DAG stored in a directory of Parquet segments.

    >>> import hyperframe, tempfile
    >>> log = hyperframe.open(tempfile.mkdtemp() + "/log.db")
    >>> hello = log.add("hello")
    >>> hello.key[:12]
    '8c7efb224725'
    >>> log.add("world", links=[hello.key]).key[:12]
    '5f5e63be9884'
    >>> len(log), log.heads()[0][:12]
    (2, '5f5e63be9884')
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str | None = None,
        lock_timeout: float = 60.0,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._store = LogStore(self.path, lock_timeout=lock_timeout)
        self._store.check_is_log()
        self._keys = KeyIndex(self._store.read_segment)
        self._manifest: Manifest | None = None
        self._graph: tuple[int, nx.DiGraph] | None = None
        self._requested = get_encoding(encoding) if encoding is not None else None
        current = self._refresh()
        if current is not None and self._requested is not None and self._requested.name != current.encoding:
            raise UsageError(
                f"{self.path} stores {current.encoding} values, not {self._requested.name}; "
                f"open it without encoding= (or with encoding={current.encoding!r})"
            )

    # --- state --------------------------------------------------------------------------

    def _refresh(self) -> Manifest | None:
        self._manifest = self._store.latest()
        return self._manifest

    def _keys_now(self) -> KeyIndex:
        self._keys.refresh(self._refresh())
        return self._keys

    @property
    def manifest(self) -> Manifest | None:
        """The current manifest (None for a log not yet created on disk)."""
        return self._refresh()

    def _adopt_encoding(self, name: str) -> bool:
        """Take a peer's encoding for a log not on disk yet, unless one was asked for."""
        if self._refresh() is None and self._requested is None:
            self._requested = get_encoding(name)
            return True
        return self.encoding.name == name

    @property
    def encoding(self) -> Encoding:
        """The value encoding: fixed when the log is created."""
        if self._manifest is not None:
            return get_encoding(self._manifest.encoding)
        return self._requested or get_encoding(DEFAULT_ENCODING)

    def __len__(self) -> int:
        current = self._refresh()
        return current.nodes if current else 0

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or len(key) != KEY_HEX:
            return False
        try:
            raw = bytes.fromhex(key)
        except ValueError:
            return False
        return bool(self._keys_now().present([raw]))

    def __iter__(self) -> Iterator[Node]:
        return self.changes()

    def __repr__(self) -> str:
        return f"<hyperframe.Log {str(self.path)!r}: {len(self)} nodes, {self.encoding.name}>"

    def heads(self) -> list[str]:
        """Keys of the nodes nothing links to yet, ascending.

        Read from the manifest: no segment is opened.
        """
        current = self._refresh()
        return list(current.heads) if current else []

    # --- writing ------------------------------------------------------------------------

    def add(self, value: Any, links: Iterable[str] = ()) -> Node:
        """Add one node linking ``links`` (hex keys the log holds) and return it.

        Adding a node that exists already returns the stored one. The returned node's
        ``value`` is the object you passed.
        """
        return self.batch([{"value": value, "links": list(links)}])[0]

    def append(self, value: Any) -> Node:
        """Add a node that links every current head (in ascending key order)."""
        return self.batch([{"value": value, "links": None}])[0]

    def batch(self, docs: Iterable[Mapping[str, Any]]) -> list[Node]:
        """Add many nodes in one atomic commit: all of them, or none and an error.

        Each doc is ``{"value": v, "links": [hex, ...]}``; a link may name a node of
        the same batch that comes earlier.

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
        >>> a, b = log.batch([{"value": {"n": 1}}, {"value": {"n": 2}, "links": []}])
        >>> [n.change for n in log.batch([{"value": 3, "links": [a.key, b.key]}])]
        [3]
        """
        encoding = self.encoding
        encode = encoding.encode
        items: list[Any] = []
        values: list[bytes] = []
        links_in: list[list[bytes] | None] = []
        for i, doc in enumerate(docs):
            if not isinstance(doc, Mapping) or "value" not in doc:
                raise UsageError(f"batch item {i} must be a dict with a 'value' (and optional 'links')")
            links = doc.get("links", ())
            if links is None:
                links_in.append(None)
            elif not links:
                links_in.append(_NO_LINKS)
            else:
                links_in.append([bytes.fromhex(normalize_key(k)) for k in _as_list(links, i)])
            items.append(doc["value"])
            values.append(encode(doc["value"]))
        if not values:
            return []
        return self._commit_docs(items, values, links_in, encoding.name)

    def _commit_docs(
        self, items: list[Any], values: list[bytes], links_in: list[list[bytes] | None], encoding: str
    ) -> list[Node]:
        """Validate and commit encoded docs under the lock; ``None`` links mean "the heads"."""
        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was written", path=self.path)
        store = self._store
        appends = any(links is None for links in links_in)
        if not appends:  # keys do not depend on the log's state: hash once, outside the lock
            links_of: list[list[bytes]] = links_in  # type: ignore[assignment]
            keys = [node_key_bytes(value, links) for value, links in zip(values, links_of)]
        checked: list[int] | None = None  # rows validated against an empty log
        if self._refresh() is None:  # nothing on disk yet: refuse bad input before creating anything
            if appends:
                keys, links_of = self._keys_with_heads(values, links_in, (), set)
            checked = self._new_rows(keys, links_of, set())
        with store.lock():
            current = store.latest() or store.initialize(encoding)
            if current.encoding != encoding:  # another handle created the log meanwhile
                raise UsageError(
                    f"{self.path} was created meanwhile with {current.encoding} values, not "
                    f"{encoding}; nothing was written. Open it again and add the values anew"
                )
            index = self._keys
            index.refresh(current)

            if checked is not None and not len(index):
                new_rows = checked  # still empty: the check above stands, keys included
            else:
                if appends:
                    keys, links_of = self._keys_with_heads(values, links_in, current.heads, index.stored_set)
                linked = [link for links in links_of for link in links]
                existing = index.present(keys + linked) if len(index) else set()
                new_rows = self._new_rows(keys, links_of, existing)
            if new_rows:
                if len(new_rows) == len(keys):
                    table = segments.make_table(keys, links_of, values)
                else:
                    table = segments.make_table(
                        [keys[i] for i in new_rows], [links_of[i] for i in new_rows], [values[i] for i in new_rows]
                    )
                current = store.commit(current, [table], heads=_next_heads(current.heads, table))
                current = store.compact(current, everything=False)
                self._manifest = current
            index.refresh(current)

        first_new = len(index) - len(new_rows)
        change_of = {keys[i]: first_new + n + 1 for n, i in enumerate(new_rows)}
        hexes = b"".join(keys).hex()
        nodes = []
        for n, (key, links, item) in enumerate(zip(keys, links_of, items)):
            change = change_of.get(key)
            if change is None:
                position = index.position(key)
                change = 0 if position is None else position + 1
            nodes.append(
                Node(hexes[64 * n : 64 * n + 64], tuple(link.hex() for link in links) if links else (), item, change)
            )
        return nodes

    @staticmethod
    def _keys_with_heads(
        values: list[bytes],
        links_in: list[list[bytes] | None],
        heads: Sequence[str],
        stored: Callable[[], set[bytes]],
    ) -> tuple[list[bytes], list[list[bytes]]]:
        """Keys for docs where ``None`` links mean the heads as they stand at that doc.

        A doc that is already stored (and so maybe linked by others) does not become a head.
        """
        heads_now = {bytes.fromhex(h) for h in heads}
        stored_keys: set[bytes] | None = None
        added: set[bytes] = set()
        keys: list[bytes] = []
        links_of: list[list[bytes]] = []
        for value, links in zip(values, links_in):
            if links is None:
                links = sorted(heads_now)
            key = node_key_bytes(value, links)
            keys.append(key)
            links_of.append(links)
            if key in added or key in heads_now:
                continue
            if stored_keys is None:
                stored_keys = stored()
            if key in stored_keys:
                continue
            heads_now.difference_update(links)
            heads_now.add(key)
            added.add(key)
        return keys, links_of

    def _new_rows(self, keys: list[bytes], links_of: list[list[bytes]], existing: set[bytes]) -> list[int]:
        """Rows to store: each link must be stored or come earlier; duplicates are dropped."""
        seen: set[bytes] = set()
        new_rows: list[int] = []
        for i, (key, links) in enumerate(zip(keys, links_of)):
            for link in links:
                if link not in existing and link not in seen:
                    later = " (it comes later in this batch: put it first)" if link in keys[i:] else ""
                    raise UnknownLinkError(
                        f"link {link.hex()} is not in {self.path}{later}; "
                        "add that node first or replicate it in, then try again. Nothing was written.",
                        key=link.hex(),
                    )
            if key not in existing and key not in seen:
                seen.add(key)
                new_rows.append(i)
        return new_rows

    def _import_tables(self, tables: Sequence[pa.Table]) -> int:
        """Commit verified nodes from a peer in one atomic commit; return how many were new.

        Rows the log already holds are dropped; the rest keep their order, so every
        node still comes after its links.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was received", path=self.path)
        store = self._store
        with store.lock():
            current = store.latest() or store.initialize(self.encoding.name)
            self._keys.refresh(current)
            fresh: list[pa.Table] = []
            for table in tables:
                if len(self._keys):
                    incoming = segments.split_keys(segments.key_bytes(table.column("key")))
                    known = segments.binary32(sorted(self._keys.present(incoming)))
                    if len(known):
                        table = table.filter(pc.invert(pc.is_in(table.column("key"), value_set=known)))
                if table.num_rows:
                    fresh.append(table)
            added = int(sum(t.num_rows for t in fresh))
            if fresh:
                heads = _next_heads(current.heads, pa.concat_tables(fresh))
                current = store.commit(current, fresh, heads=heads)
                current = store.compact(current, everything=False)
            self._manifest = current
            self._keys.refresh(current)
        return added

    def compact(self, retain_seconds: float = 300.0) -> Manifest | None:
        """Merge all segments into one, keeping order and content, and drop orphan files.

        Replaced segments stay on disk for ``retain_seconds`` so readers and replications
        that started before the compaction can finish; ``0`` frees the space at once.
        """
        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was compacted", path=self.path)
        if not self._store.exists():
            return None
        with self._store.lock():
            current = self._store.latest()
            if current is None:
                return None
            current = self._store.compact(current, everything=True, retain_seconds=retain_seconds)
            self._store.remove_orphans(current, now=retain_seconds <= 0)
            self._manifest = current
        return current

    # --- reading ------------------------------------------------------------------------

    def get(self, key: str) -> Node:
        """The node with this key, or with the only key starting with this prefix."""
        text = normalize_prefix(key)
        index = self._keys_now()
        if len(text) == KEY_HEX:
            position = index.position(bytes.fromhex(text))
            positions = [] if position is None else [position]
        else:
            positions = index.prefix_matches(text, limit=2)
        if not positions:
            raise NodeNotFoundError(
                f"no node in {self.path} has a key starting {text!r}; `hyperframe list {self.path}` shows the keys",
                key=text,
            )
        if len(positions) > 1:
            raise AmbiguousKeyError(
                f"more than one node in {self.path} has a key starting {text!r}; give more characters",
                key=text,
            )
        return next(self._read_range(positions[0], positions[0] + 1))

    def changes(
        self,
        since: int = 0,
        until: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> Iterator[Node]:
        """Nodes in change order: those with ``since < change <= until``, at most ``limit``.

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.batch([{"value": v} for v in "abc"])
        >>> [n.value for n in log.changes(since=1, reverse=True)]
        ['c', 'b']
        """
        total = len(self._keys_now())
        start = max(0, since)
        stop = total if until is None else max(start, min(total, until))
        if limit is not None:
            if limit < 0:
                raise UsageError("limit cannot be negative")
            if reverse:
                start = max(start, stop - limit)
            else:
                stop = min(stop, start + limit)
        return self._read_range(start, stop, reverse=reverse)

    def _read_range(self, start: int, stop: int, *, reverse: bool = False) -> Iterator[Node]:
        """Nodes at 0-based positions ``start..stop-1``, read segment by segment.

        Every node's key is checked against its content, so a damaged file can never
        serve a wrong node; a segment compacted away meanwhile is read from the new one.
        """
        manifest = self._manifest
        if manifest is None or start >= stop:
            return iter(())
        offsets = self._keys.offsets()

        def generate(manifest: Manifest, offsets: list[int]) -> Iterator[Node]:
            lo, hi = start, stop
            retried = False
            while lo < hi:
                try:
                    for n, info, a, b in _pieces(manifest, offsets, lo, hi, reverse):
                        table = self._store.read_segment(info).slice(a, b - a)
                        yield from self._nodes(table, offsets[n] + a, info.file, reverse)
                        if reverse:
                            hi = offsets[n] + a
                        else:
                            lo = offsets[n] + b
                    return
                except SegmentGone:
                    if retried:
                        raise
                    retried = True
                    self._keys.refresh(self._refresh())
                    manifest, offsets = self._manifest, self._keys.offsets()  # type: ignore[assignment]

        return generate(manifest, offsets)

    def _nodes(self, table: pa.Table, first: int, file: str, reverse: bool) -> Iterator[Node]:
        decode = self.encoding.decode
        keys = table.column("key").to_pylist()
        bad = segments.mismatched_rows(table)
        if bad:
            raise CorruptLogError(
                f"node {keys[bad[0]].hex()} in {file} does not match its content; "
                f"run `hyperframe verify {self.path}` and `hyperframe repair {self.path}`",
                path=self.path,
                file=file,
            )
        links = table.column("links").to_pylist()
        values = table.column("value").to_pylist()
        rows = range(len(keys) - 1, -1, -1) if reverse else range(len(keys))
        for r in rows:
            yield Node(keys[r].hex(), tuple(link.hex() for link in links[r]), decode(values[r]), first + r + 1)

    def to_arrow_raw(self) -> pa.Table:
        """All segments as one table of raw columns (key, links, value), in change order."""
        current = self._refresh()
        if current is None:
            return segments.schema().empty_table()
        return self._store.read_tables(current.segments)

    @property
    def graph(self) -> nx.DiGraph:
        """The log as a networkx DiGraph (edges from a link to its node), built on first use."""
        from .graph import build_graph

        current = self._refresh()
        version = current.version if current else -1
        if self._graph is None or self._graph[0] != version:
            table = (
                self._store.read_tables(current.segments, ["key", "links"])
                if current
                else segments.schema().empty_table()
            )
            self._graph = (version, build_graph(table))
        return self._graph[1]

    def info(self) -> dict[str, Any]:
        """A summary: path, encoding, nodes, heads, segments, bytes on disk."""
        current = self._refresh()
        return {
            "path": str(self.path),
            "encoding": self.encoding.name,
            "nodes": current.nodes if current else 0,
            "heads": len(current.heads) if current else 0,
            "segments": len(current.segments) if current else 0,
            "bytes": sum(s.size for s in current.segments) if current else 0,
            "version": current.version if current else None,
            "fingerprint": current.fingerprint if current else None,
        }


def _pieces(
    manifest: Manifest, offsets: list[int], lo: int, hi: int, reverse: bool
) -> list[tuple[int, SegmentInfo, int, int]]:
    """(segment number, segment, first row, end row) covering positions ``lo..hi-1``."""
    pieces = []
    for n, info in enumerate(manifest.segments):
        a, b = max(lo, offsets[n]), min(hi, offsets[n + 1])
        if a < b:
            pieces.append((n, info, a - offsets[n], b - offsets[n]))
    return pieces[::-1] if reverse else pieces


def _as_list(links: Any, i: int) -> Sequence[str]:
    if isinstance(links, str) or not isinstance(links, Iterable):
        raise UsageError(f"batch item {i}: 'links' must be a list of hex keys, not {type(links).__name__}")
    return list(links)


def _next_heads(old: Sequence[str], table: pa.Table) -> tuple[str, ...]:
    """Heads after appending ``table``: old heads and new keys that nothing new links."""
    import pyarrow.compute as pc

    linked = segments.one_array(pc.list_flatten(table.column("links")))
    keys = table.column("key")
    olds = segments.binary32([bytes.fromhex(h) for h in old])
    if len(linked):
        keys = keys.filter(pc.invert(pc.is_in(keys, value_set=linked)))
        olds = olds.filter(pc.invert(pc.is_in(olds, value_set=linked)))
    text = segments.key_bytes(keys).hex() + segments.key_bytes(olds).hex()
    return tuple(sorted({text[i : i + 64] for i in range(0, len(text), 64)}))


def open(path: str | os.PathLike[str], *, encoding: str | None = None, read_only: bool = False) -> Log:  # noqa: A001
    """Open the log in directory ``path``; it is created on the first write.

    ``encoding`` ("utf-8", "json" or "binary") is fixed when the log is created.

    >>> import hyperframe, tempfile
    >>> log = hyperframe.open(tempfile.mkdtemp() + "/notes", encoding="json")
    >>> log.add({"msg": "hello"}).key[:12]
    'e7fd9c7e61e1'
    """
    return Log(path, encoding=encoding, read_only=read_only)
