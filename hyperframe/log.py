"""The log: the API users call to add, read and inspect nodes.

A :class:`Log` owns one directory: a :class:`~hyperframe.store.directory.LogStore` for
the files, a :class:`~hyperframe.store.keyindex.KeyIndex` of the key columns, and the one
write path (:func:`hyperframe.store.commit.commit`). Replication reaches it only through
:meth:`Log.replica`, a narrow typed view; notebook code only through public methods.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, Union

from .encodings import Encoding, get_encoding
from .errors import (
    AmbiguousKeyError,
    CorruptLogError,
    NodeNotFoundError,
    NotALogError,
    ReadOnlyLogError,
    RejectedNodeError,
    ReplicationError,
    UnknownLinkError,
    UsageError,
)
from .events import Event, Events
from .keys import KEY_BYTES, KEY_HEX, node_key_bytes, normalize_prefix
from .node import Node, many_nodes
from .rows import Links, concat, keys_with_heads, link_keys, node_of, piece_at, plain_values, reencoder, table_nodes
from .store import segments
from .store.commit import Change, commit
from .store.directory import LogStore, SegmentGone, writing
from .store.keyindex import KeyIndex
from .store.manifest import Manifest, SegmentInfo

if TYPE_CHECKING:
    import networkx as nx
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from matplotlib.figure import Figure

DEFAULT_ENCODING = "utf-8"
_NO_LINKS: list[bytes] = []


@dataclass(frozen=True)
class Snapshot:
    """One consistent state of a log: its manifest and the rows it lists, in change order."""

    manifest: Manifest | None
    table: pa.Table

    @property
    def heads(self) -> tuple[str, ...]:
        return self.manifest.heads if self.manifest else ()


class Log:
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
        version: int | None = None,
        identity: bytes | None = None,
        sign: Callable[[Node], bytes] | None = None,
        verify: Callable[[Node], bool] | None = None,
    ) -> None:
        self.path = Path(path)
        #: hyperlog's signing options: who this handle writes as, how it signs, whom it believes
        self.identity, self.sign, self.verify = identity, sign, verify
        #: the version this log is pinned to (time travel; then read-only), or None: the newest
        self.version = version
        self.read_only = read_only or version is not None
        self._store = LogStore(self.path, lock_timeout=lock_timeout, version=version)
        self._store.check_is_log()
        self._keys = KeyIndex(self._store.read_segment)
        self._manifest: Manifest | None = None
        self._graph: tuple[int, nx.DiGraph] | None = None
        self._requested = get_encoding(encoding) if encoding is not None else None
        self._events = Events()
        current = self._refresh()
        if current is None and self.read_only:  # nothing to read, and nothing may be created: a wrong path
            raise no_log_at(self.path)
        if current is not None and self._requested is not None and self._requested.name != current.encoding:
            raise UsageError(
                f"{self.path} stores {current.encoding} values, not {self._requested.name}; "
                f"open it without encoding= (or with encoding={current.encoding!r})"
            )

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, encoding: str = DEFAULT_ENCODING) -> Log:
        """Create an empty log on disk now (``hyperframe init``); an existing log is opened.

        >>> import hyperframe, tempfile
        >>> hyperframe.Log.create(tempfile.mkdtemp(), encoding="json").info()["version"]
        0
        """
        log = cls(path, encoding=encoding)
        with writing(log.path), log._store.lock():
            log._store.initialize(log.encoding.name)
        log._refresh()
        return log

    # --- state --------------------------------------------------------------------------

    def _refresh(self) -> Manifest | None:
        self._manifest = self._store.latest()
        return self._manifest

    def _keys_now(self) -> KeyIndex:
        return _follow(self._store, self._keys)

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

    def add(self, value: Any, links: Links = (), *, encoding: str | None = None, identity: bytes | None = None) -> Node:
        """Add one node linking ``links`` (a hex key, a Node, or a list of them) and return it.

        Adding a node that exists already returns the stored one. The returned node's
        ``value`` is what reading it back gives (bytes on a binary log; for JSON, the object
        you passed). ``encoding`` encodes this value with another encoding than the log's
        (hyperlog's per-call ``valueEncoding``); the bytes must still be a valid value of
        the log's encoding.
        """
        doc: dict[str, Any] = {"value": value, "links": links}
        if identity is not None:
            doc["identity"] = identity
        return self._batch([doc], "add", encoding)[0]

    def append(self, value: Any, *, encoding: str | None = None) -> Node:
        """Add a node that links every current head (in ascending key order)."""
        return self._batch([{"value": value, "links": None}], "append", encoding)[0]

    def batch(self, docs: Iterable[Mapping[str, Any]], *, encoding: str | None = None) -> list[Node]:
        """Add many nodes in one atomic commit: all of them, or none and an error.

        Each doc is ``{"value": v, "links": [hex or Node, ...]}``; a link may name a node
        of the same batch that comes earlier; ``"links": None`` links the heads.

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
        >>> a, b = log.batch([{"value": {"n": 1}}, {"value": {"n": 2}, "links": []}])
        >>> [n.change for n in log.batch([{"value": 3, "links": [a.key, b.key]}])]
        [3]
        """
        return self._batch(docs, "batch", encoding)

    def extend(self, records: Any, *, chain: bool = False) -> list[Node]:
        """Add a JSON node per record (DataFrame, Arrow table or dicts) in one atomic commit.

        Linking rule: a row links nothing, unless there is a ``links`` column (a key or a
        list of keys; not part of the value), or ``chain=True``: the first row links the
        heads, every other row the row before it. A JSON log (a new log is created so).

        >>> import hyperframe, tempfile, pandas as pd; log = hyperframe.open(tempfile.mkdtemp())
        >>> [n.change for n in log.extend(pd.DataFrame({"species": ["Adelie", "Gentoo"]}), chain=True)]
        [1, 2]
        """
        from .records import record_docs

        if self._refresh() is None and self._requested is None:
            self._requested = get_encoding("json")
        if self.encoding.name != "json":
            raise UsageError(f"{self.path} stores {self.encoding.name} values; extend() writes JSON: use a JSON log")
        return self._batch(record_docs(records, chain=chain), "extend")

    def _batch(self, docs: Iterable[Mapping[str, Any]], operation: str, call: str | None = None) -> list[Node]:
        encoding = self.encoding
        given = encoding if call is None else get_encoding(call)
        items: list[Any] = []
        values: list[bytes] = []
        links_in: list[list[bytes] | None] = []
        identities: list[bytes | None] = []
        plain = (
            plain_values(docs)
            if given is encoding and self.identity is None and isinstance(docs, (list, tuple))
            else None
        )
        if plain is not None:  # values that link nothing: checked, encoded and hashed for all docs at once
            values = encoding.encode_batch(plain)
            items = plain if encoding.name == "json" else [encoding.decode(value) for value in values]
            links_in = [_NO_LINKS] * len(values)
            identities = [None] * len(values)
        else:
            encode = given.encode if given is encoding else reencoder(given, encoding)
            for i, doc in enumerate(docs):
                if not isinstance(doc, Mapping) or "value" not in doc:
                    raise UsageError(f"batch item {i} must be a dict with a 'value' (and optional 'links')")
                links = doc.get("links", ())
                if links is None:
                    links_in.append(None)
                elif not links:
                    links_in.append(_NO_LINKS)
                else:
                    links_in.append([bytes.fromhex(k) for k in link_keys(links, where=f"batch item {i}")])
                values.append(encode(doc["value"]))
                items.append(doc["value"] if given.name == "json" else given.decode(values[-1]))
                identities.append(_identity(doc.get("identity", self.identity), i))
        if not values:
            return []
        unsigned = identities.count(None) == len(identities)
        signs = self.sign is not None or not unsigned
        signatures: dict[bytes, bytes | None] = {}  # by key: a stage that runs twice signs once
        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was written", path=self.path)

        appends = None in links_in
        staged: dict[str, Any] = {}
        if not appends:  # keys do not depend on the log's state: hash once, outside the lock
            links_fixed: list[list[bytes]] = [links or _NO_LINKS for links in links_in]
            staged["keys"] = list(map(node_key_bytes, values, links_fixed))
            staged["links"] = links_fixed

        def stage(current: Manifest, index: KeyIndex) -> Change:
            if appends:
                keys, links_of = keys_with_heads(values, links_in, current.heads, index.stored_set)
                staged["keys"], staged["links"] = keys, links_of
            keys, links_of = staged["keys"], staged["links"]
            linked = [link for links in links_of for link in links] if any(links_of) else []
            existing = index.present(keys + linked) if len(index) else set()
            rows = self._new_rows(keys, links_of, existing)
            if not rows:
                return Change()
            # Node objects only when someone looks at them before the write (signing, events)
            nodes = (
                [node_of(keys[i], links_of[i], items[i], 0, identities[i]) for i in rows]
                if signs or self._events.any
                else []
            )
            if signs:
                for node, i in zip(nodes, rows):
                    if keys[i] not in signatures:  # sign() may raise: the add fails, nothing is written
                        signatures[keys[i]] = None if self.sign is None else bytes(self.sign(node))
                nodes = [replace(node, signature=signatures[keys[i]]) for node, i in zip(nodes, rows)]
            hook = None
            if self._events.any:

                def hook(_tables: list[pa.Table]) -> None:
                    announced[:] = nodes
                    self._events.preadd(announced)

            signed = ([n.identity for n in nodes], [n.signature for n in nodes]) if signs else (None, None)
            if len(rows) == len(keys):  # all of them, in order
                pick = keys, links_of, values
            else:
                pick = [keys[i] for i in rows], [links_of[i] for i in rows], [values[i] for i in rows]
            return Change([segments.make_table(*pick, *signed)], before_write=hook)

        announced: list[Node] = []
        try:
            done = commit(self._store, self._keys, encoding=encoding.name, stage=stage, operation=operation)
        except BaseException as exc:
            if self._events.any:
                refused = announced or [
                    node_of(k, ls, item, 0)
                    for k, ls, item in zip(staged.get("keys", ()), staged.get("links", ()), items)
                ]
                self._events.reject(refused, exc)
            raise
        if done.manifest is not None:
            self._manifest = done.manifest
        keys, links_of = staged["keys"], staged["links"]
        nodes = many_nodes(
            list(map(bytes.hex, keys)),
            [tuple(map(bytes.hex, links)) for links in links_of] if any(links_of) else repeat(()),
            items,
            self._changes(keys, done.tables),
            None if unsigned else identities,
            [signatures.get(key) for key in keys] if signatures else None,
        )
        if announced:
            told = {node.key for node in announced}
            self._events.add([node for node in nodes if node.key in told])
        return nodes

    def _changes(self, keys: list[bytes], tables: Sequence[pa.Table]) -> Sequence[int]:
        """The change numbers of ``keys`` after a commit that added ``tables`` (0: not stored)."""
        index = self._keys
        added = b"".join(segments.key_bytes(t.column("key")) for t in tables)
        first_new = len(index) - len(added) // KEY_BYTES
        if added == b"".join(keys):  # every key new, in order: the common batch
            return range(first_new + 1, first_new + 1 + len(keys))
        new_keys = {k: n for n, k in enumerate(segments.split_keys(added))}
        changes = []
        for key in keys:
            change = new_keys.get(key)
            if change is not None:
                change += first_new + 1
            else:
                position = index.position(key)
                change = 0 if position is None else position + 1
            changes.append(change)
        return changes

    # --- events -------------------------------------------------------------------------

    def on(self, event: Event, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on ``"preadd"`` (node), ``"add"`` (node) or ``"reject"`` (node,
        error), for nodes added through this handle or received by replication into it.
        See :mod:`hyperframe.events` for what a raising callback does.

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp())
        >>> log.on("preadd", lambda node: print("about to store", node.key[:8]))
        >>> _ = log.add("hello")
        about to store 8c7efb22
        """
        self._events.on(event, callback)

    def off(self, event: Event, callback: Callable[..., Any]) -> None:
        """Stop calling ``callback`` on ``event``."""
        self._events.off(event, callback)

    def _new_rows(self, keys: list[bytes], links_of: list[list[bytes]], existing: set[bytes]) -> list[int]:
        """Rows to store: each link must be stored or come earlier; duplicates are dropped."""
        if not existing and not any(links_of) and len(set(keys)) == len(keys):  # nothing to check
            return list(range(len(keys)))
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

    def compact(
        self, retain_seconds: float | None = None, *, progress: Callable[[int, int], None] | None = None
    ) -> Manifest | None:
        """Merge all segments into one (a format-1 log: in format 2), keeping order and
        content, then :meth:`vacuum` with ``retain_seconds`` (default: the log's retention,
        a week; ``0`` frees the replaced files and older versions at once).
        ``progress(done, total)`` (nodes) is called as the work starts and when it is done.

        >>> import hyperframe, tempfile; log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.add("a"); _ = log.add("b")
        >>> log.compact(retain_seconds=0).segments[0].rows, len(log.history())
        (2, 1)
        """
        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was compacted", path=self.path)
        if not self._store.exists():
            return None
        with writing(self.path), self._store.lock():
            current = self._store.latest()
            if current is None:
                return None
            if progress is not None:  # ``progress(done, total)`` in nodes: a bar for `hyperframe compact`
                progress(0, current.nodes)
            current = self._store.compact(current, everything=True)
            self._store.vacuum(current, current.retention if retain_seconds is None else retain_seconds)
            self._manifest = current
            if progress is not None:
                progress(current.nodes, current.nodes)
        return current

    def vacuum(self, retain_seconds: float | None = None) -> list[str]:
        """Delete versions replaced over ``retain_seconds`` ago (default: the log's retention,
        a week), the files only they need and dead writers' leftovers; return their paths.

        >>> import hyperframe, tempfile; log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.add("a"); _ = log.add("b")
        >>> len(log.vacuum(retain_seconds=0)), [v["version"] for v in log.history()]
        (2, [2])
        """
        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was vacuumed", path=self.path)
        return sorted(str(p.relative_to(self.path)) for p in self._store.vacuum_now(retain_seconds))

    def set_retention(self, seconds: float) -> None:
        """Keep replaced versions (and their files) for ``seconds`` (default: a week).

        >>> import hyperframe, tempfile; log = hyperframe.open(tempfile.mkdtemp())
        >>> log.set_retention(3600); log.history()[0]["operation"], log.info()["retention"]
        ('set retention', 3600.0)
        """
        if self.read_only:
            raise ReadOnlyLogError(f"{self.path} was opened read-only; nothing was written", path=self.path)
        self._manifest = self._store.set_retention(seconds, self.encoding.name)

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The versions kept, newest first: ``version``, ``time`` (Unix seconds), ``operation``,
        ``nodes``, ``heads`` and ``segments``; each opens with ``hyperframe.open(path, version=N)``.

        >>> import hyperframe, tempfile; log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.add("a"); _ = log.batch([{"value": "b"}, {"value": "c"}])
        >>> [(v["version"], v["operation"], v["nodes"]) for v in log.history()]
        [(2, 'batch', 3), (1, 'add', 1), (0, 'create', 0)]
        """
        return [m.summary() for m in self._store.history()[:limit]]

    # --- reading ------------------------------------------------------------------------

    def get(self, key: str, *, encoding: str | None = None) -> Node:
        """The node with this key, or with the only key starting with this prefix.

        ``encoding`` decodes its value with another encoding than the log's.
        """
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
        node = next(self._read_range(positions[0], positions[0] + 1, encoding=encoding), None)
        if node is None:  # a log never loses a position: a state older than the index's
            raise NodeNotFoundError(f"no node in {self.path} is at change {positions[0] + 1}", key=text)
        return node

    def changes(
        self,
        since: int = 0,
        until: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
        *,
        live: bool = False,
        tail: bool = False,
        timeout: float | None = None,
        encoding: str | None = None,
    ) -> Iterator[Node]:
        """Nodes in change order: those with ``since < change < until``, at most ``limit``.

        As in hyperlog, ``until`` means "changes before ``until``". ``live=True`` yields
        the existing nodes and then each new one as it is committed (by this handle,
        another one or another process; the log need not exist yet), until the generator
        is closed or ``timeout`` seconds pass with nothing new; ``tail=True`` starts at the
        current end. ``encoding`` decodes this call's values with another encoding than
        the log's (hyperlog's per-call ``valueEncoding``).

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.batch([{"value": v} for v in "abc"])
        >>> [n.value for n in log.changes(since=1, reverse=True)]
        ['c', 'b']
        >>> [n.change for n in log.changes(until=3)]
        [1, 2]
        """
        if live or tail:
            if until is not None or limit is not None or reverse:
                raise UsageError("a live feed takes since= (or tail=True) and timeout=, not until/limit/reverse")
            from .live import follow

            return follow(self, len(self) if tail else max(0, since), timeout=timeout, encoding=encoding)
        total = len(self)
        start = max(0, since)
        stop = total if until is None else max(start, min(total, until - 1))
        if limit is not None:
            if limit < 0:
                raise UsageError("limit cannot be negative")
            if reverse:
                start = max(start, stop - limit)
            else:
                stop = min(stop, start + limit)
        return self._read_range(start, stop, reverse=reverse, encoding=encoding)

    def _read_range(
        self, start: int, stop: int, *, reverse: bool = False, encoding: str | None = None
    ) -> Iterator[Node]:
        """Nodes at 0-based positions ``start..stop-1``, read segment by segment.

        Every node's key is checked against its content, so a damaged file can never
        serve a wrong node; a segment compacted away meanwhile is read from the newest
        state (positions never change: a compaction keeps the order).
        """
        store = self._store

        def piece(lo: int, hi: int) -> Callable[[Manifest | None], tuple[pa.Table, int, str] | None]:
            def read(manifest: Manifest | None) -> tuple[pa.Table, int, str] | None:
                found = piece_at(manifest, lo, hi, reverse)
                if found is None:
                    return None
                info, first, a, b = found  # only the row groups holding rows a..b-1 are decoded
                return store.read_segment(info, rows=(a, b)), first + a, info.file

            return read

        def generate() -> Iterator[Node]:
            lo, hi = start, stop
            while lo < hi:
                found = store.read_state(piece(lo, hi))
                if found is None:
                    return
                table, first, file = found
                yield from self._nodes(table, first, file, reverse, encoding)
                if reverse:
                    hi = first
                else:
                    lo = first + table.num_rows

        return generate()

    def _nodes(
        self, table: pa.Table, first: int, file: str, reverse: bool, encoding: str | None = None
    ) -> Iterator[Node]:
        decode = (self.encoding if encoding is None else get_encoding(encoding)).decode
        keys = segments.key_bytes(table.column("key")).hex()  # hex once, then a slice per node
        bad = segments.mismatched_rows(table)
        if bad:
            raise CorruptLogError(
                f"node {keys[KEY_HEX * bad[0] : KEY_HEX * bad[0] + KEY_HEX]} in {file} does not match its content; "
                f"run `hyperframe verify {self.path}` and `hyperframe repair {self.path}`",
                path=self.path,
                file=file,
            )
        offsets, flat = segments.links_per_row(table)
        links = flat.hex()
        values = table.column("value").to_pylist()
        n = table.num_rows
        signed = table.column("identity").null_count < n or table.column("signature").null_count < n
        identities = table.column("identity").to_pylist() if signed else [None] * n
        signatures = table.column("signature").to_pylist() if signed else identities
        for r in range(n - 1, -1, -1) if reverse else range(n):
            at, end = KEY_HEX * offsets[r], KEY_HEX * offsets[r + 1]
            one = end - at == KEY_HEX  # the common shape
            linked = (links[at:end],) if one else tuple(links[i : i + KEY_HEX] for i in range(at, end, KEY_HEX))
            yield Node(
                keys[KEY_HEX * r : KEY_HEX * r + KEY_HEX],
                linked,
                decode(values[r]),
                first + r + 1,
                identities[r],
                signatures[r],
            )

    def snapshot(self, columns: list[str] | None = None, *, on_rows: Callable[[int], None] | None = None) -> Snapshot:
        """The newest state and every row it lists (raw columns key, links, value), read as
        one consistent whole even while another process compacts.

        ``on_rows(n)`` is called after each segment with its row count (for progress bars).

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.add("hello")
        >>> log.snapshot(["key"]).table.num_rows
        1
        """

        def read(manifest: Manifest | None) -> Snapshot:
            if manifest is None or not manifest.segments:
                empty = segments.schema().empty_table()
                return Snapshot(manifest, empty.select(columns) if columns else empty)
            tables = []
            for info in manifest.segments:
                tables.append(self._store.read_segment(info, columns))
                if on_rows is not None:
                    on_rows(info.rows)
            return Snapshot(manifest, concat(tables))

        state = self._store.read_state(read)
        self._manifest = state.manifest
        return state

    def to_arrow_raw(self) -> pa.Table:
        """All segments as one table of raw columns (key, links, value), in change order."""
        return self.snapshot().table

    @property
    def graph(self) -> nx.DiGraph:
        """The log as a networkx DiGraph (edges from a link to its node), built on first use."""
        from .graph import build_graph

        current = self._refresh()
        version = current.version if current else -1
        if self._graph is None or self._graph[0] != version:
            state = self.snapshot(["key", "links"])
            self._graph = (state.manifest.version if state.manifest else -1, build_graph(state.table))
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
            "format": current.format if current else None,
            "retention": current.retention if current else None,
        }

    # --- data interchange ---------------------------------------------------------------

    def to_arrow(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        ancestors_of: str | None = None,
        descendants_of: str | None = None,
        expand: bool | None = None,
        raw: bool = False,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,  # noqa: A002 - pandas' and pyarrow's name
        progress: bool | None = None,
    ) -> pa.Table:
        """The log as a ``pyarrow.Table``, one row per node.

        Columns: ``key``, ``links`` (hex), ``change``, ``depth`` (generation from the
        roots), ``is_head``, then the value: decoded into ``value``, or for a JSON log
        its fields as columns (nested keys dotted).

        Args:
            since, until: keep changes with ``since < change <= until``.
            ancestors_of: keep this node (key or unique prefix) and its whole history.
            descendants_of: keep this node and everything built on it.
            expand: JSON logs only: False keeps the JSON text in ``value``.
            raw: keep ``value`` as the stored bytes (no decoding, no expansion).
            columns: only these columns, in order (and only the stored columns they need are read).
            filter: a ``pyarrow.compute`` expression over the output columns: the rows it keeps.
            progress: show a progress bar (default: for 200,000 nodes or more).

        >>> import hyperframe, tempfile, pyarrow.compute as pc
        >>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
        >>> _ = log.add({"species": "Adelie"}); _ = log.add({"species": "Gentoo"})
        >>> log.to_arrow().column_names
        ['key', 'links', 'change', 'depth', 'is_head', 'species']
        >>> log.to_arrow(columns=["change"], filter=pc.field("species") == "Gentoo").to_pylist()
        [{'change': 2}]
        """
        from .frames import Selection, build_table

        selection = Selection(since, until, ancestors_of, descendants_of, expand, raw, columns, filter)
        return build_table(self, selection, progress=progress)

    def to_pandas(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        ancestors_of: str | None = None,
        descendants_of: str | None = None,
        expand: bool | None = None,
        raw: bool = False,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,  # noqa: A002 - pandas' and pyarrow's name
        progress: bool | None = None,
        **options: Any,
    ) -> pd.DataFrame:
        """The log as a pandas DataFrame: the arguments of :meth:`to_arrow` (``columns=``,
        ``filter=`` included), plus any keyword of ``pyarrow.Table.to_pandas`` (e.g.
        ``types_mapper=pd.ArrowDtype``).

        Without JSON expansion values stay text: ``df.value.map(json.loads)`` parses them.

        >>> import hyperframe, tempfile
        >>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
        >>> _ = log.add({"species": "Adelie", "flipper_length_mm": 181})
        >>> log.to_pandas()[["change", "depth", "is_head", "species"]].to_dict("records")
        [{'change': 1, 'depth': 0, 'is_head': True, 'species': 'Adelie'}]
        """
        from .frames import Selection, build_table, table_to_pandas

        selection = Selection(since, until, ancestors_of, descendants_of, expand, raw, columns, filter)
        return table_to_pandas(build_table(self, selection, progress=progress), options)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule stream of :meth:`to_arrow`'s table.

        So ``pyarrow.table(log)``, ``polars.DataFrame(log)`` and DuckDB read a log directly.

        >>> import hyperframe, tempfile, pyarrow
        >>> log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.add("hello")
        >>> pyarrow.table(log).num_rows
        1
        """
        return self.to_arrow(progress=False).__arrow_c_stream__(requested_schema)

    def dataset(self) -> ds.Dataset:
        """:meth:`files` as a ``pyarrow.dataset``: raw columns key, links, value, for lazy
        scans and filters (a compaction moves the files later: take a fresh one after writes)."""
        import pyarrow.dataset as ds

        return ds.dataset(self.files(), schema=segments.schema(), format="parquet")

    def files(self) -> list[str]:
        """The live segment files, in change order: the fast way for DuckDB and Polars to
        query a log (ask again after writes; at an older ``version``: that version's files).

        >>> import hyperframe, tempfile, duckdb; log = hyperframe.open(tempfile.mkdtemp())
        >>> _ = log.add("hello")
        >>> duckdb.sql(f"select lower(hex(key)) as key from read_parquet({log.files()})").fetchall()[0][0][:12]
        '8c7efb224725'
        """
        return [str(p) for p in self._store.files(self._refresh())]

    # --- notebook doors -----------------------------------------------------------------

    def _repr_html_(self) -> str:
        """A rich summary for notebooks: nodes, heads, segments, encoding, a preview.

        Never raises: if the log cannot be read, a plain escaped message is shown instead.
        """
        from .notebook.display import safe_html

        return safe_html(self)

    def plot(self, **options: Any) -> Figure:
        """Draw the causal graph; see :func:`hyperframe.notebook.plot.plot` for the options
        (``label="species"``, ``other=log_b``, ``max_nodes=...``). Returns the figure."""
        from .notebook.plot import plot

        return plot(self, **options)

    # --- replication --------------------------------------------------------------------

    def replica(self, *, process: Callable[[Node], object] | None = None) -> LogReplica:
        """The narrow view replication works through (see :class:`hyperframe.sync.replica.Replica`).

        ``process(node)`` is called for every received node before it is committed; raising
        refuses the whole transfer (nothing is committed).
        """
        return LogReplica(self, self._store, self._keys, process)


