"""Storage: segments, manifests, compaction, interrupted commits, concurrent writers, verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from helpers import RunCli, Snapshot

import hyperframe
import hyperframe.store.manifest as mf
from hyperframe import Log
from hyperframe.store.directory import AUTO_COMPACT_SEGMENTS
from hyperframe.verify import verify_log


def segment_files(path: Path) -> list[Path]:
    return sorted(path.glob("seg-*.parquet"))


def rows(log: Log) -> list[tuple[str, tuple[str, ...], object, int]]:
    """Everything a reader can see, in change order."""
    return [(n.key, n.links, n.value, n.change) for n in hyperframe.open(log.path).changes()]


def listed_segments(path: Path) -> list[str]:
    manifest = hyperframe.open(path).manifest
    assert manifest is not None
    return [s.file for s in manifest.segments]


def build(log: Log, n: int, *, chain: bool = True) -> None:
    """Add ``n`` nodes one commit at a time (``chain``: each links the one before)."""
    previous: list[str] = []
    for i in range(n):
        node = log.add(f"node {i}", links=previous)
        previous = [node.key] if chain else []


# --- layout -------------------------------------------------------------------------------


def test_segments_are_parquet_with_32_byte_keys_and_links(log: Log) -> None:
    build(log, 3)
    (first, *_) = segment_files(log.path)
    schema = ds.dataset(first, format="parquet").schema
    assert schema.field("key").type == pa.binary(32)
    assert schema.field("links").type.value_type == pa.binary()  # format 2: pandas and Dask read it
    links = ds.dataset(log.path, format="parquet").to_table().column("links").to_pylist()
    assert {len(link) for row in links for link in row} == {32}
    assert schema.field("value").type == pa.binary()


def test_the_log_reads_as_a_plain_parquet_dataset(log: Log) -> None:
    build(log, 5)
    log.batch([{"value": f"more {i}"} for i in range(20)])
    dataset = ds.dataset(log.path, format="parquet")  # _hyperframe/ is skipped as metadata
    assert all("_hyperframe" not in f for f in dataset.files)
    assert dataset.count_rows() == len(log) == 25
    table = dataset.to_table()
    assert sorted(k.hex() for k in table.column("key").to_pylist()) == sorted(n.key for n in log.changes())
    assert sorted(v.decode() for v in table.column("value").to_pylist()) == sorted(str(n.value) for n in log.changes())


def test_metadata_lives_under_an_underscore_folder(log: Log) -> None:
    build(log, 2)
    names = {p.name for p in log.path.iterdir()}
    assert {n for n in names if not n.startswith("seg-")} == {"_hyperframe"}
    assert all(n.endswith(".parquet") for n in names if n.startswith("seg-"))


def test_change_numbers_are_positions_and_survive_compaction(log: Log) -> None:
    build(log, 6)
    before = rows(log)
    assert [r[3] for r in before] == [1, 2, 3, 4, 5, 6]
    log.compact()
    assert rows(log) == before
    assert log.add("after").change == 7


# --- manifests -------------------------------------------------------------------------------


def test_each_commit_publishes_a_new_manifest_and_never_rewrites_one(log: Log) -> None:
    log.add("first")
    version = log.info()["version"]
    path = mf.manifest_path(log.path, version)
    published = path.read_bytes()
    for i in range(3):
        log.add(f"more {i}")
        assert log.info()["version"] == version + i + 1
    assert path.read_bytes() == published


def test_a_manifest_number_is_published_only_once(log: Log) -> None:
    log.add("hello")
    current = log.manifest
    assert current is not None
    path = mf.manifest_path(log.path, current.version)
    published = path.read_bytes()
    assert mf.publish(log.path, current.next(heads=("ff" * 32,))) is True
    assert mf.publish(log.path, current) is False  # that number is taken: put-if-absent
    assert path.read_bytes() == published


def test_a_damaged_manifest_is_reported_not_guessed(log: Log, run_process: RunCli) -> None:
    log.add("hello")
    current = log.manifest
    assert current is not None
    mf.manifest_path(log.path, current.version).write_text("{not json")
    with pytest.raises(hyperframe.CorruptLogError, match="damaged"):
        hyperframe.open(log.path)
    result = run_process("list", log.path)
    assert result.is_one_line_error(), result


# --- compaction -------------------------------------------------------------------------------


def test_automatic_compaction_keeps_the_segment_count_bounded_and_content_intact(log: Log) -> None:
    added = []
    previous: list[str] = []
    for i in range(3 * AUTO_COMPACT_SEGMENTS):
        node = log.add(f"node {i}", links=previous)
        previous = [node.key]
        added.append((node.key, node.links, node.value, node.change))
        assert log.info()["segments"] <= AUTO_COMPACT_SEGMENTS
    assert rows(log) == added
    assert [r[3] for r in added] == list(range(1, 3 * AUTO_COMPACT_SEGMENTS + 1))
    # the top level holds exactly the live segments; replaced ones stay, out of the way,
    # for readers that started earlier and older versions (the retention window) ...
    assert [p.name for p in segment_files(log.path)] == sorted(listed_segments(log.path))
    assert len(list((log.path / "_hyperframe" / "retired").iterdir())) > 0
    assert verify_log(log.path).warnings == []
    # ... and go once no retained manifest lists them
    log.compact(retain_seconds=0)
    assert [p.name for p in segment_files(log.path)] == listed_segments(log.path)
    report = verify_log(log.path)
    assert report.ok and not report.warnings and report.nodes == 3 * AUTO_COMPACT_SEGMENTS


def test_compact_merges_everything_into_one_segment(log: Log, run: RunCli) -> None:
    build(log, 10, chain=False)
    log.batch([{"value": f"b{i}", "links": [log.heads()[0]]} for i in range(5)])
    before = rows(log)
    heads, fingerprint = log.heads(), log.info()["fingerprint"]
    old_files = segment_files(log.path)
    assert len(old_files) == 11
    log.compact(retain_seconds=0)  # free the replaced files at once
    assert log.info()["segments"] == 1
    assert rows(log) == before
    assert log.heads() == heads and log.info()["fingerprint"] == fingerprint
    assert not any(f.exists() for f in old_files)
    assert [p.name for p in segment_files(log.path)] == listed_segments(log.path)
    assert verify_log(log.path).ok
    assert run("verify", log.path).code == 0


def test_compacting_a_compact_log_changes_nothing(log: Log, snapshot: Snapshot) -> None:
    log.batch([{"value": "a"}, {"value": "b"}])
    before = snapshot(log.path)
    log.compact()
    assert snapshot(log.path) == before


def test_compacting_a_log_that_does_not_exist_creates_nothing(log_path: Path) -> None:
    assert hyperframe.open(log_path).compact() is None
    assert not log_path.exists()


def test_another_handle_reads_through_a_compaction(log: Log) -> None:
    build(log, 8)
    reader = hyperframe.open(log.path)
    assert len(list(reader.changes())) == 8
    hyperframe.open(log.path).compact()
    assert [n.value for n in reader.changes()] == [f"node {i}" for i in range(8)]
    assert reader.get(log.heads()[0][:8]).value == "node 7"


def test_old_segments_stay_until_the_compacted_manifest_is_published(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    build(log, 5)
    before = rows(log)
    old_files = segment_files(log.path)

    def fail(*args: object, **kwargs: object) -> bool:
        raise OSError("simulated crash while publishing")

    monkeypatch.setattr(mf, "publish", fail)
    with pytest.raises(OSError):
        log.compact()
    monkeypatch.undo()
    assert all(f.exists() for f in old_files)
    assert rows(log) == before
    report = verify_log(log.path)
    assert report.ok and len(report.warnings) == 1  # the merged segment nobody refers to
    log.compact()
    assert rows(log) == before and verify_log(log.path).warnings == []


# --- a commit interrupted between the segment and the manifest ---------------------------------


def _check_survived_crash(
    log_path: Path,
    before_rows: list[tuple[str, tuple[str, ...], object, int]],
    before_segments: list[str],
    orphan_value: str,
) -> None:
    reopened = hyperframe.open(log_path)
    assert rows(reopened) == before_rows
    assert listed_segments(log_path) == before_segments
    orphan_key = hyperframe.node_key(orphan_value.encode(), reopened.heads())
    assert orphan_key not in reopened
    # the orphan is on disk, ignored by readers and reported by verify
    orphans = [p.name for p in segment_files(log_path) if p.name not in before_segments]
    assert len(orphans) == 1
    report = verify_log(log_path)
    assert report.ok
    assert [w.file for w in report.warnings] == orphans
    assert "orphan" in report.warnings[0].message
    # compact removes it, and the log takes new writes (the lock was released)
    reopened.compact()
    assert not (log_path / orphans[0]).exists()
    assert verify_log(log_path).warnings == []
    assert reopened.append(orphan_value).key == orphan_key
    assert len(reopened) == len(before_rows) + 1


def test_a_commit_that_fails_before_publishing_leaves_the_old_state(
    log: Log, monkeypatch: pytest.MonkeyPatch, snapshot: Snapshot
) -> None:
    build(log, 3)
    before_rows, before_segments = rows(log), listed_segments(log.path)
    version = log.info()["version"]

    def crash(*args: object, **kwargs: object) -> bool:
        raise OSError("simulated crash between segment and manifest")

    monkeypatch.setattr(mf, "publish", crash)
    with pytest.raises(OSError, match="simulated"):
        log.append("lost")
    monkeypatch.undo()
    assert hyperframe.open(log.path).info()["version"] == version
    assert len(log) == 3
    _check_survived_crash(log.path, before_rows, before_segments, "lost")


CRASH_BEFORE_PUBLISH = r"""
import os, sys
import hyperframe
import hyperframe.store.manifest as mf

