"""Segment files: immutable Parquet files of nodes (key, links, value), in change order.

Keys are ``fixed_size_binary(32)``; links are ``list<binary>`` whose items are 32 bytes
each (format 2: pandas, Dask and Spark read it; format 1 stored them as
``list<fixed_size_binary(32)>``, which pandas cannot convert, and is cast on read). A
segment's id is the SHA-256 of its keys in row order, so two logs holding the same nodes
in the same order hold the same segment.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..keys import KEY_BYTES, array_keys
from . import layout
from .durable import publish_replace, temp_file
from .manifest import FORMAT, SegmentInfo, segment_file_name

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq


#: Parquet metadata key recording the log's value encoding in every segment (for repair)
ENCODING_META = b"hyperframe.encoding"


def schema() -> pa.Schema:
    """The segment schema of format 3: also the replication wire format."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("key", pa.binary(KEY_BYTES), nullable=False),
            pa.field("links", pa.list_(pa.field("item", pa.binary(), nullable=False)), nullable=False),
            pa.field("value", pa.binary(), nullable=False),
            pa.field("identity", pa.binary(), nullable=True),  # who signed it (None: unsigned)
            pa.field("signature", pa.binary(), nullable=True),  # the signature of its key
            pa.field("log", pa.string(), nullable=True),  # hyperlog's log id it was created under
            pa.field("seq", pa.uint32(), nullable=True),  # ... and its seq there (see store/origin.py)
        ]
    )


#: the optional columns of signed nodes; a file written without them reads as unsigned
SIGNED_COLUMNS = ("identity", "signature")
#: the columns of a node's origin (format 3); a file written without them reads as null
ORIGIN_COLUMNS = ("log", "seq")
OPTIONAL_COLUMNS = SIGNED_COLUMNS + ORIGIN_COLUMNS
#: the most bytes an identity or a signature may have (Ed25519: 32 and 64)
MAX_SIGNED_BYTES = 1024


def _format1_links() -> pa.DataType:
    import pyarrow as pa

    return pa.list_(pa.field("item", pa.binary(KEY_BYTES), nullable=False))


# Arrays are built straight from buffers: faster than converting Python lists, and
# pyarrow's list conversion would import pandas (half a second for every CLI command).


def binary32(keys: list[bytes]) -> pa.Array:
    """A ``fixed_size_binary(32)`` array of raw keys."""
    import pyarrow as pa

    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(KEY_BYTES), len(keys), [None, pa.py_buffer(b"".join(keys))])


def _offsets(lengths: list[int] | np.ndarray) -> pa.Buffer:
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


def optional_column(values: list[Any], kind: pa.DataType) -> pa.Array:
    """A nullable ``binary``, ``string`` or ``uint32`` column from a list with Nones, built
    from buffers (``pa.array`` of a Python list would import pandas)."""
    import numpy as np
    import pyarrow as pa

    n = len(values)
    present = [v is not None for v in values]
    if not any(present):
        return pa.nulls(n, kind)
    validity = None if all(present) else pa.py_buffer(np.packbits(np.array(present), bitorder="little").tobytes())
    if pa.types.is_uint32(kind):
        numbers = np.array([0 if v is None else v for v in values], dtype=np.uint32)
        return pa.Array.from_buffers(kind, n, [validity, pa.py_buffer(numbers.tobytes())])
    raw = [b"" if v is None else (v.encode() if isinstance(v, str) else v) for v in values]
    return pa.Array.from_buffers(kind, n, [validity, _offsets(list(map(len, raw))), pa.py_buffer(b"".join(raw))])


def repeated_column(value: str, n: int) -> pa.Array:
    """``n`` times one value as a ``string`` column, built from buffers (no list of ``n``
    items: the origin of a batch's nodes)."""
    import numpy as np
    import pyarrow as pa

    raw = value.encode()
    offsets = _offsets(np.full(n, len(raw), dtype=np.int64))
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(raw * n)])


def counting_column(first: int, n: int) -> pa.Array:
    """``first, first + 1, ...`` (``n`` numbers) as a ``uint32`` column."""
    import numpy as np
    import pyarrow as pa

    numbers = np.arange(first, first + n, dtype=np.int64).astype(np.uint32)
    return pa.Array.from_buffers(pa.uint32(), n, [None, pa.py_buffer(numbers)])


