"""Segment files: immutable Parquet files of nodes (key, links, value), in change order.

Keys and links are 32-byte binaries. A segment's id is the SHA-256 of its keys in row
order, so two logs holding the same nodes in the same order hold the same segment.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..keys import KEY_BYTES, row_keys
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


# Arrays are built straight from buffers: faster than converting Python lists, and
# pyarrow's list conversion would import pandas (half a second for every CLI command).


def binary32(keys: list[bytes]) -> pa.Array:
    """A ``fixed_size_binary(32)`` array of raw keys."""
    import pyarrow as pa

    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(KEY_BYTES), len(keys), [None, pa.py_buffer(b"".join(keys))])


def _offsets(lengths: list[int]) -> pa.Buffer:
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] >= 2**31:
        raise UsageError("more than 2 GiB in one segment column; add fewer values per batch")
    return pa.py_buffer(offsets.astype(np.int32).tobytes())


def binaries(values: list[bytes]) -> pa.Array:
    """A ``binary`` array of values."""
    import pyarrow as pa

    return pa.BinaryArray.from_buffers(
        pa.binary(), len(values), [None, _offsets(list(map(len, values))), pa.py_buffer(b"".join(values))]
    )


def link_lists(links: list[list[bytes]]) -> pa.Array:
    """A ``list<fixed_size_binary(32)>`` array of links."""
    import pyarrow as pa

    flat = binary32([link for ls in links for link in ls])
    offsets = pa.Array.from_buffers(pa.int32(), len(links) + 1, [None, _offsets(list(map(len, links)))])
    return pa.ListArray.from_arrays(offsets, flat, type=schema().field("links").type)


def one_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A chunked column as one array (``combine_chunks`` of zero chunks would import pandas)."""
    import pyarrow as pa

    if isinstance(column, pa.Array):
        return column
    if column.num_chunks == 0:
        return pa.nulls(0, type=column.type)
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def indices(rows: list[int] | np.ndarray) -> pa.Array:
    """An ``int64`` array of row numbers, for ``Table.take``."""
    import numpy as np
    import pyarrow as pa

    data = np.asarray(rows, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data.tobytes())])