def die(*args, **kwargs):
    os._exit(17)  # the process dies: no cleanup, no finally blocks

mf.publish = die
hyperframe.open(sys.argv[1]).append("lost")
"""


def test_a_writer_killed_before_publishing_leaves_the_old_state(log: Log, run_python: RunCli) -> None:
    build(log, 3)
    before_rows, before_segments = rows(log), listed_segments(log.path)
    result = run_python(CRASH_BEFORE_PUBLISH, log.path)
    assert result.code == 17, result.err
    _check_survived_crash(log.path, before_rows, before_segments, "lost")


def test_a_half_written_manifest_is_ignored_and_cleaned(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    build(log, 2)
    before = rows(log)

    def crash(*args: object, **kwargs: object) -> bool:
        raise OSError("simulated crash before the manifest got its name")

    monkeypatch.setattr(mf, "publish_exclusive", crash)
    with pytest.raises(OSError):
        log.add("lost")
    monkeypatch.undo()
    temp_manifests = list((log.path / "_hyperframe" / "tmp").glob(".*"))  # temporaries live under _hyperframe/tmp/
    assert len(temp_manifests) == 1
    assert rows(log) == before
    report = verify_log(log.path)
    assert report.ok and len(report.warnings) == 2  # the segment and the manifest draft
    log.compact()
    assert not temp_manifests[0].exists()
    assert verify_log(log.path).warnings == []


# --- concurrent writers ---------------------------------------------------------------------------

# Durability is tested above; here the question is only whether concurrent commits lose
# anything, so the writers skip the disk flushes (which only make the test slow).
WRITER = r"""
import os, sys
os.fsync = lambda fd: None
import hyperframe

