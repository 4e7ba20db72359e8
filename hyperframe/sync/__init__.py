"""Replication: two logs exchange hash manifests and send only what the other lacks."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from ..errors import UsageError
from .session import MODES, Progress, SideReport

if TYPE_CHECKING:
    from ..log import Log

LogLike = Union["Log", str, "os.PathLike[str]"]
DEFAULT_TIMEOUT = 60.0


def _as_log(log: LogLike) -> Log:
    from ..log import Log

    return log if isinstance(log, Log) else Log(log)


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


def replicate(
    a: LogLike,
    b: LogLike,
    mode: str = "sync",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> ReplicationReport:
    """Replicate two logs in this process: afterwards (``sync``) both hold the union.

    ``mode="push"`` sends A's nodes to B only; ``"pull"`` brings B's nodes to A only.

    >>> import hyperframe, tempfile
    >>> a, b = hyperframe.open(tempfile.mkdtemp()), hyperframe.open(tempfile.mkdtemp())
    >>> _ = a.add("hello"); _ = b.add("hi")
    >>> report = hyperframe.replicate(a, b)
    >>> (report.sent_a_to_b, report.sent_b_to_a, len(a), len(b))
    (1, 1, 2, 2)
    """
    from .transport import run_pair

    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    log_a, log_b = _as_log(a), _as_log(b)
    mode_b = {"sync": "sync", "push": "pull", "pull": "push"}[mode]
    start = time.perf_counter()
    ra, rb = run_pair(log_a, log_b, mode_a=mode, mode_b=mode_b, timeout=timeout, progress=progress)
    return ReplicationReport(
        mode=mode,
        sent_a_to_b=ra.sent,
        sent_b_to_a=rb.sent,
        bytes_a_to_b=ra.bytes_out,
        bytes_b_to_a=rb.bytes_out,
        round_trips=max(ra.round_trips, rb.round_trips),
        seconds=time.perf_counter() - start,
        nodes_a=ra.nodes_after,
        nodes_b=rb.nodes_after,
        strategy=rb.strategy or ra.strategy,
        sides=(ra, rb),
    )


@dataclass
class Diff:
    """What each of two logs lacks, computed without changing either.

    >>> import hyperframe, tempfile
    >>> a, b = hyperframe.open(tempfile.mkdtemp()), hyperframe.open(tempfile.mkdtemp())
    >>> _ = a.add("hello")
    >>> d = hyperframe.diff(a, b)
    >>> len(d.only_in_a), len(d.only_in_b)
    (1, 0)
    """

    a: Log
    b: Log
    only_in_a: list[str]  # keys B lacks, in A's change order
    only_in_b: list[str]  # keys A lacks, in B's change order
    shared: int

    @property
    def identical(self) -> bool:
        return not self.only_in_a and not self.only_in_b

    def summary(self) -> str:
        return (
            f"{self.a.path} has {len(self.only_in_a)} node(s) {self.b.path} lacks; "
            f"{self.b.path} has {len(self.only_in_b)} node(s) {self.a.path} lacks; {self.shared} shared"
        )

    def __repr__(self) -> str:
        return f"<hyperframe.Diff {self.summary()}>"

    def _repr_html_(self) -> str:
        try:
            from ..notebook.display import diff_html

            return diff_html(self)
        except Exception as exc:  # a display must never break a notebook
            import html

            return f"<pre>{html.escape(self.summary())}\n(display failed: {html.escape(repr(exc))})</pre>"


def diff(a: LogLike, b: LogLike) -> Diff:
    """Compare two logs' key sets; nothing is changed."""
    import pyarrow.compute as pc

    from ..store import segments

    log_a, log_b = _as_log(a), _as_log(b)
    keys_a = log_a._keys_now().all_keys()
    keys_b = log_b._keys_now().all_keys()
    in_b = pc.is_in(keys_a, value_set=segments.one_array(keys_b)) if len(keys_a) else keys_a
    in_a = pc.is_in(keys_b, value_set=segments.one_array(keys_a)) if len(keys_b) else keys_b
    only_a = keys_a.filter(pc.invert(in_b)) if len(keys_a) else keys_a
    only_b = keys_b.filter(pc.invert(in_a)) if len(keys_b) else keys_b
    return Diff(
        log_a,
        log_b,
        [k.hex() for k in only_a.to_pylist()],
        [k.hex() for k in only_b.to_pylist()],
        len(keys_a) - len(only_a),
    )


__all__ = ["Diff", "ReplicationReport", "diff", "replicate"]
