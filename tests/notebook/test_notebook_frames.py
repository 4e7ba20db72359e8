"""Logs as Arrow tables and DataFrames: columns, depth, filters, JSON expansion, interop."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hyperframe
from hyperframe import frames


def _diamond(log: hyperframe.Log) -> dict[str, str]:
    """root -> (left, right) -> merge, then a lone second root: five nodes."""
    root = log.add({"name": "root", "n": 1})
    left = log.add({"name": "left", "n": 2, "bill": {"length_mm": 39.1}}, links=[root.key])
    right = log.add({"name": "right", "n": 3}, links=[root.key])
    merge = log.add({"name": "merge", "n": 4}, links=[left.key, right.key])
    lone = log.add({"name": "lone", "n": 5})
    return {"root": root.key, "left": left.key, "right": right.key, "merge": merge.key, "lone": lone.key}


def test_columns_and_core_values(json_log: hyperframe.Log) -> None:
    keys = _diamond(json_log)
    table = json_log.to_arrow()
    assert table.column_names[:5] == ["key", "links", "change", "depth", "is_head"]
    rows = table.to_pylist()
    assert [r["key"] for r in rows] == list(keys.values())
    assert [r["change"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["depth"] for r in rows] == [0, 1, 1, 2, 0]
    assert [r["is_head"] for r in rows] == [False, False, False, True, True]
    assert rows[3]["links"] == [keys["left"], keys["right"]]
    assert table.schema.field("key").type == pa.string()
    assert table.schema.field("links").type == pa.list_(pa.string())


def test_json_fields_are_expanded_with_dotted_nested_keys(json_log: hyperframe.Log) -> None:
    _diamond(json_log)
    df = json_log.to_pandas()
    assert {"name", "n", "bill.length_mm"} <= set(df.columns)
    assert "value" not in df.columns
    assert df["name"].tolist() == ["root", "left", "right", "merge", "lone"]
    assert df["bill.length_mm"].iloc[1] == pytest.approx(39.1)
    assert pd.isna(df["bill.length_mm"].iloc[0])


def test_expand_false_keeps_json_text_and_raw_keeps_bytes(json_log: hyperframe.Log) -> None:
    _diamond(json_log)
    text = json_log.to_pandas(expand=False)
    assert list(text.columns) == ["key", "links", "change", "depth", "is_head", "value"]
    assert [json.loads(v)["name"] for v in text["value"]][:2] == ["root", "left"]
    raw = json_log.to_arrow(raw=True)
    assert raw.schema.field("value").type == pa.binary()
    assert raw.column("value")[0].as_py() == b'{"name":"root","n":1}'


def test_field_named_like_a_core_column_is_prefixed(json_log: hyperframe.Log) -> None:
    json_log.add({"key": "mine", "depth": 7, "other": 1})
    row = json_log.to_arrow().to_pylist()[0]
    assert row["value.key"] == "mine" and row["value.depth"] == 7
    assert len(row["key"]) == 64 and row["depth"] == 0


def test_mixed_json_values_fall_back_to_python_parsing(json_log: hyperframe.Log) -> None:
    json_log.add({"a": 1})
    json_log.add("just text")
    json_log.add({"a": "now a string"})
    json_log.add([1, 2])
    df = json_log.to_pandas().astype(object).where(lambda d: d.notna(), None)
    # values that are not objects stay as JSON text in `value`
    assert df["value"].tolist() == [None, '"just text"', None, "[1,2]"]
    # a field holding a number in one row and text in another is kept as JSON text
    assert df["a"].tolist() == ["1", None, '"now a string"', None]


def test_whole_numbers_with_gaps_stay_integers_in_pandas(json_log: hyperframe.Log) -> None:
    json_log.add({"season": 2007})
    json_log.add({"other": True})
    df = json_log.to_pandas()
    assert str(df["season"].dtype) == "Int64"
    assert df["season"].iloc[0] == 2007 and pd.isna(df["season"].iloc[1])


def test_utf8_and_binary_logs(tmp_path: Path) -> None:
    text = hyperframe.open(tmp_path / "t")
    text.add("héllo")
    assert text.to_pandas()["value"].tolist() == ["héllo"]
    binary = hyperframe.open(tmp_path / "b", encoding="binary")
    binary.add(b"\x00\xff")
    assert binary.to_pandas()["value"].tolist() == [b"\x00\xff"]


def test_empty_log(log: hyperframe.Log) -> None:
    table = log.to_arrow()
    assert table.num_rows == 0
    assert table.column_names == ["key", "links", "change", "depth", "is_head", "value"]
    assert len(log.to_pandas()) == 0


def test_change_range_filter(json_log: hyperframe.Log) -> None:
    _diamond(json_log)
    assert json_log.to_pandas(since=1, until=4)["change"].tolist() == [2, 3]  # until: before 4, as hyperlog
    assert json_log.to_pandas(since=4)["change"].tolist() == [5]
    assert json_log.to_pandas(until=0).empty
    # depth is measured in the whole log, not in the slice
    assert json_log.to_pandas(since=3)["depth"].tolist() == [2, 0]


def test_ancestry_filters(json_log: hyperframe.Log) -> None:
    keys = _diamond(json_log)
    branch = json_log.to_pandas(ancestors_of=keys["merge"][:10])
    assert branch["name"].tolist() == ["root", "left", "right", "merge"]
    assert json_log.to_pandas(ancestors_of=keys["left"])["name"].tolist() == ["root", "left"]
    assert json_log.to_pandas(descendants_of=keys["right"])["name"].tolist() == ["right", "merge"]
    both = json_log.to_pandas(ancestors_of=keys["merge"], descendants_of=keys["root"], since=1)
    assert both["name"].tolist() == ["left", "right", "merge"]
    with pytest.raises(hyperframe.NodeNotFoundError):
        json_log.to_pandas(ancestors_of="ffff" * 16)


def test_many_segments_read_in_order(json_log: hyperframe.Log) -> None:
    for i in range(5):
        json_log.append({"i": i})
    manifest = json_log.manifest
    assert manifest is not None and len(manifest.segments) == 5
    df = json_log.to_pandas()
    assert df["i"].tolist() == [0, 1, 2, 3, 4]
    assert df["depth"].tolist() == [0, 1, 2, 3, 4]
    assert df["is_head"].tolist() == [False] * 4 + [True]


def _reference_depths(links: list[list[int]]) -> list[int]:
    out: list[int] = []
    for ls in links:
        out.append(1 + max(out[p] for p in ls) if ls else 0)
    return out


dags = st.integers(min_value=1, max_value=80).flatmap(
    lambda n: st.lists(st.lists(st.integers(min_value=0, max_value=10**6), max_size=4), min_size=n, max_size=n)
)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(dags)
def test_depth_matches_longest_path_on_random_dags(raw: list[list[int]]) -> None:
    links = [sorted({p % i for p in ps}) if i else [] for i, ps in enumerate(raw)]
    counts = np.array([len(ls) for ls in links])
    parents = np.array([p for ls in links for p in ls], dtype=np.int64)
    assert frames.depths(counts, parents).tolist() == _reference_depths(links)


def test_depth_handles_chains_and_merges_at_scale() -> None:
    n = 50_000
    chain = frames.depths(np.r_[0, np.ones(n - 1, dtype=np.int64)], np.arange(n - 1))
    assert chain[-1] == n - 1
    # two interleaved writers that merge every 10 rows
    links = [[]] + [[i - 1] for i in range(1, 2)]
    for i in range(2, 2000):
        links.append([i - 2, i - 1] if i % 10 == 0 else [i - 2])
    counts = np.array([len(x) for x in links])
    parents = np.array([p for x in links for p in x])
    assert frames.depths(counts, parents).tolist() == _reference_depths(links)


def test_depth_agrees_with_networkx_on_a_real_log(json_log: hyperframe.Log) -> None:
    rng = np.random.default_rng(7)
    keys: list[str] = []
    docs = []
    for i in range(300):
        k = int(rng.integers(0, 3)) if keys else 0
        picks = sorted({keys[int(j)] for j in rng.integers(0, len(keys), size=k)}) if keys else []
        docs.append({"value": {"i": i}, "links": picks})
        keys.append(hyperframe.node_key(json_log.encoding.encode({"i": i}), picks))
    json_log.batch(docs)
    df = json_log.to_pandas()
    g = json_log.graph
    gen = {k: d for d, layer in enumerate(nx.topological_generations(g)) for k in layer}
    longest = {}
    for k in nx.topological_sort(g):
        longest[k] = 1 + max((longest[p] for p in g.predecessors(k)), default=-1)
    assert dict(zip(df["key"], df["depth"])) == longest
    assert set(gen) == set(longest)


def test_hex_keys_of_sliced_arrays() -> None:
    keys = pa.array([bytes([i]) * 32 for i in range(5)], pa.binary(32))
    assert frames.hex_keys(keys.slice(2, 2)).to_pylist() == ["02" * 32, "03" * 32]
    links = pa.array([[bytes([1]) * 32], [], [bytes([2]) * 32, bytes([3]) * 32]], pa.list_(pa.binary(32)))
    assert frames.hex_links(links.slice(1)).to_pylist() == [[], ["02" * 32, "03" * 32]]


def test_arrow_stream_protocol_feeds_pyarrow_polars_and_duckdb(json_log: hyperframe.Log) -> None:
    _diamond(json_log)
    assert pa.table(json_log).num_rows == 5
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame(json_log)
    assert frame.height == 5 and frame["name"].to_list()[-1] == "lone"
    duckdb = pytest.importorskip("duckdb")
    log = json_log  # noqa: F841 - duckdb finds the local by name
    assert duckdb.sql("select count(*) from log where is_head").fetchall() == [(2,)]
    reader = pa.RecordBatchReader.from_stream(json_log)
    assert reader.read_all().num_rows == 5


def test_dataset_lists_the_live_segment_files(json_log: hyperframe.Log) -> None:
    for i in range(3):
        json_log.append({"i": i})
    (json_log.path / "seg-stray.parquet").write_bytes(b"not a segment")  # not in the manifest
    ds = json_log.dataset()
    assert sorted(Path(f).name for f in ds.files) == sorted(s.file for s in json_log.manifest.segments)
    assert ds.to_table().num_rows == 3
    assert ds.schema.names == ["key", "links", "value", "identity", "signature", "log", "seq"]  # issues 11, 12
    json_log.compact()
    assert len(json_log.dataset().files) == 1


def test_progress_bar_can_be_forced_and_silenced(json_log: hyperframe.Log, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    json_log.add({"a": 1})
    json_log.to_arrow(progress=True)
    assert "loading" in capsys.readouterr().err
    json_log.to_arrow(progress=False)
    json_log.to_arrow()  # small: no bar by default
    assert capsys.readouterr().err == ""


def test_to_pandas_passes_options_to_arrow(json_log: hyperframe.Log) -> None:
    json_log.add({"a": 1})
    df = json_log.to_pandas(types_mapper=pd.ArrowDtype)
    assert isinstance(df["change"].dtype, pd.ArrowDtype)
