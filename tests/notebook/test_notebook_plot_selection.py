"""The plot draws exactly what the whole-graph computation drew, without building it.

The drawing used to compose both logs' networkx graphs, split everything into
``nx.topological_generations`` (each sorted by change number) and keep the last ones. It
now works out generations from the logs' columns and builds a graph of the drawn nodes
only. ``drawn_from_the_whole_graph`` below is the old computation; random DAGs (shared
history, diamonds, several roots, each log in its own order, equal change numbers on both
sides) are drawn both ways and every visible property of the figures is compared.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
nx = pytest.importorskip("networkx")

from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import hyperframe  # noqa: E402
from hyperframe import graph as graph_module  # noqa: E402
from hyperframe.notebook.plot import COLORS, _order_layers, plot, plot_diff  # noqa: E402

# --- random logs ------------------------------------------------------------------------


def _random_dag(rng: random.Random, n: int) -> tuple[list[list[int]], list[str]]:
    """Links (indices of earlier nodes) and owners ("s" shared, "a", "b") of ``n`` nodes.

    Shared nodes link shared ones; a side's own nodes link shared ones or its own. Some
    nodes are roots, some link two or three (diamonds and merges).
    """
    links: list[list[int]] = []
    owners: list[str] = []
    for i in range(n):
        owner = "s" if i < n // 2 or rng.random() < 0.2 else rng.choice("ab")
        allowed = [j for j in range(i) if owners[j] in ("s", owner)]
        width = rng.choice([0, 1, 1, 1, 2, 2, 3]) if allowed else 0
        if rng.random() < 0.1:
            width = 0  # another root
        links.append(sorted(rng.sample(allowed, min(width, len(allowed)))))
        owners.append(owner)
    return links, owners


def _random_order(rng: random.Random, links: list[list[int]]) -> list[int]:
    """A random topological order (each node after its links)."""
    children: dict[int, list[int]] = {i: [] for i in range(len(links))}
    waiting = {i: len(set(ls)) for i, ls in enumerate(links)}
    for i, ls in enumerate(links):
        for j in set(ls):
            children[j].append(i)
    ready = [i for i, w in waiting.items() if w == 0]
    order = []
    while ready:
        i = ready.pop(rng.randrange(len(ready)))
        order.append(i)
        for c in children[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                ready.append(c)
    return order


def _write(log: hyperframe.Log, links: list[list[int]], order: list[int]) -> None:
    """Add the nodes of ``order`` to ``log``, in that order, in one batch."""
    encode = log.encoding.encode
    keys: dict[int, str] = {}
    docs = []
    for i in order:
        value = {"i": i}
        ls = [keys[j] for j in links[i]]
        keys[i] = hyperframe.node_key(encode(value), ls)
        docs.append({"value": value, "links": ls})
    if docs:
        log.batch(docs)


def _pair(tmp_path: Path, seed: int, n: int) -> tuple[hyperframe.Log, hyperframe.Log]:
    """Two logs sharing history, each holding it in its own order, with nodes of their own."""
    rng = random.Random(seed)
    links, owners = _random_dag(rng, n)
    a = hyperframe.open(tmp_path / f"a{seed}", encoding="json")
    b = hyperframe.open(tmp_path / f"b{seed}", encoding="json")
    for log, side in ((a, "a"), (b, "b")):
        order = [i for i in _random_order(rng, links) if owners[i] in ("s", side)]
        _write(log, links, order)  # shared nodes get the same keys on both sides
    return a, b


# --- the old computation ----------------------------------------------------------------


def drawn_from_the_whole_graph(
    a: hyperframe.Log, b: hyperframe.Log | None, max_nodes: int, diff: Any = None
) -> dict[str, Any]:
    """What the plot drew before: from the whole composed graph and all its generations."""
    graph = a.graph if b is None else nx.compose(b.graph, a.graph)
    generations = [sorted(g, key=lambda k: graph.nodes[k]["change"]) for g in nx.topological_generations(graph)]
    kept: list[list[str]] = []
    count = 0
    for gen in reversed(generations):
        if kept and count + len(gen) > max_nodes:
            break
        kept.append(gen[-max_nodes:] if not kept else gen)
        count += len(kept[-1])
    kept.reverse()
    note = (
        ""
        if count == len(graph)
        else (
            f"showing the last {len(kept):,} of {len(generations):,} generations "
            f"({count:,} of {len(graph):,} nodes); pass max_nodes= to draw more"
        )
    )
    layers = _order_layers(graph, kept)
    shown = graph.subgraph([k for layer in layers.values() for k in layer])
    pos = nx.multipartite_layout(shown, subset_key=layers) if len(shown) else {}
    heads = set(a.heads()) | (set(b.heads()) if b is not None else set())
    if diff is not None:
        only_a, only_b = set(diff.only_in_a), set(diff.only_in_b)
    elif b is not None:
        only_a, only_b = set(a.graph) - set(b.graph), set(b.graph) - set(a.graph)
    else:
        only_a = only_b = set()

    def colour(k: str) -> str:
        if b is None:
            return COLORS["log"]
        return COLORS["only_a"] if k in only_a else COLORS["only_b"] if k in only_b else COLORS["shared"]

    if b is None:
        legend = ["head"]
    else:
        shared = len(graph) - len(only_a) - len(only_b)
        legend = [f"only in A ({len(only_a):,})", f"only in B ({len(only_b):,})", f"shared ({shared:,})", "head"]
    at = {k: (float(pos[k][0]), float(pos[k][1])) for k in shown}
    return {
        "at": at,
        "nodes": sorted((at[k], colour(k), 2.5 if k in heads else 0.5) for k in shown),
        "edges": sorted((at[u], at[v]) for u, v in shown.edges()),
        "heads": heads,
        "layers": list(layers.values()),
        "note": note,
        "legend": legend,
        "size": len(graph),
    }


def drawn(fig: Figure) -> dict[str, Any]:
    """The same properties, read off a figure; texts with where they are."""
    ax = fig.axes[0]
    scatter = [c for c in ax.collections if isinstance(c, PathCollection)]
    lines = [c for c in ax.collections if isinstance(c, LineCollection) and not isinstance(c, PathCollection)]
    nodes = []
    if scatter:
        offsets = [(float(x), float(y)) for x, y in scatter[0].get_offsets()]
        colours = [to_hex(c) for c in scatter[0].get_facecolors()]
        nodes = sorted(zip(offsets, colours, [float(w) for w in scatter[0].get_linewidths()]))
    edges = [tuple((float(x), float(y)) for x, y in s) for s in lines[0].get_segments()] if lines else []
    return {
        "nodes": nodes,
        "edges": sorted(edges),
        "labels": {
            tuple(float(x) for x in t.get_position()): t.get_text()
            for t in ax.texts
            if t.get_transform() != ax.transAxes
        },
        "notes": [t.get_text() for t in ax.texts if t.get_transform() == ax.transAxes],
        "legend": [t.get_text() for t in ax.get_legend().get_texts()],
        "title": ax.get_title(),
    }


def _assert_same(fig: Figure, old: dict[str, Any], labels: dict[str, str] | None = None) -> None:
    """Same nodes at the same places (so the same layers, in the same order), same colours,
    outlines, arrows, labels, note, legend and title size."""
    new = drawn(fig)
    assert new["nodes"] == old["nodes"]
    assert new["edges"] == old["edges"]
    assert new["legend"] == old["legend"]
    if labels is None:  # short keys, up to 30 nodes
        labels = {k: k[:6] for k in old["at"]} if len(old["at"]) <= 30 else {}
    assert new["labels"] == {old["at"][k]: text for k, text in labels.items()}
    assert new["notes"] == ([old["note"]] if old["note"] else [])
    assert f"{old['size']:,} nodes" in new["title"]


def _i(*logs: hyperframe.Log) -> dict[str, str]:
    """Each node's value field ``i`` as text, by key."""
    return {n.key: str(n.value["i"]) for log in logs for n in log}


