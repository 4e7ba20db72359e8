"""Segment files: immutable Parquet files of nodes (key, links, value), in change order.

Keys and links are 32-byte binaries. A segment's id is the SHA-256 of its keys in row
order, so two logs holding the same nodes in the same order hold the same segment.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..keys import KEY_BYTES
from .durable import publish_replace, write_temp
from .manifest import SegmentInfo, segment_file_name

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


#: Parquet metadata key recording the log's value encoding in every segment (for repair)
ENCODING_META = b"hyperframe.encoding"


def schema() -> pa.Schema:
    import pyarrow as pa

    key = pa.binary(KEY_BYTES)
    return pa.schema(
        [
            pa.field("key", key, nullable=False),
            pa.field("links", pa.list_(pa.field("item", key, nullable=False)), nullable=False),
            pa.field("value", pa.binary(), nullable=False),
        ]
    )


def make_table(keys: list[bytes], links: list[list[bytes]], values: list[bytes]) -> pa.Table:
    """Build a segment table from Python lists of raw keys, links and values."""
    import pyarrow as pa

    s = schema()
    return pa.Table.from_arrays(
        [
            pa.array(keys, type=s.field("key").type),
            pa.array(links, type=s.field("links").type),
            pa.array(values, type=pa.binary()),
        ],
        schema=s,
    )


def key_bytes(keys: pa.Array | pa.ChunkedArray) -> bytes:
    """The raw concatenated 32-byte keys of a key column."""
    import pyarrow as pa

    if isinstance(keys, pa.ChunkedArray):
        return b"".join(key_bytes(chunk) for chunk in keys.chunks)
    buf = keys.buffers()[1]
    if buf is None:
        return b""
    return buf.to_pybytes()[keys.offset * KEY_BYTES : (keys.offset + len(keys)) * KEY_BYTES]


def key_matrix(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Keys as an ``(n, 4)`` uint64 array: fast XOR fingerprints and prefix matching."""
    import numpy as np

    return np.frombuffer(key_bytes(keys), dtype="<u8").reshape(-1, 4)


def fingerprint(keys: pa.Array | pa.ChunkedArray, start: str = "0" * 64) -> str:
    """XOR of the keys, folded into a hex ``start`` value (the empty set is all zeros)."""
    import numpy as np

    acc = np.frombuffer(bytes.fromhex(start), dtype="<u8").copy()
    matrix = key_matrix(keys)
    if len(matrix):
        acc ^= np.bitwise_xor.reduce(matrix, axis=0)
    return acc.tobytes().hex()


def segment_id(keys: pa.Array | pa.ChunkedArray) -> str:
    return hashlib.sha256(key_bytes(keys)).hexdigest()


def encode(table: pa.Table, encoding: str) -> bytes:
    """Serialize a segment table to Parquet bytes."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(
        table.replace_schema_metadata({ENCODING_META: encoding.encode()}),
        sink,
        compression="zstd",
        use_dictionary=["value"],
        write_statistics=False,
        write_page_checksum=True,  # a flipped byte in a data page fails the read, never decodes wrong
    )
    return sink.getvalue()


def write(log_dir: Path, table: pa.Table, encoding: str) -> SegmentInfo:
    """Durably write ``table`` as a new segment file and describe it for the manifest."""
    data = encode(table, encoding)
    sid = segment_id(table.column("key"))
    info = SegmentInfo(
        file=segment_file_name(sid),
        id=sid,
        rows=table.num_rows,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    publish_replace(write_temp(log_dir, data), log_dir / info.file)
    return info


def read(log_dir: Path, info: SegmentInfo, columns: list[str] | None = None) -> pa.Table:
    """Read a segment (or some of its columns)."""
    import pyarrow.parquet as pq

    return pq.read_table(log_dir / info.file, columns=columns, page_checksum_verification=True)
