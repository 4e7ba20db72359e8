"""What a replication did: one side's report, and both sides' together.

Light on purpose (no numpy, no pyarrow): the CLI and ``hyperframe.sync`` import it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Progress", "ReplicationReport", "SideReport"]

#: ``progress(done, total)``: nodes received so far, of how many expected
Progress = Callable[[int, int], None]


@dataclass
class SideReport:
    """What one side did."""

    path: str
    mode: str
    sent: int = 0
    received: int = 0  # new nodes committed
    duplicates: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    legs: int = 0
    seconds: float = 0.0
    identical: bool = False
    strategy: str = ""
    nodes_after: int = 0
    fingerprint_after: str = ""

    @property
    def round_trips(self) -> int:
        return (self.legs + 1) // 2

    def summary(self) -> str:
        return (
            f"{self.path}: sent {self.sent}, received {self.received} new node(s); "
            f"{self.bytes_out} B out, {self.bytes_in} B in, {self.round_trips} round trip(s), "
            f"{self.seconds:.2f} s; now {self.nodes_after} nodes"
        )


@dataclass
class ReplicationReport:
    """What a replication did, both ways."""

    mode: str
    sent_a_to_b: int
    sent_b_to_a: int
    bytes_a_to_b: int
    bytes_b_to_a: int
    round_trips: int
    seconds: float
    nodes_a: int
    nodes_b: int
    strategy: str = ""
    sides: tuple[SideReport, SideReport] | None = field(default=None, repr=False)

    @property
    def bytes_total(self) -> int:
        return self.bytes_a_to_b + self.bytes_b_to_a

    def summary(self) -> str:
        return (
            f"{self.mode}: {self.sent_a_to_b} node(s) A→B, {self.sent_b_to_a} B→A; "
            f"{self.bytes_total:,} bytes, {self.round_trips} round trip(s), {self.seconds:.2f} s; "
            f"A has {self.nodes_a}, B has {self.nodes_b}"
        )

    def _repr_html_(self) -> str:
        import html

        return f"<b>hyperframe replication</b>: {html.escape(self.summary())}"
