"""Reading a segment a piece at a time, checked against its manifest entry.

:func:`segments.read` parses a whole file (or the row groups asked for) at once: right
for reads that need every row at once, but a sender of a 40 MiB segment would then hold
all its rows while it frames them, and a compaction all the log's. :func:`pieces` opens
the file as :func:`segments.opened` does (hashed as a stream: its size and SHA-256 must be
what the manifest recorded before anything of it is parsed), then parses it from the same
open file one Parquet row group at a time, in batches of a few MiB, and checks at the
end that it held the recorded rows and id (the SHA-256 of its keys). What it holds at once is one decoded row group
(Parquet reads no less) and one batch, not the file's bytes and all its rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from . import segments
from .manifest import SegmentInfo

if TYPE_CHECKING:
    import pyarrow as pa


def pieces(log_dir: Path, info: SegmentInfo, *, max_bytes: int = 8 * 1024 * 1024) -> Iterator[pa.Table]:
    """The rows of segment ``info`` in order, in tables of about ``max_bytes`` (one row group
    is decoded at a time; Parquet reads no less), each as the full
    current schema (like :func:`segments.parse`). Raises ``FileNotFoundError`` if no copy
    is there and :class:`segments.DamagedSegment` for a copy that is not what the manifest
    recorded (before any row of it is returned, except for a row count or id that differs,
    which is only known at the end)."""
    with segments.opened(log_dir, info) as file:
        yield from _row_groups(file, info, max_bytes)


def _row_groups(file: pa.NativeFile, info: SegmentInfo, max_bytes: int) -> Iterator[pa.Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids = hashlib.sha256()
    rows = 0
    with pq.ParquetFile(file, buffer_size=segments.CHUNK, pre_buffer=False, page_checksum_verification=True) as parquet:
        meta = parquet.metadata
        if meta.num_rows != info.rows:
            raise segments.DamagedSegment(f"it holds {meta.num_rows} rows, not {info.rows}")
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group)
            per_row = max(1, stats.total_byte_size // max(1, stats.num_rows))
            # batches of a row group, not the row group as a table: Parquet decodes a row group
            # whole either way, but reading it as one table holds about 3.5 times its size at
            # the peak, batches about 2 times
            size = max(1, min(stats.num_rows, max_bytes // per_row))
            for batch in parquet.iter_batches(batch_size=size, row_groups=[group], use_threads=False):
                table = conform(pa.Table.from_batches([batch]))
                del batch
                rows += table.num_rows
                ids.update(segments.key_bytes(table.column("key")))
                yield table
                del table  # not held while the consumer asks for the next
    if rows != info.rows or (info.id and ids.hexdigest() != info.id):
        raise segments.DamagedSegment("its rows are not the segment the manifest lists (another id)")


def conform(table: pa.Table) -> pa.Table:
    """A table read from a segment file as the current schema, checked as
    :func:`segments.check_columns` checks it (:class:`segments.DamagedSegment` otherwise),
    with exactly :func:`segments.schema` (its field names, no file metadata)."""
    import pyarrow as pa

    return pa.Table.from_arrays(segments.check_columns(table).columns, schema=segments.schema())