# --- the comparisons --------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(24))
def test_random_pairs_are_drawn_as_from_the_whole_graph(tmp_path: Path, seed: int) -> None:
    n = random.Random(seed).randrange(8, 70)
    a, b = _pair(tmp_path, seed, n)
    values = _i(a, b)
    for max_nodes in (1, 3, 7, 12, 25, 300):
        old = drawn_from_the_whole_graph(a, b, max_nodes)
        _assert_same(plot(a, other=b, max_nodes=max_nodes), old)
        _assert_same(plot(a, other=b, max_nodes=max_nodes, label="i"), old, {k: values[k] for k in old["at"]})
        _assert_same(plot(b, other=a, max_nodes=max_nodes), drawn_from_the_whole_graph(b, a, max_nodes))
        alone = drawn_from_the_whole_graph(a, None, max_nodes)
        _assert_same(plot(a, max_nodes=max_nodes, label=lambda v: v["i"]), alone, {k: values[k] for k in alone["at"]})
    d = hyperframe.diff(a, b)
    _assert_same(plot_diff(d, max_nodes=9), drawn_from_the_whole_graph(a, b, 9, diff=d))


def test_equal_change_numbers_on_both_sides_keep_the_old_order(tmp_path: Path) -> None:
    """Each side adds nodes of its own at the same change numbers, in the same generations."""
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="json")
    root = a.add({"root": True})
    b.add({"root": True})
    for log, side in ((a, "a"), (b, "b")):
        docs: list[dict[str, Any]] = [
            {"value": {side: j}, "links": [root.key] if j % 3 == 0 else []} for j in range(12)
        ]
        log.batch(docs)
    old = drawn_from_the_whole_graph(a, b, 300)
    assert len(old["layers"][0]) == 1 + 8 + 8  # roots tie pairwise: 2..9 on each side
    _assert_same(plot(a, other=b), old)
    _assert_same(plot(a, other=b, max_nodes=9), drawn_from_the_whole_graph(a, b, 9))


