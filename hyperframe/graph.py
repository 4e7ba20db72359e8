"""The log as a networkx DAG, built only when asked for.

Edges run from a link (the earlier node) to the node that links it, so
``networkx.ancestors(g, key)`` is a node's history and ``topological_sort`` is a causal
order. Every node carries its ``change`` number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx
    import pyarrow as pa


def build_graph(table: pa.Table) -> nx.DiGraph:
    """Build the DAG from a table with ``key`` and ``links`` columns in change order."""
    import networkx as nx

    keys = [k.hex() for k in table.column("key").to_pylist()]
    links = table.column("links").to_pylist()
    g: nx.DiGraph = nx.DiGraph()
    g.add_nodes_from((k, {"change": i}) for i, k in enumerate(keys, start=1))
    g.add_edges_from((link.hex(), k) for k, ls in zip(keys, links) for link in ls)
    return g
