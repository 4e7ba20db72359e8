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

from .errors import UsageError

KEY_BYTES = 32
KEY_HEX = 2 * KEY_BYTES
_HEXDIGITS = frozenset("0123456789abcdef")
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
    if len(text) > KEY_HEX or not _HEXDIGITS.issuperset(text):
        raise UsageError(f"{prefix!r} is not a key: use up to {KEY_HEX} hex characters (0-9, a-f)")
    return text
