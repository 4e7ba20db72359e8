"""Progress bars for long work (loading a big log, replicating, verifying), silenceable.

``tqdm.auto`` picks a widget bar in notebooks and a text bar in terminals. Without tqdm,
a bar that was merely allowed is skipped quietly; one that was asked for explicitly
raises an error naming the extra to install.

The core reports progress through plain ``progress(done, total)`` callbacks
(:func:`hyperframe.replicate`, :func:`hyperframe.verify.verify_log`,
:func:`hyperframe.repair.repair_log`, :meth:`hyperframe.Log.compact`); a
:class:`ProgressCallback` is such a callback that draws. Its bar exists from the moment the
work starts, not from the first count, so the time shown is the whole wait, and a tick
redraws it while no count comes (a replication spends its first seconds working out what
each side lacks: the bar says ``comparing`` meanwhile).

>>> with progress_bar(10, enabled=False) as bar:
...     bar.update(10)
>>> with replication_progress(enabled=False) as report:
...     report(5, 10)
>>> report.state().phase
'receiving'
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self, TextIO

from ._optional import available, require

__all__ = [
    "REPLICATION_PHASES",
    "NullBar",
    "ProgressCallback",
    "ProgressState",
    "ReplicationProgress",
    "progress_bar",
    "replication_progress",
]

REPLICATION_PHASES = ("comparing", "receiving", "writing")
"""What a replication is doing: before the first count (the sides work out what each lacks),
while nodes arrive, and once every expected node has arrived (verified, then committed)."""


class NullBar:
    """Does nothing, with the part of tqdm's interface hyperframe uses."""

    n = 0
    total: int | None = None

    def update(self, n: int = 1) -> None:
        """Ignore progress."""

    def reset(self, total: int | None = None) -> None:
        """Ignore a restart."""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Ignore a status note."""

    def refresh(self) -> None:
        """Nothing to draw."""

    def close(self) -> None:
        """Nothing to close."""


def _tqdm(strict: bool, text: bool = False) -> Any:
    """tqdm.auto's bar class (``text``: always the terminal one), or None without tqdm."""
    module = "tqdm.std" if text else "tqdm.auto"
    if strict:
        return require(module).tqdm
    if not available(module):
        return None
    return require(module).tqdm


@contextmanager
def progress_bar(
    total: int | None,
    *,
    enabled: bool = True,
    desc: str = "",
    unit: str = "it",
    strict: bool = False,
) -> Iterator[Any]:
    """A ``tqdm.auto`` bar, or a :class:`NullBar` when disabled or tqdm is missing.

    ``strict`` (the caller asked for a bar explicitly) makes a missing tqdm an error.
    """
    tqdm = _tqdm(strict) if enabled else None
    bar = NullBar() if tqdm is None else tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)
    try:
        yield bar
    finally:
        bar.close()


@dataclass(frozen=True)
class ProgressState:
    """Where a piece of work stands: counts so far, what it is doing, seconds since it started."""

    done: int
    total: int
    phase: str
    elapsed: float


