"""pandas habits: ``columns=`` and ``filter=`` on to_arrow / to_pandas, ``files()`` for
DuckDB and Polars, and ``extend()`` to put records (DataFrame, Arrow, dicts) in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import hyperframe
from hyperframe import Log
from hyperframe.store import segments

PENGUINS = [
    {"species": "Adelie", "island": "Torgersen", "bill": {"length_mm": 39.1}, "mass": 3750},
    {"species": "Gentoo", "island": "Biscoe", "bill": {"length_mm": 46.5}, "mass": 5000},
    {"species": "Adelie", "island": "Dream", "bill": {"length_mm": 37.8}, "mass": 3400},
]


@pytest.fixture
def penguins(json_log: Log) -> Log:
    json_log.extend(PENGUINS, chain=True)
    return json_log


# --- columns= -----------------------------------------------------------------------------


def test_columns_selects_and_orders(penguins: Log) -> None:
    table = penguins.to_arrow(columns=["species", "change", "key"])
    assert table.column_names == ["species", "change", "key"]
    assert table.column("species").to_pylist() == ["Adelie", "Gentoo", "Adelie"]
    whole = penguins.to_arrow()
    assert table.column("key").equals(whole.column("key"))
    frame = penguins.to_pandas(columns=["bill.length_mm", "depth", "is_head", "links"])
    assert list(frame.columns) == ["bill.length_mm", "depth", "is_head", "links"]
    assert frame["depth"].tolist() == [0, 1, 2] and frame["is_head"].tolist() == [False, False, True]
    assert frame["links"].tolist()[1] == [whole.column("key")[0].as_py()]


def test_columns_reads_only_the_stored_columns_it_needs(penguins: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[list[str] | None] = []
    real = segments.parse

    def spy(data: bytes, columns: list[str] | None = None, **options: Any) -> pa.Table:
        read.append(columns)
        return real(data, columns, **options)

    monkeypatch.setattr(segments, "parse", spy)
    penguins.to_arrow(columns=["key", "links"])
    assert read and all(c is not None and "value" not in c for c in read)
    read.clear()
    penguins.to_arrow(columns=["change"])
    assert read and all(c == ["key"] for c in read)
    read.clear()
    penguins.to_arrow(columns=["species"])
    assert read and all(c == ["value"] for c in read)


def test_an_unknown_column_is_a_usage_error(penguins: Log) -> None:
    with pytest.raises(hyperframe.UsageError, match="no column 'weight'.*species"):
        penguins.to_arrow(columns=["weight"])
    with pytest.raises(hyperframe.UsageError, match="list of column names"):
        penguins.to_arrow(columns="species")  # type: ignore[arg-type]


# --- filter= ------------------------------------------------------------------------------


def test_filter_on_a_json_field(penguins: Log) -> None:
    adelie = penguins.to_pandas(filter=pc.field("species") == "Adelie")
    assert adelie["island"].tolist() == ["Torgersen", "Dream"]
    assert adelie["change"].tolist() == [1, 3]
    heavy = penguins.to_arrow(filter=(pc.field("mass") > 3500) & (pc.field("bill.length_mm") < 40))
    assert heavy.column("island").to_pylist() == ["Torgersen"]


def test_filter_on_a_column_left_out_of_columns(penguins: Log) -> None:
    table = penguins.to_arrow(columns=["key"], filter=pc.field("island") == "Biscoe")
    assert table.column_names == ["key"] and table.num_rows == 1
    assert table.column("key")[0].as_py() == penguins.to_arrow().column("key")[1].as_py()


def test_filter_with_core_columns_and_other_selections(penguins: Log) -> None:
    assert penguins.to_arrow(filter=pc.field("is_head")).column("change").to_pylist() == [3]
    assert penguins.to_arrow(since=1, filter=pc.field("species") == "Adelie").num_rows == 1


def test_a_bad_filter_is_a_usage_error(penguins: Log) -> None:
    with pytest.raises(hyperframe.UsageError, match="filter"):
        penguins.to_arrow(filter=pc.field("nothing") == 1)
    with pytest.raises(hyperframe.UsageError, match="filter"):
        penguins.to_arrow(filter=pc.field("species") > 3)


# --- files() -----------------------------------------------------------------------------


def test_files_are_the_live_segments_for_duckdb_and_polars(penguins: Log) -> None:
    import duckdb
    import polars as pl

    files = penguins.files()
    assert [Path(f).name for f in files] == [s.file for s in penguins.manifest.segments]  # type: ignore[union-attr]
    keys = [n.key for n in penguins]
    assert [r[0] for r in duckdb.sql(f"select lower(hex(key)) from read_parquet({files})").fetchall()] == keys
    assert pl.scan_parquet(files).select(pl.len()).collect().item() == 3
    count = duckdb.sql(
        f"select count(*) from read_parquet({files}) where json_extract_string(decode(value), '$.species') = 'Adelie'"
    ).fetchall()
    assert count == [(2,)]
    assert penguins.dataset().count_rows() == 3
    assert hyperframe.open(penguins.path.parent / "none").files() == []


# --- extend() ----------------------------------------------------------------------------


def test_extend_takes_a_dataframe_an_arrow_table_and_dicts(tmp_path: Path) -> None:
    frame = pd.DataFrame({"species": ["Adelie", "Gentoo"], "mass": [3750.0, float("nan")]})
    for i, records in enumerate([frame, pa.Table.from_pandas(frame), frame.to_dict("records")]):
        log = hyperframe.open(tmp_path / f"log{i}", encoding="json")
        nodes = log.extend(records)
        assert [n.change for n in nodes] == [1, 2] and all(n.links == () for n in nodes)
        assert len(log.heads()) == 2
        values = [n.value for n in log]
        assert values[0] == {"species": "Adelie", "mass": 3750}
        assert values[1] == {"species": "Gentoo", "mass": None}  # missing: null (NaN, as JSON.stringify does)
        assert log.history()[0]["operation"] == "extend"


def test_extend_is_one_atomic_commit(json_log: Log) -> None:
    json_log.add({"first": True})
    version = json_log.info()["version"]
    with pytest.raises(hyperframe.UsageError):
        json_log.extend([{"ok": 1}, {"links": ["nothex"]}])
    assert json_log.info()["version"] == version and len(json_log) == 1
    json_log.extend([{"n": i} for i in range(50)])
    assert json_log.info()["version"] == version + 1 and len(json_log) == 51


def test_extend_chain_links_each_row_to_the_one_before(json_log: Log) -> None:
    root = json_log.add({"root": True})
    nodes = json_log.extend(pd.DataFrame({"n": [1, 2, 3]}), chain=True)
    assert nodes[0].links == (root.key,)
    assert nodes[1].links == (nodes[0].key,) and nodes[2].links == (nodes[1].key,)
    assert json_log.heads() == [nodes[2].key]
    assert json_log.to_pandas(columns=["depth"])["depth"].tolist() == [0, 1, 2, 3]


def test_extend_with_a_links_column(json_log: Log) -> None:
    a = json_log.add({"name": "a"})
    b = json_log.add({"name": "b"})
    nodes = json_log.extend(
        [{"name": "c", "links": [a.key, b.key]}, {"name": "d", "links": a.key}, {"name": "e", "links": None}]
    )
    assert [n.links for n in nodes] == [(a.key, b.key), (a.key,), ()]
    assert [n.value for n in nodes] == [{"name": "c"}, {"name": "d"}, {"name": "e"}]  # links are not values
    with pytest.raises(hyperframe.UsageError, match="chain"):
        json_log.extend([{"name": "f", "links": [a.key]}], chain=True)
    with pytest.raises(hyperframe.UnknownLinkError):
        json_log.extend([{"name": "g", "links": ["ab" * 32]}])


def test_extend_needs_a_json_log_and_creates_one(tmp_path: Path, log: Log) -> None:
    fresh = hyperframe.open(tmp_path / "fresh")
    fresh.extend([{"a": 1}])
    assert hyperframe.open(fresh.path).encoding.name == "json"
    log.add("text")
    with pytest.raises(hyperframe.UsageError, match="JSON"):
        log.extend([{"a": 1}])
    with pytest.raises(hyperframe.UsageError, match="DataFrame"):
        fresh.extend("not records")
    with pytest.raises(hyperframe.UsageError, match="not a dict"):
        fresh.extend([1, 2])


def test_extend_turns_dates_into_text(json_log: Log) -> None:
    frame = pd.DataFrame({"when": pd.to_datetime(["2009-11-12", "2009-11-13"]), "n": [1, 2]})
    json_log.extend(frame)
    assert [n.value["when"][:10] for n in json_log] == ["2009-11-12", "2009-11-13"]
