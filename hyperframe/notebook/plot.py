"""The causal graph of a log, drawn in layers: generations left to right, links as arrows.

Layers come from ``networkx.topological_generations`` and positions from
``networkx.multipartite_layout`` (within a layer, nodes are ordered by where their links
sit, so branches stay apart). Heads get a thick outline. Given two logs, or a diff, nodes
are coloured by where they live: only in A, only in B, or shared. Beyond ``max_nodes``
only the last generations are drawn, and the figure says so.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
>>> root = log.add({"species": "Adelie"})
>>> _ = log.add({"species": "Gentoo"}, links=[root.key])
>>> fig = plot(log, label="species")
>>> [t.get_text() for t in fig.axes[0].texts]
['Adelie', 'Gentoo']
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .._optional import require
from ..errors import UsageError

if TYPE_CHECKING:
    import networkx as nx
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..log import Log, LogLike

__all__ = ["COLORS", "plot", "plot_diff", "pyplot", "save_graph"]

Label: TypeAlias = "str | Callable[[Any], Any] | None"

#: node colours: a single log, and the three sides of a comparison
COLORS = {"log": "#4c72b0", "only_a": "#1f77b4", "only_b": "#ff7f0e", "shared": "#c7c7c7"}
#: draw at most this many nodes unless told otherwise
MAX_NODES = 300
#: label nodes with short keys when no label is asked for and there are at most this many
KEY_LABELS_UP_TO = 30
#: above this many nodes drawn, only heads get value labels (text is slow and unreadable)
LABEL_ALL_UP_TO = 200


def pyplot() -> Any:
    """``matplotlib.pyplot``, on the Agg backend when there is no display to draw on."""
    mpl = require("matplotlib")
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND") and not _has_display():
        mpl.use("Agg")
    return require("matplotlib.pyplot")


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32") or "ipykernel" in sys.modules:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class _Side:
    """One log taking part in a drawing, and which of the drawn nodes it holds."""

    log: Log
    graph: nx.DiGraph
    heads: set[str] = field(default_factory=set)


def plot(
    log: LogLike,
    *,
    label: Label = None,
    other: LogLike | None = None,
    diff: Any = None,
    max_nodes: int = MAX_NODES,
    title: str | None = None,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw a log's DAG and return the matplotlib figure (save it with ``fig.savefig``).

    Args:
        log: a :class:`hyperframe.Log` or a log directory.
        label: what to write on nodes: a value field (``"species"``, nested fields
            dotted: ``"bill.length_mm"``), or a function of the value; above 200 drawn
            nodes only heads are labelled. By default, short keys for graphs of up to
            30 nodes and nothing for bigger ones.
        other: a second log: colour nodes only-in-A / only-in-B / shared.
        diff: a :class:`hyperframe.Diff` instead of ``log`` and ``other``.
        max_nodes: beyond this many nodes, draw only the last generations (with a note).
        title: the figure's title (default: the log's name and size).
        ax: draw into these axes instead of a new figure.
        figsize: size of a new figure in inches (default: grows with the graph).
    """
    import networkx as nx

    if max_nodes < 1:
        raise UsageError("max_nodes must be at least 1")
    from ..log import as_log

    a: Log = as_log(diff.a if diff is not None else log, read_only=True)
    b: Log | None = (
        as_log(diff.b, read_only=True)
        if diff is not None
        else (as_log(other, read_only=True) if other is not None else None)
    )
    sides = [_Side(a, a.graph, set(a.heads()))]
    if b is not None:
        sides.append(_Side(b, b.graph, set(b.heads())))
    graph = sides[0].graph if len(sides) == 1 else nx.compose(sides[1].graph, sides[0].graph)
    if diff is not None:
        only_a, only_b = set(diff.only_in_a), set(diff.only_in_b)
    elif b is not None:
        only_a = set(sides[0].graph) - set(sides[1].graph)
        only_b = set(sides[1].graph) - set(sides[0].graph)
    else:
        only_a = only_b = set()

    generations = [sorted(g, key=lambda k: graph.nodes[k].get("change", 0)) for g in nx.topological_generations(graph)]
    kept, note = _last_generations(generations, max_nodes, graph.number_of_nodes())
    layers = _order_layers(graph, kept)
    shown = graph.subgraph([k for layer in layers.values() for k in layer])
    pos = nx.multipartite_layout(shown, subset_key=layers) if len(shown) else {}

    widest = max((len(v) for v in layers.values()), default=1)
    if ax is None:
        plt = pyplot()
        width, height = figsize or (
            min(30.0, max(6.0, 3.0 + 0.4 * len(layers))),
            min(16.0, max(3.0, 1.2 + 0.45 * widest)),
        )
        fig: Figure = plt.figure(figsize=(width, height))
        plt.close(fig)  # returned, not left open: no double display, no open-figure pile-up
        # fixed margins (room for the legend on the right, the note below): a constrained
        # layout would draw every label twice
        fig.subplots_adjust(left=0.2 / width, right=1 - 1.6 / width, bottom=0.45 / height, top=1 - 0.4 / height)
        ax = fig.add_subplot()
    else:
        fig = cast("Figure", ax.figure)

    n = len(shown)
    node_size = float(max(30, min(400, 12000 / max(n, 1))))
    heads = set().union(*(s.heads for s in sides))
    if b is None:
        colors = [COLORS["log"]] * n
    else:
        colors = [
            COLORS["only_a"] if k in only_a else COLORS["only_b"] if k in only_b else COLORS["shared"] for k in shown
        ]
    edge_widths = [2.5 if k in heads else 0.5 for k in shown]
    _draw_edges(ax, shown, pos)
    nx.draw_networkx_nodes(
        shown,
        pos,
        ax=ax,
        nodelist=list(shown),
        node_color=colors,
        node_size=node_size,
        edgecolors=["black" if k in heads else "white" for k in shown],
        linewidths=edge_widths,
    )
    labels = _labels(shown, sides, label)
    if label is not None and n > LABEL_ALL_UP_TO:
        labels = {k: v for k, v in labels.items() if k in heads}
        note = (note + "; " if note else "") + f"labels on heads only above {LABEL_ALL_UP_TO} nodes"
    if labels:
        font = max(5.0, min(9.0, 240 / max(n, 1) ** 0.5 / 2))
        nx.draw_networkx_labels(
            shown,
            pos,
            labels=labels,
            ax=ax,
            font_size=font,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75, "linewidth": 0},
        )
    ax.set_axis_off()
    _legend(ax, two=b is not None, counts=(len(only_a), len(only_b), len(graph) - len(only_a) - len(only_b)))
    if title is None:
        if b is None:
            count = len(sides[0].heads)
            title = f"{a.path.name}: {len(graph):,} nodes, {count:,} head{'' if count == 1 else 's'}"
        else:
            title = f"A: {a.path.name}   B: {b.path.name}   ({len(graph):,} nodes in all)"
    ax.set_title(title)
    if note:
        ax.text(0.0, -0.02, note, transform=ax.transAxes, fontsize=9, color="#555555", va="top")
    return fig


