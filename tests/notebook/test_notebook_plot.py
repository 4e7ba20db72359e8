"""The causal-graph plot: layers, arrows, heads, labels, diff colours, summaries, files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

import hyperframe  # noqa: E402
from hyperframe.notebook.plot import COLORS, plot, plot_diff, save_graph  # noqa: E402


def _nodes(fig: Figure) -> PathCollection:
    (scatter,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    return scatter


def _chain(log: hyperframe.Log, n: int, start: int = 0) -> None:
    docs = []
    for i in range(start, start + n):
        value = {"i": i, "kind": "even" if i % 2 == 0 else "odd", "nested": {"tag": f"t{i}"}}
        docs.append({"value": value, "links": None})
    log.batch(docs)


@pytest.fixture
def diamond(json_log: hyperframe.Log) -> hyperframe.Log:
    root = json_log.add({"species": "Adelie", "bill": {"length_mm": 39}})
    left = json_log.add({"species": "Gentoo", "bill": {"length_mm": 47}}, links=[root.key])
    right = json_log.add({"species": "Chinstrap"}, links=[root.key])
    json_log.add({"species": "Adelie"}, links=[left.key, right.key])
    json_log.add({"species": "lone"})
    return json_log


def test_plot_returns_a_figure_with_nodes_arrows_and_heads(diamond: hyperframe.Log) -> None:
    fig = diamond.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(_nodes(fig).get_offsets()) == 5
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection) and not isinstance(c, PathCollection)]
    assert len(lines.get_segments()) == 4  # one line per link
    (arrows,) = [c for c in ax.collections if isinstance(c, Quiver)]
    assert arrows.N == 4  # one arrowhead per link
    widths = list(_nodes(fig).get_linewidths())
    assert widths.count(2.5) == 2  # the two heads are outlined
    assert "2 heads" in ax.get_title() and "5 nodes" in ax.get_title()
    # small graphs get short-key labels by default
    assert {t.get_text() for t in ax.texts} == {k[:6] for k in diamond.graph}


def test_layers_follow_generations(diamond: hyperframe.Log) -> None:
    fig = diamond.plot()
    xs = sorted({round(float(x), 6) for x, _ in _nodes(fig).get_offsets()})
    assert len(xs) == 3  # roots, then left/right, then the merge


def test_labels_from_a_field_a_nested_field_or_a_function(diamond: hyperframe.Log) -> None:
    texts = [t.get_text() for t in diamond.plot(label="species").axes[0].texts]
    assert sorted(texts) == ["Adelie", "Adelie", "Chinstrap", "Gentoo", "lone"]
    nested = [t.get_text() for t in diamond.plot(label="bill.length_mm").axes[0].texts]
    assert sorted(nested) == ["39", "47"]  # nodes without the field get no label
    fn = [t.get_text() for t in diamond.plot(label=lambda v: v["species"][:2]).axes[0].texts]
    assert sorted(fn) == ["Ad", "Ad", "Ch", "Ge", "lo"]


def test_big_graphs_are_summarised_with_a_note(json_log: hyperframe.Log) -> None:
    _chain(json_log, 400)
    fig = json_log.plot(max_nodes=120)
    assert len(_nodes(fig).get_offsets()) == 120
    notes = [t.get_text() for t in fig.axes[0].texts if "showing" in t.get_text()]
    assert notes == ["showing the last 120 of 400 generations (120 of 400 nodes); pass max_nodes= to draw more"]
    assert not [t for t in fig.axes[0].texts if "showing" not in t.get_text()]  # no key labels at this size


def test_diff_colours_only_in_a_only_in_b_and_shared(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="json")
    _chain(a, 3)
    _chain(b, 3)
    _chain(a, 2, start=100)
    _chain(b, 4, start=200)
    fig = a.plot(other=b)
    colours = [to_hex(c) for c in _nodes(fig).get_facecolors()]
    assert colours.count(COLORS["shared"]) == 3
    assert colours.count(COLORS["only_a"]) == 2
    assert colours.count(COLORS["only_b"]) == 4
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["only in A (2)", "only in B (4)", "shared (3)", "head"]
    same = plot_diff(hyperframe.diff(a, b))
    assert sorted(to_hex(c) for c in _nodes(same).get_facecolors()) == sorted(colours)
    assert "A: a" in same.axes[0].get_title() and "B: b" in same.axes[0].get_title()


def test_plot_takes_a_directory_and_an_axes(diamond: hyperframe.Log) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert plot(str(diamond.path), ax=ax, title="mine") is fig
        assert ax.get_title() == "mine"
    finally:
        plt.close(fig)


def test_save_graph_writes_png_and_svg(diamond: hyperframe.Log, tmp_path: Path) -> None:
    png = save_graph(diamond.path, tmp_path / "graph.png", label="species")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_graph(diamond, tmp_path / "graph.svg")
    assert b"<svg" in svg.read_bytes()[:500]


def test_bad_max_nodes_and_empty_log(log: hyperframe.Log) -> None:
    with pytest.raises(hyperframe.UsageError):
        log.plot(max_nodes=0)
    fig = log.plot()
    assert "0 nodes" in fig.axes[0].get_title()


def test_plot_does_not_leave_figures_open(diamond: hyperframe.Log) -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    for _ in range(25):  # more than matplotlib's 20-open-figures warning
        diamond.plot()
    assert len(plt.get_fignums()) == before


def test_five_hundred_nodes_draw_quickly(json_log: hyperframe.Log) -> None:
    docs = []
    keys: list[str] = []
    for i in range(500):
        links = keys[-2:] if i % 7 == 0 else keys[-1:]
        value = {"i": i, "species": ["Adelie", "Gentoo", "Chinstrap"][i % 3]}
        docs.append({"value": value, "links": links})
        keys.append(hyperframe.node_key(json_log.encoding.encode(value), links))
    json_log.batch(docs)
    assert json_log.graph  # the graph is built once per log version, as it would be in a notebook
    start = time.perf_counter()
    fig = json_log.plot(label="species", max_nodes=500)
    elapsed = time.perf_counter() - start
    assert len(_nodes(fig).get_offsets()) == 500
    assert elapsed < 4.0  # target 2 s; benchmarks/bench_notebook.py reports the figure
