"""Progress bars for the commands where the wait is: on stderr, only on a terminal.

``sync``, ``merge``, ``replicate``, ``compact``, ``verify`` and ``repair`` take ``--quiet``
(:data:`quiet_option`) and wrap their work in :func:`progress_bar`, which yields a
``progress(done, total)`` callback for the core call, or None when no bar is wanted: stderr
is not a terminal (a pipe, a file, CI, a notebook's ``!`` cell), ``--quiet`` was given, or
tqdm is not installed. stdout never sees a bar (``replicate`` carries protocol bytes there).

The bar starts when the command's work starts, so its clock is the whole wait; it says what
the work is doing while no count comes (see :mod:`hyperframe.progress`, which imports
tqdm only when a bar is drawn).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import click

__all__ = ["bars_wanted", "progress_bar", "quiet_option", "replication_bar"]

F = TypeVar("F", bound=Callable[..., Any])


def quiet_option(command: F) -> F:
    """``--quiet`` / ``-q`` (parameter ``quiet``): no progress bar."""
    return click.option(
        "--quiet",
        "-q",
        is_flag=True,
        help="No progress bar on stderr (there is none when stderr is not a terminal).",
    )(command)


def bars_wanted(quiet: bool) -> bool:
    """True when a bar would be seen: stderr is a terminal and ``--quiet`` was not given."""
    if quiet:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


@contextmanager
def progress_bar(
    quiet: bool, desc: str, *, unit: str = "node", phases: tuple[str, str, str] = ("", "", "")
) -> Iterator[Callable[[int, int], None] | None]:
    """A ``progress(done, total)`` callback drawing a text bar on stderr, or None.

    >>> with progress_bar(True, "verifying") as progress:
    ...     progress is None
    True
    """
    if not bars_wanted(quiet):
        yield None
        return
    from ..progress import ProgressCallback  # only for a bar: commands without one never load it

    with ProgressCallback(
        desc=desc, unit=unit, phases=phases, file=sys.stderr, text=True, bar_options=_size_if_unknown()
    ) as bar:
        yield bar


def replication_bar(quiet: bool, desc: str) -> AbstractContextManager[Callable[[int, int], None] | None]:
    """:func:`progress_bar` naming what a replication is doing while no count comes."""
    from ..progress import REPLICATION_PHASES

    return progress_bar(quiet, desc, phases=REPLICATION_PHASES)


def _size_if_unknown() -> dict[str, Any]:
    """80x24 for a terminal that reports no size (a bare pseudo-terminal: tqdm would draw
    nothing there); otherwise nothing, and tqdm asks the terminal."""
    import os

    try:
        known = os.get_terminal_size(sys.stderr.fileno()).columns > 0
    except (OSError, ValueError, AttributeError):
        known = False
    return {} if known else {"ncols": 80, "nrows": 24}
