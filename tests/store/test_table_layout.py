"""The top level of a log directory is the table: every Parquet reader counts exactly len(log).

Readers that list a directory see only the live segments (`seg-*.parquet`): retired
segments, temporaries and manifests live under `_hyperframe/` (skipped by the `_` rule,
and retired files do not end in `.parquet`, so recursive listings skip them too). Checked
after adds with auto-compaction, compact, sync, merge, repair and a crash (once the next
writer has recovered), with DuckDB, Polars, pyarrow, pandas and Dask.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from helpers import RunCli

import hyperframe
import hyperframe.store.manifest as mf
from hyperframe import Log
from hyperframe.repair import repair_log
from hyperframe.store.directory import AUTO_COMPACT_SEGMENTS
from hyperframe.verify import verify_log


def _duckdb(path: Path) -> int:
    import duckdb

    return int(duckdb.sql(f"select count(*) from '{path}/*.parquet'").fetchall()[0][0])


def _polars(path: Path) -> int:
    import polars as pl

    return int(pl.scan_parquet(f"{path}/*.parquet").select(pl.len()).collect().item())


def _pyarrow(path: Path) -> int:
    return int(ds.dataset(path, format="parquet").count_rows())


def _pandas(path: Path) -> int:
    import pandas as pd

    return len(pd.read_parquet(path))


def _dask(path: Path) -> int:
    dd = pytest.importorskip("dask.dataframe")
    return len(dd.read_parquet(str(path)))


READERS: dict[str, Callable[[Path], int]] = {
    "duckdb 'DIR/*.parquet'": _duckdb,
    "polars scan_parquet('DIR/*.parquet')": _polars,
    "pyarrow.dataset.dataset(DIR)": _pyarrow,
    "pandas.read_parquet(DIR)": _pandas,
    "dask.dataframe.read_parquet(DIR)": _dask,
}


def counts(path: Path) -> dict[str, int]:
    return {name: read(path) for name, read in READERS.items()}


def assert_is_the_table(log: Log) -> None:
    """Every reader counts len(log); the top level holds exactly the live segments."""
    path = log.path
    manifest = hyperframe.open(path).manifest
    assert manifest is not None
    assert counts(path) == dict.fromkeys(READERS, len(log))
    top = sorted(p.name for p in path.iterdir())
    assert top == sorted([s.file for s in manifest.segments] + ["_hyperframe"])
    assert sorted(hyperframe.open(path).files()) == sorted(str(path / s.file) for s in manifest.segments)


def chain(log: Log, n: int, prefix: str = "node") -> None:
    """``n`` commits, each node linking the heads."""
    for i in range(n):
        log.add(f"{prefix} {i}", links=log.heads())


def test_after_40_adds_with_automatic_compaction(log: Log) -> None:
    chain(log, 40)  # auto-compaction every 16 commits
    assert len(log) == 40 and log.info()["segments"] <= AUTO_COMPACT_SEGMENTS
    assert_is_the_table(log)
    assert list((log.path / "_hyperframe" / "retired").iterdir())  # replaced files are kept, hidden


def test_after_compact_and_compact_retain_0(log: Log, run: RunCli) -> None:
    chain(log, 20)
    assert run("compact", log.path).code == 0
    assert_is_the_table(log)
    assert log.info()["segments"] == 1
    assert run("compact", log.path, "--retain", "0").code == 0
    assert_is_the_table(log)
    assert not list((log.path / "_hyperframe" / "retired").iterdir())  # freed at once


def test_after_sync(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    root = a.add("root")
    b.add("root")
    for i in range(20):
        a.add(f"a {i}", links=a.heads())
        b.add(f"b {i}", links=b.heads() or [root])
    hyperframe.replicate(a, b)
    assert len(a) == len(b) == 41
    assert_is_the_table(a)
    assert_is_the_table(b)


def test_after_merge(tmp_path: Path, run: RunCli) -> None:
    sources = []
    for name in ("x", "y"):
        source = hyperframe.open(tmp_path / name)
        chain(source, 18, prefix=name)
        sources.append(source.path)
    result = run("merge", tmp_path / "merged", *sources, "--quiet")
    assert result.code == 0, result.err
    merged = hyperframe.open(tmp_path / "merged")
    assert len(merged) == 36
    assert_is_the_table(merged)


def test_after_repair(log: Log) -> None:
    chain(log, 20)
    newest = mf.manifest_path(log.path, log.info()["version"])
    newest.write_text("{garbage")  # the newest manifest is damaged: repair rebuilds from the files
    report = repair_log(log.path)
    assert report.rebuilt_manifest and report.dropped_nodes == 0
    repaired = hyperframe.open(log.path)
    assert len(repaired) == 20
    assert_is_the_table(repaired)


def test_after_a_crash_once_the_next_writer_has_recovered(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    chain(log, 5)

    def crash(*args: object, **kwargs: object) -> bool:
        raise OSError("simulated crash between the segment and the manifest")

    monkeypatch.setattr(mf, "publish", crash)
    with pytest.raises(OSError, match="simulated"):
        log.add("lost", links=log.heads())
    monkeypatch.undo()
    assert len(log) == 5
    assert _duckdb(log.path) == 6  # the dead writer's segment sits at the top level ...
    assert [w.file for w in verify_log(log.path).warnings]  # ... reported as an orphan
    log.add("next", links=log.heads())  # ... until the next writer tidies up
    assert_is_the_table(log)
    log.compact()
    assert verify_log(log.path).warnings == []
    assert_is_the_table(log)


def test_key_and_link_columns_are_usable_in_every_tool(log: Log) -> None:
    import duckdb
    import pandas as pd
    import polars as pl

    a = log.add("a")
    b = log.add("b", links=[a])
    c = log.add("c", links=[a, b])
    want = {n.key: list(n.links) for n in (a, b, c)}
    rows = duckdb.sql(
        f"select lower(hex(key)), list_transform(links, lambda x: lower(hex(x))) from '{log.path}/*.parquet'"
    ).fetchall()
    assert dict(rows) == want
    found = duckdb.sql(f"select value from '{log.path}/*.parquet' where lower(hex(key)) = '{c.key}'").fetchall()
    assert found == [(b"c",)]
    frame = pd.read_parquet(log.path)
    assert {k.hex(): [link.hex() for link in ls] for k, ls in zip(frame.key, frame.links)} == want
    hexed = (
        pl.scan_parquet(f"{log.path}/*.parquet")
        .select(pl.col("key").bin.encode("hex"), pl.col("links").list.eval(pl.element().bin.encode("hex")))
        .collect()
    )
    assert dict(zip(hexed["key"].to_list(), hexed["links"].to_list())) == want


def test_polars_directory_scan(log: Log) -> None:
    """Polars 1.x-2.x: ``scan_parquet(DIR)`` descends into `_hyperframe/` (its
    ``hidden_file_prefix`` filters file names, not folders) and refuses the manifests, so
    the docs say ``DIR/*.parquet``; should a later Polars read the directory, it must count
    exactly the live rows."""
    import polars as pl

    chain(log, 3)
    try:
        count = pl.scan_parquet(log.path, hidden_file_prefix="_").select(pl.len()).collect().item()
    except Exception as exc:  # polars' error types vary between versions
        assert "extension" in str(exc) or ".json" in str(exc), exc
    else:
        assert count == 3
    assert _polars(log.path) == 3


def test_repair_finds_intact_nodes_in_retired_files(log: Log) -> None:
    """The compacted segment is damaged; the segments it replaced are retired: repair
    rebuilds the log from them, losing nothing, and the top level is the table again."""
    chain(log, 6)
    keys = [n.key for n in log]
    log.compact()
    (live,) = log.path.glob("seg-*.parquet")
    data = bytearray(live.read_bytes())
    data[len(data) // 2] ^= 0xFF
    live.write_bytes(bytes(data))
    report = repair_log(log.path)
    assert report.dropped_nodes == 0 and report.kept_nodes == 6, report.summary()
    repaired = hyperframe.open(log.path)
    assert [n.key for n in repaired] == keys
    assert verify_log(log.path).ok
    assert_is_the_table(repaired)