path, name, root = sys.argv[1], sys.argv[2], sys.argv[3]
log = hyperframe.open(path)
print("ready", flush=True)
sys.stdin.readline()  # start together
previous = [root]
for i in range(200):
    previous = [log.add(f"{name} {i}", links=previous).key]
print(previous[0], flush=True)
"""


@pytest.mark.slow
def test_four_processes_writing_at_once_lose_nothing(log: Log) -> None:
    root = log.add("root").key
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(log.path), f"writer{w}", root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for proc in writers:  # every writer has opened the log
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in writers:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    tails = []
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        tails.append(out.strip())

    reopened = hyperframe.open(log.path)
    nodes = list(reopened.changes())
    assert len(nodes) == len(reopened) == 801
    assert len({n.key for n in nodes}) == 801
    assert sorted(n.value for n in nodes) == sorted(["root"] + [f"writer{w} {i}" for w in range(4) for i in range(200)])
    assert reopened.heads() == sorted(tails)
    position = {n.key: n.change for n in nodes}
    assert all(position[link] < n.change for n in nodes for link in n.links)
    report = verify_log(log.path)
    assert report.ok and not report.warnings, report.summary()
    assert report.nodes == 801


# --- verify ----------------------------------------------------------------------------------


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_passes_a_healthy_log(log: Log) -> None:
    build(log, 4)
    report = verify_log(log.path)
    assert report.ok and report.nodes == 4 and report.segments == 4 and not report.warnings
    assert report.summary().startswith("ok: 4 nodes")


def test_verify_detects_a_flipped_byte(log: Log, run: RunCli) -> None:
    build(log, 3)
    damaged = segment_files(log.path)[1]
    _flip_a_byte(damaged)
    report = verify_log(log.path)
    assert not report.ok
    assert report.errors[0].file == damaged.name  # (later nodes linking into it are reported too)
    assert "checksum" in report.errors[0].message
    result = run("verify", log.path)
    assert result.code == 1
    assert damaged.name in result.err


def test_verify_detects_a_missing_segment(log: Log, run: RunCli) -> None:
    build(log, 3)
    gone = segment_files(log.path)[0]
    gone.unlink()
    report = verify_log(log.path)
    assert not report.ok
    assert report.errors[0].file == gone.name
    assert "missing" in report.errors[0].message
    result = run("verify", log.path)
    assert result.code == 1
    assert gone.name in result.err


def test_verify_exits_1_in_a_real_process(log: Log, run_process: RunCli) -> None:
    build(log, 2)
    _flip_a_byte(segment_files(log.path)[0])
    result = run_process("verify", log.path)
    assert result.code == 1
    assert "Traceback" not in result.err


def test_verify_detects_wrong_recorded_heads(log: Log) -> None:
    build(log, 2, chain=False)
    current = log.manifest
    assert current is not None
    path = mf.manifest_path(log.path, current.version)
    doc = json.loads(path.read_bytes())
    doc["heads"] = doc["heads"][:1]
    path.write_text(json.dumps(doc))
    report = verify_log(log.path)
    assert not report.ok and "heads" in report.errors[0].message


def test_verify_strict_fails_on_orphans(log: Log, run: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    build(log, 2)

    def crash(*args: object, **kwargs: object) -> bool:
        raise OSError("simulated")

    monkeypatch.setattr(mf, "publish", crash)
    with pytest.raises(OSError):
        log.add("lost")
    monkeypatch.undo()
    relaxed = run("verify", log.path)
    assert relaxed.code == 0 and "warning:" in relaxed.err and "orphan" in relaxed.err
    assert run("verify", log.path, "--strict").code == 1


# --- reading damaged segments ---------------------------------------------------------------------


def test_a_truncated_segment_is_a_corrupt_log_error(log: Log) -> None:
    build(log, 2)
    damaged = segment_files(log.path)[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(hyperframe.CorruptLogError):
        list(hyperframe.open(log.path).changes())


def test_reading_a_truncated_segment_from_the_shell_is_one_line(
    log: Log, run_process: RunCli, snapshot: Snapshot
) -> None:
    build(log, 2)
    damaged = segment_files(log.path)[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    before = snapshot(log.path)
    result = run_process("list", log.path)
    assert result.is_one_line_error(), result
    assert snapshot(log.path) == before
