"""Progress bars: tqdm.auto when wanted, silent when not, summed across a sync's two sides."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import hyperframe
from hyperframe.progress import NullBar, ReplicationProgress, progress_bar, replication_progress


def test_disabled_bar_is_a_null_bar() -> None:
    with progress_bar(10, enabled=False) as bar:
        assert isinstance(bar, NullBar)
        bar.update(5)
        bar.set_postfix_str("x")


def test_enabled_bar_draws_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    with progress_bar(10, enabled=True, desc="loading x", unit="node") as bar:
        bar.update(10)
    assert "loading x" in capsys.readouterr().err


def test_replication_progress_sums_both_directions() -> None:
    progress = ReplicationProgress(enabled=False)
    progress(2, 5)
    worker = threading.Thread(target=progress, args=(3, 7))
    worker.start()
    worker.join()
    progress(5, 5)
    assert (progress.done, progress.total) == (8, 12)


def test_replication_progress_drives_a_bar_during_replicate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    a = hyperframe.open(tmp_path / "a")
    b = hyperframe.open(tmp_path / "b")
    a.batch([{"value": f"a{i}"} for i in range(20)])
    b.batch([{"value": f"b{i}"} for i in range(30)])
    with replication_progress(enabled=True, desc="merging") as progress:
        report = hyperframe.replicate(a, b, progress=progress)
    assert report.sent_a_to_b == 20 and report.sent_b_to_a == 30
    assert (progress.done, progress.total) == (50, 50)
    assert "merging" in capsys.readouterr().err
    with replication_progress(enabled=False) as quiet:
        hyperframe.replicate(a, b, progress=quiet)
    assert capsys.readouterr().err == ""
