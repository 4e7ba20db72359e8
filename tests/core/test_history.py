"""History and time travel, the way deltalake does it: every commit is a version that
records its operation; any version kept opens read-only, exactly as it was; versions and
their files are kept for the log's retention (a week by default) and removed by vacuum."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import RunCli

import hyperframe
import hyperframe.store.manifest as mf
from hyperframe import Log
from hyperframe.verify import verify_log


def _state(log: Log) -> list[tuple[str, tuple[str, ...], object, int]]:
    return [(n.key, n.links, n.value, n.change) for n in log.changes()]


def test_history_lists_versions_newest_first_with_their_operations(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db", encoding="json")
    hyperframe.Log.create(log.path, encoding="json")
    a = log.add({"n": 1})
    log.append({"n": 2})
    log.batch([{"value": {"n": 3}, "links": [a]}, {"value": {"n": 4}}])
    log.extend([{"n": 5}])
    other = hyperframe.open(tmp_path / "other.db", encoding="json")
    other.add({"n": "other"})
    hyperframe.replicate(other, log, mode="push")
    log.compact()
    history = log.history()
    assert [v["operation"] for v in history] == ["compact", "receive", "extend", "batch", "append", "add", "create"]
    assert [v["version"] for v in history] == list(range(6, -1, -1))
    assert [v["nodes"] for v in history] == [6, 6, 5, 4, 2, 1, 0]
    assert history[0]["heads"] == log.heads() and history[-1]["heads"] == []
    assert [v["segments"] for v in history][:2] == [1, 5]
    assert all(history[i]["time"] >= history[i + 1]["time"] for i in range(len(history) - 1))
    assert abs(history[0]["time"] - time.time()) < 60
    assert log.history(limit=2) == history[:2]
    assert json.loads(mf.manifest_path(log.path, 6).read_bytes())["operation"] == "compact"


def test_automatic_compaction_and_repair_are_versions_of_their_own(log: Log) -> None:
    from hyperframe.repair import repair_log

    for i in range(17):
        log.add(f"n{i}", links=log.heads())
    assert "auto-compact" in [v["operation"] for v in log.history()]
    mf.manifest_path(log.path, log.info()["version"]).write_text("{garbage")
    repair_log(log.path)
    assert log.history()[0]["operation"] == "repair"


def test_open_at_a_version_is_exactly_that_state_and_read_only(log: Log) -> None:
    states = {}
    for i in range(20):  # past an automatic compaction: older versions list retired files
        log.add(f"n{i}", links=log.heads())
        states[log.info()["version"]] = (_state(log), log.heads())
    log.compact()
    for version, (rows, heads) in states.items():
        old = hyperframe.open(log.path, version=version)
        assert old.version == version and old.read_only
        assert _state(old) == rows and old.heads() == heads and len(old) == len(rows)
        assert old.to_arrow().num_rows == len(rows)
        assert old.get(rows[-1][0][:10]).value == rows[-1][2]
        assert len(old.files()) == old.info()["segments"]
    old = hyperframe.open(log.path, version=3)
    assert [v["version"] for v in old.history()] == [3, 2, 1, 0]
    with pytest.raises(hyperframe.ReadOnlyLogError):
        old.add("no")
    with pytest.raises(hyperframe.ReadOnlyLogError):
        old.compact()


def test_a_reader_holding_an_older_version_finds_its_files_after_they_moved(log: Log) -> None:
    for i in range(6):
        log.add(f"n{i}", links=log.heads())
    reader = hyperframe.open(log.path, version=log.info()["version"])
    files = reader.files()
    log.compact()  # the six segments move to _hyperframe/retired/
    assert not any(Path(f).exists() for f in files)
    assert [n.value for n in reader] == [f"n{i}" for i in range(6)]
    moved = reader.files()
    assert all("/_hyperframe/retired/" in f for f in moved)
    import duckdb

    assert duckdb.sql(f"select count(*) from read_parquet({moved})").fetchall() == [(6,)]


def test_a_version_removed_by_vacuum_is_a_clear_error(log: Log, run: RunCli) -> None:
    log.add("a")
    log.add("b")
    log.vacuum(retain_seconds=0)
    with pytest.raises(hyperframe.LogError, match="no version 1 .*only version 2 is kept.*hyperframe history"):
        hyperframe.open(log.path, version=1)
    with pytest.raises(hyperframe.LogError, match="no version 9"):
        hyperframe.open(log.path, version=9)
    result = run("list", log.path, "--version", "1")
    assert result.is_one_line_error() and "no version 1" in result.err


def test_a_pinned_reader_whose_files_were_vacuumed_is_told_so(log: Log) -> None:
    log.add("a")
    log.add("b")
    old = hyperframe.open(log.path, version=1)
    log.compact(retain_seconds=3600)  # version 1 stays, its files are retired
    assert [n.value for n in old] == ["a"]
    # a version whose manifest is still there but whose file was deleted by hand
    for retired in (log.path / "_hyperframe" / "retired").iterdir():
        retired.unlink()
    fresh = hyperframe.open(log.path, version=1)
    with pytest.raises(hyperframe.LogError, match="no longer on disk"):
        list(fresh)


def test_versions_are_kept_for_the_retention_then_vacuumed(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        log.add(f"n{i}")
    log.compact()
    retired = log.path / "_hyperframe" / "retired"
    assert len(list(retired.iterdir())) == 5
    assert log.vacuum() == []  # all within a week
    assert len(log.history()) == 7
    later = time.time() + mf.RETENTION_SECONDS + 60
    monkeypatch.setattr(time, "time", lambda: later)
    gone = log.vacuum()
    assert sorted(Path(p).name for p in gone if p.endswith(".json")) == [f"v{v:020d}.json" for v in range(6)]
    assert sum(1 for p in gone if p.startswith("_hyperframe/retired/")) == 5
    assert [v["version"] for v in log.history()] == [6]
    assert not list(retired.iterdir())
    assert verify_log(log.path).ok and not verify_log(log.path).warnings


def test_a_version_is_kept_while_its_successor_is_young(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention counts from when a version was replaced: an old but current-until-now
    version stays a full retention after the write that replaced it."""
    log.add("a")
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start + 10 * mf.RETENTION_SECONDS)
    log.add("b")  # replaces version 1, ten retentions after it was written
    assert log.vacuum() == [f"_hyperframe/manifests/v{0:020d}.json"]  # v0 was replaced long ago
    assert [v["version"] for v in log.history()] == [2, 1]


