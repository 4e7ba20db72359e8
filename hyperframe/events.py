"""Events of a log: ``"preadd"``, ``"add"`` and ``"reject"``, as hyperlog emits them.

- ``preadd(node)``: a node is about to be stored (its key is set; ``log.get(key)`` still
  raises ``NodeNotFoundError``). A ``preadd`` callback that raises vetoes the commit: nothing
  is written, every node of it gets ``reject``, and the caller gets that exception.
- ``add(node)``: the node is committed (``node.change`` set).
- ``reject(node, error)``: the node was refused (unknown link, bad value, failed signature,
  a failed commit, a veto).

Every ``preadd`` is followed by exactly one ``add`` or ``reject``. Exceptions raised by
``add`` and ``reject`` callbacks cannot undo a commit: they are logged on the
``hyperframe`` logger and otherwise ignored, so a faulty callback never corrupts a log.
Callbacks run in the thread that writes, ``preadd`` while the log's write lock is held:
they must not write to the same log.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp())
>>> seen = []
>>> log.on("add", lambda node: seen.append(node.value))
>>> _ = log.add("hello")
>>> seen
['hello']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, get_args

from .errors import UsageError

if TYPE_CHECKING:
    from .node import Node

__all__ = ["EVENTS", "Event", "Events"]

Event = Literal["preadd", "add", "reject"]
EVENTS: tuple[Event, ...] = get_args(Event)


class Events:
    """The callbacks registered on one log handle."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[..., Any]]] = {name: [] for name in EVENTS}

    def on(self, event: Event, callback: Callable[..., Any]) -> None:
        if event not in self._callbacks:
            raise UsageError(f"unknown event {event!r}: use one of {', '.join(EVENTS)}")
        if not callable(callback):
            raise UsageError(f"a callback for {event!r} must be callable, not {type(callback).__name__}")
        self._callbacks[event].append(callback)

    def off(self, event: Event, callback: Callable[..., Any]) -> None:
        try:
            self._callbacks[event].remove(callback)
        except (KeyError, ValueError):
            raise UsageError(f"that callback is not registered for {event!r}") from None

    def wants(self, event: Event) -> bool:
        return bool(self._callbacks[event])

    @property
    def any(self) -> bool:
        return any(self._callbacks.values())

    def preadd(self, nodes: Iterable[Node]) -> None:
        """Call every ``preadd`` callback; an exception propagates (the commit is vetoed)."""
        for node in nodes:
            for callback in list(self._callbacks["preadd"]):
                callback(node)

    def add(self, nodes: Iterable[Node]) -> None:
        self._after("add", nodes, ())

    def reject(self, nodes: Iterable[Node], error: BaseException) -> None:
        self._after("reject", nodes, (error,))

    def _after(self, event: Event, nodes: Iterable[Node], extra: tuple[Any, ...]) -> None:
        callbacks = list(self._callbacks[event])
        if not callbacks:
            return
        for node in nodes:
            for callback in callbacks:
                try:
                    callback(node, *extra)
                except Exception:  # a commit cannot be undone by a callback: say so, go on
                    import logging  # only when a callback failed

                    logging.getLogger("hyperframe").exception(
                        "a %r callback raised for node %s; the log is unchanged by it", event, node.key
                    )
