"""A node of a log: its key, its links, its value and its change number."""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    """One node. ``change`` is its 1-based position in the log's order.

    >>> Node(key="ab" * 32, links=(), value="hello", change=1).to_dict()["value"]
    'hello'
    """

    key: str
    links: tuple[str, ...]
    value: Any
    change: int
    #: who signed it (an Ed25519 public key) and the signature of its key; None if unsigned
    identity: bytes | None = None
    signature: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; bytes values are base64 text under ``value_base64``."""
        doc: dict[str, Any] = {"key": self.key, "links": list(self.links), "change": self.change}
        if self.identity is not None:
            doc["identity"] = self.identity.hex()
        if self.signature is not None:
            doc["signature"] = self.signature.hex()
        if isinstance(self.value, (bytes, bytearray)):
            import base64

            doc["value_base64"] = base64.b64encode(self.value).decode("ascii")
        else:
            doc["value"] = self.value
        return doc


#: each field's slot setter, in field order
_SETTERS = tuple(getattr(Node, name).__set__ for name in Node.__slots__)


def many_nodes(
    keys: Collection[str],
    links: Iterable[tuple[str, ...]],
    values: Iterable[Any],
    changes: Iterable[int],
    identities: Iterable[bytes | None] | None = None,
    signatures: Iterable[bytes | None] | None = None,
) -> list[Node]:
    """``Node(key, links, value, change, identity, signature)`` for every key (every
    other column has as many items, or more), built one field at a time by
    C loops (``map`` over the slot setters) instead of an ``__init__`` call per node: a
    batch returns one Node per value.

    >>> many_nodes(["ab" * 32], [()], ["v"], [1]) == [Node("ab" * 32, (), "v", 1)]
    True
    """
    nothing = repeat(None)
    columns: tuple[Iterable[Any], ...] = (keys, links, values, changes, identities or nothing, signatures or nothing)
    # the new objects hold no cycle, so a collection meanwhile would free nothing: the
    # collector waits (100k Nodes: ~130 young-generation passes and a full one saved, ~20 ms)
    collecting = gc.isenabled()
    gc.disable()
    try:
        nodes = list(map(object.__new__, repeat(Node, len(keys))))
        for setter, column in zip(_SETTERS, columns, strict=True):
            deque(map(setter, nodes, column), maxlen=0)
    finally:
        if collecting:
            gc.enable()
    return nodes