def test_the_retention_is_configurable(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    log.add("a")
    log.set_retention(60)
    assert log.info()["retention"] == 60.0 and log.history()[0]["operation"] == "set retention"
    log.add("b")
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    log.vacuum()
    assert [v["version"] for v in log.history()] == [3]
    assert hyperframe.open(log.path).info()["retention"] == 60.0
    with pytest.raises(hyperframe.UsageError):
        log.set_retention(-1)


def test_compact_retain_0_frees_everything_at_once(log: Log, run: RunCli) -> None:
    for i in range(4):
        log.add(f"n{i}")
    assert run("compact", log.path, "--retain", "0").code == 0
    assert [v["version"] for v in log.history()] == [5]
    assert not list((log.path / "_hyperframe" / "retired").iterdir())
    live = [s.file for s in log.manifest.segments]  # type: ignore[union-attr]
    assert sorted(p.name for p in log.path.iterdir()) == sorted([*live, "_hyperframe"])


def test_the_cli_history_list_version_and_vacuum(log: Log, run: RunCli) -> None:
    for value in ("a", "b", "c"):
        log.add(value)
    table = run("history", log.path, "--format", "table")
    assert table.code == 0, table.err
    assert table.lines[0].split()[:3] == ["version", "time", "(UTC)"]
    assert [line.split()[0] for line in table.lines[1:]] == ["3", "2", "1", "0"]
    assert "add" in table.lines[1] and "create" in table.lines[-1]
    rows = [json.loads(line) for line in run("history", log.path, "--format", "jsonl", "--limit", "2").lines]
    assert [(r["version"], r["operation"], r["nodes"]) for r in rows] == [(3, "add", 3), (2, "add", 2)]
    listed = run("list", log.path, "--version", "2", "--format", "jsonl")
    assert [json.loads(line)["value"] for line in listed.lines] == ["a", "b"]
    kept = run("vacuum", log.path)
    assert kept.code == 0 and "removed 0 version(s)" in kept.out
    freed = run("vacuum", log.path, "--retain", "0")
    assert freed.code == 0 and "removed 3 version(s)" in freed.out
    assert run("vacuum", log.path, "--retain", "soon").code != 0
    assert run("history", log.path / "nothing").is_one_line_error()


def test_vacuum_refuses_bad_input_and_read_only_logs(log: Log) -> None:
    log.add("a")
    with pytest.raises(hyperframe.UsageError):
        log.vacuum(retain_seconds=-1)
    with pytest.raises(hyperframe.ReadOnlyLogError):
        hyperframe.open(log.path, read_only=True).vacuum()
    assert hyperframe.open(log.path.parent / "none").vacuum() == []
