"""Nodes on the wire: Arrow IPC record batches, verified before anything is committed.

A NODES frame holds one Arrow IPC stream whose schema metadata says which of the
sender's segments the rows came from and whether that segment is sent whole (the
receiver then stores it as a segment of its own with the same id, so later syncs can
skip it by id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

from ..errors import ProtocolError, RejectedNodeError
from ..keys import KEY_BYTES
from ..store import keyset, segments

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: rows per NODES frame; keeps frames far below the frame limit for small values
ROWS_PER_FRAME = 20_000
BYTES_PER_FRAME = 8 * 1024 * 1024
#: nodes a transfer may repeat before it is refused (an honest peer repeats none)
MAX_DUPLICATES = 64


def encode_frames(table: pa.Table, group: int, whole: bool) -> Iterator[bytes]:
    """Split one segment's rows into NODES payloads."""
    import pyarrow as pa

    meta = {b"group": str(group).encode(), b"whole": b"1" if whole else b"0"}
    start = 0
    while start < table.num_rows:
        rows = ROWS_PER_FRAME
        piece = table.slice(start, rows)
        while rows > 1 and piece.nbytes > BYTES_PER_FRAME:
            rows //= 2
            piece = table.slice(start, rows)
        piece = _compact_origins(piece)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, piece.schema.with_metadata(meta)) as writer:
            writer.write_table(piece)
        payload = sink.getvalue().to_pybytes()
        start += piece.num_rows
        del sink, writer, piece  # only the payload is held while the consumer sends it
        yield payload
        del payload


#: NODES frames carry the ``log`` column dictionary-encoded (int32 indices): a frame's rows
#: mostly share a few log ids, so a node costs 4 bytes for it instead of the id's 26
def _compact_origins(piece: pa.Table) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    at = piece.schema.get_field_index("log")
    column = pc.dictionary_encode(segments.one_array(piece.column("log")))
    return piece.set_column(at, pa.field("log", column.type, nullable=True), column)


def decode_frame(payload: bytes) -> tuple[pa.Table, int, bool]:
    """Parse one NODES payload; anything but our exact schema is a protocol error."""
    import pyarrow as pa

    try:
        reader = pa.ipc.open_stream(pa.py_buffer(payload))
        table = reader.read_all()
        table.validate(full=True)  # offsets and lengths from a peer are checked before any use
    except Exception as exc:  # ArrowInvalid, OSError, ... for malformed bytes
        raise ProtocolError(f"the peer sent a malformed NODES frame ({type(exc).__name__}: {exc})") from None
    meta = table.schema.metadata or {}
    table = table.replace_schema_metadata(None)
    at = table.schema.get_field_index("log")
    if at >= 0 and table.schema.field("log").type.equals(pa.dictionary(pa.int32(), pa.string())):
        table = table.set_column(at, segments.schema().field("log"), table.column("log").cast(pa.string()))
    if not table.schema.equals(segments.schema()):
        raise ProtocolError(f"the peer sent nodes with an unexpected schema: {table.schema}")
    import pyarrow.compute as pc

    required = [table.column(name) for name in ("key", "links", "value")]
    if any(column.null_count for column in required) or pc.list_flatten(table.column("links")).null_count:
        raise ProtocolError("the peer sent nodes with missing (null) keys, links or values")
    try:
        segments.check_links(table)
    except segments.DamagedSegment:
        raise ProtocolError("the peer sent a link that is not a 32-byte key") from None
    identity, signature = table.column("identity"), table.column("signature")
    if pc.max(pc.binary_length(identity)).as_py() or pc.max(pc.binary_length(signature)).as_py():
        longest = max(pc.max(pc.binary_length(c)).as_py() or 0 for c in (identity, signature))
        if longest > segments.MAX_SIGNED_BYTES:
            raise ProtocolError(f"the peer sent an identity or signature of {longest} bytes (at most 1024)")
    try:
        group = int(meta.get(b"group", b"-1"))
        whole = meta.get(b"whole") == b"1"
    except ValueError:
        raise ProtocolError("the peer sent a NODES frame with bad metadata") from None
    return table, group, whole


def _reject(key: bytes, why: str) -> NoReturn:
    raise RejectedNodeError(
        f"the peer sent node {key.hex()}, {why}; nothing from this transfer was committed", key=key.hex()
    )


#: received rows held in memory before they go to a spill file
SPILL_BYTES = 16 * 1024 * 1024


class _Spill:
    """Verified rows kept in an Arrow IPC file until the commit (read back memory-mapped)."""

    def __init__(self) -> None:
        import os
        import tempfile

        import pyarrow as pa

        fd, self.path = tempfile.mkstemp(prefix="hyperframe-incoming-", suffix=".arrow")
        os.close(fd)
        # an Arrow file, not a Python one: a Python file would get a bytes copy of every batch
        self.file = pa.OSFile(self.path, "wb")
        self.writer = pa.ipc.new_file(self.file, segments.schema())
        self.batches = 0

    def put(self, table: pa.Table) -> tuple[int, int]:
        start = self.batches
        for batch in table.to_batches():
            self.writer.write_batch(batch)
            self.batches += 1
        return start, self.batches

    def reader(self) -> pa.ipc.RecordBatchFileReader:
        import pyarrow as pa

        self.writer.close()
        self.file.close()
        return pa.ipc.open_file(pa.memory_map(self.path))

    def close(self) -> None:
        import os

        try:
            self.writer.close()
        except Exception:  # closed already
            pass
        self.file.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _batches(reader: pa.ipc.RecordBatchFileReader | None, start: int, stop: int) -> pa.Table:
    import pyarrow as pa

    assert reader is not None
    return pa.Table.from_batches([reader.get_batch(i) for i in range(start, stop)], schema=segments.schema())


