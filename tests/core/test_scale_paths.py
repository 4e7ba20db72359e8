"""The paths that must stay linear on big logs: the key index reads key columns only, get
decodes one row group, compact streams row groups into one file (issue 13's cost table).

Row groups are made small here (``segments.ROW_GROUP_BYTES``) so that small logs have many.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import RunCli

import hyperframe
from hyperframe.store import segments
from hyperframe.store.manifest import SegmentInfo
from hyperframe.verify import verify_log

SMALL_GROUPS = 64 * 1024


def _log(path: Path, monkeypatch: pytest.MonkeyPatch, *, chunks: int = 4, per: int = 2000) -> hyperframe.Log:
    """A chain of ``chunks`` segments of ``per`` nodes, each segment of many row groups."""
    monkeypatch.setattr(segments, "ROW_GROUP_BYTES", SMALL_GROUPS)
    log = hyperframe.open(path, encoding="json")
    for c in range(chunks):
        log.batch([{"value": {"i": c * per + i, "pad": "x" * 40}} for i in range(per)])
    return log


def _row_groups(path: Path) -> list[int]:
    return [pq.ParquetFile(p).metadata.num_row_groups for p in hyperframe.open(path).files()]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x20
    path.write_bytes(bytes(data))


def test_get_finds_every_node_of_a_segment_of_many_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path / "log.db", monkeypatch, chunks=2, per=1500)
    assert min(_row_groups(log.path)) > 3
    nodes = list(log.changes())
    fresh = hyperframe.open(log.path)
    for node in nodes[::37] + nodes[-3:]:
        assert fresh.get(node.key) == node
        assert fresh.get(node.key[:12]).change == node.change


def test_a_get_from_a_damaged_file_is_refused_with_the_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte flipped in another row group than the node's: the file is not the manifest's,
    so get refuses it as before (the whole-file checksum is how a file is trusted)."""
    log = _log(tmp_path / "log.db", monkeypatch, chunks=1, per=3000)
    last = list(log.changes())[-1]
    target = Path(log.files()[0])
    meta = pq.ParquetFile(target).metadata
    assert meta.num_row_groups > 3
    _flip(target, meta.row_group(0).column(2).data_page_offset + 40)  # a value page of the first group
    with pytest.raises(hyperframe.CorruptLogError, match="is damaged.*do not match the manifest's checksum"):
        hyperframe.open(log.path).get(last.key)


