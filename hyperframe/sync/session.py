"""One side of a replication: the same code runs on both ends (no client, no server).

The state machine (docs/PROTOCOL.md has the full picture):

1. HELLO both ways: version, mode, encoding, node count, XOR fingerprint and the
   segment list. Equal fingerprints: done in one round trip. Segments both hold are
   set aside untouched.
2. If one side's remaining nodes are none, the other simply sends its remaining nodes.
3. Otherwise the side with the smaller nonce (X) sends an IBLT sketch of its remaining
   node ids; the other (Y) subtracts its own and peels the difference. Too small? Y
   sends a strata ESTIMATE and X answers with a sketch of the estimated size (then
   NEED for a bigger one, then FULL id lists as the last resort). Y sends a PLAN
   (the ids it wants) and its nodes; X sends the wanted nodes.
4. Each side verifies and commits what it received in one atomic commit, then both
   exchange DONE with their new fingerprints; in sync mode they must be equal.

Every step sends a bounded number of messages and every receive has a timeout, so a
session always ends: with both sides holding the union, or with an error and nothing
from the failed transfer committed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..encodings import get_encoding
from ..errors import (
    IncompatiblePeerError,
    PeerTimeoutError,
    ProtocolError,
    RejectedNodeError,
    ReplicationError,
    UsageError,
)
from ..store import segments
from ..store.keyset import in_sorted
from ..store.manifest import Manifest, SegmentInfo
from . import sketch
from .framing import Channel, Frame, Kind
from .modes import MODES, Mode
from .nodes import Incoming, encode_frames
from .report import Progress, SideReport

if TYPE_CHECKING:
    from .replica import Replica

PROTOCOL = "hyperframe-replicate"
VERSION = 3  # 3: NODES frames carry each node's origin (log, seq columns; format 3)
_SEGMENT = struct.Struct("<8sI")
MAX_SEGMENTS = 100_000
#: the largest sketch anyone may ask for: one that fits in a frame
#: the largest sketch anyone may ask for or send: 2**19 cells (8 MiB) decode differences
#: of about 350,000 nodes; beyond, exact lists (and memory stays well under 256 MiB)
MAX_SKETCH_CELLS = 2**19 // sketch.HASHES * sketch.HASHES
#: the most ids a FULL list may hold (16 MiB)
MAX_FULL_IDS = 2**21
#: a session's deadline, in multiples of the timeout (60 s: an hour), unless one is given
DEADLINE_TIMEOUTS = 60
#: a PLAN starts with how many nodes its sender will send
_PLAN_HEAD = struct.Struct("<Q")
_NONE = np.empty(0, np.uint64)
#: the most nodes a peer may say it holds (2**40: far beyond any log, far below any overflow)
MAX_NODES = 2**40
_HEX = re.compile(r"[0-9a-f]+")
#: sketch attempts (first sketch, estimated sketch, two doublings) before FULL id lists
MAX_SKETCHES = 4


@dataclass(frozen=True)
class Hello:
    """What the peer said about itself in its HELLO."""

    nonce: str
    mode: str
    encoding: str
    fixed: bool  # the peer's log exists, so its encoding is settled
    nodes: int
    fingerprint: str
    segments: tuple[tuple[str, int], ...]  # (16-hex id prefix, rows)
    live: bool = False  # the peer stays on after the sync, sending what it commits


class Session:
    """Runs the protocol for ``replica`` over ``channel``."""

    def __init__(
        self,
        replica: Replica,
        channel: Channel,
        *,
        mode: Mode = "sync",
        progress: Progress | None = None,
        deadline: float | None = None,
        live: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        self.replica = replica
        self.channel = channel
        self.mode = mode
        self.progress = progress
        #: seconds the whole session may take (default: DEADLINE_TIMEOUTS x the channel's timeout)
        self.deadline = deadline if deadline is not None else DEADLINE_TIMEOUTS * channel.timeout
        #: after the sync, keep sending what this side commits until the peer ends or ``stop()``
        self.live = live
        self.stop = stop
        self.report = SideReport(replica.name, mode)

    # --- the whole conversation -----------------------------------------------------------

    def run(self) -> SideReport:
        start = time.perf_counter()
        self.channel.deadline = time.monotonic() + self.deadline
        failed = True
        try:
            self._run()
            failed = False
        except ReplicationError as exc:
            if isinstance(exc, RejectedNodeError):
                self.replica.refuse(exc)
            self._tell_peer(str(exc))
            raise
        except BaseException as exc:
            self._tell_peer(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            # after a failure, do not wait for a peer that may never read what is queued
            self.channel.close(timeout=0.5 if failed else 10.0)
            self.report.bytes_in = self.channel.bytes_in
            self.report.bytes_out = self.channel.bytes_out
            self.report.legs = self.channel.legs
            self.report.seconds = time.perf_counter() - start
        return self.report

    def _tell_peer(self, message: str) -> None:
        try:
            self.channel.send(Kind.ERROR, json.dumps({"message": message[:500]}).encode())
        except ReplicationError:
            pass

    def _run(self) -> None:
        peer, can_send, can_recv = self._sync()
        if self.live and peer.live and (can_send or can_recv):
            from .live import LivePhase

            self.channel.deadline = None  # a live session has no deadline; its messages have budgets
            LivePhase(
                self.replica, self.channel, self.report, can_send=can_send, can_recv=can_recv, stop=self.stop
            ).run()
            self._finish_report()

    def _sync(self) -> tuple[Hello, bool, bool]:
        """The whole ordinary replication; returns the peer's HELLO and what may move."""
        manifest = self._manifest()
        nonce = os.urandom(16).hex()
        self.channel.send(Kind.HELLO, self._hello(manifest, nonce))
        peer = parse_hello(self.channel.receive(Kind.HELLO).payload)
        if peer.nonce == nonce:
            raise ProtocolError("the peer echoed our own HELLO (is the stream looped back to itself?)")
        self._agree_encoding(manifest, peer)

        can_send = self.mode in ("sync", "push") and peer.mode in ("sync", "pull")
        can_recv = self.mode in ("sync", "pull") and peer.mode in ("sync", "push")
        self.report.identical = peer.fingerprint == manifest.fingerprint and peer.nodes == manifest.nodes
        if self.report.identical or not (can_send or can_recv):
            self.report.strategy = "identical" if self.report.identical else "nothing allowed"
            self._finish_report()
            return peer, can_send, can_recv

        leader = nonce < peer.nonce
        force_full = False
        for attempt in range(2):
            if attempt:
                manifest = self._manifest()
            self._transfer(manifest, peer, leader=leader, can_send=can_send, can_recv=can_recv, force_full=force_full)
            mine, theirs = self._exchange_done()
            if self.mode != "sync" or peer.mode != "sync" or mine == theirs:
                return peer, can_send, can_recv
            # the sketches missed something, or a writer raced us: exact id lists, once. The peer's
            # count may have grown since its HELLO, so only the frame limit bounds its lists now
            force_full = True
            peer = replace(peer, segments=(), nodes=MAX_NODES)
        raise ReplicationError(
            "after replication the two logs still differ (another writer may have added nodes meanwhile); "
            "run replication again"
        )

    # --- hello ----------------------------------------------------------------------------

    def _manifest(self) -> Manifest:
        return self.replica.state()

    def _hello(self, manifest: Manifest, nonce: str) -> bytes:
        packed = b"".join(_SEGMENT.pack(bytes.fromhex(s.id[:16]), s.rows) for s in manifest.segments)
        return json.dumps(
            {
                "protocol": PROTOCOL,
                "version": VERSION,
                "nonce": nonce,
                "mode": self.mode,
                "encoding": manifest.encoding,
                "fixed": manifest.version >= 0,
                "nodes": manifest.nodes,
                "fingerprint": manifest.fingerprint,
                "heads": len(manifest.heads),
                "segments": base64.b64encode(packed).decode(),
                "live": self.live,
            },
            separators=(",", ":"),
        ).encode()

    def _agree_encoding(self, manifest: Manifest, peer: Hello) -> None:
        if peer.encoding == manifest.encoding:
            return
        if not peer.fixed:
            return
        if manifest.version < 0 and self.replica.adopt_encoding(peer.encoding):
            return
        raise IncompatiblePeerError(
            f"{self.replica.name} stores {manifest.encoding} values and the peer stores {peer.encoding}; "
            "only logs with the same encoding can be replicated"
        )

    # --- reconciliation -------------------------------------------------------------------

    def _transfer(
        self,
        manifest: Manifest,
        peer: Hello,
        *,
        leader: bool,
        can_send: bool,
        can_recv: bool,
        force_full: bool,
    ) -> None:
        shared = {(sid[:16], rows) for sid, rows in peer.segments}
        rest = [s for s in manifest.segments if (s.id[:16], s.rows) not in shared]
        mine_shared = {(s.id[:16], s.rows) for s in manifest.segments} & shared
        n_me = sum(s.rows for s in rest)
        n_peer = peer.nodes - sum(rows for sid, rows in peer.segments if (sid, rows) in mine_shared)

        if not force_full and min(n_me, n_peer) == 0:
            # one side holds nothing the other lacks: the other sends all it has left
            self.report.strategy = "send remaining segments"
            self._move_nodes(
                rest,
                None if can_send and n_peer == 0 else _NONE,
                expected=n_peer if can_recv and n_me == 0 else 0,
                allowed=can_recv,
            )
            return

        my_ids = self.replica.ids(rest)  # key columns cached: the link checks use them too
        if leader:
            want, coming, exact = self._lead(my_ids, n_me, n_peer, force_full)
            self._move_nodes(rest, want if can_send else _NONE, expected=coming, allowed=can_recv, only=exact)
        else:
            theirs, mine = self._follow(my_ids, n_me, n_peer, force_full)
            plan = theirs if can_recv else _NONE
            mine = mine if can_send else _NONE
            self.channel.send(Kind.PLAN, _PLAN_HEAD.pack(len(mine)) + plan.astype("<u8").tobytes())
            self._move_nodes(rest, mine, expected=len(plan), allowed=can_recv, only=plan)

    def _sketch_limit(self, n_me: int, n_peer: int) -> int:
        """The most cells a sketch of this reconciliation may have: enough for every id of
        both sides, and never more than fits in one frame."""
        return min(sketch.size_for(2 * (n_me + n_peer)) + 3 * 64, MAX_SKETCH_CELLS)

    def _lead(
        self, my_ids: np.ndarray, n_me: int, n_peer: int, force_full: bool
    ) -> tuple[np.ndarray, int, np.ndarray | None]:
        """X's side of reconciliation; returns (the ids Y wants from us, how many Y will send,
        and, once Y's FULL list is known, exactly which ids Y may send: None otherwise)."""
        budget = Budget({Kind.ESTIMATE: 1, Kind.NEED: MAX_SKETCHES, Kind.FULL: 1, Kind.PLAN: 1})
        exact: np.ndarray | None = None
        limit = self._sketch_limit(n_me, n_peer)
        if not force_full and not _start_with_estimate(n_me, n_peer):
            self.channel.send(Kind.SKETCH, sketch.IBLT.of(my_ids, _first_size(n_me, n_peer)).to_bytes())
            self.report.strategy = "sketch"
        while True:
            frame = self.channel.receive(Kind.ESTIMATE, Kind.NEED, Kind.FULL, Kind.PLAN)
            budget.spend(frame)
            if frame.kind == Kind.PLAN:
                if len(frame.payload) < _PLAN_HEAD.size or (len(frame.payload) - _PLAN_HEAD.size) % 8:
                    raise ProtocolError("the peer sent a malformed PLAN")
                (coming,) = _PLAN_HEAD.unpack_from(frame.payload)
                want = np.frombuffer(frame.payload, "<u8", offset=_PLAN_HEAD.size).astype(np.uint64)
                if force_full and exact is None:
                    raise ProtocolError("the peer sent its PLAN before its FULL id list")
                most = n_peer if exact is None else len(exact)
                if len(want) > n_me or coming > most:
                    raise ProtocolError(
                        f"the peer's PLAN asks for {len(want)} of our {n_me} node(s) and announces {coming} of its "
                        f"{most}: more than either side holds"
                    )
                return want, coming, exact
            if frame.kind == Kind.FULL:
                if len(frame.payload) % 8 or len(frame.payload) // 8 > min(n_peer, MAX_FULL_IDS):
                    raise ProtocolError("the peer sent a malformed FULL id list (or more ids than it holds)")
                listed = np.frombuffer(frame.payload, "<u8").astype(np.uint64)
                exact = minus(listed, my_ids)  # all the peer may send us: its ids we lack
                self.channel.check_deadline()
                self.report.strategy = "full id lists"
                self.channel.send(Kind.FULL, _full(my_ids))
                continue
            if frame.kind == Kind.ESTIMATE:
                levels = sketch.strata_levels(max(n_me, n_peer))
                try:
                    if len(frame.payload) != levels * sketch.STRATA_CELLS * sketch.CELL_BYTES:
                        raise ValueError("wrong number of strata")
                    theirs = sketch.IBLT.from_bytes(frame.payload)
                except ValueError as exc:
                    raise ProtocolError(f"the peer sent a malformed ESTIMATE ({exc})") from None
                guess = sketch.estimate(sketch.strata(my_ids, levels).subtract(theirs))
                m = min(sketch.size_for(min(guess, n_me + n_peer)), limit)
                self.report.strategy = f"estimated sketch (difference ~{guess})"
            else:  # NEED: a bigger sketch
                if len(frame.payload) != 8:
                    raise ProtocolError("the peer sent a malformed NEED")
                (m,) = struct.unpack("<Q", frame.payload)
                if m % sketch.HASHES or not 0 < m <= limit:
                    raise ProtocolError(f"the peer asked for a sketch of {m} cells, out of bounds (at most {limit})")
            self.channel.send(Kind.SKETCH, sketch.IBLT.of(my_ids, m - m % sketch.HASHES).to_bytes())

    def _follow(self, my_ids: np.ndarray, n_me: int, n_peer: int, force_full: bool) -> tuple[np.ndarray, np.ndarray]:
        """Y's side of reconciliation; returns (ids only the peer holds, ids only we hold)."""
        levels = sketch.strata_levels(max(n_me, n_peer))
        if force_full:
            self.channel.send(Kind.FULL, _full(my_ids))
        elif _start_with_estimate(n_me, n_peer):
            self.channel.send(Kind.ESTIMATE, sketch.strata(my_ids, levels).to_bytes())
        sent_estimate = force_full or _start_with_estimate(n_me, n_peer)
        attempts = 0
        budget = Budget({Kind.SKETCH: MAX_SKETCHES + 1, Kind.FULL: 1})
        while True:
            frame = self.channel.receive(Kind.SKETCH, Kind.FULL)
            budget.spend(frame)
            if frame.kind == Kind.FULL:
                if len(frame.payload) % 8 or len(frame.payload) // 8 > min(n_peer, MAX_FULL_IDS):
                    raise ProtocolError("the peer sent a malformed FULL id list (or more ids than it holds)")
                theirs = np.frombuffer(frame.payload, "<u8").astype(np.uint64)
                self.report.strategy = "full id lists"
                only_theirs, only_mine = minus(theirs, my_ids), minus(my_ids, theirs)
                self.channel.check_deadline()
                return only_theirs, only_mine
            try:
                if len(frame.payload) // sketch.CELL_BYTES > self._sketch_limit(n_me, n_peer):
                    raise ValueError(f"{len(frame.payload) // sketch.CELL_BYTES} cells is more than this can need")
                peer_sketch = sketch.IBLT.from_bytes(frame.payload)
                if peer_sketch.m > self._sketch_limit(n_me, n_peer):
                    raise ValueError(f"{peer_sketch.m} cells is more than this reconciliation can need")
            except ValueError as exc:
                raise ProtocolError(f"the peer sent a malformed SKETCH ({exc})") from None
            decoded = peer_sketch.subtract(sketch.IBLT.of(my_ids, peer_sketch.m)).decode()
            attempts += 1
            if decoded is not None:
                theirs, mine = decoded
                self.report.strategy = self.report.strategy or f"sketch ({peer_sketch.m} cells)"
                return theirs, np.intersect1d(mine, my_ids)
            if not sent_estimate:
                self.channel.send(Kind.ESTIMATE, sketch.strata(my_ids, levels).to_bytes())
                sent_estimate = True
            elif attempts < MAX_SKETCHES:
                self.channel.send(
                    Kind.NEED, struct.pack("<Q", min(2 * peer_sketch.m, self._sketch_limit(n_me, n_peer)))
                )
            else:
                self.channel.send(Kind.FULL, _full(my_ids))

    # --- moving nodes ---------------------------------------------------------------------

    def _frames_to_send(self, rest: list[SegmentInfo], wanted: np.ndarray | None) -> Iterator[bytes]:
        """NODES payloads of our rows whose ids are ``wanted`` (None: all of ``rest``).

        A segment is read a row group at a time (``Replica.pieces``) and each piece is cut
        into frames as it comes, so what this holds does not grow with a segment's size:
        one row group, the frame being made, the frame waiting for room to be sent.
        """
        if wanted is not None and not len(wanted):
            return
        for group, info in enumerate(rest):
            mask: np.ndarray | None = None
            whole = True
            if wanted is not None:  # which rows, from the cached key column, before any value is read
                mask = np.isin(self.replica.ids([info]), wanted)
                if not mask.any():
                    continue
                whole = bool(mask.all())
            start = 0
            for table in self.replica.pieces(info):
                if mask is not None and not whole:
                    rows = mask[start : start + table.num_rows]
                    start += table.num_rows
                    if not rows.any():
                        continue
                    table = table.filter(segments.mask(rows))
                yield from encode_frames(table, group, whole)
                self.report.sent += table.num_rows
                del table

    def _move_nodes(
        self,
        rest: list[SegmentInfo],
        wanted: np.ndarray | None,
        *,
        expected: int,
        allowed: bool,
        only: np.ndarray | None = None,
    ) -> None:
        """Send our rows (then END) while receiving the peer's (until its END), then commit.

        Both at once, so neither side's sending waits on the other's reading; what we
        queue is bounded by the channel's send buffer, what we receive by ``expected``
        rows (``only``: the ids we asked for) and by the channel's read-ahead.
        """
        encoding = get_encoding(self.replica.state().encoding)
        incoming = Incoming(
            local_has=self.replica.has, undecodable=encoding.undecodable_rows, max_rows=expected, only=only
        )
        if self.progress is not None and allowed and expected:
            self.progress(0, expected)  # the plan is known: a bar learns its total before the first node
        try:
            ended = False
            stalled_since = time.monotonic()
            written = self.channel.bytes_out
            for payload in self._frames_to_send(rest, wanted):
                while not self.channel.try_send(Kind.NODES, payload):
                    if not ended:
                        ended = self._take(incoming, allowed, expected, wait=0.02)
                    else:
                        time.sleep(0.005)
                    self.channel.check_deadline()
                    if self.channel.bytes_out != written:
                        written, stalled_since = self.channel.bytes_out, time.monotonic()
                    elif time.monotonic() - stalled_since > self.channel.timeout:
                        raise PeerTimeoutError(
                            f"the peer read nothing for {self.channel.timeout:g} s; nothing from this transfer was "
                            "committed, run replication again"
                        )
            self.channel.send(Kind.END)
            while not ended:
                ended = self._take(incoming, allowed, expected, wait=None)
            if incoming.received:
                incoming.check_links()
                self.report.received += self.replica.commit(incoming.tables())
                self.report.duplicates += incoming.duplicates
        finally:
            incoming.close()

    def _take(self, incoming: Incoming, allowed: bool, expected: int, *, wait: float | None) -> bool:
        """Handle one NODES or END frame from the peer (waiting up to ``wait`` s; None: the
        timeout); True once the peer's END came."""
        if wait is None:
            frame: Frame | None = self.channel.receive(Kind.NODES, Kind.END)
        else:
            frame = self.channel.poll(wait, Kind.NODES, Kind.END)
        if frame is None:
            return False
        if frame.kind == Kind.END:
            return True
        if not allowed:
            raise ProtocolError(f"the peer sent nodes although {self.replica.name} is only pushing")
        incoming.add(frame.payload)
        if self.progress is not None:
            self.progress(incoming.received, max(expected, incoming.received))
        return False

    def _exchange_done(self) -> tuple[str, str]:
        self._finish_report()
        self.channel.send(
            Kind.DONE,
            json.dumps({"nodes": self.report.nodes_after, "fingerprint": self.report.fingerprint_after}).encode(),
        )
        frame = self.channel.receive(Kind.DONE)
        try:
            theirs = str(json.loads(frame.payload)["fingerprint"])
        except (ValueError, KeyError, TypeError):
            raise ProtocolError("the peer sent a malformed DONE") from None
        return self.report.fingerprint_after, theirs

    def _finish_report(self) -> None:
        after = self._manifest()
        self.report.nodes_after = after.nodes
        self.report.fingerprint_after = after.fingerprint


