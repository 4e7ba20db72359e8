"""Between what users pass and what segments hold: docs to rows, rows to nodes.

One place for what a link may be given as (a key, a Node, or a list of either), how the
keys of docs that link "the heads" are worked out, how a per-call encoding is checked
against the log's, and how segment rows become :class:`~hyperframe.node.Node` objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .encodings import Encoding
from .errors import EncodingError, UsageError
from .keys import node_key_bytes, normalize_key
from .node import Node
from .store import segments

if TYPE_CHECKING:
    import pyarrow as pa

    from .store.manifest import Manifest, SegmentInfo

#: what a link may be given as: a hex key, a Node, or a list of either
Links: TypeAlias = str | Node | Iterable[str | Node]


def link_keys(links: Links, *, where: str = "links") -> list[str]:
    """Full hex keys from a key, a Node, or a list of either (anything else: UsageError)."""
    if isinstance(links, (str, Node)):
        links = [links]
    elif not isinstance(links, Iterable) or isinstance(links, (bytes, bytearray, Mapping)):
        raise UsageError(f"{where}: links must be a hex key, a Node, or a list of them, not {type(links).__name__}")
    out = []
    for link in links:
        if isinstance(link, Node):
            out.append(link.key)
        elif isinstance(link, str):
            out.append(normalize_key(link))
        else:
            raise UsageError(f"{where}: a link must be a hex key or a Node, not {type(link).__name__}")
    return out


def plain_values(docs: Sequence[object]) -> list[Any] | None:
    """The values of docs that are a ``dict`` with a value and nothing else but maybe
    ``"links": []`` (or ``()``), checked for all docs at once; None if a doc is otherwise
    (it then goes through the checks one doc at a time).

    >>> plain_values([{"value": 1}, {"value": 2, "links": []}]), plain_values([{"value": 1, "links": None}])
    ([1, 2], None)
    """
    if set(map(type, docs)) - {dict}:
        return None
    dicts = cast("list[dict[str, Any]]", docs)
    if dicts and max(map(len, dicts)) > 1:  # some docs hold more than a value
        for doc in [doc for doc in dicts if len(doc) > 1]:
            links = doc.get("links", None)
            if len(doc) != 2 or "value" not in doc or type(links) not in (list, tuple) or links:
                return None
    try:
        return list(map(itemgetter("value"), dicts))
    except KeyError:  # a one-key doc without a value
        return None


def table_nodes(tables: Sequence[pa.Table], encoding: Encoding) -> list[Node]:
    """The rows of segment tables as Nodes (change numbers 0: not committed yet)."""
    nodes = []
    for table in tables:
        keys = segments.split_keys(segments.key_bytes(table.column("key")))
        offsets, flat = segments.links_per_row(table)
        links = segments.split_keys(flat)
        identities = table.column("identity").to_pylist()
        signatures = table.column("signature").to_pylist()
        for row, value in enumerate(table.column("value").to_pylist()):
            node = node_of(keys[row], links[offsets[row] : offsets[row + 1]], encoding.decode(value), 0)
            if identities[row] is not None or signatures[row] is not None:
                node = replace(node, identity=identities[row], signature=signatures[row])
            nodes.append(node)
    return nodes


def node_of(key: bytes, links: Sequence[bytes], value: Any, change: int, identity: bytes | None = None) -> Node:
    return Node(key.hex(), tuple(link.hex() for link in links), value, change, identity)


def reencoder(given: Encoding, stored: Encoding) -> Callable[[Any], bytes]:
    """Encode with ``given``, refusing bytes the log's own encoding could not read back."""

    def encode(value: Any) -> bytes:
        data = given.encode(value)
        try:
            stored.decode(data)
        except EncodingError:
            raise EncodingError(
                f"{given.name} gives bytes this {stored.name} log cannot read back; "
                f"pass a value its own encoding ({stored.name}) can hold"
            ) from None
        return data

    return encode


def keys_with_heads(
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


def piece_at(manifest: Manifest | None, lo: int, hi: int, reverse: bool) -> tuple[SegmentInfo, int, int, int] | None:
    """The segment holding position ``lo`` (``hi - 1`` when reversed): (segment, its first
    position, first row, end row) of the part inside ``lo..hi-1``."""
    if manifest is None:
        return None
    first = 0
    pieces = []
    for info in manifest.segments:
        a, b = max(lo, first), min(hi, first + info.rows)
        if a < b:
            pieces.append((info, first, a - first, b - first))
        first += info.rows
    if not pieces:
        return None
    return pieces[-1] if reverse else pieces[0]


def concat(tables: list[pa.Table]) -> pa.Table:
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
