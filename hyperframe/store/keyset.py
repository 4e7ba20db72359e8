"""Sets of 32-byte keys as sorted NumPy arrays: membership without per-key Python objects.

Keys are ``V32`` arrays; each is searched by its first 8 bytes as a big-endian number (a
fast integer search: NumPy sorts and searches ``V32`` one generic comparison at a time)
and compared whole as four 64-bit words, so keys that share 8 bytes are still told apart.

>>> import numpy as np
>>> s = KeySet(); s.add(as_keys(bytes(32) + b"\x01" * 32))
>>> s.contains(as_keys(b"\x01" * 32 + b"\x02" * 32)).tolist()
[True, False]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..keys import KEY_BYTES, KEY_HEX

if TYPE_CHECKING:
    import numpy as np


def in_sorted(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in ``sorted_ids`` (ascending): one binary search each."""
    import numpy as np

    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    found: np.ndarray = sorted_ids[at] == ids
    return found


class KeySet:
    """A set of 32-byte keys as sorted NumPy runs (32 bytes a key; a Python set of bytes
    objects costs about 120): what a transfer remembers of every node it received.

    Each run is sorted by the key's first 8 bytes as a number (a fast integer search: NumPy
    sorts and searches ``V32`` bytes one generic comparison at a time) and compared whole as
    four 64-bit words. A new run swallows the runs up to twice its length, so each run is
    more than twice the next: at most log2(n) + 1 runs whatever sizes a peer's frames
    have, and adding n keys sorts O(n log n) in all.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (prefixes, sorted; the keys as words)

    def __len__(self) -> int:
        return sum(len(ids) for ids, _ in self.runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Which of ``keys`` (a ``V32`` array) are in the set."""
        import numpy as np

        query, whole = prefixes(keys), words(keys)
        order = np.argsort(query)  # a sorted query searches each run ~4x faster (cache)
        query, whole = query[order], whole[order]
        found = np.zeros(len(keys), dtype=bool)
        for ids, stored in self.runs:
            found |= lookup(ids, stored, query, whole, ascending=True) >= 0
        out = np.empty(len(keys), dtype=bool)
        out[order] = found
        return out

    def add(self, keys: np.ndarray) -> None:
        """Add ``keys`` (none of them in the set yet, nor twice among them)."""
        import numpy as np

        if not len(keys):
            return
        ids, whole = prefixes(keys), words(keys)
        while self.runs and len(self.runs[-1][0]) <= 2 * len(ids):  # each run > twice the next
            old_ids, old_words = self.runs.pop()
            ids, whole = np.concatenate([old_ids, ids]), np.concatenate([old_words, whole])
        order = np.argsort(ids, kind="stable")  # two sorted runs: a merge
        self.runs.append((ids[order], whole[order]))

    def __iter__(self) -> Iterator[bytes]:
        for _, whole in self.runs:
            for row in whole:
                yield row.tobytes()


