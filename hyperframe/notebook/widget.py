"""An interactive merge of two logs, built from stock ipywidgets 8.

``merge_widget(a, b)`` shows both sides, what each would receive (counts, a table and the
diff plot), buttons to pull, push or sync, a progress bar fed by
:func:`hyperframe.replicate`'s progress callback, and the result. Errors appear inside the
widget as one line, never as a traceback.

Every part is an attribute, so a test (or a script) can drive it::

    w = merge_widget("data/biscoe-team", "data/dream-team")
    w.sync_button.click()
    w.summary.value      # 'sync: 129 node(s) A→B, 144 B→A; ...'
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from .._optional import require
from ..errors import HyperframeError

if TYPE_CHECKING:
    from ..log import Log, LogLike
    from ..sync import Diff, ReplicationReport
    from ..sync.modes import Mode

__all__ = ["MergeWidget", "merge_widget"]

#: what each button does: replicate mode, and a verb for the status line
ACTIONS = {"pull": "pulling B into A", "push": "pushing A into B", "sync": "syncing both ways"}


class MergeWidget:
    """The widgets of a two-log merge; display it, or use ``.box``.

    Attributes: ``a_path``, ``b_path`` (Text), ``compare_button``, ``pull_button``,
    ``push_button``, ``sync_button`` (Button), ``counts``, ``preview``, ``summary``,
    ``status`` (HTML), ``progress`` (IntProgress), ``plot_image`` (Image: the diff plot as
    PNG; ``figure`` is the matplotlib figure), ``output`` (Output: a log of what ran),
    ``box`` (the VBox holding it all); and after use ``diff``, ``last_report`` and
    ``last_error`` (the exception shown, or None).
    """

    def __init__(self, a: LogLike, b: LogLike, *, plot: bool = True, max_nodes: int = 300) -> None:
        widgets = require("ipywidgets")
        from ..log import as_log

        self.a: Log = as_log(a)
        self.b: Log = as_log(b)
        self.show_plot = plot
        self.max_nodes = max_nodes
        self.diff: Diff | None = None
        self.last_report: ReplicationReport | None = None
        self.last_error: BaseException | None = None
        self.figure: Any = None

        wide = widgets.Layout(width="60%")
        self.a_path = widgets.Text(value=str(self.a.path), description="A", layout=wide)
        self.b_path = widgets.Text(value=str(self.b.path), description="B", layout=wide)
        self.compare_button = widgets.Button(description="Compare", icon="refresh", tooltip="re-read both logs")
        self.pull_button = widgets.Button(description="Pull (B → A)", tooltip="A receives what it lacks")
        self.push_button = widgets.Button(description="Push (A → B)", tooltip="B receives what it lacks")
        self.sync_button = widgets.Button(
            description="Sync (A ⇄ B)", button_style="primary", tooltip="both end with the union"
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="progress")
        self.counts = widgets.HTML()
        self.preview = widgets.HTML()
        self.summary = widgets.HTML()
        self.status = widgets.HTML()
        self.plot_image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.plot_note = widgets.HTML()
        self.output = widgets.Output()
        self.buttons = [self.pull_button, self.push_button, self.sync_button]

        self.compare_button.on_click(self._on_compare)
        self.pull_button.on_click(lambda _: self.run("pull"))
        self.push_button.on_click(lambda _: self.run("push"))
        self.sync_button.on_click(lambda _: self.run("sync"))

        self.box = widgets.VBox(
            [
                widgets.HTML("<b>hyperframe merge</b>"),
                widgets.HBox([self.a_path]),
                widgets.HBox([self.b_path, self.compare_button]),
                self.counts,
                widgets.HBox(self.buttons),
                self.progress,
                self.status,
                self.summary,
                widgets.Accordion(
                    children=[self.preview, widgets.VBox([self.plot_note, self.plot_image])],
                    titles=("what each side lacks", "the graph"),
                ),
                self.output,
            ]
        )
        self._guard(self.refresh)

    # --- display ------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<hyperframe MergeWidget A={str(self.a.path)!r} B={str(self.b.path)!r}>"

    # --- actions ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read both logs and update the counts, the preview and the plot."""
        from ..sync import diff as compare
        from .display import diff_html, safe_html

        diff = self.diff = compare(self.a, self.b)
        to_a, to_b = len(diff.only_in_b), len(diff.only_in_a)
        if not to_a and not to_b:
            text = f"A and B hold the same {len(self.a):,} node(s): nothing to do"
        else:
            text = (
                f"<b>Pull</b> brings <b>{to_a:,}</b> node(s) into A &middot; "
                f"<b>Push</b> sends <b>{to_b:,}</b> node(s) to B &middot; "
                f"<b>Sync</b> does both; {diff.shared:,} shared"
            )
        self.counts.value = text
        self.preview.value = safe_html(diff, diff_html)
        self._draw()

    def _draw(self) -> None:
        """Render the diff plot to PNG into ``plot_image`` (no display machinery needed)."""
        if not self.show_plot:
            return
        import io

        try:
            from .plot import plot_diff

            self.figure = plot_diff(self.diff, max_nodes=self.max_nodes)
        except HyperframeError as exc:  # e.g. matplotlib missing: say so, keep going
            self.figure = None
            self.plot_note.value = f"<i>no plot: {html.escape(str(exc))}</i>"
            return
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=72)
        self.plot_image.value = buffer.getvalue()
        self.plot_note.value = ""

    def run(self, mode: Mode) -> ReplicationReport | None:
        """Replicate in ``mode`` ("pull", "push" or "sync") and show what happened."""
        from ..sync import replicate

        self.last_error = None
        self.status.value = f"<i>{ACTIONS.get(mode, mode)}…</i>"
        self.summary.value = ""
        self.progress.value, self.progress.max, self.progress.bar_style = 0, 1, ""
        for button in self.buttons:
            button.disabled = True
        try:
            report = replicate(self.a, self.b, mode=mode, progress=self._progress())
        except Exception as exc:  # noqa: BLE001 - shown in the widget, not as a traceback
            self._fail(exc)
            return None
        finally:
            for button in self.buttons:
                button.disabled = False
        self.last_report = report
        self.progress.max = max(1, self.progress.max)
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.status.value = "done"
        self.summary.value = f"<code>{html.escape(report.summary())}</code>"
        self.output.append_stdout(report.summary() + "\n")
        self._guard(self.refresh)
        return report

    def _progress(self) -> Any:
        from ..progress import ReplicationProgress

        bar = self.progress
        counts = ReplicationProgress(enabled=False)

        def progress(done: int, total: int) -> None:
            counts(done, total)
            bar.max = max(1, counts.total)
            bar.value = min(counts.done, bar.max)

        return progress

    def _on_compare(self, _: Any = None) -> None:
        def compare() -> None:
            from ..log import as_log

            self.a, self.b = as_log(self.a_path.value), as_log(self.b_path.value)
            self.summary.value = ""
            self.status.value = ""
            self.refresh()

        self.last_error = None
        self._guard(compare)

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


def merge_widget(a: LogLike, b: LogLike, *, plot: bool = True, max_nodes: int = 300) -> MergeWidget:
    """An interactive merge of logs ``a`` and ``b`` (Logs or directories).

    Args:
        plot: draw the diff plot in the widget (needs matplotlib).
        max_nodes: the most nodes the plot draws (then the last generations only).
    """
    return MergeWidget(a, b, plot=plot, max_nodes=max_nodes)
