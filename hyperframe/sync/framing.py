"""Frames on a byte stream: a fixed header, a bounded payload, reads with a timeout.

Each direction starts with the 4-byte preamble ``HFR1``, then frames::

    type: u8 | flags: u8 | clock: u16 | length: u32 (big-endian) | payload (length bytes)

``clock`` is a Lamport clock of message legs, so both sides can count round trips.
A length above the limit is refused before anything is allocated, and every read
waits at most ``timeout`` seconds.
"""

from __future__ import annotations

import enum
import queue
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import PeerTimeoutError, ProtocolError, ReplicationError

PREAMBLE = b"HFR1"
HEADER = struct.Struct(">BBHI")
MAX_FRAME = 32 * 1024 * 1024
#: frames read ahead of the session (each at most MAX_FRAME): what a fast peer can queue here
READ_AHEAD = 2
#: payload bytes in memory on the receiving side: a frame's payload is read only if, with
#: the frames waiting and the one the session holds (until it asks for the next), it fits
#: in this, or if there are none; so at most one frame of the largest size is in memory
#: however fast the peer sends, and honest 8 MiB frames are still read ahead
READ_AHEAD_BYTES = MAX_FRAME
#: bytes queued for sending before ``try_send`` says "wait": a peer that does not read
#: costs time, never memory
SEND_BUFFER = 16 * 1024 * 1024


class Kind(enum.IntEnum):
    """Frame types (see docs/PROTOCOL.md): the byte is the ASCII letter."""

    HELLO = ord("H")
    SKETCH = ord("S")
    ESTIMATE = ord("E")
    NEED = ord("M")
    FULL = ord("F")
    PLAN = ord("P")
    NODES = ord("N")
    END = ord("Z")
    DONE = ord("D")
    ERROR = ord("X")
    BEAT = ord("B")  # live phase: "still here"


def kind_name(kind: int) -> str:
    """``"HELLO"`` for a known frame type, ``"0x41"`` for any other byte."""
    return Kind(kind).name if kind in Kind._value2member_map_ else f"0x{kind:02x}"


class PeerClosedError(ProtocolError):
    """The peer closed its side of the stream (the clean end of a live session)."""


@dataclass(frozen=True)
class Frame:
    kind: int
    clock: int
    payload: bytes

    @property
    def name(self) -> str:
        return kind_name(self.kind)


_EOF = object()


