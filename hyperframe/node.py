"""A node of a log: its key, its links, its value and its change number."""

from __future__ import annotations

import base64
from dataclasses import dataclass
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
            doc["value_base64"] = base64.b64encode(self.value).decode("ascii")
        else:
            doc["value"] = self.value
        return doc