class ProgressCallback:
    """A ``progress(done, total)`` callback that draws a ``tqdm`` bar from the moment it starts.

    Counts are kept per thread and shown summed (in a sync both sides receive, each in its
    own thread). The bar is created by :meth:`start` (``with`` starts it too; otherwise the
    first count does), so its clock counts the whole wait; every ``tick`` seconds it is
    redrawn, so the time moves while no count comes. ``phases`` name what the work is doing
    before the first total, while counts come, and once ``done`` reaches ``total``; they
    appear after the bar. ``on_update`` is called with a :class:`ProgressState` at every
    count and tick (the merge widget draws its own bar with it). ``file`` and
    ``bar_options`` go to tqdm; ``text`` picks tqdm's terminal bar even in a notebook. Close it (or use
    ``with``) when the work ends.

    >>> seen = []
    >>> with ProgressCallback(enabled=False, on_update=seen.append, tick=0) as progress:
    ...     progress(0, 4)
    ...     progress(4, 4)
    >>> [(s.done, s.total) for s in seen], progress.done, progress.total
    ([(0, 0), (0, 4), (4, 4)], 4, 4)
    """

    def __init__(
        self,
        *,
        enabled: bool | None = None,
        desc: str = "",
        unit: str = "it",
        strict: bool = False,
        phases: tuple[str, str, str] = ("", "", ""),
        on_update: Callable[[ProgressState], None] | None = None,
        file: TextIO | None = None,
        text: bool = False,
        tick: float = 0.5,
        bar_options: dict[str, Any] | None = None,
    ) -> None:
        self._tqdm = _tqdm(strict or bool(enabled), text) if enabled is not False else None
        self._desc, self._unit, self._phases = desc, unit, phases
        self._on_update = on_update
        self._options: dict[str, Any] = {} if file is None else {"file": file}
        self._options.update(bar_options or {})
        self._tick = tick
        self._bar: Any = None
        self._shown_total = 0
        self._parts: dict[int, tuple[int, int]] = {}
        self._lock = threading.RLock()
        self._started: float | None = None
        self._closed = False
        self._stop = threading.Event()

    @property
    def done(self) -> int:
        return sum(d for d, _ in self._parts.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self._parts.values())

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start` (0 before)."""
        return 0.0 if self._started is None else time.monotonic() - self._started

    def state(self) -> ProgressState:
        """The counts, the phase and the time so far."""
        done, total = self.done, self.total
        phase = self._phases[0] if not total else self._phases[1] if done < total else self._phases[2]
        return ProgressState(done, total, phase, self.elapsed)

    def start(self) -> Self:
        """Start the clock and show the bar now (once; later calls do nothing)."""
        with self._lock:
            if self._started is not None or self._closed:
                return self
            self._started = time.monotonic()
            if self._tqdm is not None:
                self._bar = self._tqdm(desc=self._desc, unit=self._unit, unit_scale=True, leave=False, **self._options)
            if self._tick > 0 and (self._bar is not None or self._on_update is not None):
                ticker = threading.Thread(
                    target=_tick, args=(weakref.ref(self), self._stop, self._tick), name="progress-tick", daemon=True
                )
                ticker.start()
            self._draw()
        return self

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._parts[threading.get_ident()] = (done, total)
            if self._started is None:
                self.start()
            else:
                self._draw()

    def _draw(self) -> None:
        with self._lock:
            if self._closed:
                return
            state = self.state()
            bar = self._bar
            if bar is not None:
                if state.total != self._shown_total:
                    # reset() is how a notebook bar learns its total; it restarts tqdm's clock, so keep ours
                    started, self._shown_total = bar.start_t, state.total
                    bar.reset(total=state.total or None)
                    bar.start_t = started
                bar.n = state.done
                if state.phase:
                    bar.set_postfix_str(state.phase, refresh=False)
                bar.refresh()
            if self._on_update is not None:
                self._on_update(state)

    def close(self) -> None:
        """Stop the tick and remove the bar; counts stay readable."""
        self._stop.set()
        with self._lock:
            self._closed = True
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tick(ref: weakref.ref[ProgressCallback], stop: threading.Event, every: float) -> None:
    """Redraw the bar every ``every`` s until it is closed (or forgotten: a weak reference)."""
    while not stop.wait(every):
        progress = ref()
        if progress is None:
            return
        progress._draw()
        del progress


class ReplicationProgress(ProgressCallback):
    """A ``progress(done, total)`` callback for :func:`hyperframe.replicate` that draws a bar.

    Nodes received, summed over both sides of a sync; the bar says ``comparing`` until the
    sides know what each lacks, then ``receiving``, then ``writing`` (see
    :data:`REPLICATION_PHASES`).

    >>> with replication_progress(enabled=False) as progress:
    ...     progress(3, 10)
    >>> progress.done, progress.total
    (3, 10)
    """

    def __init__(
        self,
        *,
        enabled: bool | None = None,
        desc: str = "replicating",
        strict: bool = False,
        on_update: Callable[[ProgressState], None] | None = None,
        file: TextIO | None = None,
        text: bool = False,
        tick: float = 0.5,
    ) -> None:
        super().__init__(
            enabled=enabled,
            desc=desc,
            unit="node",
            strict=strict,
            phases=REPLICATION_PHASES,
            on_update=on_update,
            file=file,
            text=text,
            tick=tick,
        )


def replication_progress(
    *,
    enabled: bool | None = None,
    desc: str = "replicating",
    strict: bool = False,
    on_update: Callable[[ProgressState], None] | None = None,
    file: TextIO | None = None,
    text: bool = False,
) -> ReplicationProgress:
    """A progress callback for :func:`hyperframe.replicate`: ``tqdm.auto`` when installed.

    ``enabled=None`` draws a bar if tqdm is there; True insists; False draws nothing.
    Use it with ``with`` so the bar starts before the replication does.
    """
    return ReplicationProgress(enabled=enabled, desc=desc, strict=strict, on_update=on_update, file=file, text=text)
