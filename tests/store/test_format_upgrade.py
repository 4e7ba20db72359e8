"""Format 1 (links as ``list<fixed_size_binary(32)>``, what hyperframe wrote before) still
opens and reads; the first write or ``compact`` upgrades the log to format 2, and its
format-1 versions stay readable (their files are retired, not deleted)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import RunCli, Snapshot, write_format1_log

import hyperframe
import hyperframe.store.manifest as mf
from hyperframe.repair import repair_log
from hyperframe.verify import verify_log


@pytest.fixture
def old(tmp_path: Path) -> tuple[Path, list[str]]:
    """A format-1 log: versions 0 (empty), 1 (a, b) and 2 (+ c), one segment each."""
    path = tmp_path / "old.db"
    return path, write_format1_log(path, [["a", "b"], ["c"]])


def _formats(path: Path) -> set[int]:
    found = set()
    for p in path.glob("seg-*.parquet"):
        schema = pq.read_schema(p)
        if str(schema.field("links").type.value_type) == "fixed_size_binary[32]":
            found.add(1)
        else:
            found.add(3 if "seq" in schema.names else 2)
    return found


def test_a_format_1_log_opens_and_reads_without_being_changed(old: tuple[Path, list[str]], snapshot: Snapshot) -> None:
    path, keys = old
    before = snapshot(path)
    log = hyperframe.open(path)
    assert [n.value for n in log.changes()] == ["a", "b", "c"]
    assert [n.key for n in log] == keys
    assert log.get(keys[1][:10]).links == (keys[0],)
    assert log.to_arrow(columns=["key", "links"]).column("links").to_pylist()[2] == [keys[1]]
    assert log.to_pandas()["depth"].tolist() == [0, 1, 2]
    assert log.info()["format"] == 1
    assert verify_log(path).ok
    assert [n.value for n in hyperframe.open(path, version=1)] == ["a", "b"]
    assert snapshot(path) == before  # reading upgrades nothing


def test_the_first_write_upgrades_and_older_versions_stay_readable(old: tuple[Path, list[str]]) -> None:
    import pandas as pd

    path, keys = old
    assert _formats(path) == {1}
    log = hyperframe.open(path)
    node = log.append("d")
    assert node.links == (keys[2],) and node.change == 4
    assert log.info()["format"] == 3 and _formats(path) == {3}
    assert [v["operation"] for v in log.history()] == ["append", "upgrade", None, None, None]
    assert len(pd.read_parquet(path)) == 4  # pandas reads format 2
    # the format-1 files moved to _hyperframe/retired/; the format-1 versions read from them
    assert len(list((path / "_hyperframe" / "retired").iterdir())) == 2
    assert [n.value for n in hyperframe.open(path, version=2)] == ["a", "b", "c"]
    assert [n.key for n in hyperframe.open(path, version=1)] == keys[:2]
    report = verify_log(path)
    assert report.ok and not report.warnings, report.summary()


def test_compact_upgrades_a_one_segment_log(tmp_path: Path, run: RunCli) -> None:
    path = tmp_path / "one.db"
    write_format1_log(path, [["a", "b", "c"]])
    assert run("compact", path).code == 0
    log = hyperframe.open(path)
    assert log.info()["format"] == 3 and log.info()["segments"] == 1 and _formats(path) == {3}
    assert log.history()[0]["operation"] == "upgrade"
    assert [n.value for n in log] == ["a", "b", "c"]
    assert [n.value for n in hyperframe.open(path, version=1)] == ["a", "b", "c"]  # the format-1 bytes
    assert run("compact", path, "--retain", "0").code == 0
    assert not list((path / "_hyperframe" / "retired").iterdir())
    assert verify_log(path).ok


def test_a_reader_of_a_format_1_version_reads_on_after_a_compaction(old: tuple[Path, list[str]]) -> None:
    """The replaced format-1 files are retired, not deleted: a reader holding a format-1
    version finds them in retired/ (the checksum tells which copy is whose)."""
    path, _ = old
    reader = hyperframe.open(path, version=2)
    names = sorted(p.name for p in path.glob("seg-*.parquet"))
    hyperframe.open(path).compact()
    assert sorted(p.name for p in path.glob("seg-*.parquet")) != names  # compacted into one
    assert [n.value for n in reader.changes()] == ["a", "b", "c"]
    assert reader.to_arrow().num_rows == 3


def test_replication_from_a_format_1_log_sends_format_2(old: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, keys = old
    target = hyperframe.open(tmp_path / "new.db")
    report = hyperframe.replicate(hyperframe.open(path, read_only=True), target, mode="push")
    assert report.sent_a_to_b == 3
    assert [n.key for n in target] == keys and target.info()["format"] == 3
    assert hyperframe.open(path).info()["format"] == 1  # the source was only read
    assert target.history()[0]["operation"] == "receive"


def test_repair_of_a_format_1_log_rewrites_it_in_format_2(old: tuple[Path, list[str]]) -> None:
    path, keys = old
    newest = mf.manifest_path(path, 2)
    newest.write_text("{garbage")
    report = repair_log(path)
    assert report.rebuilt_manifest and report.kept_nodes == 3 and report.dropped_nodes == 0
    log = hyperframe.open(path)
    assert [n.key for n in log] == keys and log.info()["format"] == 3 and _formats(path) == {3}
    assert verify_log(path).ok


def test_a_manifest_of_an_unknown_format_is_refused(old: tuple[Path, list[str]]) -> None:
    path, _ = old
    newest = mf.manifest_path(path, 2)
    doc = json.loads(newest.read_bytes())
    doc["format"] = 4
    newest.write_text(json.dumps(doc))
    with pytest.raises(hyperframe.CorruptLogError, match="format 4"):
        hyperframe.open(path)


def test_a_format_2_link_that_is_not_32_bytes_is_damage(tmp_path: Path) -> None:
    from hyperframe.store import segments

    table = segments.make_table([bytes(32)], [[]], [b"v"])
    bad = table.set_column(1, "links", pa.array([[b"short"]], segments.schema().field("links").type))
    with pytest.raises(segments.DamagedSegment, match="32-byte"):
        segments.parse(segments.encode(bad, "utf-8"))


def test_both_copies_of_a_segment_stay_readable_once_both_are_retired(tmp_path: Path) -> None:
    """A format-1 file and the format-2 file that replaced it share a segment name; retired
    files are named by their checksum too, so both versions keep their own bytes."""
    path = tmp_path / "one.db"
    write_format1_log(path, [["a", "b"]])
    log = hyperframe.open(path)
    log.compact()  # version 2: the same segment, in format 2
    for i in range(17):  # an automatic compaction merges it away: now both copies are retired
        log.add(f"n{i}", links=log.heads())
    retired = sorted(p.name for p in (path / "_hyperframe" / "retired").iterdir())
    first = hyperframe.open(path, version=1).manifest.segments[0].file  # type: ignore[union-attr]
    assert sum(name.startswith(first[:-8]) for name in retired) == 2
    assert [n.value for n in hyperframe.open(path, version=1)] == ["a", "b"]
    assert [n.value for n in hyperframe.open(path, version=2)] == ["a", "b"]
    assert len(hyperframe.open(path)) == 19 and verify_log(path).ok
