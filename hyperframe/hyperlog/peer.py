"""A hyperlog 4.12.1 peer: replicate a hyperframe log with a JavaScript hyperlog over its
own protocol (``hyperframe replicate DIR --protocol hyperlog``).

One session, as ``docs/HYPERLOG.md`` tells it:

1. both sides send a ``handshake`` (mode, live); a mode implies end-of-phase flags that are
   never sent (a pushing peer has "sent its wants", a pulling one "its heads"), on both sides;
2. each side announces its logs: a ``have`` (log id, highest seq) per log, then ``sentHeads``;
3. a ``have`` above what this side holds gets a ``want`` (from this side's highest seq);
   a ``want`` starts streaming that log's nodes after the seq, in this side's change order;
4. a side that holds every node it asked for (or has given up on the ones that cannot be
   placed) sends ``sentWants``; both flags sent and received, and nothing left to stream:
   done. Received nodes are checked and committed in one atomic commit.

Where two JavaScript peers wait forever (a node that can never be placed because its log's
earlier seqs were never sent: two writers on one copied database), this side counts
*arrivals*, not insertions, so it still ends: it reports the nodes it could not place and
fails with one line. A silent peer meets ``timeout``; the whole session meets ``deadline``.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from ..errors import PeerTimeoutError, ProtocolError, ReplicationError, UsageError
from ..store import segments
from ..sync.modes import MODES
from . import wire
from .arrivals import Arrivals, hex_key

if TYPE_CHECKING:
    import pyarrow as pa

    from ..log import Log

__all__ = ["HyperlogReport", "MAX_LOGS", "MAX_PARKED", "run"]

#: the most distinct log ids a peer may announce in one session
MAX_LOGS = 100_000
#: nodes that arrived before the nodes they link, held until those come (else refused)
MAX_PARKED = 100_000
#: ... and the bytes of their values, at most
MAX_PARKED_BYTES = 64 * 1024 * 1024
#: frames of unknown types (ignored, as hyperlog does) one session accepts
MAX_IGNORED = 10_000
#: live mode commits what arrived at least this often (bytes of frames)
LIVE_BATCH_BYTES = 16 * 1024 * 1024
#: frames, and bytes of frames, read ahead of the session (besides the one it handles)
READ_AHEAD = 64
READ_AHEAD_BYTES = 16 * 1024 * 1024
_EOF = object()


@dataclass
class HyperlogReport:
    """What one hyperlog session did."""

    mode: str
    received: int = 0
    sent: int = 0
    unplaced: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"hyperlog {self.mode}: received {self.received} node(s), sent {self.sent} in {self.seconds:.2f} s"
        if self.unplaced:
            text += f"; {len(self.unplaced)} node(s) could not be placed (first {self.unplaced[0]})"
        if self.conflicts:
            text += f"; {len(self.conflicts)} (log, seq) slot(s) hold another node here (first {self.conflicts[0]})"
        return text


class _Index:
    """This side's nodes by (log id, seq), from the log's rows (the columns a sent node
    needs become Python lists once, on first use, not a scalar per node)."""

    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows
        self.logs: list[Any] = rows.column("log").to_pylist()  # None: no origin (counted below)
        self.seqs: list[Any] = rows.column("seq").to_pylist()
        self.keys = segments.split_keys(segments.key_bytes(rows.column("key")))
        self.by_slot: dict[tuple[str, int], int] = {}
        self.top: dict[str, int] = {}
        self.unplaced = 0  # nodes without an origin (a format-2 log not written since)
        for row, (log, seq) in enumerate(zip(self.logs, self.seqs, strict=True)):
            if log is None:
                self.unplaced += 1
                continue
            self.by_slot.setdefault((log, seq), row)
            self.top[log] = max(self.top.get(log, 0), seq)
        self.held = set(self.keys)

    @cached_property
    def values(self) -> list[bytes]:
        return self.rows.column("value").to_pylist()  # type: ignore[no-any-return]

    @cached_property
    def links(self) -> list[list[bytes]]:
        return self.rows.column("links").to_pylist()  # type: ignore[no-any-return]

    @cached_property
    def identities(self) -> list[bytes | None]:
        return self.rows.column("identity").to_pylist()  # type: ignore[no-any-return]

    @cached_property
    def signatures(self) -> list[bytes | None]:
        return self.rows.column("signature").to_pylist()  # type: ignore[no-any-return]


class _Session:
    def __init__(
        self,
        log: Log,
        reader: IO[bytes],
        writer: IO[bytes],
        *,
        mode: str,
        live: bool,
        timeout: float,
        deadline: float,
        stop: Callable[[], bool] | None,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"a hyperlog mode is sync, push or pull, not {mode!r}")
        self.log, self.reader, self.writer = log, reader, writer
        self.mode, self.live, self.timeout = mode, live, timeout
        self.deadline = time.monotonic() + deadline
        self.stop = stop
        self.report = HyperlogReport(mode)
        self.incoming: queue.Queue[object] = queue.Queue(READ_AHEAD)
        self.outgoing: queue.Queue[bytes | None] = queue.Queue(64)
        self.write_error: BaseException | None = None
        self.arrived: set[bytes] = set()  # keys the peer sent: never sent back to it
        self.room = threading.Condition()
        self.queued = 0  # bytes of frames read and not yet taken

    # --- the byte stream ---------------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while (body := wire.read_frame(self.reader)) is not None:
                with self.room:  # bounded by bytes too: 64 frames of 32 MiB would be 2 GiB
                    while self.queued and self.queued + len(body) > READ_AHEAD_BYTES:
                        self.room.wait()
                    self.queued += len(body)
                self.incoming.put(body)
            self.incoming.put(_EOF)
        except ProtocolError as exc:
            self.incoming.put(exc)
        except (OSError, ValueError) as exc:
            self.incoming.put(ReplicationError(f"reading from the hyperlog peer failed ({exc})"))

    def _write_loop(self) -> None:
        try:
            while (data := self.outgoing.get()) is not None:
                self.writer.write(data)
                self.writer.flush()
        except (OSError, ValueError) as exc:
            self.write_error = exc
        finally:
            try:
                self.writer.close()
            except (OSError, ValueError):
                pass

    def send(self, kind: int, body: Any = None) -> None:
        data = wire.encode(kind, body)
        while True:
            self._check_deadline()
            if self.write_error is not None:
                raise ReplicationError(f"the connection to the hyperlog peer broke ({self.write_error})")
            try:
                self.outgoing.put(data, timeout=0.25)
                return
            except queue.Full:
                continue

    def _check_deadline(self) -> None:
        if time.monotonic() >= self.deadline:
            raise PeerTimeoutError(
                "the hyperlog session reached its deadline before the peer finished; nothing from this "
                "transfer was committed. Run replication again (or give it a longer --deadline)"
            )

    def receive(self, wait: float) -> bytes | object | None:
        """The next frame body, ``_EOF``, or None when ``wait`` passed with nothing."""
        self._check_deadline()
        try:
            item = self.incoming.get(timeout=max(0.0, min(wait, self.deadline - time.monotonic())))
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, bytes):
            with self.room:
                self.queued -= len(item)
                self.room.notify()
        return item

    # --- the protocol --------------------------------------------------------------------

    def run(self) -> HyperlogReport:
        started = time.monotonic()
        threading.Thread(target=self._read_loop, daemon=True).start()
        writer = threading.Thread(target=self._write_loop, daemon=True)
        writer.start()
        replica = self.log.replica()
        from ..encodings import get_encoding

        encoding = get_encoding(replica.state().encoding)
        index = _Index(replica.rows(0))
        if index.unplaced:
            raise UsageError(
                f"{self.log.path} was written by an older hyperframe and {index.unplaced} of its nodes have no "
                f"hyperlog log id yet; run `hyperframe compact {self.log.path}` once (it gives them this log's)"
            )
        arrivals = Arrivals.for_log(lambda keys: {k for k in keys if k in index.held}, encoding)
        try:
            self._exchange(index, arrivals)
            if self.report.unplaced or self.report.conflicts:
                raise ReplicationError(
                    f"{self.report.summary()}: the hyperlog peer sent nodes whose (log id, seq) this log cannot "
                    "place (two writers on one copied hyperlog database?); nothing was committed"
                )
            tables = arrivals.tables()
            if tables:
                replica.commit(tables)
            if self.live:
                self._live(replica, index, arrivals, encoding)
        finally:
            arrivals.close()
            self.outgoing.put(None)
            writer.join(self.timeout)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _exchange(self, index: _Index, arrivals: Arrivals) -> None:
        hello = wire.message("Handshake", version=1, mode=self.mode)
        if self.live:
            hello.live = True
        self.send(wire.HANDSHAKE, hello)
        body = self._next()
        if body[0] != wire.HANDSHAKE:
            raise ProtocolError(f"the hyperlog peer sent {wire.TYPE_NAMES.get(body[0], body[0])} before its handshake")
        theirs = wire.parse("Handshake", body[1:])
        remote = theirs.mode
        if remote not in MODES:
            raise ProtocolError(f"the hyperlog peer asked for mode {remote[:40]!r}; it must be sync, push or pull")
        if remote == self.mode and remote != "sync":
            raise UsageError(f"both sides asked to {remote}: one side must push and the other pull (or both sync)")
        self.live = self.live or theirs.live
        # the flags a mode implies, on both sides (a pushing side never wants, a pulling one never has)
        got_heads = remote == "pull" or self.mode == "push"
        got_wants = remote == "push" or self.mode == "pull"
        sent_wants = self.mode == "push" or remote == "pull"
        sent_heads = self.mode == "pull" or remote == "push"
        receiving = not sent_wants
        if not sent_heads:
            for log in sorted(index.top):
                self.send(wire.HAVE, wire.message("Log", log=log, seq=index.top[log]))
            self.send(wire.SENT_HEADS)
            sent_heads = True
        have: set[str] = set()
        wanted: set[str] = set()
        cursors: list[tuple[int, str, int]] = []  # (our change order, log, seq) of each log's next node
        missing = 0
        slots: dict[tuple[str, int], bytes] = {}  # what arrived this session, by (log, seq)

        arrived = self.arrived
        waiting: dict[bytes, list[Any]] = {}  # parked nodes, by the first link they still lack
        parked = parked_bytes = ignored = 0

        def place(node: Any) -> None:
            """Take ``node`` if every link is held or arrived, else park it on a missing one
            (a sender may send a node before the log its links live in was even wanted)."""
            nonlocal parked, parked_bytes
            ready = [node]
            while ready:
                node = ready.pop()
                links = [hex_key(link, "a link") for link in node.links]
                lacking = next((link for link in links if link not in arrived and link not in index.held), None)
                if lacking is not None:
                    parked += 1
                    parked_bytes += len(node.value)
                    if parked > MAX_PARKED or parked_bytes > MAX_PARKED_BYTES:
                        raise ProtocolError(
                            f"the hyperlog peer sent more than {MAX_PARKED} nodes (or {MAX_PARKED_BYTES >> 20} MiB) "
                            "before the nodes they link; refused, nothing committed"
                        )
                    waiting.setdefault(lacking, []).append(node)
                    continue
                arrivals.add(node)
                key = hex_key(node.key)
                slots[(node.log, node.seq)] = key
                arrived.add(key)
                self.report.received += 1
                woken = waiting.pop(key, [])
                parked -= len(woken)
                parked_bytes -= sum(len(n.value) for n in woken)
                ready.extend(woken)

        def advance(log: str, seq: int) -> None:
            row = index.by_slot.get((log, seq))
            if row is not None:
                heapq.heappush(cursors, (row, log, seq))

        while True:
            if not cursors and sent_heads and got_heads and got_wants and sent_wants:
                self.report.unplaced = _gaps(slots, index.top) + [
                    f"{n.key} ({n.log}:{n.seq}, linking {link.hex()})" for link, ns in waiting.items() for n in ns
                ]
                return
            if cursors and not self.outgoing.full():
                row, log, seq = heapq.heappop(cursors)
                self.send(wire.NODE, self._node_message(index, row, log, seq))
                self.report.sent += 1
                advance(log, seq + 1)
                continue
            body = self._next(wait=0.0 if cursors else None)
            if body is None:
                continue
            kind = body[0]
            if kind == wire.HAVE:
                msg = wire.parse("Log", body[1:])
                if msg.log in have:
                    raise ProtocolError(f"the hyperlog peer announced log {msg.log[:40]!r} twice")
                have.add(msg.log)
                if len(have) > MAX_LOGS:
                    raise ProtocolError(f"the hyperlog peer announced more than {MAX_LOGS} logs; refused")
                ours = index.top.get(msg.log, 0)
                if receiving and msg.seq > ours:
                    missing += msg.seq - ours
                    self.send(wire.WANT, wire.message("Log", log=msg.log, seq=ours))
            elif kind == wire.WANT:
                msg = wire.parse("Log", body[1:])
                if msg.log in wanted or msg.log not in index.top:
                    raise ProtocolError(f"the hyperlog peer wanted log {msg.log[:40]!r} twice or one never announced")
                wanted.add(msg.log)
                advance(msg.log, msg.seq + 1)
            elif kind == wire.NODE:
                node = wire.parse("Node", body[1:])
                if not receiving or node.log not in have:
                    raise ProtocolError(f"the hyperlog peer sent node {node.key[:64]} that was not asked for")
                missing -= 1  # an arrival counts, placed or not: this side never waits for what cannot come
                if missing < 0:
                    raise ProtocolError("the hyperlog peer sent more nodes than it announced")
                slot = (node.log, node.seq)
                known = slots.get(slot)
                if known is None and slot in index.by_slot:
                    known = index.keys[index.by_slot[slot]]
                if known is not None:  # an echo (same key) or a second writer under one log id
                    if known != hex_key(node.key):
                        self.report.conflicts.append(f"{node.log}:{node.seq}")
                    continue
                place(node)
            elif kind == wire.SENT_HEADS:
                got_heads = True
            elif kind == wire.SENT_WANTS:
                got_wants = True
            else:  # other types are ignored, as hyperlog does, but not without end
                ignored += 1
                if ignored > MAX_IGNORED:
                    raise ProtocolError(f"the hyperlog peer sent more than {MAX_IGNORED} frames of unknown types")
            if receiving and not sent_wants and got_heads and missing <= 0:
                self.send(wire.SENT_WANTS)
                sent_wants = True

    def _next(self, wait: float | None = None) -> Any:
        """The next frame body (``wait=0``: None if none is ready); EOF is an error here."""
        item = self.receive(self.timeout if wait is None else wait)
        if item is None:
            if wait is None:
                raise PeerTimeoutError(
                    f"the hyperlog peer sent nothing for {self.timeout:g} s; it may have hung. "
                    "Nothing from this transfer was committed; run replication again"
                )
            return None
        if item is _EOF:
            raise ReplicationError(
                "the hyperlog peer closed the connection before replication finished; nothing was committed"
            )
        return item

    def _node_message(self, index: _Index, row: int, log: str, seq: int) -> Any:
        identity, signature = index.identities[row], index.signatures[row]
        msg = wire.message(
            "Node",
            change=row + 1,
            key=index.keys[row].hex(),
            log=log,
            seq=seq,
            value=index.values[row],
            links=[link.hex() for link in index.links[row]],
        )
        if identity is not None:
            msg.identity = identity
        if signature is not None:
            msg.signature = signature
        return msg

    def _live(self, replica: Any, index: _Index, arrivals: Arrivals, encoding: Any) -> None:
        """After done: send every later local node, take every node the peer sends, until EOF."""
        seen = len(index.keys)  # from the snapshot on: what was committed since goes out
        received = self.arrived
        self.deadline = float("inf") if self.stop is None else self.deadline
        while self.stop is None or not self.stop():
            item = self.receive(0.05)
            got: list[Any] = []
            size = 0
            while item is not None:
                if item is _EOF:
                    self._commit_live(replica, got, received, encoding)
                    return
                assert isinstance(item, bytes)
                if item[0] == wire.NODE:
                    got.append(wire.parse("Node", item[1:]))
                    size += len(item)
                # commit at least every 1,000 nodes or 16 MiB: memory stays bounded however long it runs
                item = self.receive(0.0) if len(got) < 1000 and size < LIVE_BATCH_BYTES else None
            self._commit_live(replica, got, received, encoding)
            rows = replica.rows(seen)
            seen += rows.num_rows
            if rows.num_rows:
                mine = _Index(rows)
                for row, key in enumerate(mine.keys):
                    if key in received:  # just came from the peer: never echoed back
                        continue
                    log, seq = mine.logs[row], mine.seqs[row]
                    self.send(wire.NODE, self._node_message(mine, row, log, seq))
                    self.report.sent += 1

    def _commit_live(self, replica: Any, nodes: list[Any], received: set[bytes], encoding: Any) -> None:
        if not nodes:
            return
        keys = [hex_key(n.key) for n in nodes]
        held = replica.has(keys)
        fresh = [(n, key) for n, key in zip(nodes, keys, strict=True) if key not in held]
        if not fresh:
            return
        arrivals = Arrivals.for_log(replica.has, encoding)
        try:
            for node, key in fresh:
                arrivals.add(node)
                received.add(key)
            replica.commit(arrivals.tables())
            self.report.received += len(fresh)
        finally:
            arrivals.close()


def _gaps(slots: dict[tuple[str, int], bytes], top: dict[str, int]) -> list[str]:
    """The nodes that arrived above a gap in their log's seqs (never placeable: the seqs
    between were not sent; two writers on one copied database), as "key (log:seq)"."""
    by_log: dict[str, list[int]] = {}
    for log, seq in slots:
        by_log.setdefault(log, []).append(seq)
    out = []
    for log, seqs in by_log.items():
        expected = top.get(log, 0) + 1
        for seq in sorted(seqs):
            if seq != expected:
                out.append(f"{slots[(log, seq)].hex()} ({log}:{seq})")
            else:
                expected += 1
    return out


def run(
    log: Log,
    reader: IO[bytes],
    writer: IO[bytes],
    *,
    mode: str = "sync",
    live: bool = False,
    timeout: float = 60.0,
    deadline: float | None = None,
    stop: Callable[[], bool] | None = None,
) -> HyperlogReport:
    """Replicate ``log`` with the hyperlog peer at the other end of ``reader``/``writer``.

    ``mode`` is this side's (``"sync"``, ``"push"``, ``"pull"``). Raises a
    :class:`~hyperframe.ReplicationError` (nothing committed) on bad input, silence for
    ``timeout`` seconds or a session longer than ``deadline`` (default 60 x timeout).
    """
    from ..sync.session import DEADLINE_TIMEOUTS  # NumPy at load time: not on the CLI's start-up path

    session = _Session(
        log, reader, writer, mode=mode, live=live, timeout=timeout,
        deadline=DEADLINE_TIMEOUTS * timeout if deadline is None else deadline, stop=stop,
    )  # fmt: skip
    return session.run()