class Budget:
    """How many messages of each kind one transfer may bring; one more is a protocol error.

    An honest peer sends far fewer (see docs/PROTOCOL.md, "why it ends"); a peer that loops
    is stopped at the first message over the limit, before it costs anything.
    """

    def __init__(self, limits: dict[Kind, int]) -> None:
        self.limits = limits
        self.spent: dict[int, int] = {}

    def spend(self, frame: Frame) -> None:
        count = self.spent.get(frame.kind, 0) + 1
        self.spent[frame.kind] = count
        if count > self.limits.get(Kind(frame.kind), 0):
            raise ProtocolError(
                f"the peer sent {count} {frame.name} messages in one transfer, more than the protocol allows "
                f"({self.limits.get(Kind(frame.kind), 0)}); it is looping or hostile. Nothing was committed"
            )


def parse_hello(payload: bytes) -> Hello:
    """The peer's HELLO, every field checked (type, range, consistency) before any use."""
    try:
        doc = json.loads(payload)
        if not isinstance(doc, dict) or doc.get("protocol") != PROTOCOL:
            raise ValueError("not a hyperframe peer")
        if doc.get("version") != VERSION:
            raise IncompatiblePeerError(
                f"the peer speaks replication protocol version {str(doc.get('version'))[:20]!r}, this side "
                f"speaks {VERSION}; install the same hyperframe version on both ends"
            )
        packed = base64.b64decode(_text(doc, "segments", 16 * MAX_SEGMENTS), validate=True)
        if len(packed) % _SEGMENT.size or len(packed) // _SEGMENT.size > MAX_SEGMENTS:
            raise ValueError("bad segment list")
        segs = tuple(
            (sid.hex(), rows)
            for sid, rows in (_SEGMENT.unpack_from(packed, i) for i in range(0, len(packed), _SEGMENT.size))
        )
        nodes = _count(doc, "nodes", MAX_NODES)
        if sum(rows for _, rows in segs) > nodes:
            raise ValueError("its segments hold more nodes than it says it has")
        fixed = doc.get("fixed")
        if not isinstance(fixed, bool):
            raise ValueError("'fixed' is not true or false")
        peer = Hello(
            nonce=_hex(doc, "nonce", 32),
            mode=_text(doc, "mode", 8),
            encoding=_text(doc, "encoding", 16),
            fixed=fixed,
            nodes=nodes,
            fingerprint=_hex(doc, "fingerprint", 64),
            segments=segs,
        )
        if peer.mode not in MODES:
            raise ValueError(f"unknown mode {peer.mode!r}")
        live = doc.get("live", False)
        if not isinstance(live, bool):
            raise ValueError("'live' is not true or false")
        peer = replace(peer, live=live)
        _count(doc, "heads", MAX_NODES)
    except IncompatiblePeerError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise ProtocolError(f"the peer sent a malformed HELLO ({str(exc)[:200]})") from None
    return peer


