"""Nodes that arrive from hyperlog (its wire or its LevelDB files), checked like any other.

hyperlog's ``Node`` messages become segment rows here, and go through the same checks as
nodes from a hyperframe peer (:class:`hyperframe.sync.nodes.Incoming`: the key must hash
from links and value, the value must decode under the log's encoding, every link must be
stored or arrive earlier, identity and signature sizes), plus the origin's (log id, seq).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ProtocolError
from ..keys import HEX_DIGITS, KEY_BYTES, KEY_HEX
from ..store import segments

if TYPE_CHECKING:
    import pyarrow as pa

    from ..sync.nodes import Incoming

#: rows gathered before they are checked as one frame
CHUNK_ROWS = 4096


def hex_key(text: str, what: str = "a node key") -> bytes:
    """One hex key as its 32 raw bytes (``ProtocolError`` if it is not one)."""
    return _hex_keys([text], what)


def _hex_keys(texts: list[str], what: str) -> bytes:
    """Hex keys as their raw bytes, concatenated (one conversion for the lot)."""
    try:
        raw = bytes.fromhex("".join(texts))
    except ValueError:
        raw = b""
    # 64 characters each, giving 32 bytes each: no spaces, no keys run together
    if len(raw) != KEY_BYTES * len(texts) or any(len(text) != KEY_HEX for text in texts):
        bad = next((t for t in texts if len(t) != KEY_HEX or not HEX_DIGITS.issuperset(t.lower())), texts[0])
        raise ProtocolError(f"the hyperlog peer sent {what} {bad[:80]!r}, which is not a 64-digit hex key")
    return raw


@dataclass
class Arrivals:
    """Collect hyperlog nodes, check them in chunks, hand back segment tables to commit."""

    incoming: Incoming
    rows: list[tuple[str, Sequence[str], bytes, bytes | None, bytes | None, str, int]] = field(default_factory=list)

    @classmethod
    def for_log(cls, local_has: Callable[[list[bytes]], set[bytes]], encoding: Any) -> Arrivals:
        from ..sync.nodes import Incoming

        return cls(Incoming(local_has=local_has, undecodable=encoding.undecodable_rows))

    def add(self, node: Any) -> None:
        """Take one parsed ``Node`` message."""
        seq = node.seq
        if not seq:
            raise ProtocolError(f"the hyperlog peer sent node {node.key} without a seq (seqs start at 1)")
        identity = node.identity or None  # unset reads as b"" (an empty identity means none)
        signature = node.signature or None
        # key and links stay hex (converted per chunk in flush); the links are copied so that
        # the message, which holds the value a second time, is not kept until the flush
        self.rows.append((node.key, list(node.links), node.value, identity, signature, node.log, seq))
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Check what was collected (``RejectedNodeError`` / ``ProtocolError`` on a bad node)."""
        from ..sync.nodes import encode_frames

        if not self.rows:
            return
        keys, links, values, identities, signatures, logs, seqs = (list(c) for c in zip(*self.rows, strict=True))
        self.rows = []
        keys = segments.split_keys(_hex_keys(keys, "a node key"))
        flat = segments.split_keys(_hex_keys([link for row in links for link in row], "a link"))
        at, raw_links = 0, []
        for row in links:
            raw_links.append(flat[at : at + len(row)])
            at += len(row)
        table = segments.make_table(keys, raw_links, values, identities, signatures, logs, seqs)
        wrong = segments.check_origin(table)  # log ids, vectorized (seqs are uint32 on the wire)
        if wrong is not None:
            raise ProtocolError(f"the hyperlog peer sent a node with {wrong}; nothing was committed")
        for payload in encode_frames(table, -1, False):
            self.incoming.add(payload)

    def tables(self) -> list[pa.Table]:
        """Every collected node, checked (links too), in arrival order."""
        self.flush()
        self.incoming.check_links()
        return self.incoming.tables()

    def close(self) -> None:
        self.incoming.close()