def link_lists(links: list[list[bytes]]) -> pa.Array:
    """A links column (``list<binary>``, 32-byte items) from lists of raw keys."""
    import numpy as np
    import pyarrow as pa

    flat = [link for ls in links for link in ls]
    item_offsets = pa.py_buffer(np.arange(0, KEY_BYTES * (len(flat) + 1), KEY_BYTES, dtype=np.int32).tobytes())
    items = pa.BinaryArray.from_buffers(pa.binary(), len(flat), [None, item_offsets, pa.py_buffer(b"".join(flat))])
    offsets = pa.Array.from_buffers(pa.int32(), len(links) + 1, [None, _offsets(list(map(len, links)))])
    return pa.ListArray.from_arrays(offsets, items, type=schema().field("links").type)


def as_keys(items: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Link items (``binary``, each 32 bytes) as one ``fixed_size_binary(32)`` array.

    Raises ``ValueError`` if an item is not 32 bytes long (not a key).
    """
    import pyarrow as pa

    array = one_array(items)
    if pa.types.is_fixed_size_binary(array.type) and array.type.byte_width == KEY_BYTES:
        return array
    if pa.types.is_binary(array.type) and not array.null_count:  # straight from the buffers: no compute kernels
        import numpy as np

        offsets = _bounds(array)
        if len(offsets) and not (np.diff(offsets) != KEY_BYTES).any():
            data = array.buffers()[2]
            start = int(offsets[0])
            body = data.slice(start, KEY_BYTES * len(array)) if data is not None else pa.py_buffer(b"")
            return pa.Array.from_buffers(pa.binary(KEY_BYTES), len(array), [None, body])
        if len(offsets):
            raise ValueError("a link is not a 32-byte key")
    try:
        return array.cast(pa.binary(KEY_BYTES))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueError("a link is not a 32-byte key") from None


def _bounds(array: pa.Array) -> np.ndarray:
    """The ``int32`` offsets of a binary or list array's rows (one more than its rows),
    straight from its buffer (``Array.to_numpy()`` would import pandas)."""
    import numpy as np

    buffer = array.buffers()[1]
    return np.frombuffer(buffer if buffer else b"", dtype=np.int32)[array.offset : array.offset + len(array) + 1]


def flat_links(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Every link of a links column, in row order, as ``fixed_size_binary(32)`` keys."""
    array = one_array(column)
    if not len(array):
        return as_keys(array.values.slice(0, 0))
    bounds = _bounds(array)
    return as_keys(array.values.slice(int(bounds[0]), int(bounds[-1] - bounds[0])))


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


def make_table(
    keys: list[bytes],
    links: list[list[bytes]],
    values: list[bytes],
    identities: list[bytes | None] | None = None,
    signatures: list[bytes | None] | None = None,
    logs: list[str | None] | None = None,
    seqs: list[int | None] | None = None,
) -> pa.Table:
    """Build a segment table from Python lists of raw keys, links, values (and signatures,
    and origins: None for nodes created here, which get theirs when committed).

    >>> make_table([bytes(32)], [[]], [b"v"]).schema.field("links").type
    ListType(list<item: binary not null>)
    """
    import pyarrow as pa

    n = len(keys)
    fields = schema()
    optional = [
        pa.nulls(n, fields.field(name).type) if column is None else optional_column(column, fields.field(name).type)
        for name, column in zip(OPTIONAL_COLUMNS, (identities, signatures, logs, seqs), strict=True)
    ]
    return pa.Table.from_arrays([binary32(keys), link_lists(links), binaries(values), *optional], schema=fields)


def as_read(table: pa.Table) -> pa.Table:
    """``table`` with the types a segment file reads back as: Parquet names a list's items
    ``element``, where :func:`schema` says ``item`` (the same type to every reader). A
    compaction writes its rows so, as it always has: its file is then byte for byte the
    file of one ``write_table`` of the segments as read."""
    import pyarrow as pa

    links = pa.field("links", pa.list_(pa.field("element", pa.binary(), nullable=False)), nullable=False)
    stored = table.schema.set(table.schema.get_field_index("links"), links)
    return table.cast(stored)


def with_optional_columns(table: pa.Table) -> pa.Table:
    """``table`` with every optional column, in schema order (null where it has none:
    unsigned, or written before nodes kept their origin)."""
    import pyarrow as pa

    fields = schema()
    if table.column_names == fields.names:
        return table
    for name in OPTIONAL_COLUMNS:
        if name not in table.column_names:
            table = table.append_column(fields.field(name), pa.nulls(table.num_rows, fields.field(name).type))
    return table.select([name for name in fields.names if name in table.column_names])


def check_origin(table: pa.Table) -> str | None:
    """What is wrong with ``table``'s origin columns, or None: a log id must look like one
    (see :data:`hyperframe.store.origin.LOG_ID`) and have a seq of 1 or more, and a row
    without a log id has no seq."""
    import pyarrow.compute as pc

    from .origin import LOG_ID

    logs, seqs = table.column("log"), table.column("seq")
    if logs.null_count != len(logs):
        if not pc.all(pc.match_substring_regex(logs.drop_null(), f"^{LOG_ID}$")).as_py():
            return "a log id that is not 1-64 letters, digits or _.:-"
        if pc.min(seqs).as_py() == 0:  # (no Python scalar: that would import pandas)
            return "seq 0 (seqs start at 1)"
    if not pc.all(pc.equal(logs.is_null(), seqs.is_null())).as_py():
        return "a log id without a seq, or a seq without a log id"
    return None


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
    offsets, flat = link_offsets(table)
    return offsets.tolist(), flat


def link_offsets(table: pa.Table) -> tuple[np.ndarray, bytes]:
    """:func:`links_per_row` with the offsets as a NumPy array (``int64``, from 0)."""
    import numpy as np

    column = one_array(table.column("links"))
    if not len(column):
        return np.zeros(1, dtype=np.int64), b""
    offsets = _bounds(column)
    return (offsets - offsets[0]).astype(np.int64), key_bytes(flat_links(column))


def mismatched_rows(table: pa.Table) -> list[int]:
    """Rows whose stored key is not the hash of their links and value, hashed from the
    Arrow buffers (:func:`~hyperframe.keys.array_keys`: a fat value is never copied, so a
    fat received frame stays one copy)."""
    import pyarrow as pa

    raw_keys = key_bytes(table.column("key"))
    offsets, flat = link_offsets(table)
    values = table.column("value")
    computed: list[bytes] = []
    row = 0
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        part = offsets[row : row + len(chunk) + 1]
        computed += array_keys(chunk, part - part[0], flat[KEY_BYTES * int(part[0]) : KEY_BYTES * int(part[-1])])
        row += len(chunk)
    if b"".join(computed) == raw_keys:
        return []
    return [row for row, key in enumerate(computed) if key != raw_keys[KEY_BYTES * row : KEY_BYTES * row + KEY_BYTES]]


def segment_id(keys: pa.Array | pa.ChunkedArray) -> str:
    return hashlib.sha256(key_bytes(keys)).hexdigest()


#: about how many bytes of Arrow data one row group of a segment holds (a reader decodes
#: a row group whole; replication sends a segment one row group at a time, ``get`` reads one)
ROW_GROUP_BYTES = 16 * 1024 * 1024
#: the most rows of one row group
ROW_GROUP_ROWS = 1 << 20
#: how every segment file is written
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["value"],
    "write_statistics": False,
    "write_page_checksum": True,  # a flipped byte in a data page fails the read, never decodes wrong
}


