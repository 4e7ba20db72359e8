"""The merge widget: buttons driven by .click(), checked against both logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import hyperframe  # noqa: E402
from hyperframe.notebook.widget import MergeWidget, merge_widget  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[hyperframe.Log, hyperframe.Log]:
    """Two small JSON logs with a shared root, then 3 nodes only in A and 5 only in B."""
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="json")
    for log in (a, b):
        log.add({"protocol": 1})
    for i in range(3):
        a.append({"side": "a", "i": i})
    for i in range(5):
        b.append({"side": "b", "i": i})
    return a, b


def _keys(log: hyperframe.Log) -> set[str]:
    return set(log.to_pandas(expand=False)["key"])


def test_preview_counts_what_each_side_would_receive(pair: tuple[hyperframe.Log, hyperframe.Log]) -> None:
    a, b = pair
    w = merge_widget(a, b, plot=False)
    assert "<b>Pull</b> brings <b>5</b> node(s) into A" in w.counts.value
    assert "<b>Push</b> sends <b>3</b> node(s) to B" in w.counts.value
    assert "only in A" in w.preview.value and "&quot;side&quot;: &quot;b&quot;" in w.preview.value
    assert w.diff is not None and len(w.diff.only_in_a) == 3
    assert w.last_error is None and w.status.value == ""


def test_push_sends_a_to_b_only(pair: tuple[hyperframe.Log, hyperframe.Log]) -> None:
    a, b = pair
    before_a = _keys(a)
    w = merge_widget(a, b, plot=False)
    w.push_button.click()
    assert w.last_error is None, w.status.value
    assert _keys(a) == before_a and len(b) == 9 and before_a <= _keys(b)
    assert w.last_report is not None and w.last_report.sent_a_to_b == 3 and w.last_report.sent_b_to_a == 0
    assert "push: 3 node(s) A→B, 0 B→A" in w.summary.value
    assert w.progress.value == w.progress.max == 3 and w.progress.bar_style == "success"
    assert w.output.outputs[-1]["text"].startswith("push: 3 node(s)")
    assert "<b>Push</b> sends <b>0</b>" in w.counts.value  # the preview was refreshed


def test_pull_brings_b_to_a_only(pair: tuple[hyperframe.Log, hyperframe.Log]) -> None:
    a, b = pair
    before_b = _keys(b)
    w = merge_widget(a, b, plot=False)
    w.pull_button.click()
    assert _keys(b) == before_b and len(a) == 9 and before_b <= _keys(a)
    assert "pull: 0 node(s) A→B, 5 B→A" in w.summary.value


def test_sync_gives_both_the_union_and_drives_the_progress_bar(
    pair: tuple[hyperframe.Log, hyperframe.Log],
) -> None:
    a, b = pair
    union = _keys(a) | _keys(b)
    w = merge_widget(a, b, plot=False)
    seen: list[tuple[int, int]] = []
    w.progress.observe(lambda change: seen.append((w.progress.value, w.progress.max)), names="value")
    w.sync_button.click()
    assert _keys(a) == _keys(b) == union
    assert w.progress.value == w.progress.max == 8  # 3 one way + 5 the other
    assert seen and seen[-1] == (8, 8)
    assert "A and B hold the same 9 node(s)" in w.counts.value
    assert not any(button.disabled for button in w.buttons)


def test_errors_are_shown_in_the_widget_not_raised(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="utf-8")
    a.add({"x": 1})
    b.add("text")
    w = merge_widget(a, b, plot=False)
    w.sync_button.click()  # must not raise
    assert isinstance(w.last_error, hyperframe.HyperframeError)
    assert type(w.last_error).__name__ in w.status.value
    assert "Traceback" not in w.status.value
    assert w.progress.bar_style == "danger"
    assert len(a) == 1 and len(b) == 1
    assert not any(button.disabled for button in w.buttons)


def test_compare_reopens_the_paths_typed_in(pair: tuple[hyperframe.Log, hyperframe.Log], tmp_path: Path) -> None:
    a, b = pair
    w = merge_widget(a, b, plot=False)
    w.b_path.value = str(a.path)
    w.compare_button.click()
    assert "A and B hold the same 4 node(s)" in w.counts.value
    (tmp_path / "file.txt").write_text("not a log")
    w.b_path.value = str(tmp_path / "file.txt")
    w.compare_button.click()
    assert isinstance(w.last_error, hyperframe.NotALogError)
    assert "NotALogError" in w.status.value and "is a file, not a log directory" in w.status.value


def test_widget_draws_the_diff_plot_and_displays_as_a_widget(
    pair: tuple[hyperframe.Log, hyperframe.Log],
) -> None:
    a, b = pair
    w = hyperframe.merge_widget(str(a.path), str(b.path))
    assert isinstance(w, MergeWidget)
    assert w.figure is not None
    assert w.plot_image.value[:8] == b"\x89PNG\r\n\x1a\n"
    legend = [t.get_text() for t in w.figure.axes[0].get_legend().get_texts()]
    assert legend[:3] == ["only in A (3)", "only in B (5)", "shared (1)"]
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert w.box.children and w.sync_button in w.box.children[4].children


def test_merging_the_bundled_data(tmp_path: Path) -> None:
    for name in ("biscoe-team", "dream-team"):
        shutil.copytree(DATA / name, tmp_path / name)
    w = merge_widget(tmp_path / "biscoe-team", tmp_path / "dream-team", plot=False)
    assert "<b>Pull</b> brings <b>129</b> node(s) into A" in w.counts.value
    assert "<b>Push</b> sends <b>144</b> node(s) to B" in w.counts.value
    w.sync_button.click()
    assert len(w.a) == len(w.b) == 401
    assert w.a.heads() == w.b.heads() and len(w.a.heads()) == 2
