"""The bundled dataset logs in data/: real-looking, diverged from a shared root, reproducible."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import networkx as nx
import pytest

import hyperframe

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
TEAMS = ("biscoe-team", "dream-team")


def _make_data() -> ModuleType:
    pytest.importorskip("palmerpenguins")
    spec = importlib.util.spec_from_file_location("make_data", ROOT / "scripts" / "make_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_data", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def logs() -> dict[str, hyperframe.Log]:
    return {name: hyperframe.open(DATA / name, read_only=True) for name in TEAMS}


def test_the_directories_are_small_json_logs_with_few_segments(logs: dict[str, hyperframe.Log]) -> None:
    assert (DATA / "README.md").is_file()
    total = 0
    for name, log in logs.items():
        info = log.info()
        assert info["encoding"] == "json"
        assert 200 <= info["nodes"] <= 400, name
        assert 1 <= info["segments"] <= 2, name
        files = [p for p in (DATA / name).rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
        assert not [p for p in files if p.name == "lock" or p.name.endswith(".tmp")]
    assert total < 300_000


def test_they_share_a_root_and_the_first_season_then_diverge(logs: dict[str, hyperframe.Log]) -> None:
    a, b = (logs[name] for name in TEAMS)
    ga, gb = a.graph, b.graph
    roots_a = [k for k in ga if ga.in_degree(k) == 0]
    roots_b = [k for k in gb if gb.in_degree(k) == 0]
    assert roots_a == roots_b and len(roots_a) == 1
    shared = set(ga) & set(gb)
    d = hyperframe.diff(a, b)
    assert d.shared == len(shared) == 128
    assert (len(d.only_in_a), len(d.only_in_b)) == (144, 129)
    # what they share is a prefix of history: closed under ancestry
    for key in shared:
        assert nx.ancestors(ga, key) <= shared
    # and each side's own nodes all descend from the shared 2007 season close
    df = a.to_pandas()
    close = df[(df["type"] == "season") & (df["event"] == "close") & (df["season"] == 2007)]["key"].item()
    assert set(d.only_in_a) <= nx.descendants(ga, close)
    assert set(d.only_in_b) <= nx.descendants(gb, close)
    assert a.heads() != b.heads()


def test_the_observations_are_the_palmer_penguins(logs: dict[str, hyperframe.Log]) -> None:
    palmerpenguins = pytest.importorskip("palmerpenguins")
    frames = [log.to_pandas() for log in logs.values()]
    import pandas as pd

    everything = pd.concat(frames).drop_duplicates("key")
    obs = everything[everything["type"] == "observation"]
    penguins = palmerpenguins.load_penguins()
    assert len(obs) == len(penguins) == 344
    assert obs.groupby("species").size().to_dict() == penguins.groupby("species").size().to_dict()
    assert sorted(obs["sample"]) == [f"PAL-{i:03d}" for i in range(1, 345)]
    assert obs["bill.length_mm"].mean() == pytest.approx(penguins["bill_length_mm"].mean())
    by_team = obs.groupby("team")["island"].unique().map(sorted).to_dict()
    assert by_team == {"biscoe": ["Biscoe"], "dream": ["Dream", "Torgersen"]}


def test_days_are_merges_of_their_observations(logs: dict[str, hyperframe.Log]) -> None:
    df = logs["biscoe-team"].to_pandas()
    days = df[df["type"] == "day"]
    assert (days["links"].map(len) == days["observations"]).all()
    assert days["observations"].max() == 8


def test_a_rebuild_is_identical_byte_for_byte(tmp_path: Path) -> None:
    make_data = _make_data()
    assert make_data.check(DATA) == []
    stale = hyperframe.open(tmp_path / "biscoe-team", encoding="json")
    stale.add({"type": "stale"})  # a rebuild wipes what was there
    for team, path in make_data.build(tmp_path).items():
        assert make_data.describe(path) == make_data.describe(DATA / make_data.team_dir(team))


def test_check_reports_a_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_data = _make_data()
    made = make_data.build(tmp_path)
    hyperframe.open(made["biscoe"]).add({"type": "note", "text": "an extra node"})
    assert make_data.main(["--check", "--out", str(tmp_path)]) == 1
    assert "biscoe-team: nodes is 273, a rebuild gives 272" in capsys.readouterr().err
