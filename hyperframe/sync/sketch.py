"""Set-difference sketches over 64-bit node ids: IBLTs and a strata estimator.

An invertible Bloom lookup table (IBLT, Eppstein et al., "What's the Difference?",
SIGCOMM 2011) of ``m`` cells summarizes a set; subtracting the peer's table from ours
leaves only the ids in exactly one of the two sets, which peeling recovers when the
difference is smaller than about ``m / 1.3``. The strata estimator sizes that table
from a few KB when the difference is unknown.

A node's id is the first 8 bytes of its key (keys are SHA-256, so ids are uniform).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HASHES = 3
CELL_BYTES = 16  # id xor (8) + check xor (4) + count (4)
STRATA_CELLS = 24
_SALTS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
_CHECK_SALT = np.uint64(0x27D4EB2F165667C5)
_STRATA_SALT = np.uint64(0x94D049BB133111EB)


def _mix(ids: np.ndarray, salt: np.uint64) -> np.ndarray:
    """splitmix64's finalizer: a fast, well-spread 64-bit hash (wraps mod 2**64)."""
    z = ids ^ salt
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_MASK = (1 << 64) - 1
_CHECK_SALT_INT = 0x27D4EB2F165667C5


def _mix_py(x: int, salt: int) -> int:
    """:func:`_mix` for one Python int (the same numbers)."""
    z = x ^ salt
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _check_py(x: int) -> int:
    return _mix_py(x, _CHECK_SALT_INT) >> 32


def _check(ids: np.ndarray) -> np.ndarray:
    return (_mix(ids, _CHECK_SALT) >> np.uint64(32)).astype(np.uint32)


def _cells(ids: np.ndarray, m: int) -> list[np.ndarray]:
    """The cell of each id in each of the HASHES disjoint sub-tables."""
    sub = np.uint64(m // HASHES)
    return [(_mix(ids, s) % sub).astype(np.int64) + i * int(sub) for i, s in enumerate(_SALTS)]


@dataclass
class IBLT:
    """An invertible Bloom lookup table of ``m`` cells (``m`` a multiple of 3)."""

    ids: np.ndarray  # uint64
    checks: np.ndarray  # uint32
    counts: np.ndarray  # int32

    @property
    def m(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls, m: int) -> IBLT:
        return cls(np.zeros(m, np.uint64), np.zeros(m, np.uint32), np.zeros(m, np.int32))

    @classmethod
    def of(cls, ids: np.ndarray, m: int) -> IBLT:
        """Summarize a set of uint64 ids in ``m`` cells."""
        table = cls.empty(m)
        if len(ids):
            checks = _check(ids)
            for cells in _cells(ids, m):
                np.bitwise_xor.at(table.ids, cells, ids)
                np.bitwise_xor.at(table.checks, cells, checks)
                table.counts += np.bincount(cells, minlength=m).astype(np.int32)
        return table

    def subtract(self, other: IBLT) -> IBLT:
        if other.m != self.m:
            raise ValueError(f"sketch sizes differ: {self.m} vs {other.m}")
        return IBLT(self.ids ^ other.ids, self.checks ^ other.checks, self.counts - other.counts)

    def decode(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Peel a difference table: (ids only on our side, ids only on theirs), or None.

        Peeling runs on Python ints (one id at a time is far cheaper there than in numpy).
        """
        ids, checks, counts = self.ids.tolist(), self.checks.tolist(), self.counts.tolist()
        m = len(ids)
        sub = m // HASHES
        salts = [int(s) for s in _SALTS]
        mine: list[int] = []
        theirs: list[int] = []

        def pure(c: int) -> bool:
            return counts[c] in (1, -1) and checks[c] == _check_py(ids[c])

        stack = [c for c in range(m) if pure(c)]
        budget = 4 * m + 16  # every id peels once; a hostile table cannot loop forever
        while stack and budget:
            budget -= 1
            c = stack.pop()
            if not pure(c):
                continue
            one, sign = ids[c], counts[c]
            (mine if sign == 1 else theirs).append(one)
            chk = _check_py(one)
            for i, salt in enumerate(salts):
                j = _mix_py(one, salt) % sub + i * sub
                ids[j] ^= one
                checks[j] ^= chk
                counts[j] -= sign
                if pure(j):
                    stack.append(j)
        if any(ids) or any(checks) or any(counts):
            return None
        return np.array(mine, np.uint64), np.array(theirs, np.uint64)

    def to_bytes(self) -> bytes:
        return (
            self.ids.astype("<u8").tobytes() + self.checks.astype("<u4").tobytes() + self.counts.astype("<i4").tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> IBLT:
        if not data or len(data) % CELL_BYTES or (len(data) // CELL_BYTES) % HASHES:
            raise ValueError(f"a sketch of {len(data)} bytes is not a whole, non-empty number of cells")
        m = len(data) // CELL_BYTES
        return cls(
            np.frombuffer(data, "<u8", m, 0).astype(np.uint64),
            np.frombuffer(data, "<u4", m, 8 * m).astype(np.uint32),
            np.frombuffer(data, "<i4", m, 12 * m).astype(np.int32),
        )


def size_for(difference: int) -> int:
    """Cells for an IBLT that decodes ``difference`` ids with high probability."""
    cells = int(1.5 * difference) + 30
    return cells + (-cells) % HASHES


def strata_levels(n: int) -> int:
    return max(2, int(n).bit_length() + 1)


def strata(ids: np.ndarray, levels: int) -> IBLT:
    """A strata estimator: level ``i`` holds the ids with ``i`` trailing zero bits, as one IBLT per level."""
    table = IBLT.empty(levels * STRATA_CELLS)
    if not len(ids):
        return table
    h = _mix(ids, _STRATA_SALT)
    low = h & (~h + np.uint64(1))  # lowest set bit
    level = np.minimum(np.log2(np.maximum(low, np.uint64(1)).astype(np.float64)).astype(np.int64), levels - 1)
    level[h == 0] = levels - 1
    checks = _check(ids)
    for cells in _cells(ids, STRATA_CELLS):
        where = level * STRATA_CELLS + cells
        np.bitwise_xor.at(table.ids, where, ids)
        np.bitwise_xor.at(table.checks, where, checks)
        table.counts += np.bincount(where, minlength=table.m).astype(np.int32)
    return table


def estimate(difference: IBLT) -> int:
    """Estimate the size of a set difference from subtracted strata estimators."""
    levels = difference.m // STRATA_CELLS
    found = 0
    for level in range(levels - 1, -1, -1):
        part = slice(level * STRATA_CELLS, (level + 1) * STRATA_CELLS)
        decoded = IBLT(difference.ids[part], difference.checks[part], difference.counts[part]).decode()
        if decoded is None:
            return int(max(found, 1) * 2 ** (level + 1))
        found += len(decoded[0]) + len(decoded[1])
    return found
