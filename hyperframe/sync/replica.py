"""What replication needs of a log, and nothing more.

The session (:mod:`hyperframe.sync.session`) never sees a :class:`~hyperframe.Log`: it is
given a :class:`Replica`, so the protocol cannot depend on how a log stores its files.
:meth:`hyperframe.Log.replica` returns one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from ..errors import RejectedNodeError
    from ..store.manifest import Manifest, SegmentInfo

__all__ = ["Replica"]


class Replica(Protocol):
    """One side's log, as the replication protocol reads and writes it."""

    #: a name for messages and reports (the log's path)
    name: str

    def state(self) -> Manifest:
        """The newest manifest: counts, fingerprint, heads, segments (version -1: not on disk yet)."""
        ...

    def adopt_encoding(self, name: str) -> bool:
        """Take the peer's encoding for a log not created yet; False if the log's differs."""
        ...

    def ids(self, infos: Sequence[SegmentInfo]) -> np.ndarray:
        """64-bit node ids (first 8 key bytes) of these segments' rows, in order."""
        ...

    def keys(self) -> pa.ChunkedArray:
        """Every raw key, in change order."""
        ...

    def has(self, keys: list[bytes]) -> set[bytes]:
        """Which of these raw keys the log holds."""
        ...

    def read(self, info: SegmentInfo) -> pa.Table:
        """One segment's rows (key, links, value), verified against the manifest."""
        ...

    def pieces(self, info: SegmentInfo) -> Iterator[pa.Table]:
        """One segment's rows in order, a bounded piece at a time (so a sender's memory does
        not grow with the segment), verified against the manifest like :meth:`read`."""
        ...

    def rows(self, since: int) -> pa.Table:
        """Every row after the first ``since``, in change order (the live phase's new nodes)."""
        ...

    def refuse(self, error: RejectedNodeError) -> None:
        """A node the peer sent failed verification (its ``reject`` callbacks are told)."""
        ...

    def commit(self, tables: Sequence[pa.Table]) -> int:
        """Commit verified nodes atomically (known ones dropped); how many were new."""
        ...
