"""Part 6: lying peers. A scripted peer that speaks the protocol and lies on purpose.

The honest side is a real ``python -m hyperframe replicate DIR --timeout T`` process (its
``TMPDIR`` a folder of the run's, which must be empty again when it has ended) with
its stdin and stdout piped to the liar (this process). The liar reads the honest HELLO,
then plays one :data:`BEHAVIOURS` script: loops of NEED / FULL / SKETCH / ESTIMATE,
duplicate or endless NODES, values the log's encoding cannot decode (with correct keys),
absurd HELLO counts and sizes, silence, never reading, a slow drip, DONE first, and
seeded random mixes of these. Every run is judged the same way (:func:`judge`):

- the honest process ends within its documented deadline (``--deadline``, by default
  60 x ``--timeout``), and in practice within a few timeouts (:data:`PRACTICAL_TIMEOUTS`);
- its peak RSS (its ``VmHWM``, sampled while it runs) stays under :data:`RSS_LIMIT_MIB`
  above its RSS when it sent its HELLO;
- it commits nothing: every file of the log is byte for byte as before (so the node set
  and ``verify`` are as before);
- it exits non-zero with exactly one stderr line ``hyperframe: error: ...``, no traceback.

Every script lies before a transfer could complete (nodes it sends link a key nobody
holds, or are poisoned, or never end), so a correct honest side never commits anything.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import random
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import hyperframe
from hyperframe.keys import node_key_bytes
from hyperframe.store import segments
from hyperframe.sync import session as _session
from hyperframe.sync import sketch
from hyperframe.sync.framing import HEADER, MAX_FRAME, PREAMBLE, Kind
from hyperframe.sync.nodes import encode_frames
from hyperframe.sync.session import PROTOCOL, VERSION
from hyperframe.verify import verify_log

from .harness import ROOT, PartResult, child_env, summarize, tree_state

#: the honest side's --timeout in the campaign (seconds)
TIMEOUT = 1.0
#: how far above its start the honest side's peak RSS may go
RSS_LIMIT_MIB = 256
#: "in practice within a few x timeout": start-up plus this many timeouts
PRACTICAL_TIMEOUTS = 6
#: what the default deadline is, in timeouts (docs: 60 x --timeout)
DEFAULT_DEADLINE_TIMEOUTS = 60
#: slack over the deadline for start-up and shutting down
GRACE = 12.0
#: the most cells a sketch may have, and ids a FULL list: the session's own bounds where it has
#: them (the liar probes the largest value allowed, and one past it), else what one frame holds
MAX_CELLS = getattr(_session, "MAX_SKETCH_CELLS", (MAX_FRAME // sketch.CELL_BYTES) // sketch.HASHES * sketch.HASHES)
MAX_IDS = min(getattr(_session, "MAX_FULL_IDS", MAX_FRAME // 8), MAX_FRAME // 8 - 1)
MAX_NODES = 2**40
_MIB = 1024 * 1024
_NOBODY = b"\x5a" * 32  # a key no log holds: nodes linking it can never be committed


# --- the logs under attack -----------------------------------------------------------------------


@dataclass
class Target:
    """A pristine log the honest side serves (copied afresh for every run)."""

    name: str
    pristine: Path
    encoding: str
    keys: set[str]
    state: dict[str, str]


def build_targets(root: Path, *, seed: int = 0, big_mib: int = 40) -> dict[str, Target]:
    """A small utf-8 log (three segments), a small JSON log, and a ~``big_mib`` MiB log of one segment."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    made: dict[str, Target] = {}

    def finish(name: str, path: Path) -> None:
        log = hyperframe.open(path)
        report = verify_log(path)
        assert report.ok, report.summary()
        made[name] = Target(name, path, log.encoding.name, {n.key for n in log.changes()}, tree_state(path))

    small = root / "small.db"
    if not small.exists():
        log = hyperframe.open(small)
        for s in range(3):
            heads = log.heads()[:1]
            log.batch([{"value": f"small-{s}-{i}", "links": heads if i == 0 else []} for i in range(10)])
    finish("small", small)
    js = root / "json.db"
    if not js.exists():
        log = hyperframe.open(js, encoding="json")
        first = log.add({"n": 0, "tags": ["a", "b"]})
        log.batch([{"value": {"n": i, "deep": [[i]]}, "links": [first.key] if i == 1 else []} for i in range(1, 12)])
    finish("json", js)
    if big_mib:
        big = root / f"big{big_mib}-one-segment.db"
        if not big.exists():  # one segment, one row group: a sender must not hold it whole (or twice)
            log = hyperframe.open(big)
            piece = 1024 * 1024  # incompressible text: the wire and the disk both carry ~big_mib MiB
            log.batch([{"value": base64.b64encode(rng.randbytes(piece * 3 // 4)).decode()} for _ in range(big_mib)])
        finish("big", big)
    return made


# --- the honest process and the liar's end of its pipes ------------------------------------------


@dataclass
class Frame:
    kind: int
    payload: bytes  # empty for NODES (the liar never looks inside)


def deadline_flag() -> bool:
    """Does ``hyperframe replicate`` take ``--deadline`` (the whole-session bound)?"""
    argv = [sys.executable, "-m", "hyperframe", "replicate", "--help"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT, env=child_env())
    return "--deadline" in proc.stdout


class Peer:
    """The liar: writes frames into the honest process's stdin, parses what it sends back."""

    def __init__(self, proc: subprocess.Popen[bytes], stop_at: float) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.stop_at = stop_at  # the liar gives up (stops writing and waiting) at this monotonic time
        self.out_fd = proc.stdin.fileno()
        os.set_blocking(self.out_fd, False)
        self.in_fd = proc.stdout.fileno()
        self.frames: queue.Queue[Frame | None] = queue.Queue()
        self.hello: dict[str, Any] | None = None
        self.got_hello = threading.Event()
        self.start_rss_kib = 0
        self.clock = 0
        self.gone = threading.Event()  # the honest side closed its end (or exited)
        self.reading = threading.Event()
        self.reading.set()
        self.exited = threading.Event()  # set by the watcher once the honest process is reaped
        self.read_size, self.read_delay = 1 << 16, 0.0
        self.closed = False
        self._write_lock = threading.Lock()
        self.read_error = ""
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # reading
    def _read_loop(self) -> None:
        buf = bytearray()
        need_preamble = True
        try:
            while True:
                while not self.reading.wait(0.1):
                    if self.closed:
                        return
                if self.read_delay:
                    time.sleep(self.read_delay)
                if self.closed:
                    return
                chunk = os.read(self.in_fd, self.read_size)
                if not chunk:
                    break
                buf += chunk
                if need_preamble:
                    if len(buf) < len(PREAMBLE):
                        continue
                    del buf[: len(PREAMBLE)]
                    need_preamble = False
                while len(buf) >= HEADER.size:
                    kind, _flags, clock, length = HEADER.unpack_from(buf)
                    if len(buf) < HEADER.size + length:
                        break
                    payload = bytes(buf[HEADER.size : HEADER.size + length]) if kind != Kind.NODES else b""
                    del buf[: HEADER.size + length]
                    self.clock = max(self.clock, clock)
                    if kind == Kind.HELLO and self.hello is None:
                        self.start_rss_kib = _rss_kib(self.proc.pid, "VmRSS")
                        try:
                            self.hello = json.loads(payload)
                        except ValueError:
                            self.hello = {}
                        self.got_hello.set()
                        continue
                    self.frames.put(Frame(kind, payload))
        except OSError as exc:
            self.read_error = f"{type(exc).__name__}: {exc}"
        finally:
            self.gone.set()
            self.got_hello.set()
            self.frames.put(None)
            assert self.proc.stdout is not None
            self.proc.stdout.close()  # only here: a number closed while another thread reads it gets reused

    def next(self, timeout: float) -> Frame | None:
        """The honest side's next frame, or None (nothing within ``timeout``, or it is gone)."""
        try:
            return self.frames.get(timeout=max(0.0, min(timeout, self.stop_at - time.monotonic())))
        except queue.Empty:
            return None

    def stop_reading(self) -> None:
        """Read nothing more (the honest side sends nothing after its HELLO until it has ours)."""
        self.reading.clear()

    def read_slowly(self, size: int, every: float) -> None:
        self.read_size, self.read_delay = size, every

    def wait_hello(self, timeout: float = 10.0) -> bool:
        """Wait for the honest HELLO (it sends first, whatever we do)."""
        return self.got_hello.wait(timeout) and self.hello is not None

    def expect(self, *kinds: int, timeout: float = 5.0) -> Frame | None:
        """The next frame of one of ``kinds`` (others are skipped); None at ERROR, EOF or ``timeout``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not (self.gone.is_set() and self.frames.empty()):
            frame = self.next(end - time.monotonic())
            if frame is not None and frame.kind in (*kinds, Kind.ERROR):
                return frame if frame.kind != Kind.ERROR else None
        return None

    # writing
    @property
    def alive(self) -> bool:
        return not self.gone.is_set() and not self.exited.is_set() and time.monotonic() < self.stop_at

    def write(self, data: bytes, *, timeout: float | None = None) -> bool:
        """Write all of ``data`` (False if the honest side stopped reading for ``timeout`` s or is gone)."""
        import select

        view = memoryview(data)
        end = self.stop_at if timeout is None else min(self.stop_at, time.monotonic() + timeout)
        while view:
            if self.exited.is_set() or time.monotonic() >= end:
                return False
            try:
                if not select.select([], [self.out_fd], [], 0.05)[1]:
                    continue
                with self._write_lock:
                    if self.closed:
                        return False
                    n = os.write(self.out_fd, view[: 1 << 20])
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError):
                self.gone.set()
                return False
            view = view[n:]
        return True

    def frame(self, kind: int, payload: bytes = b"", *, timeout: float | None = None) -> bool:
        return self.write(HEADER.pack(kind, 0, min(self.clock + 1, 0xFFFF), len(payload)) + payload, timeout=timeout)

    def drip(self, data: bytes, every: float) -> None:
        """One byte at a time, ``every`` seconds apart, while the honest side listens."""
        for i in range(len(data)):
            if not self.alive or not self.write(data[i : i + 1], timeout=every + 1):
                return
            time.sleep(every)

    def close(self) -> None:
        """Stop writing and reading. The reader closes the honest side's stdout itself when it
        ends (a pipe closed under a thread that still reads it would be another run's once its
        number is reused); stdin is closed under the write lock for the same reason."""
        with self._write_lock:
            self.closed = True
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            except OSError:
                pass
        self._reader.join(5)


def _rss_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


# --- what the liar says ---------------------------------------------------------------------------


@dataclass
class Ctx:
    """What a script knows: the honest HELLO, the target, the run's random source."""

    peer: Peer
    target: Target
    rng: random.Random
    timeout: float
    variant: int
    notes: list[str] = field(default_factory=list)
    #: what :data:`PREPARE` made before the honest process started (big payloads take seconds)
    prepared: Any = None

    @property
    def hello(self) -> dict[str, Any]:
        return self.peer.hello or {}

    @property
    def n_honest(self) -> int:
        return int(self.hello.get("nodes", 0))

    @property
    def encoding(self) -> str:
        return str(self.hello.get("encoding", self.target.encoding))


LEADER_NONCE = "0" * 32  # sorts before any real nonce: the liar leads
FOLLOWER_NONCE = "f" * 32  # sorts after any real nonce: the honest side leads


def hello(ctx: Ctx, **fields: Any) -> bytes:
    """A HELLO like the real session's, with ``fields`` overriding."""
    doc: dict[str, Any] = {
        "protocol": PROTOCOL,
        "version": VERSION,
        "nonce": FOLLOWER_NONCE,
        "mode": "sync",
        "encoding": ctx.encoding,
        "fixed": True,
        "nodes": 5,
        "fingerprint": ctx.rng.randbytes(32).hex(),
        "heads": 1,
        "segments": "",
    }
    doc.update(fields)
    return json.dumps(doc, separators=(",", ":")).encode()


def start(ctx: Ctx, **fields: Any) -> bool:
    """Preamble, wait for the honest HELLO, then ours. False if the honest side is gone."""
    peer = ctx.peer
    return peer.write(PREAMBLE) and peer.wait_hello() and peer.frame(Kind.HELLO, hello(ctx, **fields))


def push_setup(ctx: Ctx, extra: int) -> bool:
    """Claim the honest side's own segments plus ``extra`` nodes: it expects exactly that many from us."""
    return start(ctx, nodes=ctx.n_honest + extra, segments=str(ctx.hello.get("segments", "")), nonce=FOLLOWER_NONCE)


def value_bytes(ctx: Ctx, text: str) -> bytes:
    return json.dumps(text).encode() if ctx.encoding == "json" else text.encode()


def nodes_payload(rows: list[tuple[bytes, list[bytes]]], group: int = 0, whole: bool = False) -> list[bytes]:
    """NODES payloads of (value, links) rows, keys computed as the real session's would be."""
    keys = [node_key_bytes(v, ls) for v, ls in rows]
    table = segments.make_table(keys, [ls for _, ls in rows], [v for v, _ in rows])
    return list(encode_frames(table, group, whole))


def dangling(ctx: Ctx, n: int, tag: str, size: int = 0) -> list[tuple[bytes, list[bytes]]]:
    """``n`` valid nodes; the first links a key nobody holds, so no transfer of them can commit."""
    pad = "p" * size
    return [(value_bytes(ctx, f"{tag}-{i}-{pad}"), [_NOBODY] if i == 0 else []) for i in range(n)]


#: values the log's encoding cannot decode, by encoding (keys are computed right for them)
POISON = {
    "json": {"not-json": b"this is not JSON {", "deep-json": b"[" * 5000 + b"]" * 5000},
    "utf-8": {"not-utf8": b"\xff\xfe not utf-8 \xc3\x28", "lone-surrogate": b"\xed\xa0\x80"},
}


def ids_of(rows: list[tuple[bytes, list[bytes]]]) -> bytes:
    return b"".join(node_key_bytes(v, ls)[:8] for v, ls in rows)


def keep_replying(ctx: Ctx, seconds: float) -> None:
    """Read (and drop) what the honest side sends for ``seconds`` or until it is gone."""
    end = time.monotonic() + seconds
    while ctx.peer.alive and time.monotonic() < end:
        ctx.peer.next(0.1)


def loop(ctx: Ctx, send: Callable[[], bool], every: float = 0.05) -> None:
    """Send again and again (every ``every`` s) until the honest side hangs up."""
    while ctx.peer.alive:
        if not send():
            return
        ctx.peer.next(every)  # drain a reply, if any


# --- the behaviours ---------------------------------------------------------------------------------


def b_need_loop(ctx: Ctx) -> None:
    """The honest side leads; we answer every sketch with NEED, forever."""
    need = struct.pack("<Q", sketch.size_for(64))  # a size the honest side accepts every time
    if start(ctx, nonce=FOLLOWER_NONCE, nodes=ctx.n_honest + 3):
        loop(ctx, lambda: ctx.peer.frame(Kind.NEED, need))


def b_full_loop(ctx: Ctx) -> None:
    """FULL id lists in a loop (as follower: requests; as leader: lists the follower must answer)."""
    ids = ctx.rng.randbytes(8 * 3)
    if start(ctx, nonce=LEADER_NONCE if ctx.variant % 2 == 0 else FOLLOWER_NONCE, nodes=ctx.n_honest + 3):
        loop(ctx, lambda: ctx.peer.frame(Kind.FULL, ids))


def b_sketch_loop(ctx: Ctx) -> None:
    """We lead and send garbage sketches (well-formed, undecodable) again and again."""
    size = sketch.size_for(64) * sketch.CELL_BYTES
    if start(ctx, nonce=LEADER_NONCE, nodes=ctx.n_honest + 3):
        loop(ctx, lambda: ctx.peer.frame(Kind.SKETCH, ctx.rng.randbytes(size)))


def b_estimate_loop(ctx: Ctx) -> None:
    """The honest side leads; we send strata estimates again and again (each of the right size)."""
    levels = sketch.strata_levels(ctx.n_honest + 3)
    payload = sketch.strata(np.frombuffer(ctx.rng.randbytes(8 * 40), "<u8"), levels).to_bytes()
    if start(ctx, nonce=FOLLOWER_NONCE, nodes=ctx.n_honest + 3):
        loop(ctx, lambda: ctx.peer.frame(Kind.ESTIMATE, payload))


def b_same_node(ctx: Ctx) -> None:
    """The same node in NODES frames over and over, never END (pushed, or after a FULL that lists it)."""
    rows = dangling(ctx, 1, "again")
    if ctx.variant % 2 == 0:
        ok = push_setup(ctx, 3)
    else:  # we lead, our FULL lists it among many ids: the honest side's PLAN asks for them all
        many = 1 + 100_000 * (ctx.variant % 3)
        ok = start(ctx, nonce=LEADER_NONCE, nodes=many)
        ok = ok and ctx.peer.frame(Kind.FULL, ids_of(rows) + ctx.rng.randbytes(8 * (many - 1)))
    if not ok:
        return
    payload = nodes_payload(rows)[0]
    loop(ctx, lambda: ctx.peer.frame(Kind.NODES, payload), every=0.0)


def b_beyond_count(ctx: Ctx) -> None:
    """Valid distinct nodes, more than announced (one per frame, or all in one frame)."""
    rows = dangling(ctx, 9 + ctx.variant % 20, "beyond")  # we announce 3
    frames = nodes_payload(rows) if ctx.variant % 2 else [p for row in rows for p in nodes_payload([row])]
    if push_setup(ctx, 3) and all(ctx.peer.frame(Kind.NODES, payload) for payload in frames):
        ctx.peer.frame(Kind.END)
        keep_replying(ctx, 30)


def b_poisoned(ctx: Ctx) -> None:
    """A value the log's encoding cannot decode, with a correct key (pushed, or via a PLAN)."""
    kinds = sorted(POISON[ctx.encoding])
    kind = kinds[ctx.variant % len(kinds)]
    ctx.notes.append(kind + (" via PLAN" if ctx.variant % 4 >= 2 else " pushed"))
    bad = POISON[ctx.encoding][kind]
    good = value_bytes(ctx, "fine")
    rows = [(good, []), (bad, [node_key_bytes(good, [])])] if ctx.variant % 3 else [(bad, [])]
    if ctx.variant % 4 < 2:
        ok = push_setup(ctx, len(rows))
    else:  # we lead with the exact list; the honest side's PLAN asks for them
        ok = start(ctx, nonce=LEADER_NONCE, nodes=len(rows)) and ctx.peer.frame(Kind.FULL, ids_of(rows))
        ok = ok and ctx.peer.expect(Kind.PLAN, timeout=5) is not None
    if not (ok and all(ctx.peer.frame(Kind.NODES, payload) for payload in nodes_payload(rows))):
        return
    ctx.peer.frame(Kind.END)
    if ctx.peer.expect(Kind.DONE, timeout=10) is not None:
        ctx.notes.append("the honest side took the poisoned value and sent DONE")
        ctx.peer.frame(Kind.DONE, json.dumps({"nodes": 0, "fingerprint": "0" * 64}).encode())
    keep_replying(ctx, 10)


HELLO_VARIANTS: list[tuple[str, Callable[[Ctx], bytes]]] = [
    ("nodes=10**30", lambda c: hello(c, nodes=10**30)),
    ("nodes=Infinity", lambda c: hello(c, nodes=1).replace(b'"nodes":1', b'"nodes":Infinity')),
    ("nodes=-1", lambda c: hello(c, nodes=-1)),
    ("nodes=NaN", lambda c: hello(c, nodes=1).replace(b'"nodes":1', b'"nodes":NaN')),
    ("nodes=1e30", lambda c: hello(c, nodes=1e30)),
    ("nodes='5'", lambda c: hello(c, nodes="5")),
    ("nodes=true", lambda c: hello(c, nodes=True)),
    ("heads=10**30", lambda c: hello(c, heads=10**30)),
    ("heads=-Infinity", lambda c: hello(c, heads=1).replace(b'"heads":1', b'"heads":-Infinity')),
    ("segments>nodes", lambda c: hello(c, nodes=1, segments=c.hello.get("segments", ""))),
    (
        "segments of 2**32-1 rows",
        lambda c: hello(c, nodes=5, segments=base64.b64encode(b"\1" * 8 + b"\xff" * 4).decode()),
    ),
    ("segments not base64", lambda c: hello(c, segments="!!not base64!!")),
    ("segments 100,001", lambda c: hello(c, nodes=MAX_NODES, segments=base64.b64encode(b"\0" * 12 * 100_001).decode())),
    ("version 1", lambda c: hello(c, version=1)),
    ("version '2'", lambda c: hello(c, version=str(VERSION))),
    ("version 10**30", lambda c: hello(c, version=10**30)),
    ("protocol other", lambda c: hello(c, protocol="hyperlog")),
    ("mode bogus", lambda c: hello(c, mode="x" * 10_000)),
    ("encoding other", lambda c: hello(c, encoding="binary" if c.encoding != "binary" else "json")),
    ("encoding huge", lambda c: hello(c, encoding="e" * 1_000_000)),
    ("nonce echoed", lambda c: hello(c, nonce=str(c.hello.get("nonce", "0" * 32)))),
    ("nonce not hex", lambda c: hello(c, nonce="z" * 32)),
    ("fingerprint short", lambda c: hello(c, fingerprint="ab")),
    ("fixed 'yes'", lambda c: hello(c, fixed="yes")),
    ("not JSON", lambda c: b"{this is not json"),
    ("JSON list", lambda c: b"[1,2,3]"),
    ("JSON nested 100,000", lambda c: b"[" * 100_000 + b"]" * 100_000),
    ("not UTF-8", lambda c: b'{"protocol":"\xff\xfe"}'),
    ("empty", lambda c: b""),
    ("60 MiB of spaces", lambda c: hello(c) + b" " * (60 * _MIB)),
]


def b_absurd_hello(ctx: Ctx) -> None:
    """A HELLO with one absurd or malformed field (the variant picks which)."""
    name, make = HELLO_VARIANTS[ctx.variant % len(HELLO_VARIANTS)]
    ctx.notes.append(name)
    peer = ctx.peer
    if not peer.write(PREAMBLE) or not peer.wait_hello():
        return
    peer.frame(Kind.HELLO, make(ctx))
    keep_replying(ctx, 10)


NEED_SIZES = [3 * 10**7, 3 * 2**60, 2**64 - 1, 0, 4, MAX_CELLS + 3, MAX_CELLS]


def b_huge_need(ctx: Ctx) -> None:
    """NEED sizes a peer chose: 3e7, 3*2**60, 2**64-1, 0, not a multiple of 3, over the frame
    limit, and the largest allowed (four times, without reading the answers)."""
    m = NEED_SIZES[ctx.variant % len(NEED_SIZES)]
    ctx.notes.append(f"m={m}")
    if m == MAX_CELLS:
        ctx.peer.stop_reading()
    if not start(ctx, nonce=FOLLOWER_NONCE, nodes=MAX_NODES):
        return
    for _ in range(6 if m == MAX_CELLS else 1):
        if not ctx.peer.frame(Kind.NEED, struct.pack("<Q", m)):
            return
    keep_replying(ctx, 30)


def b_huge_full(ctx: Ctx) -> None:
    """FULL id lists beyond what was claimed, a 4 GB frame header, and under a claim of 2**40 nodes
    the most ids allowed (the honest side plans for them all; we send none) or one more."""
    v = ctx.variant % 4
    if v == 0:  # more ids than our HELLO said we hold
        payload, claim = ctx.rng.randbytes(8 * 1000), 3
    elif v == 1:  # a frame header announcing more than the limit
        payload, claim = b"", 3
    else:
        payload, claim = ctx.prepared, MAX_NODES
    if not start(ctx, nonce=LEADER_NONCE, nodes=claim):
        return
    if v == 1:
        ctx.peer.write(HEADER.pack(Kind.FULL, 0, 1, 2**32 - 1) + b"\0" * 4096)
    else:
        ctx.peer.frame(Kind.FULL, payload, timeout=30)
    keep_replying(ctx, 30)


def b_huge_sketch(ctx: Ctx) -> None:
    """We lead with a claim of 2**40 nodes and send the largest sketch allowed (64 MiB of cells),
    once, or five back to back (the honest side's read-ahead holds several)."""
    if start(ctx, nonce=LEADER_NONCE, nodes=MAX_NODES):
        all(ctx.peer.frame(Kind.SKETCH, ctx.prepared, timeout=30) for _ in range(5 if ctx.variant % 2 else 1))
        keep_replying(ctx, 30)


def b_fat_nodes(ctx: Ctx) -> None:
    """Distinct valid nodes of ~30 MiB each (within the count we announced), then no END."""
    if push_setup(ctx, len(ctx.prepared)):
        all(ctx.peer.frame(Kind.NODES, payload, timeout=30) for payload in ctx.prepared)
        keep_replying(ctx, 30)  # silence: no END


def b_silence(ctx: Ctx) -> None:
    """Nothing at all; the preamble only; HELLO then nothing; half a frame; silence mid-transfer."""
    v, peer = ctx.variant % 5, ctx.peer
    if v == 1:
        peer.write(PREAMBLE)
    elif v == 2:
        start(ctx, nonce=FOLLOWER_NONCE, nodes=ctx.n_honest + 3)
    elif v == 3:
        if start(ctx, nonce=LEADER_NONCE, nodes=ctx.n_honest + 3):
            peer.write(HEADER.pack(Kind.SKETCH, 0, 1, 48 * 20) + b"\0" * 100)
    elif push_setup(ctx, 3):
        peer.frame(Kind.NODES, nodes_payload(dangling(ctx, 1, "then-silence"))[0])
    keep_replying(ctx, 120)


def b_slow_drip(ctx: Ctx) -> None:
    """One byte every 0.5 s: of the preamble, of our HELLO, or of a NODES frame."""
    v, peer = ctx.variant % 3, ctx.peer
    if v == 0:
        if peer.wait_hello():
            body = hello(ctx)
            peer.drip(PREAMBLE + HEADER.pack(Kind.HELLO, 0, 1, len(body)) + body, 0.5)
    elif v == 1:
        if peer.write(PREAMBLE) and peer.wait_hello():
            body = hello(ctx, nodes=ctx.n_honest + 2)
            peer.drip(HEADER.pack(Kind.HELLO, 0, 1, len(body)) + body, 0.5)
    elif push_setup(ctx, 2):
        payload = nodes_payload(dangling(ctx, 2, "drip"))[0]
        peer.drip(HEADER.pack(Kind.NODES, 0, 2, len(payload)) + payload, 0.5)


def b_never_read(ctx: Ctx) -> None:
    """We claim an empty log, so the honest side sends everything (the big log), and we never
    read past its HELLO (or read one byte every 0.5 s)."""
    if ctx.variant % 2:
        ctx.peer.read_slowly(1, 0.5)
    else:
        ctx.peer.stop_reading()
    if start(ctx, nonce=FOLLOWER_NONCE, nodes=0):
        ctx.peer.frame(Kind.END)
        keep_replying(ctx, 120)


def b_done_first(ctx: Ctx) -> None:
    """DONE (with the honest side's own count and fingerprint) first: before HELLO, or right after."""
    peer, v = ctx.peer, ctx.variant % 3
    done = json.dumps({"nodes": ctx.n_honest, "fingerprint": ctx.hello.get("fingerprint")}).encode()
    ours = hello(ctx, nonce=LEADER_NONCE if v == 1 else FOLLOWER_NONCE, nodes=ctx.n_honest + 1)
    if peer.write(PREAMBLE) and (v == 0 or peer.frame(Kind.HELLO, ours)):
        peer.frame(Kind.DONE, done)
    keep_replying(ctx, 10)


def b_second_pass(ctx: Ctx) -> None:
    """An empty first transfer, then a DONE whose fingerprint differs: the honest side starts its
    exact FULL pass, where our PLAN announces 2**40 nodes; then the same node forever, or new
    valid nodes forever (100 a frame; the first links a key nobody holds)."""
    peer = ctx.peer
    ok = push_setup(ctx, 1) and peer.expect(Kind.END, timeout=10) is not None and peer.frame(Kind.END)
    wrong = json.dumps({"nodes": 1, "fingerprint": "1" * 64}).encode()
    if not (ok and peer.expect(Kind.DONE, timeout=10) is not None and peer.frame(Kind.DONE, wrong)):
        return
    # second pass: the honest side leads (our nonce is the bigger one); we ask with FULL
    peer.frame(Kind.FULL, ids_of(dangling(ctx, 1, "again")))
    if peer.expect(Kind.FULL, timeout=10) is None or not peer.frame(Kind.PLAN, struct.pack("<Q", MAX_NODES)):
        return
    if ctx.variant % 2 == 0:
        payload = nodes_payload(dangling(ctx, 1, "again"))[0]
        loop(ctx, lambda: peer.frame(Kind.NODES, payload), every=0.0)
        return
    sent = [0]

    def fresh() -> bool:
        rows = [(value_bytes(ctx, f"flood-{sent[0] + i}"), [_NOBODY] if sent[0] + i == 0 else []) for i in range(100)]
        sent[0] += 100
        return peer.frame(Kind.NODES, nodes_payload(rows)[0])

    loop(ctx, fresh, every=0.0)


LIES = ("need", "full", "sketch", "estimate", "plan", "nodes", "dup", "poison", "end", "done", "pause", "drip", "junk")


def _lie(ctx: Ctx, rng: random.Random, lie: str) -> bool:
    """One lie; False once the honest side is gone (or the lie leaves nothing more to say)."""
    peer = ctx.peer
    if lie == "need":
        return peer.frame(Kind.NEED, struct.pack("<Q", rng.choice([3 * rng.randrange(1, 5000), *NEED_SIZES[:6]])))
    if lie == "full":
        return peer.frame(Kind.FULL, rng.randbytes(8 * rng.choice([0, 1, 3, 50, 5000])))
    if lie == "sketch":
        return peer.frame(Kind.SKETCH, rng.randbytes(sketch.CELL_BYTES * 3 * rng.randrange(1, 200)))
    if lie == "estimate":
        levels = sketch.strata_levels(max(ctx.n_honest, rng.randrange(1, 10_000)))
        return peer.frame(Kind.ESTIMATE, rng.randbytes(levels * sketch.STRATA_CELLS * sketch.CELL_BYTES))
    if lie == "plan":
        return peer.frame(Kind.PLAN, struct.pack("<Q", rng.choice([0, 1, 5, 2**40, 2**64 - 1])) + rng.randbytes(16))
    if lie in ("nodes", "dup"):
        payload = nodes_payload(dangling(ctx, rng.randrange(1, 6), f"mix{rng.randrange(10**6)}"))[0]
        return all(peer.frame(Kind.NODES, payload) for _ in range(1 if lie == "nodes" else rng.randrange(2, 200)))
    if lie == "poison":
        bad = POISON[ctx.encoding][rng.choice(sorted(POISON[ctx.encoding]))]
        return peer.frame(Kind.NODES, nodes_payload([(bad, [])])[0])
    if lie == "end":
        return peer.frame(Kind.END)
    if lie == "done":
        return peer.frame(Kind.DONE, json.dumps({"nodes": rng.randrange(100), "fingerprint": "2" * 64}).encode())
    if lie == "pause":
        time.sleep(rng.choice([0.1, 0.5, 0.9 * ctx.timeout, 1.5 * ctx.timeout]))
        return peer.alive
    if lie == "drip":
        peer.drip(HEADER.pack(Kind.NEED, 0, 1, 8)[: rng.randrange(1, 8)], 0.5)
        return False  # a cut frame: nothing after it makes sense
    return peer.write(rng.randbytes(rng.randrange(1, 64)))


def _answer(ctx: Ctx, rng: random.Random, frame: Frame, ours: list[tuple[bytes, list[bytes]]]) -> bool:
    """What an honest peer would send next (our nodes always include one linking a key nobody
    holds, so no transfer of ours can ever be committed)."""
    peer = ctx.peer
    if frame.kind == Kind.SKETCH:  # we follow: ask for an estimate-sized sketch, a bigger one, or lists
        choice = rng.choice(["estimate", "need", "full"])
        if choice == "estimate":
            levels = sketch.strata_levels(max(ctx.n_honest, len(ours)))
            return peer.frame(Kind.ESTIMATE, sketch.strata(np.frombuffer(ids_of(ours), "<u8"), levels).to_bytes())
        if choice == "need":
            m = len(frame.payload) // sketch.CELL_BYTES
            return peer.frame(Kind.NEED, struct.pack("<Q", 2 * m))
        return peer.frame(Kind.FULL, ids_of(ours))
    if frame.kind in (Kind.ESTIMATE, Kind.NEED):  # we lead: a sketch of our ids
        m = sketch.size_for(64)
        if frame.kind == Kind.NEED and len(frame.payload) == 8:
            m = min(struct.unpack("<Q", frame.payload)[0], 3 * 20_000)
        return peer.frame(Kind.SKETCH, sketch.IBLT.of(np.frombuffer(ids_of(ours), "<u8"), m - m % 3 or 3).to_bytes())
    if frame.kind == Kind.FULL:  # they answered our FULL (we follow) or sent theirs (we lead)
        return peer.frame(Kind.PLAN, struct.pack("<Q", len(ours)) + frame.payload[: 8 * 64])
    if frame.kind in (Kind.PLAN, Kind.END):
        return all(peer.frame(Kind.NODES, p) for p in nodes_payload(ours)) and peer.frame(Kind.END)
    if frame.kind == Kind.DONE:  # a fingerprint that differs: the honest side starts its exact pass
        return peer.frame(Kind.DONE, json.dumps({"nodes": len(ours), "fingerprint": "3" * 64}).encode())
    return True  # NODES: keep listening


def b_mix(ctx: Ctx) -> None:
    """A seeded random mix: a plausible (or absurd) HELLO, then an honest-looking conversation in
    which each answer is, with some probability, replaced or followed by a lie of any kind."""
    rng = ctx.rng
    peer = ctx.peer
    ours = dangling(ctx, rng.randrange(1, 40), f"ours{rng.randrange(10**6)}")
    honesty = rng.choice([0.3, 0.6, 0.85, 0.95])
    if rng.random() < 0.05:
        peer.stop_reading()
    if rng.random() < 0.1:
        _, make = rng.choice(HELLO_VARIANTS[:20])
        ok = peer.write(PREAMBLE) and peer.frame(Kind.HELLO, make(ctx))
    else:
        shape = rng.choice(["push", "lead", "follow", "big"])
        if shape == "push":
            ok = push_setup(ctx, len(ours))
        else:
            nodes = MAX_NODES if shape == "big" else len(ours)
            ok = start(ctx, nonce=LEADER_NONCE if shape == "lead" else FOLLOWER_NONCE, nodes=nodes)
            if ok and shape == "lead":  # the leader speaks first: a sketch of our ids, or the exact list
                first = sketch.IBLT.of(np.frombuffer(ids_of(ours), "<u8"), sketch.size_for(64)).to_bytes()
                ok = peer.frame(Kind.FULL, ids_of(ours)) if rng.random() < 0.5 else peer.frame(Kind.SKETCH, first)
    steps = 0
    while ok and peer.alive and steps < 300:
        steps += 1
        frame = peer.next(rng.choice([0.05, 0.3, 1.0]))
        if rng.random() > honesty:
            ok = _lie(ctx, rng, rng.choice(LIES))
        elif frame is not None:
            ok = _answer(ctx, rng, frame, ours)
    keep_replying(ctx, 30)


def _fat_payloads(rng: random.Random, variant: int) -> list[bytes]:
    pad = "p" * (30 * _MIB)
    rows = [(f"fat-{i}-{pad}".encode(), [_NOBODY] if i == 0 else []) for i in range(4 + variant % 6)]
    return [p for row in rows for p in nodes_payload([row])]


#: payloads made before the honest process starts (its first receive waits only --timeout s)
PREPARE: dict[str, Callable[[random.Random, int], Any]] = {
    "huge-sketch": lambda rng, _v: rng.randbytes(MAX_CELLS * sketch.CELL_BYTES),
    "huge-full": lambda rng, v: rng.randbytes(8 * (MAX_IDS + v % 4 - 2)) if v % 4 >= 2 else None,
    "fat-nodes": _fat_payloads,
}

BEHAVIOURS: dict[str, tuple[Callable[[Ctx], None], str]] = {
    "need-loop": (b_need_loop, "small"),
    "full-loop": (b_full_loop, "small"),
    "sketch-loop": (b_sketch_loop, "small"),
    "estimate-loop": (b_estimate_loop, "small"),
    "same-node": (b_same_node, "small"),
    "beyond-count": (b_beyond_count, "small"),
    "poisoned-json": (b_poisoned, "json"),
    "poisoned-utf8": (b_poisoned, "small"),
    "absurd-hello": (b_absurd_hello, "small"),
    "huge-need": (b_huge_need, "small"),
    "huge-full": (b_huge_full, "small"),
    "huge-sketch": (b_huge_sketch, "small"),
    "fat-nodes": (b_fat_nodes, "small"),
    "silence": (b_silence, "small"),
    "slow-drip": (b_slow_drip, "small"),
    "never-read": (b_never_read, "big"),
    "done-first": (b_done_first, "small"),
    "second-pass": (b_second_pass, "small"),
    "mix": (b_mix, "small"),
}


# --- one run, judged ---------------------------------------------------------------------------------


@dataclass
class RunResult:
    behaviour: str
    variant: int
    seconds: float
    rss_mib: float  # peak above the RSS at HELLO
    code: int
    failures: list[str]
    notes: list[str]
    stderr: str = ""


def run_one(root: Path, targets: dict[str, Target], behaviour: str, variant: int, seed: int, **kw: Any) -> RunResult:
    """Copy the target, start the honest process, play the liar, judge what happened.

    ``timeout`` (default :data:`TIMEOUT`) and ``deadline`` (None: do not pass ``--deadline``,
    so the default of 60 x timeout applies) are the honest side's flags.
    """
    timeout: float = kw.get("timeout", TIMEOUT)
    deadline: float | None = kw.get("deadline")
    script, target_name = BEHAVIOURS[behaviour]
    target = targets[target_name]
    work = root / f"run-{behaviour}-{variant}-{seed}-{threading.get_ident()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log = work / "log.db"
    shutil.copytree(target.pristine, log)
    documented = deadline if deadline is not None else DEFAULT_DEADLINE_TIMEOUTS * timeout
    argv = [sys.executable, "-m", "hyperframe", "replicate", str(log), "--timeout", f"{timeout:g}"]
    if deadline is not None:
        argv += ["--deadline", f"{deadline:g}"]
    rng = random.Random(f"{seed}:{behaviour}:{variant}")
    prepared = PREPARE[behaviour](rng, variant) if behaviour in PREPARE else None
    err_path = work / "stderr"
    scratch = work / "tmp"  # its TMPDIR (spill files and the like): empty again once it has ended
    scratch.mkdir()
    with err_path.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=ROOT,
            env={**child_env(), "TMPDIR": str(scratch)},
        )
    hard_limit = documented + GRACE
    peer = Peer(proc, stop_at=started + hard_limit)
    ctx = Ctx(peer, target, rng, timeout, variant, prepared=prepared)
    crashed: list[str] = []

    def play() -> None:
        try:
            script(ctx)
        except Exception as exc:  # noqa: BLE001 - the liar's own bug is a failure of the run, not of the campaign
            import traceback

            crashed.append(f"the liar script raised {type(exc).__name__}: {exc} {traceback.format_exc()[-600:]}")

    player = threading.Thread(target=play, daemon=True)
    peer.wait_hello(10)  # it sends its HELLO first, whatever we do: the scripts may use it at once
    player.start()
    code, peak_kib, killed = _watch(proc, started + hard_limit, peer.exited)
    seconds = time.monotonic() - started
    peer.gone.set()
    player.join(10)
    peer.close()
    stderr = err_path.read_text("utf-8", "replace")
    failures = list(crashed)
    rss = max(0, peak_kib - peer.start_rss_kib) / 1024 if peer.start_rss_kib else 0.0
    if peer.hello is None:
        failures.append(f"no HELLO from the honest side (read: {peer.read_error or 'EOF'}; stderr {stderr[-300:]!r})")
    failures += judge(code, stderr, seconds, rss, killed, documented, timeout, log, target)
    left = sorted(p.name for p in scratch.iterdir())
    if left and not killed:
        failures.append(f"left {len(left)} temporary file(s) behind in its TMPDIR: {left[:3]}")
    where = f"{behaviour}#{variant} (seed {seed}{'; ' + ', '.join(ctx.notes) if ctx.notes else ''})"
    result = RunResult(
        behaviour, variant, seconds, rss, code, [f"{where}: {f}" for f in failures], ctx.notes, stderr.strip()[-400:]
    )
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _watch(proc: subprocess.Popen[bytes], limit: float, exited: threading.Event) -> tuple[int, int, bool]:
    """Wait for the honest process (SIGKILL at ``limit``): (exit status, peak RSS KiB, killed).

    The peak is the process's own high-water mark (``VmHWM``, sampled every 10 ms while it
    runs), not ``wait4``'s ``ru_maxrss``: Linux carries the parent's high-water mark over
    the fork into the child's, so a big harness would make every child look big.
    """
    killed = False
    peak = 0
    while True:
        pid, status, _usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            exited.set()
            return proc.returncode, peak, killed
        peak = max(peak, _rss_kib(proc.pid, "VmHWM"))
        if time.monotonic() > limit and not killed:
            proc.kill()
            killed = True
        time.sleep(0.01)


def judge(*run: Any) -> list[str]:
    """Everything a run must show (see the module docs): ``run`` is (exit status, stderr,
    seconds, peak RSS MiB above the start, killed, documented deadline, timeout, log, target)."""
    code, stderr, seconds, rss_mib, killed, documented, timeout, log, target = run
    failures = []
    if killed:
        failures.append(f"still running after {seconds:.1f} s (deadline {documented:g} s + {GRACE:g} s): killed")
    elif seconds > documented + GRACE:
        failures.append(f"took {seconds:.1f} s, past its deadline of {documented:g} s")
    elif seconds > PRACTICAL_TIMEOUTS * timeout + 2:
        failures.append(f"took {seconds:.1f} s = {seconds / timeout:.0f} x the timeout of {timeout:g} s")
    if rss_mib > RSS_LIMIT_MIB:
        failures.append(f"peak RSS {rss_mib:.0f} MiB above its start (limit {RSS_LIMIT_MIB})")
    if code == 0:
        failures.append("exited 0: it accepted the lie")
    if "Traceback" in stderr:
        failures.append("a traceback: " + stderr[-500:].replace("\n", " | "))
    elif not killed and not (stderr.startswith("hyperframe: error: ") and stderr.count("\n") == 1):
        failures.append(f"stderr is not one `hyperframe: error:` line: {stderr[-300:]!r}")
    after = tree_state(log)
    if after != target.state:
        changed = sorted(k for k in set(after) | set(target.state) if after.get(k) != target.state.get(k))
        failures.append(f"the log's files changed: {changed[:4]}")
        try:
            keys = {n.key for n in hyperframe.open(log).changes()}
            if keys != target.keys:
                failures.append(f"node set changed: +{len(keys - target.keys)} -{len(target.keys - keys)}")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"the log no longer reads: {type(exc).__name__}: {exc}")
        report = verify_log(log)
        if not report.ok:
            failures.append(f"verify: {report.summary()[:300]}")
    return failures


# --- the campaign ------------------------------------------------------------------------------------


def plan_runs(runs: int, behaviours: list[str] | None = None) -> list[tuple[str, int]]:
    """``runs`` (behaviour, variant) pairs: every behaviour in turn, variants counting up."""
    names = behaviours or list(BEHAVIOURS)
    return [(names[i % len(names)], i // len(names)) for i in range(runs)]


def run_peers(
    root: Path,
    *,
    runs: int = 300,
    seed: int = 0,
    seconds: float = 600,
    jobs: int = 2,
    timeout: float = TIMEOUT,
    behaviours: list[str] | None = None,
    big_mib: int = 40,
) -> PartResult:
    """The lying-peer campaign: ``runs`` runs over every behaviour, at most ``seconds`` long.

    Nine runs in ten pass ``--deadline`` (10 x timeout) to keep the campaign short; every
    tenth passes none, so the default deadline (60 x timeout) is what bounds it.
    """
    names = behaviours or list(BEHAVIOURS)
    needed = {BEHAVIOURS[n][1] for n in names}
    targets = build_targets(root / "targets", seed=seed, big_mib=big_mib if "big" in needed else 0)
    has_flag = deadline_flag()
    todo = plan_runs(runs, names)
    start = time.monotonic()
    results: list[RunResult] = []

    def work(item: tuple[str, int]) -> None:
        if time.monotonic() - start < seconds:
            deadline = 10 * timeout if has_flag and item[1] % 10 != 9 else None
            results.append(run_one(root, targets, *item, seed, timeout=timeout, deadline=deadline))

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        list(pool.map(work, todo))
    failed = Counter(r.behaviour for r in results if r.failures)
    counts = Counter(r.behaviour for r in results)
    per = ", ".join(f"{n} {counts[n]}" + (f" ({failed[n]} failed)" if failed[n] else "") for n in names if counts[n])
    worst_s = max((r.seconds for r in results), default=0.0)
    worst_rss = max((r.rss_mib for r in results), default=0.0)
    flags = f"--timeout {timeout:g}, --deadline {10 * timeout:g} or none" if has_flag else "no --deadline flag"
    line = (
        f"peers: runs {len(results)}, failures {sum(failed.values())} ({per}; max {worst_s:.1f} s, "
        f"max RSS +{worst_rss:.0f} MiB; {flags})"
    )
    if len(results) < len(todo):
        line += f" [stopped after {seconds:g} s: {len(results)} of {len(todo)} runs]"
    failures = [f for r in results for f in r.failures]
    return PartResult("peers", line, summarize(failures), count=sum(failed.values()))
