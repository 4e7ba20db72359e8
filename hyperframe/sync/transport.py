"""Where the bytes flow: two logs in one process, stdin/stdout, or two wired commands."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from ..errors import PeerTimeoutError
from .framing import Channel
from .modes import Mode
from .replica import Replica
from .report import Progress, SideReport
from .session import DEADLINE_TIMEOUTS, Session


def run_pair(
    a: Replica,
    b: Replica,
    *,
    mode_a: Mode,
    mode_b: Mode,
    timeout: float,
    deadline: float | None = None,
    progress: Progress | None = None,
    live: bool = False,
    stop: Callable[[], bool] | None = None,
) -> tuple[SideReport, SideReport]:
    """Run both sides in this process over a socket pair (the same bytes as between machines)."""
    deadline = DEADLINE_TIMEOUTS * timeout if deadline is None else deadline
    sock_a, sock_b = socket.socketpair()
    results: dict[str, SideReport | BaseException] = {}

    def side(name: str, replica: Replica, sock: socket.socket, mode: Mode, prog: Progress | None) -> None:
        reader, writer = sock.makefile("rb"), sock.makefile("wb")
        channel = Channel(reader, writer, timeout=timeout, on_close=lambda: _shut(sock))
        try:
            session = Session(replica, channel, mode=mode, progress=prog, deadline=deadline, live=live, stop=stop)
            results[name] = session.run()
        except BaseException as exc:  # re-raised in the caller's thread
            results[name] = exc
        finally:
            reader.close()

    thread = threading.Thread(target=side, args=("b", b, sock_b, mode_b, progress), daemon=True)
    thread.start()
    side("a", a, sock_a, mode_a, progress)
    thread.join(timeout + 5)  # side a has finished: b ends at its next receive at the latest
    sock_a.close()
    sock_b.close()
    for name in ("a", "b"):
        outcome = results.get(name)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None:
            raise PeerTimeoutError(f"side {name} of the replication did not finish in time; run it again")
    ra, rb = results["a"], results["b"]
    assert isinstance(ra, SideReport) and isinstance(rb, SideReport)
    return ra, rb


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def run_stdio(
    replica: Replica,
    *,
    mode: Mode,
    timeout: float,
    deadline: float | None = None,
    progress: Progress | None = None,
    live: bool = False,
) -> SideReport:
    """Speak the protocol on this process's stdin/stdout (for `hyperframe replicate`)."""
    reader, writer = stdio()
    channel = Channel(reader, writer, timeout=timeout)
    return Session(replica, channel, mode=mode, progress=progress, deadline=deadline, live=live).run()


def stdio() -> tuple[BinaryIO, BinaryIO]:
    """This process's stdin and stdout as unbuffered binary streams for a protocol; from
    now on anything else printed to stdout goes to stderr, so it cannot break the stream."""
    reader: BinaryIO = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    writer: BinaryIO = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return reader, writer


def wire(first: str, second: str) -> tuple[int, int]:
    """Run two shell commands with each one's stdout joined to the other's stdin (dupsh's job).

    Returns both exit statuses.
    """
    r1, w1 = os.pipe()  # first -> second
    r2, w2 = os.pipe()  # second -> first
    p1 = subprocess.Popen(first, shell=True, stdin=r2, stdout=w1)
    p2 = subprocess.Popen(second, shell=True, stdin=r1, stdout=w2)
    for fd in (r1, w1, r2, w2):
        os.close(fd)
    return p1.wait(), p2.wait()
