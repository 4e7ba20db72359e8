"""Progress callbacks that report the whole wait: a bar from the start, a clock that moves while
no count comes, the phase of a replication, and hooks in verify, repair and compact."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

import hyperframe
from hyperframe.progress import ProgressCallback, ProgressState, ReplicationProgress
from hyperframe.repair import repair_log
from hyperframe.verify import verify_log


def _states() -> tuple[list[ProgressState], ProgressCallback]:
    seen: list[ProgressState] = []
    return seen, ProgressCallback(enabled=False, on_update=seen.append, phases=("wait", "work", "end"), tick=0.05)


def test_the_clock_runs_from_the_start_not_from_the_first_count() -> None:
    pytest.importorskip("tqdm")
    out = io.StringIO()
    with ProgressCallback(desc="waiting", file=out, text=True, tick=0, bar_options={"ncols": 80}) as progress:
        time.sleep(1.1)  # e.g. a replication working out what each side lacks
        progress(0, 10)
        progress(4, 10)
        frame = [f for f in out.getvalue().split("\r") if "4.00/10" in f or "4/10" in f][-1]
    assert "[00:01<" in frame, frame  # not [00:00: the bar was not created late


def test_the_tick_reports_while_no_count_comes() -> None:
    seen, progress = _states()
    with progress:
        time.sleep(0.4)
        progress(3, 6)
        progress(6, 6)
    ticks = [s for s in seen if s.phase == "wait"]
    assert len(ticks) >= 3 and ticks[-1].elapsed > ticks[0].elapsed  # the clock moved before any count
    assert [s.phase for s in seen][-2:] == ["work", "end"] and seen[-1].done == seen[-1].total == 6
    count = len(seen)
    time.sleep(0.15)
    assert len(seen) == count  # closed: no more ticks


def test_a_forgotten_callback_stops_ticking() -> None:
    import gc
    import threading

    before = {t.ident for t in threading.enumerate()}
    ProgressCallback(enabled=False, on_update=lambda s: None, tick=0.02).start()
    gc.collect()
    time.sleep(0.2)
    assert not [t for t in threading.enumerate() if t.name == "progress-tick" and t.ident not in before]


def test_a_replication_reports_comparing_then_receiving_then_writing(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    for log in (a, b):
        log.add("root")
    a.batch([{"value": f"a{i}"} for i in range(3000)])
    b.batch([{"value": f"b{i}"} for i in range(2000)])
    seen: list[ProgressState] = []
    with ReplicationProgress(enabled=False, on_update=seen.append) as progress:
        hyperframe.replicate(a, b, progress=progress)
    phases = [s.phase for s in seen]
    assert phases[0] == "comparing" and seen[0].total == 0
    first_total = next(s for s in seen if s.total)
    assert first_total.done == 0  # the plan's size is known before any node arrives
    assert "receiving" in phases and phases[-1] == "writing"
    assert (seen[-1].done, seen[-1].total) == (5000, 5000)
    assert all(x.elapsed <= y.elapsed for x, y in zip(seen, seen[1:]))


def test_verify_reports_nodes_checked(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log")
    for i in range(3):
        log.batch([{"value": f"{i}-{j}"} for j in range(10)])
    calls: list[tuple[int, int]] = []
    assert verify_log(log.path, progress=lambda done, total: calls.append((done, total))).ok
    assert calls[0] == (0, 30) and calls[-1] == (30, 30)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_repair_reports_files_judged(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log")
    log.add("a")
    log.add("b")
    calls: list[tuple[int, int]] = []
    repair_log(log.path, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[0][0] == 0 and calls[-1][0] == calls[-1][1] >= 1


def test_compact_reports_its_start_and_end(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log")
    log.add("a")
    log.add("b")
    calls: list[tuple[int, int]] = []
    log.compact(retain_seconds=0, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 2), (2, 2)]