def encode(table: pa.Table, encoding: str) -> bytes:
    """Serialize a segment table to Parquet bytes (the bytes :func:`write` writes)."""
    sink = io.BytesIO()
    _write_parquet(sink, [table], encoding)
    return sink.getvalue()


def write(log_dir: Path, table: pa.Table, encoding: str) -> SegmentInfo:
    """Durably write ``table`` as a top-level segment file and describe it for the manifest
    (write lock held).

    A segment file is never rewritten: names are content hashes, so when an intact
    current-format file of this segment exists (at the top, or retired by an older version) it is
    kept byte for byte (a retired one is moved back) and described as it is. Only a
    missing, damaged or older-format file is (re)written, and the file it replaces is first
    linked into ``_hyperframe/retired/`` for readers of the versions that list it.
    """
    found = _kept_file(log_dir, segment_id(table.column("key")), table.num_rows)
    return found if found is not None else _write_new(log_dir, [table], encoding)


def write_pieces(log_dir: Path, pieces: Iterable[pa.Table], encoding: str) -> SegmentInfo:
    """Durably write the rows of ``pieces``, in order, as one top-level segment file (write
    lock held), like :func:`write` but a piece at a time: what is held at once is a piece
    and about a row group, however big the segment (a compaction's output).

    The segment's id is known once the last piece is written; an intact file of it that is
    already there is then kept as :func:`write` keeps it, and the new one dropped.
    """
    return _write_new(log_dir, pieces, encoding, keep_existing=True)