def test_key_in_log_trusts_a_key_column_whose_hash_is_the_segment_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key index reads the key column only: a value byte damaged elsewhere does not
    change what it answers (get and verify refuse that file), a wrong key column does."""
    log = _log(tmp_path / "log.db", monkeypatch, chunks=2, per=1000)
    keys = [n.key for n in log.changes()]
    target = Path(log.files()[1])
    meta = pq.ParquetFile(target).metadata
    _flip(target, meta.row_group(0).column(2).data_page_offset + 40)
    reader = hyperframe.open(log.path)
    assert keys[1500] in reader and keys[10] in reader and "0" * 64 not in reader
    with pytest.raises(hyperframe.CorruptLogError):
        reader.get(keys[1500])
    assert reader.get(keys[10]).key == keys[10]  # the other segment is intact
    assert not verify_log(log.path).ok


def test_a_key_column_that_is_not_the_segment_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path / "log.db", monkeypatch, chunks=1, per=500)
    info = log.manifest.segments[0]  # type: ignore[union-attr]
    assert segments.read(log.path, info, ["key"]).num_rows == 500
    for wrong in (
        SegmentInfo(info.file, hashlib.sha256(b"other").hexdigest(), info.rows, info.size, info.sha256),
        SegmentInfo(info.file, info.id, info.rows + 1, info.size, info.sha256),
    ):
        with pytest.raises(segments.DamagedSegment, match="another id"):
            segments.read(log.path, wrong, ["key"])
    with pytest.raises(segments.DamagedSegment, match="checksum"):
        segments.read(log.path, SegmentInfo(info.file, info.id, info.rows, info.size + 1, info.sha256), ["key"])


def test_compact_streams_into_one_segment_with_the_same_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path / "log.db", monkeypatch, chunks=5, per=1200)
    before = log.manifest
    assert before is not None
    nodes = list(log.changes())
    after = log.compact(retain_seconds=0)
    assert after is not None and len(after.segments) == 1
    assert (after.heads, after.fingerprint, after.nodes, after.origin) == (
        before.heads,
        before.fingerprint,
        before.nodes,
        before.origin,
    )
    keys = b"".join(bytes.fromhex(n.key) for n in nodes)
    assert after.segments[0].id == hashlib.sha256(keys).hexdigest()
    path = Path(log.files()[0])
    assert after.segments[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert after.segments[0].size == path.stat().st_size
    groups = pq.ParquetFile(path).metadata
    assert groups.num_row_groups > 5  # streamed in row groups, not written as one table
    assert all(
        groups.row_group(g).total_byte_size < 2 * SMALL_GROUPS for g in range(groups.num_row_groups)
    )  # gathered to about ROW_GROUP_BYTES of Arrow data each (sizes here are Parquet's)
    assert list(hyperframe.open(log.path).changes()) == nodes
    table = pq.read_table(path)  # the segment schema, encoding and origins as before
    assert table.schema.metadata[segments.ENCODING_META] == b"json"
    assert table.column("seq").to_pylist() == list(range(1, len(nodes) + 1))
    assert verify_log(log.path).ok


def test_compact_writes_a_small_log_as_one_write_table_would(tmp_path: Path) -> None:
    """A log that fits one row group: the compacted file is byte for byte one
    ``write_table`` of the segments as read (what compact wrote before it streamed)."""
    log = hyperframe.open(tmp_path / "log.db", encoding="json")
    for i in range(4):
        log.batch([{"value": {"n": i, "k": j}} for j in range(50)])
    tables = [pq.read_table(p) for p in log.files()]
    whole = pa.concat_tables(tables).combine_chunks()
    expected = segments.encode(whole, "json")
    log.compact()
    assert Path(log.files()[0]).read_bytes() == expected


COMPACT_PEAK = """
import json, sys
import pyarrow as pa
import hyperframe
from hyperframe.store import segments
segments.ROW_GROUP_BYTES = int(sys.argv[2])
hyperframe.open(sys.argv[1]).compact()
print(json.dumps({"peak": pa.default_memory_pool().max_memory()}))
"""


def test_compact_holds_about_a_row_group_not_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_python: RunCli
) -> None:
    monkeypatch.setattr(segments, "ROW_GROUP_BYTES", 512 * 1024)
    log = hyperframe.open(tmp_path / "log.db", encoding="binary")
    for _ in range(6):
        log.batch([{"value": os.urandom(1000)} for _ in range(6000)])  # 6 MB a segment
    arrow_bytes = sum(pq.read_table(p).nbytes for p in log.files())
    proc = run_python(COMPACT_PEAK, log.path, 512 * 1024)
    assert proc.code == 0, proc.err
    peak = json.loads(proc.out.splitlines()[-1])["peak"]
    assert peak < arrow_bytes / 4, (peak, arrow_bytes)  # holding the log whole takes more than all of it
    assert len(hyperframe.open(log.path).manifest.segments) == 1  # type: ignore[union-attr]
    assert verify_log(log.path).ok


KILLED_COMPACTION = """
import os, signal, sys
import hyperframe
from hyperframe.store import segments
segments.ROW_GROUP_BYTES = 64 * 1024
real = segments._HashingSink.write
written = [0]
def write(self, data):
    written[0] += len(data)
    if written[0] > int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, data)
segments._HashingSink.write = write
hyperframe.open(sys.argv[1]).compact()
"""


def test_a_compaction_killed_while_streaming_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_python: RunCli
) -> None:
    log = _log(tmp_path / "log.db", monkeypatch, chunks=4, per=1500)
    nodes = list(log.changes())
    before = log.manifest
    half = sum(Path(p).stat().st_size for p in log.files()) // 2
    proc = run_python(KILLED_COMPACTION, log.path, half)
    assert proc.code == -9, proc.err  # killed with half the new file written
    reader = hyperframe.open(log.path)
    assert reader.manifest == before
    assert list(reader.changes()) == nodes
    assert reader.compact(retain_seconds=0) is not None
    assert list(hyperframe.open(log.path).changes()) == nodes
    assert not list((log.path / "_hyperframe" / "tmp").glob("*.tmp"))  # the dead writer's temporary is gone