class LogReplica:
    """A :class:`Log` as replication sees it: its state, its node ids and rows, one commit.

    Implements :class:`hyperframe.sync.replica.Replica`.
    """

    def __init__(
        self, log: Log, store: LogStore, index: KeyIndex, process: Callable[[Node], object] | None = None
    ) -> None:
        self.log = log
        self._process = process
        self.name = str(log.path)
        self._store = store
        self._index = index

    def state(self) -> Manifest:
        """The newest manifest; an empty one numbered -1 for a log not on disk yet."""
        current = self._store.latest()
        return current if current is not None else Manifest(version=-1, encoding=self.log.encoding.name)

    def adopt_encoding(self, name: str) -> bool:
        """Take a peer's encoding for a log not on disk yet (unless one was asked for)."""
        return self.log._adopt_encoding(name)

    def ids(self, infos: Sequence[SegmentInfo]) -> np.ndarray:
        """The 64-bit node ids of these segments' rows, in order (key columns are cached)."""
        import numpy as np

        index = _follow(self._store, self._index)
        parts = [segments.node_ids(self._readable(index.keys_of, info)) for info in infos]
        return np.concatenate(parts) if parts else np.empty(0, np.uint64)

    def keys(self) -> pa.ChunkedArray:
        """Every key of the newest state, in change order."""
        return _follow(self._store, self._index).all_keys()

    def has(self, keys: list[bytes]) -> set[bytes]:
        """Which of these raw keys the log holds."""
        return _follow(self._store, self._index).present(keys)

    def read(self, info: SegmentInfo) -> pa.Table:
        """One segment's rows (checked against the manifest)."""
        return self._readable(self._store.read_segment, info)

    def pieces(self, info: SegmentInfo) -> Iterator[pa.Table]:
        """One segment's rows a Parquet row group at a time: its bytes are checked against
        the manifest (size, SHA-256) before any row is parsed, its rows and id at the end,
        and only one row group is held at once (:mod:`hyperframe.store.stream`)."""
        try:
            yield from self._store.pieces(info)
        except SegmentGone:
            raise self._compacted(info) from None

    def _readable(self, read: Callable[[SegmentInfo], pa.Table], info: SegmentInfo) -> pa.Table:
        try:
            return read(info)
        except SegmentGone:
            raise self._compacted(info) from None

    def _compacted(self, info: SegmentInfo) -> ReplicationError:
        return ReplicationError(
            f"{self.name} was compacted while it was being replicated (segment {info.file} is gone); "
            "nothing from this transfer was committed, run replication again"
        )

    def rows(self, since: int) -> pa.Table:
        """Every row after the first ``since``, in change order."""

        def read(manifest: Manifest | None) -> pa.Table:
            tables, first = [], 0
            for info in manifest.segments if manifest else ():
                if first + info.rows > since:
                    table = self._store.read_segment(info)
                    tables.append(table.slice(max(0, since - first)))
                first += info.rows
            return concat(tables) if tables else segments.schema().empty_table()

        return self._store.read_state(read)

    def refuse(self, error: RejectedNodeError) -> None:
        """Tell the log's ``reject`` callbacks about a node the peer sent that failed verification."""
        if error.key is not None and not error.reported:
            error.reported = True
            self.log._events.reject([Node(error.key, (), None, 0)], error)

    def commit(self, tables: Sequence[pa.Table]) -> int:
        """Commit verified nodes in one atomic commit; return how many were new.

        Rows the log already holds are dropped; the rest keep their order, so every node
        still comes after its links.
        """
        log = self.log
        if log.read_only:
            raise ReadOnlyLogError(f"{log.path} was opened read-only; nothing was received", path=log.path)
        events, process = log._events, self._process
        announced: list[Node] = []

        trusted = log.verify

        def check(new: list[pa.Table]) -> None:  # under the lock, just before writing
            announced[:] = table_nodes(new, log.encoding)
            for node in announced:
                if trusted is not None and not _believed(trusted, node):
                    raise RejectedNodeError(
                        f"invalid signature: node {node.key} (identity "
                        f"{node.identity.hex()[:16] if node.identity else 'none'}) is not signed by anyone "
                        f"{log.path} trusts; nothing from this transfer was committed",
                        key=node.key,
                    )
                if process is not None:
                    process(node)
            events.preadd(announced)

        hook = check if events.any or process is not None or trusted is not None else None
        try:
            done = commit(
                self._store,
                self._index,
                encoding=log.encoding.name,
                stage=lambda _m, _i: Change(tables, before_write=hook),
                operation="receive",
            )
        except BaseException as exc:
            events.reject(announced, exc)
            if isinstance(exc, RejectedNodeError):
                exc.reported = True
            raise
        log._refresh()
        if announced:
            first = len(self._index) - done.added
            events.add([replace(node, change=first + n + 1) for n, node in enumerate(announced)])
        return done.added


