"""Lying peers (issue 9): a scripted peer that speaks the protocol and lies, against a real
``hyperframe replicate`` process (``benchmarks.stress.liar``).

Every run must end within the honest side's deadline (and in practice within a few
timeouts), stay under 256 MiB above its start, leave every file of the log as it was, and
exit non-zero with one ``hyperframe: error:`` line. These are short seeded versions of
``python -m benchmarks.stress --only peers``; the heavy behaviours (64 MiB frames, a 40 MiB
log, sessions held open until the deadline) are marked slow.
"""

from __future__ import annotations

import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from stress_harness import stress

from hyperframe.sync.framing import Kind

liar = stress.liar
SEED = 9


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("liar")
    return {
        "root": root,
        "targets": liar.build_targets(root / "targets", seed=SEED, big_mib=0),
        "deadline": 10 * liar.TIMEOUT if liar.deadline_flag() else None,
    }


@pytest.fixture(scope="module")
def big_world(world: dict[str, Any]) -> dict[str, Any]:
    targets = liar.build_targets(world["root"] / "targets", seed=SEED, big_mib=40)
    return dict(world, targets=targets)


def play(world: dict[str, Any], runs: list[tuple[str, int]], jobs: int = 2) -> list[Any]:
    """Run the liar's ``(behaviour, variant)`` runs, ``jobs`` at a time; fail with every failure."""

    def one(item: tuple[str, int]) -> Any:
        return liar.run_one(world["root"], world["targets"], *item, SEED, deadline=world["deadline"])

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, runs))
    failures = [f for r in results for f in r.failures]
    assert not failures, "\n".join(failures)
    return results


QUICK = {
    "need-loop": range(2),
    "full-loop": range(2),  # as leader and as follower
    "sketch-loop": range(2),
    "estimate-loop": range(2),
    "same-node": [0, 2],  # pushed, within an announced count of 3
    "beyond-count": range(2),  # one frame, one frame per node
    "poisoned-json": range(4),  # not JSON / 5,000 deep, pushed and through a PLAN
    "poisoned-utf8": range(4),  # not UTF-8 / a lone surrogate
    "huge-need": range(5),  # 3e7, 3*2**60, 2**64-1, 0, 4
    "huge-full": [0, 1],  # more ids than claimed, a 4 GB header
    "done-first": range(3),
    "mix": range(8),
}


@pytest.mark.parametrize("behaviour", sorted(QUICK))
def test_a_lying_peer_is_refused_quickly_and_changes_nothing(world: dict[str, Any], behaviour: str) -> None:
    results = play(world, [(behaviour, v) for v in QUICK[behaviour]])
    assert all(r.code != 0 for r in results)
    if behaviour.startswith("poisoned"):  # refused as undecodable, not for some other reason
        assert all("cannot decode" in r.stderr for r in results), [r.stderr for r in results]


def test_every_absurd_hello_is_one_line_error(world: dict[str, Any]) -> None:
    results = play(world, [("absurd-hello", v) for v in range(len(liar.HELLO_VARIANTS))], jobs=4)
    assert {n for r in results for n in r.notes} == {name for name, _ in liar.HELLO_VARIANTS}


def test_silence_and_a_slow_drip_end_at_the_timeout(world: dict[str, Any]) -> None:
    results = play(world, [("silence", v) for v in range(5)] + [("slow-drip", v) for v in range(3)], jobs=3)
    assert all("sent nothing for" in r.stderr for r in results), [r.stderr for r in results]


# --- the heavy ones -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "behaviour, variant",
    [
        ("huge-need", 6),  # the largest NEED allowed, four times, never reading the sketches
        ("huge-need", 5),  # one cell past it
        ("huge-full", 2),  # the most ids a FULL may list, under a claim of 2**40 nodes
        ("huge-full", 3),  # one more than that
        ("huge-sketch", 0),  # one sketch of the most cells allowed, under a claim of 2**40 nodes
        ("huge-sketch", 1),  # five of them back to back
        ("fat-nodes", 0),  # four distinct 30 MiB nodes, then no END
        ("same-node", 1),  # the same node again and again after a FULL listing 100,001 ids
        ("same-node", 5),  # ... listing 200,001 ids
        ("second-pass", 0),  # a wrong DONE, then a PLAN announcing 2**40 nodes in the exact pass
        ("second-pass", 1),  # ... and new valid nodes, 100 a frame, until the honest side stops
    ],
)
def test_a_heavy_lie_stays_within_time_and_memory(world: dict[str, Any], behaviour: str, variant: int) -> None:
    play(world, [(behaviour, variant)], jobs=1)


@pytest.mark.slow
def test_a_peer_that_never_reads_a_40_mib_log_costs_time_not_memory(big_world: dict[str, Any]) -> None:
    play(big_world, [("never-read", 0), ("never-read", 1)])


# --- the judge itself ---------------------------------------------------------------------------


def test_the_judge_flags_every_broken_promise(world: dict[str, Any], tmp_path: Path) -> None:
    target = world["targets"]["small"]
    log = tmp_path / "log.db"
    shutil.copytree(target.pristine, log)
    ok = ["hyperframe: error: the peer lied\n", 1.0, 10.0, False, 10.0, 1.0, log, target]
    assert liar.judge(1, *ok) == []
    assert "exited 0" in " ".join(liar.judge(0, *ok))
    assert "traceback" in " ".join(liar.judge(1, "Traceback (most recent call last):\n...\n", *ok[1:]))
    assert "one `hyperframe: error:` line" in " ".join(liar.judge(1, "hyperframe: error: a\nmore\n", *ok[1:]))
    assert "RSS" in " ".join(liar.judge(1, ok[0], 1.0, 300.0, *ok[3:]))
    assert "x the timeout" in " ".join(liar.judge(1, ok[0], 9.0, *ok[2:]))
    assert "killed" in " ".join(liar.judge(1, ok[0], 23.0, 10.0, True, *ok[4:]))
    (log / "stray.txt").write_text("x")
    assert "files changed" in " ".join(liar.judge(1, *ok))


def test_a_liar_frame_is_what_the_real_session_sends(world: dict[str, Any]) -> None:
    """The liar's NODES payloads parse with the real decoder (so what it sends is a lie, not noise)."""
    from hyperframe.sync.nodes import decode_frame

    class Fake:
        hello = {"encoding": "utf-8", "nodes": 3}

    ctx = liar.Ctx(Fake(), world["targets"]["small"], random.Random(1), 1.0, 0)
    rows = liar.dangling(ctx, 3, "x")
    table, group, whole = decode_frame(liar.nodes_payload(rows)[0])
    assert table.num_rows == 3 and group == 0 and not whole
    assert table.column("links").to_pylist()[0] == [b"\x5a" * 32]
    assert len(liar.ids_of(rows)) == 24 and Kind.NODES == ord("N")