def _count(doc: dict[str, object], name: str, limit: int) -> int:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{name!r} is not a count from 0 to {limit}")
    return value


def _text(doc: dict[str, object], name: str, limit: int) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{name!r} is not a string of at most {limit} characters")
    return value


def _hex(doc: dict[str, object], name: str, length: int) -> str:
    value = _text(doc, name, length)
    if len(value) != length or not _HEX.fullmatch(value):
        raise ValueError(f"{name!r} is not {length} hex digits")
    return value


def minus(ids: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The distinct ``ids`` not in ``other``, sorted: what ``np.setdiff1d`` gives, with one
    sort of each and binary searches (``setdiff1d`` sorts both together, and took seconds
    for a FULL list of 2**21 ids)."""
    ids = np.sort(ids)
    if len(ids) > 1:
        ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
    if not len(ids) or not len(other):
        return ids
    rest: np.ndarray = ids[~in_sorted(np.sort(other), ids)]
    return rest


def _full(ids: np.ndarray) -> bytes:
    """A FULL id list, or an error if it would be more than a peer accepts."""
    if len(ids) > MAX_FULL_IDS:
        raise ReplicationError(
            f"the two logs differ in more than {MAX_FULL_IDS:,} nodes the sketches could not sort out; "
            "run replication again (or clone into an empty log, which needs no lists)"
        )
    return ids.astype("<u8").tobytes()


def _start_with_estimate(n_me: int, n_peer: int) -> bool:
    """Skip the small first sketch when the counts alone show the difference is large."""
    return n_me + n_peer > 256 and abs(n_me - n_peer) > 64


def _first_size(n_me: int, n_peer: int) -> int:
    return sketch.size_for(min(n_me + n_peer, 64))