def _write_new(log_dir: Path, pieces: Iterable[pa.Table], encoding: str, *, keep_existing: bool = False) -> SegmentInfo:
    """Write ``pieces`` to a fsynced temporary, then rename it to its segment name."""
    with temp_file(layout.tmp_dir(log_dir)) as (temp, write):
        sink = _HashingSink(write)
        sid, rows = _write_parquet(sink, pieces, encoding)
    try:
        found = _kept_file(log_dir, sid, rows) if keep_existing else None
        if found is not None:
            temp.unlink()
            return found
        target = log_dir / segment_file_name(sid)
        if target.exists():  # damaged or an older format: readers of older versions may still want it
            layout.retire(log_dir, target, copy=True)
        publish_replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return SegmentInfo(file=target.name, id=sid, rows=rows, size=sink.size, sha256=sink.digest.hexdigest())


def _kept_file(log_dir: Path, sid: str, rows: int) -> SegmentInfo | None:
    """An intact current-format file of segment ``sid`` (at the top level, or retired: then
    moved back to the top), described as it is; None if there is none."""
    target = log_dir / segment_file_name(sid)
    for candidate in [target, *sorted(layout.retired_dir(log_dir).glob(f"{target.stem}.*{layout.RETIRED_SUFFIX}"))]:
        found = _intact_file(candidate, sid, rows)
        if found is not None:
            if candidate != target:
                if target.exists():
                    layout.retire(log_dir, target, copy=True)
                layout.restore(log_dir, candidate)
            return found
    return None


class _HashingSink:
    """A file being written, hashed and counted as its bytes go by (the SHA-256 and size
    the manifest records, without reading the file back)."""

    closed = False

    def __init__(self, write: Callable[[bytes | memoryview], None]) -> None:
        self._write = write
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass


