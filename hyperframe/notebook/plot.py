"""The causal graph of a log, drawn in layers: generations left to right, links as arrows.

Layers are generations (a node's depth: 0 for a root, else one more than its deepest
link, worked out over each log's columns with NumPy) and positions come from
``networkx.multipartite_layout`` (within a layer, nodes are ordered by where their links
sit, so branches stay apart). Heads get a thick outline. Given two logs, or a diff, nodes
are coloured by where they live: only in A, only in B, or shared. Beyond ``max_nodes``
only the last generations are drawn, and the figure says so. Only the drawn nodes become
a networkx graph, and only their values are decoded: the cost follows what is drawn.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from .._optional import require
from ..errors import UsageError

if TYPE_CHECKING:
    import networkx as nx
    import numpy as np
    import pyarrow as pa
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
    """One log taking part in a drawing: its nodes in change order, their links and depths."""

    log: Log
    #: the nodes' keys (``fixed_size_binary(32)``); row ``i`` is change ``i + 1``
    keys: pa.Array
    lookup: _KeyRows
    #: row ``i`` links the rows ``parents[starts[i]:starts[i + 1]]``
    starts: np.ndarray
    parents: np.ndarray
    depth: np.ndarray
    heads: set[str] = field(default_factory=set)
    #: the stored values, when labels need some of them
    values: pa.ChunkedArray | None = None


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
    sides = [_read_side(a, values=label is not None)]
    if b is not None:
        sides.append(_read_side(b, values=label is not None))
    union = _Union(sides)
    kept, note = _last_generations(union, max_nodes)
    drawn = [u for gen in kept for u in gen]
    shown = union.graph(drawn)
    layers = _order_layers(shown, [[union.hex(u) for u in gen] for gen in kept])
    pos = nx.multipartite_layout(shown, subset_key=layers) if len(shown) else {}
    if diff is not None:
        only_a, only_b = set(diff.only_in_a), set(diff.only_in_b)
        counts = (len(only_a), len(only_b), union.total - len(only_a) - len(only_b))
    else:
        only_a = {union.hex(u) for u in drawn if not union.in_b(u)}
        only_b = {union.hex(u) for u in drawn if not union.in_a(u)}
        counts = (union.only_a, union.only_b, union.total - union.only_a - union.only_b)

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
    few = label is None or n <= LABEL_ALL_UP_TO
    labels = _labels(shown, union, label, [k for k in shown if few or k in heads])
    if not few:
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
    _legend(ax, two=b is not None, counts=counts)
    if title is None:
        if b is None:
            count = len(sides[0].heads)
            title = f"{a.path.name}: {union.total:,} nodes, {count:,} head{'' if count == 1 else 's'}"
        else:
            title = f"A: {a.path.name}   B: {b.path.name}   ({union.total:,} nodes in all)"
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


def _read_side(log: Log, *, values: bool) -> _Side:
    """A log's keys, links (as rows) and depths from one snapshot, without a Python object
    per node; the raw values too when labels need some."""
    import numpy as np

    from ..frames import depths
    from ..store import segments

    state = log.snapshot(["key", "links", "value"] if values else ["key", "links"])
    table = state.table
    kept = table.column("value") if values else None
    if table.num_rows == 0:
        none = np.zeros(0, dtype=np.int64)
        keys = segments.one_array(table.column("key"))
        return _Side(log, keys, _KeyRows(keys), np.zeros(1, np.int64), none, none, set(), kept)
    keys = segments.one_array(table.column("key"))
    starts, _ = segments.link_offsets(table)  # from the buffers: Array.to_numpy() would import pandas
    lookup = _KeyRows(keys)
    parents = lookup.rows(segments.flat_links(table.column("links")))
    return _Side(log, keys, lookup, starts, parents, depths(np.diff(starts), parents), set(state.heads), kept)


class _KeyRows:
    """Rows of keys among one log's keys (``fixed_size_binary(32)``), -1 where absent
    (:func:`hyperframe.store.keyset.lookup`: no per-key Python objects)."""

    def __init__(self, keys: pa.Array) -> None:
        import numpy as np

        from ..store import keyset, segments

        stored = keyset.as_keys(segments.key_bytes(keys))
        ids = keyset.prefixes(stored)
        self.by_id = np.argsort(ids, kind="stable")
        self.ids, self.words = ids[self.by_id], keyset.words(stored)[self.by_id]

    def rows(self, wanted: pa.Array) -> np.ndarray:
        import numpy as np

        from ..store import keyset, segments

        asked = keyset.as_keys(segments.key_bytes(wanted))
        at = keyset.lookup(self.ids, self.words, keyset.prefixes(asked), keyset.words(asked))
        rows: np.ndarray = np.where(at >= 0, self.by_id[np.maximum(at, 0)], -1).astype(np.int64)
        return rows


class _Union:
    """The nodes of one or two logs, each once: A's rows, then the rows only B holds.

    A node is the same in every log holding it (its key fixes its links), so its depth is
    read from whichever side holds it. Its ``change`` is A's when A holds it, else B's,
    and ``order`` is where ``nx.compose(B.graph, A.graph)`` (the graph the drawing was
    first made from) lists it: B's nodes in B's order, then those only A holds in A's.
    """

    def __init__(self, sides: list[_Side]) -> None:
        import numpy as np

        self.sides = sides
        a = sides[0]
        b = sides[1] if len(sides) > 1 else None
        self.n_a = len(a.keys)
        n_b = len(b.keys) if b is not None else 0
        b_in_a = a.lookup.rows(b.keys) if b is not None else np.zeros(0, dtype=np.int64)
        a_in_b = np.full(self.n_a, -1, dtype=np.int64)
        shared = np.flatnonzero(b_in_a >= 0)
        a_in_b[b_in_a[shared]] = shared
        #: B's rows of the nodes only B holds, and the union id of each B row
        self.b_rows = np.flatnonzero(b_in_a < 0)
        self.from_b = b_in_a.copy()
        self.from_b[self.b_rows] = self.n_a + np.arange(len(self.b_rows))
        self.total = self.n_a + len(self.b_rows)
        self.n_b = n_b
        only_a = a_in_b < 0
        self.only_a = int(only_a.sum()) if b is not None else 0
        self.only_b = len(self.b_rows)
        b_depth = b.depth[self.b_rows] if b is not None else np.zeros(0, dtype=np.int64)
        self.depth = np.concatenate([a.depth, b_depth])
        self.change = np.concatenate([np.arange(1, self.n_a + 1, dtype=np.int64), self.b_rows + 1])
        a_order = np.where(only_a, n_b + np.cumsum(only_a) - 1, a_in_b)
        self.order = np.concatenate([a_order, self.b_rows]).astype(np.int64)
        self._hex: dict[int, str] = {}
        self._ids: dict[str, int] = {}

    def _row(self, u: int) -> tuple[_Side, int]:
        if u < self.n_a:
            return self.sides[0], u
        return self.sides[1], int(self.b_rows[u - self.n_a])

    def in_a(self, u: int) -> bool:
        return u < self.n_a

    def in_b(self, u: int) -> bool:
        return int(self.order[u]) < self.n_b

    def hex(self, u: int) -> str:
        """The node's key as hex (worked out for drawn nodes only)."""
        if u not in self._hex:
            side, row = self._row(u)
            self._hex[u] = bytes(side.keys[row].as_py()).hex()
            self._ids[self._hex[u]] = u
        return self._hex[u]

    def links(self, u: int) -> list[int]:
        """The union ids of the nodes ``u`` links, each once."""
        side, row = self._row(u)
        rows = side.parents[side.starts[row] : side.starts[row + 1]]
        rows = rows[rows >= 0]
        ids = rows if u < self.n_a else self.from_b[rows]
        return list(dict.fromkeys(ids.tolist()))

    def graph(self, ids: list[int]) -> nx.DiGraph:
        """The networkx graph of these nodes and the links among them, nodes and edges in
        the composed graph's order (so drawing order is the same as from the whole graph)."""
        import networkx as nx

        place = {u: int(self.order[u]) for u in ids}
        ordered = sorted(ids, key=place.__getitem__)
        edges = sorted(
            ((p, u) for u in ordered for p in self.links(u) if p in place), key=lambda e: (place[e[0]], place[e[1]])
        )
        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(self.hex(u) for u in ordered)
        g.add_edges_from((self.hex(p), self.hex(u)) for p, u in edges)
        return g

    def values(self, keys: list[str]) -> dict[str, Any]:
        """Decoded values of these drawn nodes, read from A when it holds them, else from B."""
        import pyarrow as pa

        values: dict[str, Any] = {}
        where = [(k, *self._row(self._ids[k])) for k in keys]
        for side in self.sides:
            rows = [(row, k) for k, held, row in where if held is side]
            if not rows or side.values is None:
                continue
            taken = side.values.take(pa.array([row for row, _ in rows], pa.int64())).to_pylist()
            decode = side.log.encoding.decode
            for (_, k), raw in zip(rows, taken):
                values[k] = decode(raw)
        return values