def isin(keys: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Which of ``keys`` are in ``among`` (both ``V32`` arrays; repeats allowed).

    >>> isin(as_keys(b"\\x01" * 64), as_keys(b"\\x01" * 32)).tolist()
    [True, True]
    """
    import numpy as np

    if len(keys) + len(among) > _HASHED:  # a hash table in C: ~2x the sorted search at 1M
        import pyarrow as pa
        import pyarrow.compute as pc

        def column(raw: np.ndarray) -> pa.Array:
            return pa.Array.from_buffers(pa.binary(KEY_BYTES), len(raw), [None, pa.py_buffer(raw)])

        flags = pc.is_in(column(keys), value_set=column(among))
        bits = np.unpackbits(np.frombuffer(flags.buffers()[1], dtype=np.uint8), bitorder="little")
        found: np.ndarray = bits[: len(keys)].astype(bool)
        return found
    ids = prefixes(among)
    order = np.argsort(ids)
    return lookup(ids[order], words(among)[order], prefixes(keys), words(keys)) >= 0


#: above this many keys in all, :func:`isin` builds a hash table (importing pyarrow.compute,
#: ~0.1 s, is then worth it: a one-node add stays below)
_HASHED = 1 << 16


def out_of_order(
    keys: np.ndarray, offsets: np.ndarray, links: np.ndarray, seen: KeySet
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``keys`` holding a key met before (in an earlier row, or in ``seen``), and
    links (row ``i``'s are ``links[offsets[i]:offsets[i + 1]]``) to no earlier row and not
    in ``seen``: a stream of nodes must bring each key once and each link before its node.

    >>> import numpy as np
    >>> k = as_keys(b"\\x01" * 32 + b"\\x02" * 32 + b"\\x01" * 32)
    >>> twice, unplaced = out_of_order(k, np.array([0, 0, 2, 2]), k[[0, 2]], KeySet())
    >>> twice.tolist(), unplaced.tolist()
    ([False, False, True], [False, False])
    """
    import numpy as np

    ids, whole = prefixes(keys), words(keys)
    order = np.argsort(ids, kind="stable")
    ids, ordered = ids[order], whole[order]
    rows = np.arange(len(keys))
    first_row = order[lookup(ids, ordered, prefixes(keys), whole)]  # stable: the earliest equal row
    twice: np.ndarray = (first_row < rows) | seen.contains(keys)
    at = lookup(ids, ordered, prefixes(links), words(links))
    earlier = (at >= 0) & (order[at] < np.repeat(rows, np.diff(offsets)))
    unplaced = ~earlier
    if unplaced.any():
        unplaced[unplaced] = ~seen.contains(links[unplaced])
    return twice, unplaced


def sorted_hex(keys: np.ndarray) -> tuple[str, ...]:
    """The distinct ``keys`` as hex, sorted (raw byte order is hex order): by the 8-byte
    prefix, whole keys only when two share one.

    >>> sorted_hex(as_keys(b"\\x02" * 32 + b"\\x01" * 32 + b"\\x02" * 32)) == ("01" * 32, "02" * 32)
    True
    """
    import numpy as np

    ids = prefixes(keys)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    if len(ids) > 1 and (ids[1:] == ids[:-1]).any():  # keys sharing 8 bytes, or repeats: whole keys
        big = np.ascontiguousarray(keys).view(">u8").reshape(-1, 4)
        order = np.lexsort((big[:, 3], big[:, 2], big[:, 1], big[:, 0]))
        big = big[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (big[1:] != big[:-1]).any(axis=1)
        order = order[first]
    text = keys[order].tobytes().hex()
    return tuple(text[i : i + KEY_HEX] for i in range(0, len(text), KEY_HEX))


def prefixes(keys: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each ``V32`` key as a big-endian number (their byte order)."""
    import numpy as np

    return np.ascontiguousarray(keys).view(">u8").reshape(-1, 4)[:, 0].astype(np.uint64)


def lookup(
    ids: np.ndarray, words: np.ndarray, query: np.ndarray, query_words: np.ndarray, *, ascending: bool = False
) -> np.ndarray:
    """For each query key, the position in ``ids``/``words`` (keys sorted by their 8-byte
    prefix ``ids``, whole as ``words``) of the first equal key, or -1. The query is sorted
    first (a sorted query searches several times faster) unless ``ascending`` says it is."""
    import numpy as np

    if not len(ids) or not len(query):
        return np.full(len(query), -1, dtype=np.int64)
    if not ascending:
        order = np.argsort(query)
        pos = np.empty(len(query), dtype=np.int64)
        pos[order] = lookup(ids, words, query[order], query_words[order], ascending=True)
        return pos
    at = np.searchsorted(ids, query)
    near = np.minimum(at, len(ids) - 1)
    same = np.flatnonzero(ids[near] == query)  # only these can be equal: compare them whole
    exact = (words[near[same]] == query_words[same]).all(axis=1)
    pos = np.full(len(query), -1, dtype=np.int64)
    pos[same[exact]] = near[same[exact]]
    for i in same[~exact]:  # keys that share 8 bytes: look at the others
        j = int(at[i]) + 1
        while j < len(ids) and ids[j] == query[i]:
            if (words[j] == query_words[i]).all():
                pos[i] = j
                break
            j += 1
    return pos


def words(keys: np.ndarray) -> np.ndarray:
    """``V32`` keys as an ``(n, 4)`` array of 64-bit words (for whole-key comparisons)."""
    import numpy as np

    return np.ascontiguousarray(keys).view("<u8").reshape(-1, 4)


def as_keys(raw: bytes) -> np.ndarray:
    """Concatenated 32-byte keys as a ``V32`` array (no per-key Python objects)."""
    import numpy as np

    return np.frombuffer(raw, dtype=f"V{KEY_BYTES}")