def _write_parquet(sink: Any, pieces: Iterable[pa.Table], encoding: str) -> tuple[str, int]:
    """Write the rows of ``pieces`` in order to ``sink`` as one segment file: the one place
    segment bytes are made. Returns the segment's id and rows.

    A piece of :data:`ROW_GROUP_BYTES` or more is cut into row groups of about that many
    bytes (a whole table is written as ``pq.write_table`` would write it with that row
    group size); smaller pieces are gathered into row groups of at most that size.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {ENCODING_META: encoding.encode()}
    ids = hashlib.sha256()
    rows = 0
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = []
    pending_bytes = 0
    first: pa.Table | None = None

    def put(table: pa.Table, group_rows: int) -> None:
        nonlocal writer
        if writer is None:
            writer = pq.ParquetWriter(sink, table.schema.with_metadata(meta), **WRITE_OPTIONS)
        writer.write_table(table, row_group_size=max(1, min(group_rows, ROW_GROUP_ROWS)))

    def flush() -> None:
        nonlocal pending, pending_bytes
        if len(pending) == 1:
            table = pending[0]
            put(table, table.num_rows * ROW_GROUP_BYTES // max(table.nbytes, 1))
        elif pending:
            # gathered to at most ROW_GROUP_BYTES: one row group, of contiguous arrays (the
            # pages are then cut as for one table: a log that fits one row group is written
            # byte for byte as a single write_table writes it)
            table = pa.concat_tables(pending).combine_chunks()
            put(table, table.num_rows)
        pending, pending_bytes = [], 0

    try:
        for piece in pieces:
            first = piece if first is None else first
            if not piece.num_rows:
                continue
            ids.update(key_bytes(piece.column("key")))
            rows += piece.num_rows
            if pending and pending_bytes + piece.nbytes > ROW_GROUP_BYTES:
                flush()
            pending.append(piece)
            pending_bytes += piece.nbytes
        flush()
        if writer is None:  # no rows: one empty row group, as pq.write_table writes it
            empty = (first if first is not None else schema().empty_table()).slice(0, 0)
            put(empty, 1)
    finally:
        if writer is not None:
            writer.close()
    return ids.hexdigest(), rows


def _intact_file(path: Path, sid: str, rows: int) -> SegmentInfo | None:
    """The description of an existing current-format (:data:`FORMAT`) file that holds
    exactly segment ``sid``."""
    found = inspect_file(path)
    if found is None or found[0].id != sid or found[0].rows != rows or found[2] != FORMAT:
        return None
    return found[0]


def inspect_file(path: Path) -> tuple[SegmentInfo, pa.Table, int] | None:
    """A segment file (live or retired) judged by its content alone: its description (the
    segment's file name, the checksum of the bytes as they are), its rows (as the current format)
    and the format it is stored in, if its name matches its keys and every key matches
    its node; None for anything else (missing, unparsable, damaged)."""
    name = layout.canonical_name(path.name)
    if name is None:
        return None
    sid = name[4:-8]
    try:
        data = path.read_bytes()
        stored = file_format(data)
        table = parse(data)
    except Exception:  # unreadable, damaged
        return None
    if segment_id(table.column("key")) != sid or mismatched_rows(table):
        return None
    return SegmentInfo(name, sid, table.num_rows, len(data), hashlib.sha256(data).hexdigest()), table, stored


def salvage_file(path: Path) -> pa.Table | None:
    """The rows of a damaged segment file that still check out (it parses, but some keys do
    not match their nodes, or its name does not match its keys): those rows, else None."""
    if layout.canonical_name(path.name) is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        table = parse(data)
    except Exception:  # a page checksum fails (or worse): judge what parses row by row
        try:
            table = parse(data, checksums=False)
        except Exception:  # nothing of it can be read
            return None
    bad = set(mismatched_rows(table))
    if len(bad) == table.num_rows:
        return None
    return table.take(indices([row for row in range(table.num_rows) if row not in bad])) if bad else table


class DamagedSegment(ValueError):
    """A segment file's bytes are not the bytes its manifest recorded."""


#: bytes the Parquet reader of :func:`stream.pieces <hyperframe.store.stream.pieces>` reads at a time
CHUNK = 1024 * 1024


def read(
    log_dir: Path, info: SegmentInfo, columns: list[str] | None = None, *, rows: tuple[int, int] | None = None
) -> pa.Table:
    """Read a segment (or some of its columns; with ``rows=(a, b)`` only rows ``a..b-1``,
    decoding only the row groups that hold them), checked against the manifest.

    The file is looked for at the top level, then among the retired files (a version that
    a newer one replaced). A file whose size or SHA-256 differs from what the manifest
    recorded is never parsed (:func:`opened`), so no damage (a flipped byte in data, footer
    or schema, a truncation, another file copied over it) can be served.

    The key column alone (``columns=["key"]``: the key index) is checked by what it is,
    without reading the rest of the file: the keys' SHA-256 must be the segment id the
    manifest records (the id *is* the hash of those bytes in row order), their count its
    rows and the file's size its size; page checksums are verified as always. Damage
    elsewhere in the file is refused by the reads that use those bytes (and found by
    ``verify``). ``info.sha256 == ""`` skips the checks (repair only). Raises
    ``FileNotFoundError`` if no copy is there, :class:`DamagedSegment` for a wrong copy.
    """
    if columns == ["key"] and rows is None and info.sha256:
        with opened(log_dir, info, whole=False) as file:
            table = parse(file, columns)
        if table.num_rows != info.rows or segment_id(table.column("key")) != info.id:
            raise DamagedSegment("its keys are not the segment the manifest lists (another id)")
        return table
    with opened(log_dir, info) as file:
        return parse(file, columns, rows=rows)


@contextmanager
def opened(log_dir: Path, info: SegmentInfo, *, whole: bool = True) -> Iterator[pa.NativeFile]:
    """The first copy of segment ``info`` (top level, then retired) whose size and SHA-256
    are what the manifest recorded, open at its start: hashed as a stream, never held
    whole, and the same open file is then parsed. ``whole=False`` checks the size only
    (the caller checks what it reads). Raises ``FileNotFoundError`` if no copy is there and
    :class:`DamagedSegment` if none matches."""
    import pyarrow as pa

    damaged: DamagedSegment | None = None
    for path in layout.locations(log_dir, info.file, info.sha256):
        try:
            # an Arrow file, not a Python one: Parquet then reads it through a small buffer,
            # where a Python file would hand it each column chunk as one bytes object
            file = pa.OSFile(str(path))
        except FileNotFoundError:
            continue
        with file:
            size = file.size()
            if info.sha256 and (
                size != info.size or (whole and hashlib.file_digest(file, "sha256").hexdigest() != info.sha256)
            ):
                damaged = DamagedSegment(
                    f"its bytes do not match the manifest's checksum ({size} of {info.size} bytes)"
                )
                continue
            file.seek(0)
            yield file
            return
    if damaged is not None:
        raise damaged
    raise FileNotFoundError(info.file)


def file_format(data: bytes) -> int:
    """The format a segment file is stored in (1, 2 or 3), from its schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stored = pq.read_schema(pa.BufferReader(data))
    if stored.field("links").type.equals(_format1_links()):
        return 1
    return FORMAT if all(name in stored.names for name in ORIGIN_COLUMNS) else 2


def parse(
    data: bytes | pa.NativeFile,
    columns: list[str] | None = None,
    *,
    checksums: bool = True,
    rows: tuple[int, int] | None = None,
) -> pa.Table:
    """Parse segment bytes or an open segment file (page checksums verified unless
    ``checksums=False``: repair's last resort, which then judges every row by its key),
    check the columns' types and return them as the current format (:func:`check_columns`:
    older files' missing optional columns are nulls, format-1 links are cast; every link
    must be 32 bytes). ``rows=(a, b)``: only rows ``a..b-1``, from the row groups
    holding them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = data if isinstance(data, pa.NativeFile) else pa.BufferReader(data)
    with pq.ParquetFile(source, page_checksum_verification=checksums) as file:
        if rows is None:
            table = file.read(columns=columns)
        else:
            groups, skip = _row_groups_holding(file.metadata, *rows)
            table = file.read_row_groups(groups, columns=columns).slice(skip, rows[1] - rows[0])
            if table.num_rows != rows[1] - rows[0]:
                raise DamagedSegment(f"it holds fewer rows than the manifest lists (no row {rows[1] - 1})")
    if not checksums:
        table.validate(full=True)
    return check_columns(table, columns)


def check_columns(table: pa.Table, columns: list[str] | None = None) -> pa.Table:
    """Rows read from a segment file (``columns`` of them, or all) as the current format:
    optional columns an older file lacks as nulls (written before nodes were signed or
    kept origins), in schema order, format-1 links cast; a missing column, a wrong type or
    a link that is not 32 bytes is refused (:class:`DamagedSegment`)."""
    expected = schema()
    if columns is None or any(name in OPTIONAL_COLUMNS for name in columns):
        table = with_optional_columns(table)
        if columns is not None:
            table = table.select(columns)
    for name in columns or expected.names:
        if name not in table.column_names:
            raise DamagedSegment(f"column {name!r} is missing")
        have, want = table.schema.field(name).type, expected.field(name).type
        if name == "links" and have.equals(_format1_links()):
            at = table.column_names.index(name)
            table = table.set_column(at, expected.field(name), table.column(name).cast(want))
        elif not have.equals(want):
            raise DamagedSegment(f"column {name!r} has the wrong type ({have})")
        if name == "links":
            check_links(table)
    return table


def _row_groups_holding(meta: pq.FileMetaData, start: int, stop: int) -> tuple[list[int], int]:
    """The row groups holding rows ``start..stop-1``, and how many rows of the first come
    before ``start``."""
    groups: list[int] = []
    skip = 0
    first = 0
    for group in range(meta.num_row_groups):
        end = first + meta.row_group(group).num_rows
        if end > start and first < stop:
            if not groups:
                skip = start - first
            groups.append(group)
        first = end
    return groups, skip


def check_links(table: pa.Table) -> None:
    """Refuse a links column with an item that is not 32 bytes (``DamagedSegment``)."""
    try:
        flat_links(table.column("links"))
    except ValueError:
        raise DamagedSegment("a link is not a 32-byte key") from None
