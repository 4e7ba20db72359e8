"""The repair campaign (issue 9): random damage to real logs, ``repair`` killed at random
points, repair run again (``benchmarks.stress.repairs``).

After every repair that finishes, every node whose bytes are intact somewhere in the
directory (and whose links are too) must be in the log, the log must read every way with
``verify`` passing, and repairing again must change nothing; a killed repair must never
destroy intact bytes. These are short seeded versions of ``python -m benchmarks.stress
--only repairs``; the last tests check that the campaign's own measures are right.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from stress_harness import stress

import hyperframe

repairs = stress.repairs


@pytest.mark.parametrize("shape", repairs.SHAPES)
def test_a_short_repair_campaign_loses_nothing_intact(tmp_path: Path, shape: str) -> None:
    trial = repairs.SHAPES.index(shape)  # trial n builds shape n % len(SHAPES)
    tally = repairs.run_trials(tmp_path, seed=3, trials=[trial, trial + len(repairs.SHAPES)], seconds=60)
    assert tally.trials == 2 and tally.shapes == {shape: 2}
    assert not tally.failures, "\n".join(tally.failures)


@pytest.mark.slow
def test_a_longer_repair_campaign_loses_nothing_intact(tmp_path: Path) -> None:
    result = repairs.run_repairs(tmp_path, trials=20, seed=11, seconds=300, jobs=2)
    assert result.failed == 0, result.line + "\n" + "\n".join(result.failures)
    assert "kills 0," not in result.line, result.line


# --- the campaign's own measures ------------------------------------------------------------------


def _chain(path: Path, n: int = 6) -> list[str]:
    log = hyperframe.open(path)
    keys: list[str] = []
    for i in range(n):
        keys.append(log.add(f"node-{i}", links=keys[-1:]).key)
    return keys


def test_intact_nodes_are_judged_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    keys = _chain(path)
    intact = repairs.intact_nodes(path)
    assert {k.hex() for k in intact} == set(keys)
    assert repairs.recoverable(intact) == set(intact)
    newest = path / hyperframe.open(path).manifest.segments[2].file  # type: ignore[union-attr]
    newest.write_bytes(newest.read_bytes()[:40])  # the third node is gone: the ones after it lose a link
    intact = repairs.intact_nodes(path)
    assert {k.hex() for k in intact} == set(keys) - {keys[2]}
    assert {k.hex() for k in repairs.recoverable(intact)} == set(keys[:2])


def test_the_checks_notice_a_lost_node_and_a_changed_log(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    _chain(path)
    universe = repairs.intact_nodes(path)
    assert repairs.check_repaired(path, set(universe), universe) == []
    ghost = b"\x01" * 32
    assert "lost 1 intact node" in " ".join(repairs.check_repaired(path, {*universe, ghost}, universe))
    smaller = dict(universe)
    smaller.pop(next(iter(smaller)))
    assert "never existed" in " ".join(repairs.check_repaired(path, set(), smaller))


def test_a_crashing_repair_dies_at_its_planned_call_and_a_killed_one_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    _chain(path)
    for m in sorted((path / "_hyperframe" / "manifests").glob("v*.json"))[-2:]:
        m.write_bytes(b"{garbage")
    shutil.copytree(path, tmp_path / "copy.db")
    code, err = repairs.repair_crashing(path, 1)
    assert code == repairs.CRASHED, err
    code, err = repairs.repair_crashing(tmp_path / "copy.db", 10_000)  # more calls than a repair makes
    assert code == 0, err
    code, _ = repairs.repair_process(path, kill_after=0.01)
    assert code is None


def test_every_damage_kind_does_damage(tmp_path: Path) -> None:
    rng = random.Random(5)
    for kind in repairs.DAMAGES:
        path = tmp_path / f"{kind}.db"
        _chain(path)
        before = stress.tree_state(path)
        done = repairs.damage(path, kind, rng)
        assert stress.tree_state(path) != before, done
