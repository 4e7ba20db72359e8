"""Node keys: hyperlog's framed SHA-256, so a node has the same key everywhere.

For each link (its 64-char hex key as UTF-8) the hash is fed ``b"<length>\\n"`` then
the link, then ``b"<length>\\n"`` then the value bytes::

    >>> node_key(b"hello", [])
    '8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602'

Keys are hex strings in the API and 32 raw bytes on disk and on the wire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

KEY_BYTES = 32
KEY_HEX = 2 * KEY_BYTES
#: the digits of a lower-case hex key
HEX_DIGITS = frozenset("0123456789abcdef")
_LINK_FRAME = b"%d\n" % KEY_HEX
_sha256 = hashlib.sha256


def node_key_bytes(value: bytes, links: Sequence[bytes]) -> bytes:
    """The 32-byte key of a node whose links are given as raw 32-byte keys."""
    if not links:
        return _sha256(b"%d\n" % len(value) + value).digest()
    h = _sha256()
    for link in links:
        h.update(_LINK_FRAME)
        h.update(link.hex().encode("ascii"))
    h.update(b"%d\n" % len(value))
    h.update(value)
    return h.digest()


#: values up to this size are hashed in one call with their framing (a brief copy);
#: larger ones are fed to the hash in place, never copied
_ONE_CALL = 65536


def row_keys(values: Sequence[bytes | memoryview], offsets: Sequence[int], flat_links: bytes) -> list[bytes]:
    """The keys of many nodes at once: row ``i`` links ``flat_links[32*offsets[i]:32*offsets[i+1]]``.

    The same framing as :func:`node_key_bytes`, with no per-link Python objects; values may
    be memoryviews into an Arrow buffer.

    >>> row_keys([b"hello"], [0, 0], b"")[0].hex()[:12]
    '8c7efb224725'
    """
    link_hex = flat_links.hex().encode("ascii")
    frame = _LINK_FRAME
    out = []
    for row, value in enumerate(values):
        first, last = offsets[row], offsets[row + 1]
        size = len(value)
        if size <= _ONE_CALL and last - first <= 1:  # the common shapes: one call each
            head = frame + link_hex[KEY_HEX * first : KEY_HEX * last] if last > first else b""
            out.append(_sha256(head + b"%d\n" % size + value).digest())
            continue
        h = _sha256()
        for j in range(first, last):
            h.update(frame)
            h.update(link_hex[KEY_HEX * j : KEY_HEX * j + KEY_HEX])
        h.update(b"%d\n" % size)
        h.update(value)
        out.append(h.digest())
    return out


#: rows framed at once by :func:`array_keys` (and at most this many value bytes): the
#: framed copy of a chunk stays small whatever the size of the table
_CHUNK_ROWS = 65536
_CHUNK_BYTES = 8 * 1024 * 1024
#: more links than this per row on average, and a chunk is hashed in place instead
_MAX_LINKS_PER_ROW = 4


def array_keys(values: pa.Array, offsets: np.ndarray, flat_links: bytes) -> list[bytes]:
    """The keys of a ``binary`` Arrow array's values, row ``i`` linking
    ``flat_links[32*offsets[i]:32*offsets[i+1]]``: :func:`row_keys` with the framing built by
    Arrow and NumPy kernels for many rows at once, leaving one hash call per row.

    Values larger than a one-call hash are hashed in place by :func:`row_keys`.

    >>> import numpy as np, pyarrow as pa
    >>> array_keys(pa.array([b"hello"]), np.array([0, 0]), b"")[0].hex()[:12]
    '8c7efb224725'
    """
    import numpy as np
    import pyarrow as pa

    n = len(values)
    if not n:
        return []
    if not pa.types.is_binary(values.type):
        values = values.cast(pa.binary())
    bounds = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + n + 1]
    data = values.buffers()[2]
    view = memoryview(data) if data is not None else memoryview(b"")
    out: list[bytes] = []
    start = 0
    while start < n:
        stop = int(np.searchsorted(bounds, bounds[start] + _CHUNK_BYTES, side="right")) - 1
        stop = max(start + 1, min(n, start + _CHUNK_ROWS, stop))
        first, last = int(offsets[start]), int(offsets[stop])
        links = flat_links[KEY_BYTES * first : KEY_BYTES * last]
        fat = int(np.diff(bounds[start : stop + 1]).max()) > _ONE_CALL
        if fat or last - first > _MAX_LINKS_PER_ROW * (stop - start):  # hashed in place, never copied
            ends = bounds[start : stop + 1].tolist()
            rows = [view[ends[i] : ends[i + 1]] for i in range(stop - start)]
            out += row_keys(rows, (offsets[start : stop + 1] - first).tolist(), links)
        else:
            out += _framed_keys(values.slice(start, stop - start), offsets[start : stop + 1] - first, links)
        start = stop
    return out


def _framed_keys(values: pa.Array, offsets: np.ndarray, links: bytes) -> list[bytes]:
    """Every row's framed bytes as one Arrow array (link frames, the value's length, the
    value), then one hash call per row over a slice of its buffer."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    width = len(_LINK_FRAME) + KEY_HEX
    framed_links = np.empty((len(links) // KEY_BYTES, width), dtype=np.uint8)
    framed_links[:, : len(_LINK_FRAME)] = np.frombuffer(_LINK_FRAME, dtype=np.uint8)
    framed_links[:, len(_LINK_FRAME) :] = np.frombuffer(links.hex().encode("ascii"), dtype=np.uint8).reshape(
        -1, KEY_HEX
    )
    link_bytes = pa.Array.from_buffers(
        pa.binary(),
        n,
        [None, pa.py_buffer((offsets * width).astype(np.int32)), pa.py_buffer(framed_links)],
    )
    empty = [None, pa.py_buffer(np.zeros(n + 1, dtype=np.int32)), pa.py_buffer(b"")]
    nothing = pa.Array.from_buffers(pa.binary(), n, empty)
    framed = pc.binary_join_element_wise(link_bytes, _length_lines(values), values, nothing)  # separator: b""
    ends = np.frombuffer(framed.buffers()[1], dtype=np.int32)[: n + 1].tolist()
    body = framed.buffers()[2].to_pybytes()
    sha = _sha256
    return [sha(body[a:b]).digest() for a, b in zip(ends, ends[1:])]


def _length_lines(values: pa.Array) -> pa.Array:
    """``b"<length>\\n"`` of every value, as a ``binary`` array (the decimal digits written
    by NumPy: an Arrow scalar for the newline, or ``pa.array``, would import pandas)."""
    import numpy as np
    import pyarrow as pa

    bounds = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    sizes = np.diff(bounds).astype(np.int64)
    width = 11  # up to 10 digits (an int32 length), then the newline
    places = 10 ** np.arange(width - 2, -1, -1, dtype=np.int64)
    text = np.empty((len(sizes), width), dtype=np.uint8)
    text[:, : width - 1] = (sizes[:, None] // places) % 10 + ord("0")
    text[:, width - 1] = ord("\n")
    digits = 1 + (sizes[:, None] >= places[:-1]).sum(axis=1)  # 10 ... 1e9
    keep = np.arange(width) >= (width - 1 - digits)[:, None]
    ends = np.zeros(len(sizes) + 1, dtype=np.int32)
    np.cumsum(digits + 1, out=ends[1:])
    return pa.Array.from_buffers(pa.binary(), len(sizes), [None, pa.py_buffer(ends), pa.py_buffer(text[keep])])


def node_key(value: bytes, links: Iterable[str]) -> str:
    """The hex key of a node whose links are given as hex keys.

    >>> node_key(b"world", ["8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602"])[:12]
    '5f5e63be9884'
    """
    return node_key_bytes(value, [bytes.fromhex(link) for link in links]).hex()


def normalize_key(key: str) -> str:
    """Check a full hex key and return it lower-cased.

    >>> normalize_key("8C7EFB22472592F561A7A7647F8C5EE93134880B4CA0C92889A61848CD5C4602")[:8]
    '8c7efb22'
    """
    text = normalize_prefix(key)
    if len(text) != KEY_HEX:
        raise UsageError(f"{key!r} is not a full key: a key is {KEY_HEX} hex characters, this has {len(text)}")
    return text


def normalize_prefix(prefix: str) -> str:
    """Check a hex key or key prefix and return it lower-cased."""
    if not isinstance(prefix, str):
        raise UsageError(f"a key must be a hex string, not {type(prefix).__name__}")
    text = prefix.strip().lower()
    if not text:
        raise UsageError("a key or key prefix cannot be empty")
    if len(text) > KEY_HEX or not HEX_DIGITS.issuperset(text):
        raise UsageError(f"{prefix!r} is not a key: use up to {KEY_HEX} hex characters (0-9, a-f)")
    return text