def plot_diff(diff: Any, **options: Any) -> Figure:
    """Draw a :class:`hyperframe.Diff`: both logs, coloured only-in-A / only-in-B / shared.

    Takes the options of :func:`plot`.
    """
    return plot(diff.a, diff=diff, **options)


def save_graph(log: LogLike, path: str | os.PathLike[str], *, dpi: int = 150, **options: Any) -> Path:
    """Draw ``log`` (a Log or a directory) and save the figure to ``path``; return the path.

    The format follows the suffix (``.png``, ``.svg``, ``.pdf``). Takes the options of
    :func:`plot`; ``hyperframe graph DIR -o graph.png`` calls this.
    """
    out = Path(path)
    fig = plot(log, **options)
    fig.savefig(out, dpi=dpi)
    return out


# --- pieces -----------------------------------------------------------------------------


def _last_generations(generations: list[list[str]], max_nodes: int, total: int) -> tuple[list[list[str]], str]:
    """The trailing generations that fit in ``max_nodes`` (at least one), and a note."""
    kept: list[list[str]] = []
    count = 0
    for gen in reversed(generations):
        if kept and count + len(gen) > max_nodes:
            break
        kept.append(gen[-max_nodes:] if not kept else gen)
        count += len(kept[-1])
    kept.reverse()
    if count == total:
        return kept, ""
    return kept, (
        f"showing the last {len(kept):,} of {len(generations):,} generations "
        f"({count:,} of {total:,} nodes); pass max_nodes= to draw more"
    )


