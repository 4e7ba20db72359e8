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
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import IncompatiblePeerError, ProtocolError, ReplicationError
from ..store import segments
from ..store.manifest import Manifest, SegmentInfo
from . import sketch
from .framing import Channel, Kind
from .nodes import Incoming, encode_frames

if TYPE_CHECKING:
    from ..log import Log

PROTOCOL = "hyperframe-replicate"
VERSION = 1
MODES = ("sync", "push", "pull")
_SEGMENT = struct.Struct("<8sI")
MAX_SEGMENTS = 100_000
#: sketch attempts (first sketch, estimated sketch, two doublings) before FULL id lists
MAX_SKETCHES = 4
Progress = Callable[[int, int], None]


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


@dataclass
class SideReport:
    """What one side did."""

    path: str
    mode: str
    sent: int = 0
    received: int = 0  # new nodes committed
    duplicates: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    legs: int = 0
    seconds: float = 0.0
    identical: bool = False
    strategy: str = ""
    nodes_after: int = 0
    fingerprint_after: str = ""

    @property
    def round_trips(self) -> int:
        return (self.legs + 1) // 2

    def summary(self) -> str:
        return (
            f"{self.path}: sent {self.sent}, received {self.received} new node(s); "
            f"{self.bytes_out} B out, {self.bytes_in} B in, {self.round_trips} round trip(s), "
            f"{self.seconds:.2f} s; now {self.nodes_after} nodes"
        )


def _ids(keys: Any) -> np.ndarray:
    """64-bit node ids: the first 8 bytes of each key."""
    return segments.key_matrix(keys)[:, 0].copy()