def _last_generations(union: _Union, max_nodes: int) -> tuple[list[list[int]], str]:
    """The trailing generations that fit in ``max_nodes`` (at least one, cut to its last
    ``max_nodes`` nodes), each in change order, and a note when some are left out.

    Only those generations' nodes are sorted; of a cut generation, its last nodes only.
    """
    import numpy as np

    total = union.total
    if total == 0:
        return [], ""
    sizes = np.bincount(union.depth)
    generations = len(sizes)
    kept_sizes: list[int] = []  # from the last generation back
    count = 0
    for d in range(generations - 1, -1, -1):
        size = int(sizes[d])
        if kept_sizes and count + size > max_nodes:
            break
        kept_sizes.append(min(size, max_nodes) if not kept_sizes else size)
        count += kept_sizes[-1]
    low = generations - len(kept_sizes)
    ids = np.flatnonzero(union.depth >= low)
    ids = ids[np.lexsort((union.change[ids], union.depth[ids]))]
    bounds = np.concatenate([[0], np.cumsum(sizes[low:])]).tolist()
    visits = _VisitOrder(union)
    kept: list[list[int]] = []
    for i in range(len(kept_sizes)):
        gen = ids[bounds[i] : bounds[i + 1]]
        last = i == len(kept_sizes) - 1
        if last and len(gen) > max_nodes:  # one more, for a tie across the cut
            gen = gen[-(max_nodes + 1) :]
        kept.append(_break_ties(gen.tolist(), union, visits))
        if last:
            kept[-1] = kept[-1][-max_nodes:]
    if count == total:
        return kept, ""
    return kept, (
        f"showing the last {len(kept):,} of {generations:,} generations "
        f"({count:,} of {total:,} nodes); pass max_nodes= to draw more"
    )