def _order_layers(graph: nx.DiGraph, generations: list[list[str]]) -> dict[int, list[str]]:
    """Order each layer by the mean rank of its nodes' links (a barycenter pass)."""
    rank: dict[str, float] = {}
    layers: dict[int, list[str]] = {}
    for i, gen in enumerate(generations):

        def place(k: str, j: int) -> tuple[float, int]:
            above = [rank[p] for p in graph.predecessors(k) if p in rank]
            return (sum(above) / len(above) if above else float(j), j)

        ordered = sorted(gen, key=lambda k: place(k, gen.index(k)) if len(gen) < 64 else place(k, 0))
        mid = (len(ordered) - 1) / 2
        for j, k in enumerate(ordered):
            rank[k] = j - mid
        layers[i] = ordered
    return layers


def _draw_edges(ax: Axes, graph: nx.DiGraph, pos: dict[str, Any]) -> None:
    """Links as lines with an arrowhead part-way along, pointing from a link to its node.

    One LineCollection and one quiver: fast for hundreds of edges, where matplotlib's
    per-edge FancyArrowPatch takes seconds.
    """
    import numpy as np
    from matplotlib.collections import LineCollection

    edges = list(graph.edges())
    if not edges:
        return
    segs = np.array([[pos[u], pos[v]] for u, v in edges], dtype=float)
    ax.add_collection(LineCollection(list(segs), colors="#999999", linewidths=0.6, zorder=1))
    d = segs[:, 1] - segs[:, 0]
    length = np.hypot(d[:, 0], d[:, 1])
    length[length == 0] = 1.0
    at = segs[:, 0] + 0.55 * d
    ax.quiver(
        at[:, 0],
        at[:, 1],
        d[:, 0] / length,
        d[:, 1] / length,
        angles="xy",
        scale_units="inches",
        scale=12.0,
        pivot="mid",
        units="inches",
        width=0.012,
        headwidth=5.0,
        headlength=6.0,
        headaxislength=5.5,
        color="#777777",
        zorder=1.5,
    )


def _field(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _labels(shown: nx.DiGraph, sides: list[_Side], label: Label) -> dict[str, str]:
    if label is None:
        return {k: k[:6] for k in shown} if len(shown) <= KEY_LABELS_UP_TO else {}
    values = _values(shown, sides)
    pick: Callable[[Any], Any] = label if callable(label) else (lambda v: _field(v, label))
    out = {}
    for k in shown:
        text = pick(values.get(k))
        if text is not None and not (isinstance(text, float) and math.isnan(text)):  # skip None and NaN
            out[k] = str(text)
    return out


def _values(nodes: Iterable[str], sides: list[_Side]) -> dict[str, Any]:
    """Decoded values of ``nodes``, read from whichever log holds each."""
    import pyarrow as pa

    wanted = set(nodes)
    values: dict[str, Any] = {}
    for side in sides:
        rows = sorted((side.graph.nodes[k]["change"] - 1, k) for k in wanted - values.keys() if k in side.graph)
        if not rows:
            continue
        table = side.log.to_arrow_raw().select(["value"])
        taken = table.take(pa.array([r for r, _ in rows], pa.int64())).column("value").to_pylist()
        decode = side.log.encoding.decode
        for (_, k), raw in zip(rows, taken):
            values[k] = decode(raw)
    return values


def _legend(ax: Axes, *, two: bool, counts: tuple[int, int, int]) -> None:
    from matplotlib.lines import Line2D

    def dot(color: str, text: str, edge: str = "white", width: float = 0.5) -> Line2D:
        return Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=8,
            markerfacecolor=color,
            markeredgecolor=edge,
            markeredgewidth=width,
            label=text,
        )

    handles = []
    if two:
        only_a, only_b, shared = counts
        handles += [
            dot(COLORS["only_a"], f"only in A ({only_a:,})"),
            dot(COLORS["only_b"], f"only in B ({only_b:,})"),
            dot(COLORS["shared"], f"shared ({shared:,})"),
        ]
    handles.append(dot("white", "head", edge="black", width=2.0))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
