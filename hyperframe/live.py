"""Noticing new commits: the live changes feed (``log.changes(live=True)``, ``list --live``).

A commit publishes a new manifest file, so a new commit is a new entry in
``_hyperframe/manifests/``. :func:`wait_for_commit` polls that directory's listing with a
backoff (5 ms after activity, growing to 50 ms when idle): a commit by this process,
another handle or another process is seen within about 50 ms, and an idle wait costs a
listdir every 50 ms (no measurable CPU). Polling needs no extra dependency and works on
every file system, network mounts included, where inotify-style watchers do not.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp())
>>> _ = log.add("first")
>>> feed = log.changes(live=True, timeout=0.2)
>>> [n.value for n in feed]  # the existing node, then 0.2 s with nothing new: the feed ends
['first']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .log import Log
    from .node import Node

#: first and longest pause between two looks at the manifests
POLL_MIN = 0.005
POLL_MAX = 0.05


def wait_for_commit(size: Callable[[], int], known: int, timeout: float | None) -> bool:
    """Wait until ``size()`` (the log's node count) exceeds ``known``; False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = POLL_MIN
    while size() <= known:
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(POLL_MAX, pause * 2)
    return True


def follow(log: Log, since: int, *, timeout: float | None, encoding: str | None = None) -> Iterator[Node]:
    """Nodes with change > ``since`` as they are committed, until closed or ``timeout``
    seconds pass with nothing new (None: forever)."""
    position = since
    while True:
        for node in log.changes(since=position, encoding=encoding):
            position = node.change
            yield node
        if not wait_for_commit(lambda: len(log), position, timeout):
            return