class Channel:
    """A duplex connection: a reader thread feeding a queue, a writer thread draining one.

    Both queues are bounded: at most :data:`READ_AHEAD` frames wait to be received and
    :data:`SEND_BUFFER` bytes to be sent. ``send`` of small messages never blocks;
    ``try_send`` lets a session that sends a lot keep receiving meanwhile (so two peers
    that both send large transfers cannot deadlock on full pipes). Every wait ends at
    ``timeout`` seconds of silence or at the session's ``deadline`` (a ``time.monotonic``
    value), whichever comes first.
    """

    def __init__(
        self,
        reader: BinaryIO,
        writer: BinaryIO,
        *,
        timeout: float = 60.0,
        deadline: float | None = None,
        max_frame: int = MAX_FRAME,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        self.deadline = deadline
        self.max_frame = max_frame
        self.bytes_in = 0
        self.bytes_out = 0
        self.clock = 0  # highest leg received so far
        self.legs = 0  # highest leg sent or received: round trips = ceil(legs / 2)
        self._incoming: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._held = 0  # payload bytes being read, waiting in _incoming, or handed to the session
        self._handed = 0  # ... of which the session holds (the last frame it was given)
        self._room = threading.Condition()  # the reader waits on it for READ_AHEAD_BYTES of room
        self._outgoing: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue()
        self._pending = 0  # bytes in _outgoing
        self._pending_lock = threading.Lock()
        self._write_error: BaseException | None = None
        self._on_close = on_close
        self._read_thread = threading.Thread(target=self._read_loop, name="hyperframe-read", daemon=True)
        self._write_thread = threading.Thread(target=self._write_loop, name="hyperframe-write", daemon=True)
        self._outgoing.put((PREAMBLE, b""))
        self._read_thread.start()
        self._write_thread.start()

    # --- writing ------------------------------------------------------------------------

    def send(self, kind: int, payload: bytes = b"") -> None:
        """Queue one frame (for protocol messages: never blocks)."""
        if self._write_error is not None:
            raise ReplicationError(f"the connection to the peer broke while sending ({self._write_error})")
        if len(payload) > self.max_frame:
            raise ProtocolError(f"refusing to send a {len(payload)}-byte frame (limit {self.max_frame})")
        leg = min(self.clock + 1, 0xFFFF)
        self.legs = max(self.legs, leg)
        header = HEADER.pack(kind, 0, leg, len(payload))  # written apart: a big payload is never copied
        with self._pending_lock:
            self._pending += len(header) + len(payload)
        self._outgoing.put((header, payload))

    def try_send(self, kind: int, payload: bytes) -> bool:
        """Queue one frame unless :data:`SEND_BUFFER` bytes are waiting already (False)."""
        if self._write_error is None and self._pending and self._pending + len(payload) > SEND_BUFFER:
            return False
        self.send(kind, payload)
        return True

    @property
    def sent_everything(self) -> bool:
        """True when every queued byte has been written to the stream."""
        return not self._pending

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._outgoing.get()
                if item is None:
                    break
                for data in item:
                    if data:
                        self._writer.write(data)
                self._writer.flush()
                size = len(item[0]) + len(item[1])
                self.bytes_out += size
                with self._pending_lock:
                    self._pending -= size
                del item, data  # the payload is not kept alive while this thread waits for the next
        except (OSError, ValueError) as exc:  # broken pipe, closed stream
            self._write_error = exc
        finally:
            try:
                self._writer.close()
            except (OSError, ValueError):
                pass
            if self._on_close is not None:
                self._on_close()

    def close(self, timeout: float = 10.0) -> None:
        """Flush what was sent and close our sending side."""
        self._outgoing.put(None)
        self._write_thread.join(timeout)

    # --- reading ------------------------------------------------------------------------

    def _read_exact(self, n: int) -> bytes | None:
        parts = []
        remaining = n
        while remaining:
            # all that is missing at once: a buffered stream fills one bytes object of that size
            # (reading in pieces and joining them held every big frame twice)
            chunk = self._reader.read(remaining)
            if not chunk:
                if remaining == n:
                    return None
                raise ProtocolError(
                    f"the peer closed the connection in the middle of a frame ({n - remaining}/{n} bytes)"
                )
            parts.append(chunk)
            remaining -= len(chunk)
            self.bytes_in += len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_loop(self) -> None:
        try:
            preamble = self._read_exact(len(PREAMBLE))
            if preamble is None:
                self._incoming.put(_EOF)
                return
            if preamble != PREAMBLE:
                raise ProtocolError(
                    f"the peer is not speaking the hyperframe replication protocol (it sent {preamble!r}); "
                    "run `hyperframe replicate DIR` on both ends"
                )
            while True:
                header = self._read_exact(HEADER.size)
                if header is None:
                    self._incoming.put(_EOF)
                    return
                kind, _flags, clock, length = HEADER.unpack(header)
                if kind not in Kind._value2member_map_:
                    raise ProtocolError(f"the peer sent an unknown frame type 0x{kind:02x}")
                if length > self.max_frame:
                    raise ProtocolError(
                        f"the peer announced a {length}-byte frame, over the {self.max_frame}-byte limit; refused"
                    )
                with self._room:  # back-pressure: the peer's bytes wait in the pipe, not here
                    while self._held and self._held + length > READ_AHEAD_BYTES:
                        self._room.wait()
                    self._held += length
                payload = self._read_exact(length) if length else b""
                if payload is None:
                    raise ProtocolError("the peer closed the connection before a frame's payload")
                self._incoming.put(Frame(kind, clock, payload))
                del payload  # the queue's reference is the only one
        except ProtocolError as exc:
            self._incoming.put(exc)
        except (OSError, ValueError) as exc:
            self._incoming.put(ReplicationError(f"reading from the peer failed ({exc})"))

    def receive(self, *expected: int) -> Frame:
        """The next frame, which must be one of ``expected`` kinds (an ERROR frame raises)."""
        frame = self.poll(self.timeout, *expected)
        if frame is None:
            raise PeerTimeoutError(
                f"the peer sent nothing for {self.timeout:g} s; it may have hung or the link is down. "
                "Nothing from this transfer was committed; run replication again"
            )
        return frame

    def check_deadline(self) -> None:
        """Raise once the whole session has run out of time."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise PeerTimeoutError(
                "the replication session reached its deadline before the peer finished; nothing from this "
                "transfer was committed. Run replication again (or give it a longer --deadline)"
            )

    def poll(self, wait: float, *expected: int) -> Frame | None:
        """The next frame if one arrives within ``wait`` seconds, else None.

        Asking for the next frame releases the one returned before (its payload no longer
        counts against :data:`READ_AHEAD_BYTES`)."""
        if self._handed:
            with self._room:
                self._held -= self._handed
                self._handed = 0
                self._room.notify()
        limit = time.monotonic() + wait
        while True:
            self.check_deadline()
            end = limit if self.deadline is None else min(limit, self.deadline)
            try:
                item = self._incoming.get(timeout=min(0.25, max(0.0, end - time.monotonic())))
                break
            except queue.Empty:
                if self._write_error is not None:  # the link broke under us: no reply can come
                    raise ReplicationError(
                        f"the connection to the peer broke ({self._write_error}); nothing from this "
                        "transfer was committed; run replication again"
                    ) from None
                if time.monotonic() >= limit:
                    return None
        if item is _EOF:
            self._incoming.put(_EOF)  # later receives see the end too
            raise PeerClosedError("the peer closed the connection before replication finished; nothing was committed")
        if isinstance(item, BaseException):
            self._incoming.put(item)
            raise item
        assert isinstance(item, Frame)
        self._handed = len(item.payload)
        self.clock = max(self.clock, item.clock)
        self.legs = max(self.legs, item.clock)
        if item.kind == Kind.ERROR:
            from json import loads

            try:
                message = str(loads(item.payload)["message"])
            except Exception:
                message = item.payload[:200].decode("utf-8", "replace")
            raise ReplicationError(f"the peer gave up: {message}")
        if expected and item.kind not in expected:
            names = "/".join(kind_name(k) for k in expected)
            raise ProtocolError(f"the peer sent {item.name} where {names} was expected")
        return item