def _braid(log: hyperframe.Log, root: str, side: str, n: int) -> None:
    """Two interleaved chains from ``root`` (node i links i-2) merged every fifth node."""
    encode = log.encoding.encode
    keys: list[str] = []
    docs = []
    for i in range(n):
        if i < 2:
            links = [root]
        elif i % 5 == 0:
            links = [keys[i - 2], keys[i - 1]]
        else:
            links = [keys[i - 2]]
        value = {side: i}
        keys.append(hyperframe.node_key(encode(value), links))
        docs.append({"value": value, "links": links})
    log.batch(docs)


def test_long_tied_lines_are_walked_back_without_recursion(tmp_path: Path) -> None:
    """Every generation ties, and telling the two sides apart walks back to the root."""
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="json")
    root = a.add({"root": 0})
    b.add({"root": 0})
    _braid(a, root.key, "a", 3000)
    _braid(b, root.key, "b", 3000)
    for max_nodes in (40, 300):
        old = drawn_from_the_whole_graph(a, b, max_nodes)
        assert old["note"]  # only the last generations
        _assert_same(plot(a, other=b, max_nodes=max_nodes), old)


def test_above_two_hundred_nodes_only_heads_are_labelled(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, 7, 400)
    old = drawn_from_the_whole_graph(a, b, 250)
    assert len(old["at"]) > 200
    values = _i(a, b)
    fig = plot(a, other=b, max_nodes=250, label="i")
    old["note"] = (old["note"] + "; " if old["note"] else "") + "labels on heads only above 200 nodes"
    _assert_same(fig, old, {k: values[k] for k in old["at"] if k in old["heads"]})


def test_only_drawn_nodes_become_a_graph_and_only_their_values_are_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    a.batch([{"value": {"i": i}, "links": None} for i in range(2000)])  # a chain: 2,000 generations

    def refuse(*_: Any) -> Any:
        raise AssertionError("the whole log's graph was built")

    monkeypatch.setattr(graph_module, "build_graph", refuse)
    decoded: list[bytes] = []
    real = a.encoding
    counting = dataclasses.replace(real, decode=lambda raw: decoded.append(raw) or real.decode(raw))
    monkeypatch.setattr(hyperframe.Log, "encoding", property(lambda _: counting))
    fig = plot(a, max_nodes=25, label="i")
    assert set(drawn(fig)["labels"].values()) == {str(i) for i in range(1975, 2000)}
    assert len(decoded) == 25
