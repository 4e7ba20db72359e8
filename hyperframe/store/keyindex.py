"""The key columns of a log's segments, loaded once and kept while segments stay the same.

This is the log's hot-path index: membership, dedup and prefix look-ups run as
vectorized scans over the 32-byte key columns (no per-node Python objects). Only the key
column of each file is read, trusted because its SHA-256 is the segment id the manifest
records (:func:`~hyperframe.store.segments.read`); the other columns are never decoded here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..keys import KEY_BYTES
from . import segments
from .manifest import Manifest, SegmentInfo

if TYPE_CHECKING:
    import pyarrow as pa


class KeyIndex:
    """Key columns of one manifest's segments, in change order."""

    def __init__(self, read: Callable[[SegmentInfo, list[str]], pa.Table]) -> None:
        self._read = read
        self._cache: dict[str, pa.Array] = {}
        self._order: list[str] = []
        self._offsets: list[int] = [0]

    def refresh(self, manifest: Manifest | None) -> None:
        """Follow ``manifest``: load new segments' keys, drop the ones no longer used."""
        infos = manifest.segments if manifest else ()
        wanted = [s.id for s in infos]
        if wanted == self._order:
            return
        fresh: dict[str, pa.Array] = {}
        offsets = [0]
        for info in infos:
            keys = self.keys_of(info)
            fresh[info.id] = keys
            offsets.append(offsets[-1] + len(keys))
        self._cache, self._order, self._offsets = fresh, wanted, offsets

    def keys_of(self, info: SegmentInfo) -> pa.Array:
        """One segment's key column, from the cache when the segment is loaded already."""
        keys = self._cache.get(info.id)
        if keys is None:
            keys = segments.one_array(self._read(info, ["key"]).column("key"))
        return keys

    def __len__(self) -> int:
        return self._offsets[-1]

    def columns(self) -> list[pa.Array]:
        return [self._cache[sid] for sid in self._order]

    def all_keys(self) -> pa.ChunkedArray:
        import pyarrow as pa

        from .segments import schema

        return pa.chunked_array(self.columns(), type=schema().field("key").type)

    def present(self, candidates: list[bytes]) -> set[bytes]:
        """Which of ``candidates`` (raw keys) the log holds."""
        if not candidates or not len(self):
            return set()
        import numpy as np

        # numpy, not pyarrow.compute: importing that costs a one-shot `hyperframe add` ~150 ms
        wanted = {key for key in candidates if len(key) == KEY_BYTES}
        ids = np.frombuffer(b"".join(wanted), dtype="<u8").reshape(-1, 4)[:, 0]
        found: set[bytes] = set()
        for keys in self.columns():
            matrix = segments.key_matrix(keys)
            near = matrix[np.isin(matrix[:, 0], ids)]  # first 8 bytes, then the whole key
            found |= wanted.intersection(segments.split_keys(near.tobytes()))
        return found

    def stored_set(self) -> set[bytes]:
        """Every key as a Python set (for batches that need many membership checks)."""
        return {k for keys in self.columns() for k in keys.to_pylist()}

    def position(self, key: bytes) -> int | None:
        """The 0-based change position of ``key``, or None."""
        import pyarrow.compute as pc

        needle = segments.binary32([key])[0]
        for start, keys in zip(self._offsets, self.columns()):
            row = int(pc.index(keys, needle).as_py())
            if row >= 0:
                return start + row
        return None

    def offsets(self) -> list[int]:
        return list(self._offsets)

    def prefix_matches(self, prefix: str, limit: int = 2) -> list[int]:
        """Change positions of up to ``limit`` keys whose hex form starts with ``prefix``."""
        import numpy as np

        whole = bytes.fromhex(prefix[: len(prefix) // 2 * 2])
        nibble = int(prefix[-1], 16) if len(prefix) % 2 else None
        width = len(whole) + (1 if nibble is not None else 0)
        out: list[int] = []
        for start, keys in zip(self._offsets, self.columns()):
            raw = np.frombuffer(segments.key_bytes(keys), dtype=np.uint8).reshape(-1, 32)[:, :width]
            mask = np.ones(len(raw), dtype=bool)
            if whole:
                mask &= (raw[:, : len(whole)] == np.frombuffer(whole, dtype=np.uint8)).all(axis=1)
            if nibble is not None:
                mask &= (raw[:, len(whole)] >> 4) == nibble
            out.extend(start + int(i) for i in np.flatnonzero(mask)[: limit - len(out)])
            if len(out) >= limit:
                break
        return out
