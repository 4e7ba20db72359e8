"""The live phase: after an ordinary sync, each side sends what it commits, as it commits it.

Both HELLOs said ``"live": true`` and the sync finished (DONE ⇄ DONE). Then each side, in a
loop, until the peer sends END or closes the stream, or ``stop()`` says so:

- receives: each NODES frame is verified like any other (keys, values, links stored or
  earlier in the same frame) and committed on its own, so nodes commit in order and a cut
  connection leaves both logs consistent (what was committed stays, nothing is partial);
- sends: the nodes its log gained since the last look (:mod:`hyperframe.live` notices
  commits within ~50 ms), except those it just received from the peer (no echo);
- sends a BEAT when it has sent nothing for a third of the timeout, and gives up after
  ``timeout`` seconds without any frame from the peer.

There is no session deadline in this phase, but every message has a budget: BEATs at most
ten a second, NODES frames must bring something new (16 in a row that bring nothing end
the session), every frame is bounded (32 MiB, 2 read ahead). Memory stays bounded however
long it runs: only the keys received since the last look are remembered.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..encodings import get_encoding
from ..errors import PeerTimeoutError, ProtocolError
from ..store import segments
from .framing import Channel, Kind, PeerClosedError
from .nodes import Incoming, encode_frames

if TYPE_CHECKING:
    from .replica import Replica
    from .report import SideReport

#: how often the loop looks for local commits and frames from the peer, in seconds
LOOK_EVERY = 0.05
#: at most this many BEATs within a second
MAX_BEATS_PER_SECOND = 10
#: this many NODES frames in a row that bring nothing new end the session
MAX_USELESS_FRAMES = 16


class LivePhase:
    """One side's live loop (see the module docs)."""

    def __init__(
        self,
        replica: Replica,
        channel: Channel,
        report: SideReport,
        *,
        can_send: bool,
        can_recv: bool,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.replica = replica
        self.channel = channel
        self.report = report
        self.can_send = can_send
        self.can_recv = can_recv
        self.stop = stop or (lambda: False)
        self.sent_upto = replica.state().nodes  # the peer holds everything up to here
        self.received: set[bytes] = set()  # keys received since the last look at our log
        self.useless = 0
        self.beats: collections.deque[float] = collections.deque(maxlen=MAX_BEATS_PER_SECOND)

    def run(self) -> None:
        heard = sent = time.monotonic()
        try:
            while not self.stop():
                frame = self.channel.poll(LOOK_EVERY, Kind.NODES, Kind.BEAT, Kind.END)
                now = time.monotonic()
                if frame is not None:
                    heard = now
                    if frame.kind == Kind.END:
                        return
                    if frame.kind == Kind.BEAT:
                        self._beat(now)
                    else:
                        self._receive(frame.payload)
                elif now - heard > self.channel.timeout:
                    raise PeerTimeoutError(
                        f"the live peer sent nothing (not even a heartbeat) for {self.channel.timeout:g} s; "
                        "everything received so far is committed"
                    )
                if self.can_send and self._send_new():
                    sent = now
                if now - sent > self.channel.timeout / 3:
                    self.channel.send(Kind.BEAT)
                    sent = now
        except PeerClosedError:
            return  # the peer went away: the clean end of a live session
        except KeyboardInterrupt:
            pass  # interrupted here: tell the peer we end
        self.channel.send(Kind.END)

    def _beat(self, now: float) -> None:
        self.beats.append(now)
        if len(self.beats) == self.beats.maxlen and now - self.beats[0] < 1.0:
            raise ProtocolError(f"the live peer sent more than {MAX_BEATS_PER_SECOND} heartbeats a second")

    def _receive(self, payload: bytes) -> None:
        if not self.can_recv:
            raise ProtocolError(f"the peer sent nodes although {self.replica.name} is only pushing")
        encoding = get_encoding(self.replica.state().encoding)
        incoming = Incoming(local_has=self.replica.has, undecodable=encoding.undecodable_rows)
        try:
            incoming.add(payload)
            incoming.check_links()
            tables = incoming.tables()
            new = self.replica.commit(tables)
        finally:
            incoming.close()
        for table in tables:
            self.received.update(segments.split_keys(segments.key_bytes(table.column("key"))))
        self.report.received += new
        self.useless = 0 if new else self.useless + 1
        if self.useless >= MAX_USELESS_FRAMES:
            raise ProtocolError(f"the live peer sent {MAX_USELESS_FRAMES} NODES frames in a row with nothing new")

    def _send_new(self) -> bool:
        """Send what our log gained since the last look, minus what came from the peer."""
        total = self.replica.state().nodes
        if total <= self.sent_upto:
            return False
        table = self.replica.rows(self.sent_upto)
        self.sent_upto += table.num_rows
        keys = segments.split_keys(segments.key_bytes(table.column("key")))
        fresh = [row for row, key in enumerate(keys) if key not in self.received]
        self.received.clear()  # everything received so far lies before sent_upto now
        if not fresh:
            return False
        if len(fresh) != table.num_rows:
            table = table.take(segments.indices(fresh))
        for payload in encode_frames(table, -1, False):
            self.channel.send(Kind.NODES, payload)
        self.report.sent += table.num_rows
        return True