class Session:
    """Runs the protocol for ``log`` over ``channel``."""

    def __init__(
        self,
        log: Log,
        channel: Channel,
        *,
        mode: str = "sync",
        progress: Progress | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.log = log
        self.channel = channel
        self.mode = mode
        self.progress = progress
        self.report = SideReport(str(log.path), mode)

    # --- the whole conversation -----------------------------------------------------------

    def run(self) -> SideReport:
        start = time.perf_counter()
        try:
            self._run()
        except ReplicationError as exc:
            self._tell_peer(str(exc))
            raise
        except BaseException as exc:
            self._tell_peer(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.channel.close()
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
        manifest = self._manifest()
        nonce = os.urandom(16).hex()
        self.channel.send(Kind.HELLO, self._hello(manifest, nonce))
        peer = self._parse_hello(self.channel.receive(Kind.HELLO).payload)
        if peer.nonce == nonce:
            raise ProtocolError("the peer echoed our own HELLO (is the stream looped back to itself?)")
        self._agree_encoding(manifest, peer)

        can_send = self.mode in ("sync", "push") and peer.mode in ("sync", "pull")
        can_recv = self.mode in ("sync", "pull") and peer.mode in ("sync", "push")
        self.report.identical = peer.fingerprint == manifest.fingerprint and peer.nodes == manifest.nodes
        if self.report.identical or not (can_send or can_recv):
            self.report.strategy = "identical" if self.report.identical else "nothing allowed"
            self._finish_report()
            return

        leader = nonce < peer.nonce
        force_full = False
        for attempt in range(2):
            if attempt:
                manifest = self._manifest()
            self._transfer(manifest, peer, leader=leader, can_send=can_send, can_recv=can_recv, force_full=force_full)
            mine, theirs = self._exchange_done()
            if self.mode != "sync" or peer.mode != "sync" or mine == theirs:
                return
            force_full = True  # the sketches missed something (or a writer raced us): exact lists once
            peer = replace(peer, segments=())
        raise ReplicationError(
            "after replication the two logs still differ (another writer may have added nodes meanwhile); "
            "run replication again"
        )

    # --- hello ----------------------------------------------------------------------------

    def _manifest(self) -> Manifest:
        current = self.log.manifest
        return current if current is not None else Manifest(version=-1, encoding=self.log.encoding.name)

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
            },
            separators=(",", ":"),
        ).encode()

    def _parse_hello(self, payload: bytes) -> Hello:
        try:
            doc = json.loads(payload)
            if doc.get("protocol") != PROTOCOL:
                raise ValueError("not a hyperframe peer")
            if doc.get("version") != VERSION:
                raise IncompatiblePeerError(
                    f"the peer speaks replication protocol version {doc.get('version')!r}, this side "
                    f"speaks {VERSION}; install the same hyperframe version on both ends"
                )
            packed = base64.b64decode(doc["segments"], validate=True)
            if len(packed) % _SEGMENT.size or len(packed) // _SEGMENT.size > MAX_SEGMENTS:
                raise ValueError("bad segment list")
            segs = [_SEGMENT.unpack_from(packed, i) for i in range(0, len(packed), _SEGMENT.size)]
            peer = Hello(
                nonce=str(doc["nonce"]),
                mode=str(doc["mode"]),
                encoding=str(doc["encoding"]),
                fixed=bool(doc["fixed"]),
                nodes=int(doc["nodes"]),
                fingerprint=str(doc["fingerprint"]),
                segments=tuple((sid.hex(), int(rows)) for sid, rows in segs),
            )
            if peer.mode not in MODES or peer.nodes < 0 or len(peer.fingerprint) != 64:
                raise ValueError("bad field")
        except IncompatiblePeerError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError(f"the peer sent a malformed HELLO ({exc})") from None
        return peer

    def _agree_encoding(self, manifest: Manifest, peer: Hello) -> None:
        if peer.encoding == manifest.encoding:
            return
        if not peer.fixed:
            return
        if manifest.version < 0 and self.log._adopt_encoding(peer.encoding):
            return
        raise IncompatiblePeerError(
            f"{self.log.path} stores {manifest.encoding} values and the peer stores {peer.encoding}; "
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
            self._send_nodes(rest, None if can_send and n_peer == 0 else np.empty(0, np.uint64))
            self._receive_nodes(expected=n_peer if can_recv and n_me == 0 else 0, allowed=can_recv)
            return

        my_ids = self._rest_ids(rest)
        if leader:
            want = self._lead(my_ids, n_me, n_peer, force_full)
            self._send_nodes(rest, want if can_send else np.empty(0, np.uint64))
            self._receive_nodes(expected=-1, allowed=can_recv)
        else:
            theirs, mine = self._follow(my_ids, n_me, n_peer, force_full)
            plan = theirs if can_recv else np.empty(0, np.uint64)
            self.channel.send(Kind.PLAN, plan.astype("<u8").tobytes())
            self._send_nodes(rest, mine if can_send else np.empty(0, np.uint64))
            self._receive_nodes(expected=len(plan), allowed=can_recv)

    def _rest_ids(self, rest: list[SegmentInfo]) -> np.ndarray:
        index = self.log._keys_now()  # loaded once; the receive step's link checks use it too
        parts = [_ids(index.keys_of(s)) for s in rest]
        return np.concatenate(parts) if parts else np.empty(0, np.uint64)

    def _sketch_limit(self, n_me: int, n_peer: int) -> int:
        return sketch.size_for(2 * (n_me + n_peer)) + 3 * 64

    def _lead(self, my_ids: np.ndarray, n_me: int, n_peer: int, force_full: bool) -> np.ndarray:
        """X's side of reconciliation; returns the ids Y wants from us."""
        start_with_estimate = _start_with_estimate(n_me, n_peer)
        if not force_full and not start_with_estimate:
            self.channel.send(Kind.SKETCH, sketch.IBLT.of(my_ids, _first_size(n_me, n_peer)).to_bytes())
            self.report.strategy = "sketch"
        while True:
            frame = self.channel.receive(Kind.ESTIMATE, Kind.NEED, Kind.FULL, Kind.PLAN)
            if frame.kind == Kind.PLAN:
                if len(frame.payload) % 8:
                    raise ProtocolError("the peer sent a malformed PLAN")
                return np.frombuffer(frame.payload, "<u8").astype(np.uint64)
            if frame.kind == Kind.FULL:
                self.report.strategy = "full id lists"
                self.channel.send(Kind.FULL, my_ids.astype("<u8").tobytes())
                continue
            if frame.kind == Kind.ESTIMATE:
                levels = sketch.strata_levels(max(n_me, n_peer))
                try:
                    theirs = sketch.IBLT.from_bytes(frame.payload)
                    if theirs.m != levels * sketch.STRATA_CELLS:
                        raise ValueError("wrong number of strata")
                except ValueError as exc:
                    raise ProtocolError(f"the peer sent a malformed ESTIMATE ({exc})") from None
                guess = sketch.estimate(sketch.strata(my_ids, levels).subtract(theirs))
                m = sketch.size_for(guess)
                self.report.strategy = f"estimated sketch (difference ~{guess})"
            else:  # NEED: a bigger sketch
                try:
                    (m,) = struct.unpack("<Q", frame.payload)
                except struct.error:
                    raise ProtocolError("the peer sent a malformed NEED") from None
                if m % sketch.HASHES or not 0 < m <= self._sketch_limit(n_me, n_peer):
                    raise ProtocolError(f"the peer asked for a sketch of {m} cells, which is out of bounds")
            self.channel.send(Kind.SKETCH, sketch.IBLT.of(my_ids, min(m, self._sketch_limit(n_me, n_peer))).to_bytes())

    def _follow(self, my_ids: np.ndarray, n_me: int, n_peer: int, force_full: bool) -> tuple[np.ndarray, np.ndarray]:
        """Y's side of reconciliation; returns (ids only the peer holds, ids only we hold)."""
        levels = sketch.strata_levels(max(n_me, n_peer))
        if force_full:
            self.channel.send(Kind.FULL, my_ids.astype("<u8").tobytes())
        elif _start_with_estimate(n_me, n_peer):
            self.channel.send(Kind.ESTIMATE, sketch.strata(my_ids, levels).to_bytes())
        sent_estimate = force_full or _start_with_estimate(n_me, n_peer)
        attempts = 0
        while True:
            frame = self.channel.receive(Kind.SKETCH, Kind.FULL)
            if frame.kind == Kind.FULL:
                if len(frame.payload) % 8:
                    raise ProtocolError("the peer sent a malformed FULL id list")
                theirs = np.frombuffer(frame.payload, "<u8").astype(np.uint64)
                self.report.strategy = "full id lists"
                return np.setdiff1d(theirs, my_ids), np.setdiff1d(my_ids, theirs)
            try:
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
                self.channel.send(Kind.FULL, my_ids.astype("<u8").tobytes())

    # --- moving nodes ---------------------------------------------------------------------

    def _send_nodes(self, rest: list[SegmentInfo], wanted: np.ndarray | None) -> None:
        """Send our rows whose ids are ``wanted`` (None: all of ``rest``), then END."""
        if wanted is None or len(wanted):
            for group, info in enumerate(rest):
                table = self.log._store.read_segment(info)
                if wanted is not None:
                    mask = np.isin(_ids(table.column("key")), wanted)
                    if not mask.any():
                        continue
                    whole = bool(mask.all())
                    if not whole:
                        table = table.filter(segments.mask(mask))
                else:
                    whole = True
                for payload in encode_frames(table, group, whole):
                    self.channel.send(Kind.NODES, payload)
                self.report.sent += table.num_rows
        self.channel.send(Kind.END)

    def _receive_nodes(self, *, expected: int, allowed: bool) -> None:
        incoming = Incoming(local_has=self.log._keys_now().present)
        while True:
            frame = self.channel.receive(Kind.NODES, Kind.END)
            if frame.kind == Kind.END:
                break
            if not allowed:
                raise ProtocolError(f"the peer sent nodes although {self.log.path} is only pushing")
            incoming.add(frame.payload)
            if self.progress is not None:
                self.progress(incoming.received, max(expected, incoming.received))
        if incoming.received:
            incoming.check_links()
            self.report.received += self.log._import_tables(incoming.tables())
            self.report.duplicates += incoming.duplicates

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


def _start_with_estimate(n_me: int, n_peer: int) -> bool:
    """Skip the small first sketch when the counts alone show the difference is large."""
    return n_me + n_peer > 256 and abs(n_me - n_peer) > 64


def _first_size(n_me: int, n_peer: int) -> int:
    return sketch.size_for(min(n_me + n_peer, 64))
