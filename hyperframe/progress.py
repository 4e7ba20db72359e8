"""Progress bars for long work (loading a big log, replicating), silenceable.

``tqdm.auto`` picks a widget bar in notebooks and a text bar in terminals. Without tqdm,
a bar that was merely allowed is skipped quietly; one that was asked for explicitly
raises an error naming the extra to install.

>>> with progress_bar(10, enabled=False) as bar:
...     bar.update(10)
>>> with replication_progress(enabled=False) as report:
...     report(5, 10)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

from ._optional import available, require

__all__ = ["NullBar", "ReplicationProgress", "progress_bar", "replication_progress"]


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


def _tqdm(strict: bool) -> Any:
    if strict:
        return require("tqdm.auto").tqdm
    if not available("tqdm.auto"):
        return None
    from tqdm.auto import tqdm

    return tqdm


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


class ReplicationProgress:
    """A ``progress(done, total)`` callback for :func:`hyperframe.replicate` that draws a bar.

    In a sync both sides receive, each from its own thread, so counts are kept per
    thread and the bar shows their sum. Close it (or use ``with``) when replication ends.

    >>> with replication_progress(enabled=False) as progress:
    ...     progress(3, 10)
    >>> progress.done, progress.total
    (3, 10)
    """

    def __init__(self, *, enabled: bool | None = None, desc: str = "replicating", strict: bool = False) -> None:
        self._tqdm = _tqdm(strict or bool(enabled)) if enabled is not False else None
        self._desc = desc
        self._bar: Any = None
        self._parts: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    @property
    def done(self) -> int:
        return sum(d for d, _ in self._parts.values())

    @property
    def total(self) -> int:
        return sum(t for _, t in self._parts.values())

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self._parts[threading.get_ident()] = (done, total)
            if self._tqdm is None:
                return
            if self._bar is None:
                self._bar = self._tqdm(desc=self._desc, unit="node", unit_scale=True, leave=False)
            self._bar.total = self.total
            self._bar.n = self.done
            self._bar.refresh()

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def replication_progress(
    *, enabled: bool | None = None, desc: str = "replicating", strict: bool = False
) -> ReplicationProgress:
    """A progress callback for :func:`hyperframe.replicate`: ``tqdm.auto`` when installed.

    ``enabled=None`` draws a bar if tqdm is there; True insists; False draws nothing.
    """
    return ReplicationProgress(enabled=enabled, desc=desc, strict=strict)