@dataclass
class Incoming:
    """Nodes received in one transfer, verified as they arrive, committed only at the end."""

    local_has: Callable[[list[bytes]], set[bytes]]
    #: rows of a value column the log's encoding cannot decode
    undecodable: Callable[[pa.ChunkedArray], list[int]] = lambda _values: []
    #: the most rows (duplicates included) the transfer may bring; -1: no count was agreed
    max_rows: int = -1
    #: the ids we asked for: any other node is refused (None: the peer chooses); kept sorted
    only: np.ndarray | None = None
    groups: list[tuple[int, bool, list[pa.Table | tuple[int, int]]]] = field(default_factory=list)
    #: every key received so far (columnar: memory grows by 32 bytes a node, not by a set entry)
    seen: keyset.KeySet = field(default_factory=keyset.KeySet)
    #: verified rows beyond SPILL_BYTES wait on disk (memory does not grow with what arrives)
    spill: _Spill | None = None
    held: int = 0
    duplicates: int = 0
    received: int = 0
    #: links not received before the node naming them: they must be stored locally
    pending_links: keyset.KeySet = field(default_factory=keyset.KeySet)

    def __post_init__(self) -> None:
        if self.only is not None:
            import numpy as np

            self.only = np.sort(self.only)  # once, so each frame's check is a binary search

    def add(self, payload: bytes) -> None:
        table, group, whole = decode_frame(payload)
        if not table.num_rows:
            raise ProtocolError("the peer sent an empty NODES frame (a hyperframe peer never does)")
        if 0 <= self.max_rows < self.received + table.num_rows:
            raise ProtocolError(
                f"the peer sent more than the {self.max_rows} node(s) agreed for this transfer; "
                "nothing from it was committed"
            )
        import numpy as np

        raw = segments.key_bytes(table.column("key"))

        def key(row: int) -> bytes:
            return raw[KEY_BYTES * row : KEY_BYTES * row + KEY_BYTES]

        if self.only is not None:
            asked = keyset.in_sorted(self.only, segments.node_ids(table.column("key")))
            if not asked.all():
                _reject(key(int(np.argmin(asked))), "which this side did not ask for")
        bad = segments.mismatched_rows(table)
        if bad:
            _reject(key(bad[0]), "whose key does not match its links and value (tampered or corrupt)")
        bad = self.undecodable(table.column("value"))
        if bad:
            _reject(key(bad[0]), "whose value this log's encoding cannot decode (no writer of this log could add it)")
        offsets, flat = segments.link_offsets(table)
        frame_keys, links = keyset.as_keys(raw), keyset.as_keys(flat)
        repeated, unplaced = keyset.out_of_order(frame_keys, offsets, links, self.seen)
        pending = links[unplaced]
        if len(pending):  # not earlier in the stream: must be stored locally
            pending = np.unique(pending)
            self.pending_links.add(pending[~self.pending_links.contains(pending)])
        self.duplicates += int(repeated.sum())
        if self.duplicates > MAX_DUPLICATES:
            raise ProtocolError(
                f"the peer sent more than {MAX_DUPLICATES} nodes twice in one transfer (an honest peer "
                "sends each node once); nothing from it was committed"
            )
        keep = np.flatnonzero(~repeated)
        self.seen.add(frame_keys[keep])
        self.received += table.num_rows
        if len(keep) != table.num_rows:
            table = table.take(segments.indices(keep))
            whole = False
        self.held += table.nbytes
        if self.groups and self.groups[-1][0] == group and group >= 0:
            g, w, tables = self.groups[-1]
            tables.append(table)
            self.groups[-1] = (g, w and whole, tables)
        else:
            self.groups.append((group, whole, [table]))
        if self.held > SPILL_BYTES:
            self._spill_all()

    def _spill_all(self) -> None:
        if self.spill is None:
            self.spill = _Spill()
        for _group, _whole, tables in self.groups:
            for i, table in enumerate(tables):
                if not isinstance(table, tuple):
                    tables[i] = self.spill.put(table)
        self.held = 0

    def close(self) -> None:
        """Remove the spill file (after the commit, or when the transfer failed)."""
        if self.spill is not None:
            self.spill.close()

    def check_links(self) -> None:
        """Every link must be stored locally or arrive earlier in the stream."""
        batch: list[bytes] = []
        for link in self.pending_links:
            batch.append(link)
            if len(batch) == 65536:  # asked in batches: the question never grows with the transfer
                self._stored(batch)
                batch = []
        if batch:
            self._stored(batch)

    def _stored(self, links: list[bytes]) -> None:
        present = self.local_has(links)
        absent = [link for link in links if link not in present]
        if absent:
            link = absent[0]
            raise RejectedNodeError(
                f"the peer sent a node linking {link.hex()}, which this log does not hold and the transfer "
                "did not carry before the node; "
                "nothing from this transfer was committed",
                key=link.hex(),
            )

    def tables(self) -> list[pa.Table]:
        """Segment tables to commit: whole groups keep their cut, partial ones are merged."""
        import pyarrow as pa

        out: list[pa.Table] = []
        partial: list[pa.Table] = []
        reader = self.spill.reader() if self.spill is not None else None
        for _group, whole, stored in self.groups:
            tables = [t if not isinstance(t, tuple) else _batches(reader, *t) for t in stored]
            if whole:
                if partial:
                    out.append(pa.concat_tables(partial).combine_chunks())
                    partial = []
                out.append(pa.concat_tables(tables).combine_chunks())
            else:
                partial.extend(tables)
        if partial:
            out.append(pa.concat_tables(partial).combine_chunks())
        return [t for t in out if t.num_rows]
