"""The merge widget acts only on the paths it shows: no typo taken for an empty log, no stale
diff left on screen, no write to a log the boxes no longer show. Driven through its buttons."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import Snapshot

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import hyperframe  # noqa: E402
from hyperframe.notebook import widget as widget_module  # noqa: E402
from hyperframe.notebook.widget import MergeWidget, merge_widget  # noqa: E402


def _log(path: Path, side: str, n: int) -> hyperframe.Log:
    log = hyperframe.open(path, encoding="json")
    log.add({"protocol": 1})
    for i in range(n):
        log.append({"side": side, "i": i})
    return log


@pytest.fixture
def trio(tmp_path: Path) -> tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log]:
    """A (1 + 3 nodes), B (1 + 5) and C (1 + 2), all sharing the root."""
    return _log(tmp_path / "a", "a", 3), _log(tmp_path / "b", "b", 5), _log(tmp_path / "c", "c", 2)


def _blank(w: MergeWidget) -> None:
    """Nothing of an earlier diff is on screen, and no action can run."""
    assert w.diff is None and w.compared is None and w.figure is None
    assert w.counts.value == "" and w.preview.value == "" and w.plot_image.value == b""
    assert all(button.disabled for button in w.buttons)
    assert not w.current


def test_a_mistyped_b_is_refused_not_taken_for_an_empty_log(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log], tmp_path: Path, snapshot: Snapshot
) -> None:
    a = trio[0]
    typo = tmp_path / "dream-teem"
    before = snapshot(a.path)
    w = merge_widget(a, typo, plot=False)
    assert isinstance(w.last_error, hyperframe.NotALogError)
    assert f"B: there is no log at {typo}" in w.status.value and "create B if missing" in w.status.value
    assert "Push sends" not in w.counts.value
    _blank(w)
    for button in (w.push_button, w.sync_button, w.pull_button):
        button.click()  # a click that reaches the handler anyway (ipywidgets runs it) is refused
        assert "press Compare first" in w.status.value
    assert not typo.exists() and snapshot(a.path) == before and w.last_report is None


def test_a_new_b_is_made_only_when_asked_for(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log], tmp_path: Path
) -> None:
    a = trio[0]
    new = tmp_path / "new-b"
    w = merge_widget(a, new, plot=False)
    assert w.last_error is not None and not new.exists()
    w.create_b.value = True
    w.compare_button.click()
    assert w.last_error is None, w.status.value
    assert f"B does not exist yet: <b>Push</b> or <b>Sync</b> creates <code>{new}</code>" in w.counts.value
    assert "<b>4</b> node(s)" in w.counts.value
    assert not new.exists()  # comparing creates nothing
    w.push_button.click()
    assert w.last_error is None, w.status.value
    assert len(hyperframe.open(new, read_only=True)) == 4
    assert "A and B hold the same 4 node(s)" in w.counts.value


def test_unticking_create_after_the_compare_disables_the_actions(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log], tmp_path: Path
) -> None:
    w = merge_widget(trio[0], tmp_path / "new-b", plot=False, create_b=True)
    assert w.current and not any(button.disabled for button in w.buttons)
    w.create_b.value = False
    _blank(w)
    w.sync_button.click()
    assert "press Compare first" in w.status.value and not (tmp_path / "new-b").exists()


def test_editing_a_path_clears_the_diff_at_once(trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log]) -> None:
    a, b, _ = trio
    w = merge_widget(a, b)
    assert w.current and w.figure is not None and "<b>Pull</b> brings <b>5</b>" in w.counts.value
    w.b_path.value = str(b.path) + "x"
    _blank(w)
    assert "the paths changed" in w.status.value and "Compare" in w.status.value


def test_a_failed_compare_leaves_no_stale_diff_and_sync_cannot_write_to_the_previous_b(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log], tmp_path: Path, snapshot: Snapshot
) -> None:
    a, b, _ = trio
    w = merge_widget(a, b)
    before = snapshot(a.path), snapshot(b.path)
    typo = tmp_path / "bb"
    w.b_path.value = str(typo)
    w.compare_button.click()
    assert isinstance(w.last_error, hyperframe.NotALogError)
    _blank(w)
    w.sync_button.click()
    assert isinstance(w.last_error, hyperframe.UsageError) and "press Compare first" in w.status.value
    assert (snapshot(a.path), snapshot(b.path)) == before and not typo.exists()


def test_sync_acts_on_the_paths_shown_not_the_ones_compared_before(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log], snapshot: Snapshot
) -> None:
    a, b, c = trio
    w = merge_widget(a, b, plot=False)
    before_b = snapshot(b.path)
    w.b_path.value = str(c.path)  # a real log, but not compared yet
    w.sync_button.click()
    assert "press Compare first" in w.status.value
    assert snapshot(b.path) == before_b and len(c) == 3 and len(a) == 4
    w.compare_button.click()
    assert "<b>Pull</b> brings <b>2</b> node(s) into A" in w.counts.value
    w.sync_button.click()
    assert w.last_error is None, w.status.value
    assert len(a) == len(c) == 6 and snapshot(b.path) == before_b
    assert w.b is not None and w.b.path == c.path


def test_a_b_removed_after_the_compare_is_not_recreated(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log],
) -> None:
    import shutil

    a, b, _ = trio
    w = merge_widget(a, b, plot=False)
    shutil.rmtree(b.path)
    w.push_button.click()
    assert isinstance(w.last_error, hyperframe.NotALogError) and "any more" in w.status.value
    assert not b.path.exists() and len(a) == 4
    _blank(w)


def test_a_is_never_created(tmp_path: Path, trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log]) -> None:
    w = merge_widget(tmp_path / "nothing", trio[1], plot=False, create_b=True)
    assert isinstance(w.last_error, hyperframe.NotALogError) and "A: there is no log at" in w.status.value
    assert "create B" not in w.status.value
    w.pull_button.click()
    assert not (tmp_path / "nothing").exists()


def test_the_status_line_reports_the_planning_phase_then_the_counts(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log],
) -> None:
    a, b, _ = trio
    w = merge_widget(a, b, plot=False)
    statuses: list[str] = []
    phases: list[str] = []
    w.status.observe(lambda change: statuses.append(change["new"]), names="value")
    w.progress.observe(lambda change: phases.append(change["new"]), names="description")
    w.sync_button.click()
    assert w.last_error is None
    assert phases[0] == "comparing" and "receiving" in phases and phases[-1] == "done"
    assert any("working out what each side lacks" in s for s in statuses)
    assert any("of 8 node(s) received" in s for s in statuses)
    assert statuses[-1].startswith("done in ") and w.progress.bar_style == "success"


def test_big_logs_draw_the_graph_when_its_section_is_opened(
    trio: tuple[hyperframe.Log, hyperframe.Log, hyperframe.Log], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "EAGER_PLOT_NODES", 5)
    a, b, _ = trio
    w = merge_widget(a, b)
    assert w.current and w.figure is None and "open this section" in w.plot_note.value
    w.sections.selected_index = 1
    assert w.figure is not None and w.plot_image.value[:4] == b"\x89PNG"


def test_open_read_only_and_diff_refuse_a_missing_path(tmp_path: Path) -> None:
    a = _log(tmp_path / "a", "a", 1)
    with pytest.raises(hyperframe.NotALogError, match="nothing there yet"):
        hyperframe.open(tmp_path / "missing", read_only=True)
    with pytest.raises(hyperframe.NotALogError, match="missing"):
        hyperframe.diff(a, tmp_path / "missing")
    with pytest.raises(hyperframe.NotALogError):
        hyperframe.diff(str(tmp_path / "missing"), a)
    assert not (tmp_path / "missing").exists()
    assert hyperframe.open(a.path, read_only=True).heads() == a.heads()