def _follow(store: LogStore, index: KeyIndex) -> KeyIndex:
    """``index`` brought up to the newest state (again if a compaction removed a file meanwhile)."""

    def refresh(manifest: Manifest | None) -> KeyIndex:
        index.refresh(manifest)
        return index

    return store.read_state(refresh)


def _believed(verify: Callable[[Node], bool], node: Node) -> bool:
    try:
        return bool(verify(node))
    except Exception:  # a verify that raises believes nothing
        return False


def _identity(identity: object, i: int) -> bytes | None:
    if identity is None or isinstance(identity, bytes):
        if identity is not None and len(identity) > segments.MAX_SIGNED_BYTES:
            raise UsageError(f"batch item {i}: an identity is at most {segments.MAX_SIGNED_BYTES} bytes")
        return identity
    raise UsageError(f"batch item {i}: an identity must be bytes (a public key), not {type(identity).__name__}")


#: a log, or the path of one: what the module-level functions accept
LogLike: TypeAlias = Union[Log, str, "os.PathLike[str]"]


def as_log(log: LogLike, *, read_only: bool = False, must_exist: bool = False) -> Log:
    """``log`` itself, or the log at that path (opened ``read_only`` if asked).

    ``must_exist`` refuses a path where no log is yet (rather than an empty log to be).
    """
    if isinstance(log, Log):
        return log
    opened = Log(log, read_only=read_only)
    if must_exist and opened.manifest is None:
        raise no_log_at(log)
    return opened