def mask(flags: np.ndarray) -> pa.Array:
    """A boolean array from a numpy bool array, for ``Table.filter``."""
    import numpy as np
    import pyarrow as pa

    bits = np.packbits(np.asarray(flags, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(flags), [None, pa.py_buffer(bits.tobytes())])


def make_table(keys: list[bytes], links: list[list[bytes]], values: list[bytes]) -> pa.Table:
    """Build a segment table from Python lists of raw keys, links and values."""
    import pyarrow as pa

    return pa.Table.from_arrays([binary32(keys), link_lists(links), binaries(values)], schema=schema())


def key_buffer(keys: pa.Array) -> memoryview:
    """The raw bytes of a ``fixed_size_binary(32)`` array, without a copy (honours its offset)."""
    buf = keys.buffers()[1]
    if buf is None or len(keys) == 0:
        return memoryview(b"")
    return memoryview(buf)[keys.offset * KEY_BYTES : (keys.offset + len(keys)) * KEY_BYTES]


def key_bytes(keys: pa.Array | pa.ChunkedArray) -> bytes:
    """The raw concatenated 32-byte keys of a key column."""
    import pyarrow as pa

    if isinstance(keys, pa.ChunkedArray):
        return b"".join(key_buffer(chunk) for chunk in keys.chunks)
    return bytes(key_buffer(keys))


def key_matrix(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Keys as an ``(n, 4)`` uint64 array: fast XOR fingerprints and prefix matching."""
    import numpy as np
    import pyarrow as pa

    raw = key_buffer(keys) if isinstance(keys, pa.Array) else key_bytes(keys)
    return np.frombuffer(raw, dtype="<u8").reshape(-1, 4)


def node_ids(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit node ids: the first 8 bytes of each key (SHA-256: practically unique)."""
    return key_matrix(keys)[:, 0].copy()


def fingerprint(keys: pa.Array | pa.ChunkedArray, start: str = "0" * 64) -> str:
    """XOR of the keys, folded into a hex ``start`` value (the empty set is all zeros)."""
    import numpy as np

    acc = np.frombuffer(bytes.fromhex(start), dtype="<u8").copy()
    matrix = key_matrix(keys)
    if len(matrix):
        acc ^= np.bitwise_xor.reduce(matrix, axis=0)
    return acc.tobytes().hex()


def split_keys(raw: bytes) -> list[bytes]:
    """Concatenated 32-byte keys as a list of keys."""
    return [raw[i : i + KEY_BYTES] for i in range(0, len(raw), KEY_BYTES)]


def links_per_row(table: pa.Table) -> tuple[list[int], bytes]:
    """Row offsets into the flat link keys, and those keys concatenated (no per-row lists)."""
    import numpy as np
    import pyarrow.compute as pc

    column = one_array(table.column("links"))
    if not len(column):
        return [0], b""
    # straight from the buffer: Array.to_numpy() would import pandas
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset : column.offset + len(column) + 1]
    return (offsets - offsets[0]).tolist(), key_bytes(one_array(pc.list_flatten(column)))


def mismatched_rows(table: pa.Table) -> list[int]:
    """Rows whose stored key is not the hash of their links and value (vectorized reads)."""
    raw_keys = key_bytes(table.column("key"))
    offsets, flat = links_per_row(table)
    computed = row_keys(table.column("value").to_pylist(), offsets, flat)
    return [row for row, key in enumerate(computed) if key != raw_keys[KEY_BYTES * row : KEY_BYTES * row + KEY_BYTES]]


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
    """Durably write ``table`` as a segment file and describe it for the manifest.

    A segment file is never rewritten: names are content hashes, so when an intact file
    of this name exists (a retired copy, a repair's survivor) it is kept byte for byte and
    described as it is; only a missing or damaged file is (re)written.
    """
    sid = segment_id(table.column("key"))
    target = log_dir / segment_file_name(sid)
    existing = _intact_file(target, sid, table.num_rows)
    if existing is not None:
        return existing
    data = encode(table, encoding)
    info = SegmentInfo(
        file=target.name,
        id=sid,
        rows=table.num_rows,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    publish_replace(write_temp(log_dir, data), target)
    return info


def _intact_file(path: Path, sid: str, rows: int) -> SegmentInfo | None:
    """The description of an existing segment file that holds exactly segment ``sid``."""
    found = inspect_file(path)
    if found is None or found[0].id != sid or found[0].rows != rows:
        return None
    return found[0]


def inspect_file(path: Path) -> tuple[SegmentInfo, pa.Table] | None:
    """A segment file judged by its content alone: its description (with the checksum of
    the bytes as they are) and its rows, if its name matches its keys and every key
    matches its node; None for anything else (missing, unparsable, damaged)."""
    try:
        sid = path.name[4:-8]
        segment_file_name(sid)
        data = path.read_bytes()
        table = parse(data)
    except Exception:  # not a segment name, unreadable, damaged
        return None
    if segment_id(table.column("key")) != sid or mismatched_rows(table):
        return None
    return SegmentInfo(path.name, sid, table.num_rows, len(data), hashlib.sha256(data).hexdigest()), table


class DamagedSegment(ValueError):
    """A segment file's bytes are not the bytes its manifest recorded."""


def read(log_dir: Path, info: SegmentInfo, columns: list[str] | None = None) -> pa.Table:
    """Read a segment (or some of its columns), checking its bytes against the manifest.

    A file whose size or SHA-256 differs from what the manifest recorded is never parsed,
    so no damage (a flipped byte in data, footer or schema, a truncation, another file
    copied over it) can be served. ``info.sha256 == ""`` skips the check (repair only).
    """
    data = (log_dir / info.file).read_bytes()
    if info.sha256 and (len(data) != info.size or hashlib.sha256(data).hexdigest() != info.sha256):
        raise DamagedSegment(f"its bytes do not match the manifest's checksum ({len(data)} of {info.size} bytes)")
    return parse(data, columns)


def parse(data: bytes, columns: list[str] | None = None) -> pa.Table:
    """Parse segment bytes (page checksums verified) and check the columns' types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True) as file:
        table = file.read(columns=columns)
    expected = schema()
    for name in columns or expected.names:
        if name not in table.column_names or not table.schema.field(name).type.equals(expected.field(name).type):
            raise DamagedSegment(f"column {name!r} is missing or has the wrong type")
    return table
