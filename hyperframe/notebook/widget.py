"""An interactive merge of two logs, built from stock ipywidgets 8.

``merge_widget(a, b)`` shows both paths, what each side would receive (counts, a table and
the diff plot), buttons to pull, push or sync, a progress bar fed by
:func:`hyperframe.replicate`'s progress callback, and the result. Errors appear inside the
widget as one line, never as a traceback.

It acts only on what it shows. The buttons work on the pair of logs the last successful
**Compare** read, and only while the boxes still show those paths: editing a path clears
the diff and disables Pull, Push and Sync until Compare succeeds again. A path where no log
is refused (a typo is not an empty log) unless "create B if missing" is ticked.

Every part is an attribute, so a test (or a script) can drive it::

    w = merge_widget("data/biscoe-team", "data/dream-team")
    w.sync_button.click()
    w.summary.value      # 'sync: 129 node(s) A→B, 144 B→A; ...'
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._optional import require
from ..errors import NotALogError, UsageError

if TYPE_CHECKING:
    from ..log import Log, LogLike
    from ..progress import ProgressState, ReplicationProgress
    from ..sync import Diff, ReplicationReport
    from ..sync.modes import Mode

__all__ = ["MergeWidget", "merge_widget"]

#: what each button does: replicate mode, and a verb for the status line
ACTIONS = {"pull": "pulling B into A", "push": "pushing A into B", "sync": "syncing both ways"}
#: what the status line says in each phase of a replication (see hyperframe.progress)
PHASE_TEXT = {
    "comparing": "working out what each side lacks",
    "receiving": "{done:,} of {total:,} node(s) received",
    "writing": "all {total:,} node(s) received; verifying and writing",
}
#: the diff plot is drawn at once up to this many nodes on both sides; beyond, when the
#: "the graph" section is opened (the drawing reads both logs' key and link columns: most
#: of a second for 200,000 nodes a side, and matplotlib's import the first time)
EAGER_PLOT_NODES = 20_000


class MergeWidget:
    """The widgets of a two-log merge; display it, or use ``.box``.

    Attributes: ``a_path``, ``b_path`` (Text), ``create_b`` (Checkbox: make B if no log is
    there), ``compare_button``, ``pull_button``, ``push_button``, ``sync_button`` (Button),
    ``counts``, ``preview``, ``summary``, ``status`` (HTML), ``progress`` (IntProgress),
    ``plot_image`` (Image: the diff plot as PNG; ``figure`` is the matplotlib figure),
    ``output`` (Output: a log of what ran), ``box`` (the VBox holding it all); and
    ``a``, ``b``, ``diff`` (what the last successful Compare read; None while the paths
    shown have not been compared), ``last_report`` and ``last_error`` (the exception
    shown, or None).
    """

    def __init__(
        self, a: LogLike, b: LogLike, *, plot: bool = True, max_nodes: int = 300, create_b: bool = False
    ) -> None:
        widgets = require("ipywidgets")
        from ..log import Log

        #: Log objects by the path text that shows them: given ones are used as they are
        self._logs: dict[str, Log] = {str(x.path): x for x in (a, b) if isinstance(x, Log)}
        self.a: Log | None = None
        self.b: Log | None = None
        self.diff: Diff | None = None
        #: (A text, B text, create B) of the last successful Compare
        self.compared: tuple[str, str, bool] | None = None
        self.show_plot = plot
        self.max_nodes = max_nodes
        self.last_report: ReplicationReport | None = None
        self.last_error: BaseException | None = None
        self.figure: Any = None

        wide = widgets.Layout(width="60%")
        self.a_path = widgets.Text(value=_text(a), description="A", placeholder="path of a log", layout=wide)
        self.b_path = widgets.Text(value=_text(b), description="B", placeholder="path of a log", layout=wide)
        self.create_b = widgets.Checkbox(
            value=create_b, description="create B if missing", indent=False, layout=widgets.Layout(width="auto")
        )
        self.compare_button = widgets.Button(
            description="Compare", icon="refresh", tooltip="read both logs: what does each lack?"
        )
        self.pull_button = widgets.Button(description="Pull (B → A)", tooltip="A receives what it lacks")
        self.push_button = widgets.Button(description="Push (A → B)", tooltip="B receives what it lacks")
        self.sync_button = widgets.Button(
            description="Sync (A ⇄ B)", button_style="primary", tooltip="both end with the union"
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="")
        self.counts = widgets.HTML()
        self.preview = widgets.HTML()
        self.summary = widgets.HTML()
        self.status = widgets.HTML()
        self.plot_image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.plot_note = widgets.HTML()
        self.output = widgets.Output()
        self.buttons = [self.pull_button, self.push_button, self.sync_button]
        self._enable(False)

        self.compare_button.on_click(self._on_compare)
        self.pull_button.on_click(lambda _: self.run("pull"))
        self.push_button.on_click(lambda _: self.run("push"))
        self.sync_button.on_click(lambda _: self.run("sync"))
        for field in (self.a_path, self.b_path, self.create_b):
            field.observe(self._on_edit, names="value")

        self.sections = widgets.Accordion(
            children=[self.preview, widgets.VBox([self.plot_note, self.plot_image])],
            titles=("what each side lacks", "the graph"),
            selected_index=0,
        )
        self.sections.observe(self._on_section, names="selected_index")
        self.box = widgets.VBox(
            [
                widgets.HTML("<b>hyperframe merge</b>"),
                widgets.HBox([self.a_path]),
                widgets.HBox([self.b_path, self.compare_button, self.create_b]),
                self.counts,
                widgets.HBox(self.buttons),
                self.progress,
                self.status,
                self.summary,
                self.sections,
                self.output,
            ]
        )
        self._on_compare()

    # --- display ------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<hyperframe MergeWidget A={self.a_path.value!r} B={self.b_path.value!r}>"

    # --- what is shown ------------------------------------------------------------------

    def shown(self) -> tuple[str, str, bool]:
        """The paths in the boxes and the checkbox, as the next Compare would read them."""
        return self.a_path.value.strip(), self.b_path.value.strip(), bool(self.create_b.value)

    @property
    def current(self) -> bool:
        """True while the diff on screen is of the paths on screen (the buttons work)."""
        return self.diff is not None and self.compared == self.shown()

    def _enable(self, on: bool) -> None:
        for button in self.buttons:
            button.disabled = not on

    def _clear(self) -> None:
        """Forget the last diff and take it off the screen; the actions wait for a Compare."""
        self.a = self.b = self.diff = self.compared = self.figure = None
        self.counts.value = self.preview.value = self.plot_note.value = ""
        self.plot_image.value = b""
        self._enable(False)

    def _on_edit(self, _: Any = None) -> None:
        if self.compared is not None and self.shown() != self.compared:
            self._clear()
            self.summary.value = ""
            self.progress.value, self.progress.bar_style, self.progress.description = 0, "", ""
            self.status.value = "<i>the paths changed: press <b>Compare</b> to see what each side lacks</i>"

    # --- actions ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the logs the boxes show and update the counts, the preview and the plot.

        Whatever was on screen is cleared first, so a failure leaves no stale diff and the
        buttons disabled.
        """
        from ..sync import diff as compare
        from .display import diff_html, safe_html

        shown = self.shown()
        self._clear()
        a = self._open(shown[0], "A", create=False)
        b = self._open(shown[1], "B", create=shown[2])
        diff = compare(a, b)
        self.a, self.b, self.diff, self.compared = a, b, diff, shown
        to_a, to_b = len(diff.only_in_b), len(diff.only_in_a)
        if b.manifest is None:
            text = (
                f"B does not exist yet: <b>Push</b> or <b>Sync</b> creates <code>{html.escape(str(b.path))}</code> "
                f"with A's <b>{to_b:,}</b> node(s)"
            )
        elif not to_a and not to_b:
            text = f"A and B hold the same {len(a):,} node(s): nothing to do"
        else:
            text = (
                f"<b>Pull</b> brings <b>{to_a:,}</b> node(s) into A &middot; "
                f"<b>Push</b> sends <b>{to_b:,}</b> node(s) to B &middot; "
                f"<b>Sync</b> does both; {diff.shared:,} shared"
            )
        self.counts.value = text
        self.preview.value = safe_html(diff, diff_html)
        self._enable(True)
        if self.show_plot:
            if len(a) + len(b) <= EAGER_PLOT_NODES or self.sections.selected_index == 1:
                self._draw()
            else:
                self.plot_note.value = "<i>open this section to draw the graph (big logs take a second or two)</i>"

    def _open(self, text: str, side: str, *, create: bool) -> Log:
        """The log at the path shown for ``side``; a path with no log only if ``create``."""
        from ..log import Log

        if not text:
            raise UsageError(f"{side}: type the path of a log")
        log = self._logs.get(text)
        if log is None:
            log = self._logs[text] = Log(Path(text).expanduser())
        if log.manifest is None and not create:
            hint = ", or tick “create B if missing” to start a new log there" if side == "B" else ""
            raise NotALogError(f"{side}: there is no log at {text}; check the path{hint}", path=text)
        return log

    def _on_section(self, change: Any) -> None:
        if change.get("new") == 1 and self.show_plot and self.figure is None and self.current:
            self.plot_note.value = "<i>drawing the graph…</i>"
            self._guard(self._draw)

    def _draw(self) -> None:
        """Render the diff plot to PNG into ``plot_image`` (no display machinery needed)."""
        import io

        try:
            from .plot import plot_diff

            self.figure = plot_diff(self.diff, max_nodes=self.max_nodes)
        except Exception as exc:  # noqa: BLE001 - e.g. matplotlib missing: say so, keep the diff
            self.figure = None
            self.plot_note.value = f"<i>no plot: {html.escape(str(exc))}</i>"
            return
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=72)
        self.plot_image.value = buffer.getvalue()
        self.plot_note.value = ""

    def run(self, mode: Mode) -> ReplicationReport | None:
        """Replicate the compared logs in ``mode`` ("pull", "push" or "sync") and show what happened.

        Refused (with a message in the widget) unless the paths shown are the ones compared.
        """
        from ..sync import replicate

        self.last_error = None
        self.summary.value = ""
        if not self.current or self.a is None or self.b is None or self.compared is None:
            self._fail(UsageError("press Compare first: the paths shown have not been compared"))
            return None
        a, b, create = self.a, self.b, self.compared[2]
        if a.manifest is None or (b.manifest is None and not create):
            gone = a if a.manifest is None else b
            self._clear()
            self._fail(
                NotALogError(f"there is no log at {gone.path} any more; check the path and Compare", path=gone.path)
            )
            return None
        verb = ACTIONS.get(mode, mode)
        self.status.value = f"<i>{verb}…</i>"
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, "info"
        self._enable(False)
        self.compare_button.disabled = True
        progress = self._progress(verb)
        try:
            with progress:
                report = replicate(a, b, mode=mode, progress=progress)
        except Exception as exc:  # noqa: BLE001 - shown in the widget, not as a traceback
            self._fail(exc)
            self._recompare()  # a failed transfer commits nothing, but read both again to be sure
            return None
        finally:
            self.compare_button.disabled = False
        self.last_report = report
        self.progress.max = max(1, self.progress.max)
        self.progress.value = self.progress.max
        self.progress.bar_style, self.progress.description = "success", "done"
        self.status.value = f"done in {progress.elapsed:.1f} s"
        self.summary.value = f"<code>{html.escape(report.summary())}</code>"
        self.output.append_stdout(report.summary() + "\n")
        self._recompare()
        return report

    def _recompare(self) -> None:
        """Read both logs again after a run; a failure here is shown, the run's error kept if none."""
        error = self.last_error
        self._guard(self.refresh)
        if self.last_error is None:
            self.last_error = error

    def _progress(self, verb: str) -> ReplicationProgress:
        """A replication progress callback that drives ``progress`` and the status line."""
        from ..progress import ReplicationProgress

        bar, status = self.progress, self.status

        def show(state: ProgressState) -> None:
            bar.max = max(1, state.total)
            bar.value = min(state.done, bar.max)
            bar.description = state.phase
            what = PHASE_TEXT.get(state.phase, state.phase).format(done=state.done, total=state.total)
            status.value = f"<i>{html.escape(verb)}: {what} &middot; {state.elapsed:.0f} s</i>"

        return ReplicationProgress(enabled=False, on_update=show)

    def _on_compare(self, _: Any = None) -> None:
        self.last_error = None
        self.summary.value = ""
        self.status.value = ""
        self.progress.value, self.progress.bar_style, self.progress.description = 0, "", ""
        self._guard(self.refresh)

    def _guard(self, action: Any) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - shown in the widget, not as a traceback
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.last_error = exc
        self.progress.bar_style = "danger"
        kind = type(exc).__name__
        self.output.append_stderr(f"{kind}: {exc}\n")
        self.status.value = f"<span style='color:#c0392b'><b>{html.escape(kind)}</b>: {html.escape(str(exc))}</span>"


def _text(log: LogLike) -> str:
    """The path a log or a path shows as in a box."""
    from ..log import Log

    return str(log.path if isinstance(log, Log) else Path(log))


def merge_widget(
    a: LogLike, b: LogLike, *, plot: bool = True, max_nodes: int = 300, create_b: bool = False
) -> MergeWidget:
    """An interactive merge of logs ``a`` and ``b`` (Logs or directories).

    Args:
        plot: draw the diff plot in the widget (needs matplotlib).
        max_nodes: the most nodes the plot draws (then the last generations only).
        create_b: tick "create B if missing": Push or Sync may then make a new log at B.
            Without it a path where no log is is an error, not an empty log.
    """
    return MergeWidget(a, b, plot=plot, max_nodes=max_nodes, create_b=create_b)