def no_log_at(path: str | os.PathLike[str]) -> NotALogError:
    """The error for a path that holds no log where one must exist (a read, a read-only open)."""
    return NotALogError(
        f"{path} is not a hyperframe log (nothing there yet); check the path, or create it with `hyperframe init`",
        path=path,
    )


def open(  # noqa: A001
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    read_only: bool = False,
    version: int | None = None,
    identity: bytes | None = None,
    sign: Callable[[Node], bytes] | None = None,
    verify: Callable[[Node], bool] | None = None,
) -> Log:
    """Open the log in directory ``path``; it is created on the first write.

    ``identity``, ``sign`` and ``verify`` are hyperlog's options: ``sign(node)`` (the node
    with ``key``, ``links``, ``value`` and ``identity`` set) returns the signature stored
    with every node this handle adds; ``verify(node)`` must be true for every node
    replication brings in (see :mod:`hyperframe.signing` for Ed25519 keys and trust lists).

    ``encoding`` ("utf-8", "json" or "binary") is fixed when the log is created.
    ``version=N`` opens exactly version N, read-only (time travel; ``log.history()`` lists
    the versions kept); a version removed by ``vacuum`` raises ``LogError``.
    ``read_only=True`` needs a log that exists: a path with none raises ``NotALogError``.

    >>> import hyperframe, tempfile
    >>> log = hyperframe.open(tempfile.mkdtemp() + "/notes", encoding="json")
    >>> log.add({"msg": "hello"}).key[:12]
    'e7fd9c7e61e1'
    """
    return Log(
        path, encoding=encoding, read_only=read_only, version=version, identity=identity, sign=sign, verify=verify
    )
