"""Replication: two logs exchange hash manifests and send only what the other lacks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError
from .modes import MODES, OPPOSITE, Mode
from .report import Progress, ReplicationReport

if TYPE_CHECKING:
    from ..log import Log, LogLike
    from ..node import Node

DEFAULT_TIMEOUT = 60.0


def replicate(
    a: LogLike,
    b: LogLike,
    mode: Mode = "sync",
    *,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    progress: Progress | None = None,
    process: Callable[[Node], object] | None = None,
    live: bool = False,
    stop: Callable[[], bool] | None = None,
) -> ReplicationReport:
    """Replicate two logs in this process: afterwards (``sync``) both hold the union.

    ``mode="push"`` sends A's nodes to B only; ``"pull"`` brings B's nodes to A only.
    ``timeout`` bounds the peer's silence, ``deadline`` the whole session (default 60 x
    timeout). ``process(node)`` is called for each received node before commit (raising
    refuses the transfer, nothing committed). ``live=True`` keeps both sides replicating
    what either commits afterwards until ``stop()`` is true (or Ctrl-C).

    >>> import hyperframe, tempfile
    >>> a, b = hyperframe.open(tempfile.mkdtemp()), hyperframe.open(tempfile.mkdtemp())
    >>> _ = a.add("hello"); _ = b.add("hi")
    >>> report = hyperframe.replicate(a, b)
    >>> (report.sent_a_to_b, report.sent_b_to_a, len(a), len(b))
    (1, 1, 2, 2)
    """
    from ..log import as_log
    from .transport import run_pair

    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    log_a, log_b = as_log(a), as_log(b)
    start = time.perf_counter()
    ra, rb = run_pair(
        log_a.replica(process=process),
        log_b.replica(process=process),
        mode_a=mode,
        mode_b=OPPOSITE[mode],
        timeout=timeout,
        deadline=deadline,
        progress=progress,
        live=live,
        stop=stop,
    )
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
    """Compare two logs' key sets; nothing is changed.

    A path where no log is raises :class:`~hyperframe.NotALogError` (a typo is not an empty
    log); a :class:`~hyperframe.Log` not written yet counts as empty.
    """
    import pyarrow.compute as pc

    from ..log import as_log
    from ..store import segments

    log_a, log_b = as_log(a, must_exist=True), as_log(b, must_exist=True)
    keys_a = log_a.replica().keys()
    keys_b = log_b.replica().keys()
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