def _break_ties(gen: list[int], union: _Union, visits: _VisitOrder) -> list[int]:
    """A generation sorted by change, with each pair of equal changes (a node of A and
    one only B holds: no more than two share a number) in networkx's visiting order."""
    for i in range(len(gen) - 1):
        x, y = gen[i], gen[i + 1]
        if union.change[x] == union.change[y] and visits.first(y, x):
            gen[i], gen[i + 1] = y, x
    return gen


@dataclass(frozen=True)
class _Needs:
    """A comparison waits on the link visited last of this node (a merge), not found yet."""

    node: int


class _VisitOrder:
    """Which of two nodes of one generation ``nx.topological_generations`` lists first
    over the composed graph (what the drawing keeps between equal change numbers).

    networkx lists the roots in graph order; then, generation after generation, it visits
    each node's children in graph order and lists a child at its last link visited, which
    is its link one generation up visited last. So two nodes of a generation compare as
    those links do, back up the two lines until they meet (graph order decides) or reach
    the roots. Only the pairs asked about are walked, without recursion; results and
    partial walks are kept, so walking the same lines again is a dictionary look-up.
    """

    def __init__(self, union: _Union) -> None:
        self.union = union
        self.last: dict[int, int] = {}  # node -> its link one generation up visited last
        self.known: dict[tuple[int, int], bool] = {}
        self.ahead: dict[tuple[int, int], tuple[int, int]] = {}  # pair -> the pair it was walked to

    def first(self, x: int, y: int) -> bool:
        """True if networkx lists ``x`` before ``y`` (two nodes of one generation)."""
        while True:
            found = self._compare(x, y)
            if isinstance(found, bool):
                return found
            self._find_last(found.node)

    def _up(self, u: int) -> list[int]:
        depth = int(self.union.depth[u])
        return [p for p in self.union.links(u) if int(self.union.depth[p]) == depth - 1]

    def _last_of(self, u: int) -> int | None:
        if u not in self.last:
            up = self._up(u)
            if len(up) > 1:
                return None  # a merge: which link is visited last needs comparing
            self.last[u] = up[0]
        return self.last[u]

    def _compare(self, x: int, y: int) -> bool | _Needs:
        order = self.union.order
        walked: list[tuple[int, int]] = []
        pair = (x, y)
        while True:
            if pair in self.known:
                result = self.known[pair]
                break
            if pair in self.ahead:
                walked.append(pair)
                pair = self.ahead[pair]
                continue
            u, v = pair
            if int(self.union.depth[u]) == 0:
                result = int(order[u]) < int(order[v])
                break
            pu, pv = self._last_of(u), self._last_of(v)
            if pu is None or pv is None:
                for seen in walked:
                    self.ahead[seen] = pair
                return _Needs(u if pu is None else v)
            if pu == pv:  # children of one node: listed in graph order
                result = int(order[u]) < int(order[v])
                break
            walked.append(pair)
            pair = (pu, pv)
        for seen in walked:
            self.known[seen] = result
        self.known[pair] = result
        return result

    def _find_last(self, node: int) -> None:
        """Find which link of the merge ``node`` is visited last (merges above it first)."""
        stack = [node]
        while stack:
            u = stack[-1]
            if u in self.last:
                stack.pop()
                continue
            up = self._up(u)
            best, needs = up[0], None
            for p in up[1:]:
                found = self._compare(best, p)
                if isinstance(found, _Needs):
                    needs = found
                    break
                if found:
                    best = p
            if needs is None:
                self.last[u] = best
                stack.pop()
            else:
                stack.append(needs.node)


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


def _labels(shown: nx.DiGraph, union: _Union, label: Label, wanted: list[str]) -> dict[str, str]:
    """Labels of the ``wanted`` drawn nodes: short keys, a value field, or ``label(value)``."""
    if label is None:
        return {k: k[:6] for k in shown} if len(shown) <= KEY_LABELS_UP_TO else {}
    values = union.values(wanted)
    pick: Callable[[Any], Any] = label if callable(label) else (lambda v: _field(v, label))
    out = {}
    for k in wanted:
        text = pick(values.get(k))
        if text is not None and not (isinstance(text, float) and math.isnan(text)):  # skip None and NaN
            out[k] = str(text)
    return out


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
