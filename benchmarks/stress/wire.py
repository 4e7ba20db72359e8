"""The wire, for part 4 (hostile peers): frames as bytes, and transcripts of real peers.

:func:`frame_bytes`, :func:`split_frames` and :func:`join_frames` build and take apart
streams in the framing of ``hyperframe.sync.framing``; :func:`build_fuzz_base` makes the
log under attack and records what real peers send it in every situation (the
:class:`Transcript` objects the stream generators mutate).
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe.sync.framing import HEADER, PREAMBLE, Channel, Kind
from hyperframe.sync.session import Session

from .harness import tree_state

#: every frame kind, in the order the stream generators draw from (fixed, so seeds replay)
KINDS: list[int] = [
    int(k)
    for k in (
        Kind.HELLO,
        Kind.SKETCH,
        Kind.ESTIMATE,
        Kind.NEED,
        Kind.FULL,
        Kind.PLAN,
        Kind.NODES,
        Kind.END,
        Kind.DONE,
        Kind.ERROR,
    )
]


class Sink:
    """A writer that swallows what a Channel sends (the fake peer never reads)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        if len(self.data) < 1 << 20:
            self.data += data
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Tee:
    def __init__(self, inner: Any, into: bytearray) -> None:
        self.inner, self.into = inner, into

    def write(self, data: bytes) -> int:
        self.into += data
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()


def frame_bytes(kind: int, payload: bytes = b"", clock: int = 1, flags: int = 0, length: int | None = None) -> bytes:
    """One frame: the header (``length`` may lie about the payload) and the payload."""
    return HEADER.pack(kind & 0xFF, flags & 0xFF, clock & 0xFFFF, len(payload) if length is None else length) + payload


def split_frames(stream: bytes) -> list[tuple[int, int, int, bytes]]:
    """The whole frames of a stream that starts with the preamble (stops at the first partial one)."""
    out = []
    pos = len(PREAMBLE) if stream.startswith(PREAMBLE) else 0
    while pos + HEADER.size <= len(stream):
        kind, flags, clock, length = HEADER.unpack_from(stream, pos)
        if pos + HEADER.size + length > len(stream):
            break
        out.append((kind, flags, clock, stream[pos + HEADER.size : pos + HEADER.size + length]))
        pos += HEADER.size + length
    return out


def join_frames(frames: list[tuple[int, int, int, bytes]]) -> bytes:
    """The preamble and ``frames`` (as :func:`split_frames` gives them: kind, flags, clock, payload)."""
    return PREAMBLE + b"".join(frame_bytes(k, p, c, f) for k, f, c, p in frames)


@dataclass
class Transcript:
    """What a real peer sent to the base log in one replication (replayable: its role is pinned)."""

    name: str
    stream: bytes
    leader: bool


def _record(real: Path, peer: Path, peer_mode: str = "sync", real_mode: str = "sync") -> tuple[bytes, bool]:
    """Replicate ``peer`` into ``real`` over a socket pair, capturing what the peer side sent."""
    sock_real, sock_peer = socket.socketpair()
    sent_by_peer, sent_by_real = bytearray(), bytearray()
    errors: list[BaseException] = []

    def side(log_path: Path, sock: socket.socket, mode: str, into: bytearray) -> None:
        reader, writer = sock.makefile("rb"), sock.makefile("wb")

        def shut() -> None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        channel = Channel(reader, _Tee(writer, into), timeout=30, on_close=shut)  # type: ignore[arg-type]
        try:
            Session(hyperframe.open(log_path).replica(), channel, mode=mode).run()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            reader.close()

    thread = threading.Thread(target=side, args=(peer, sock_peer, peer_mode, sent_by_peer))
    thread.start()
    side(real, sock_real, real_mode, sent_by_real)
    thread.join(60)
    sock_real.close()
    sock_peer.close()
    if errors:
        raise errors[0]
    hello = lambda data: json.loads(split_frames(bytes(data))[0][3])  # noqa: E731
    return bytes(sent_by_peer), hello(sent_by_peer)["nonce"] < hello(sent_by_real)["nonce"]


def _pin_role(stream: bytes, leader: bool) -> bytes:
    """Give the recorded HELLO a nonce that wins (or loses) the leader choice against any real nonce."""
    frames = split_frames(stream)
    kind, flags, clock, payload = frames[0]
    doc = json.loads(payload)
    doc["nonce"] = ("0" if leader else "f") * 32
    frames[0] = (kind, flags, clock, json.dumps(doc, separators=(",", ":")).encode())
    return join_frames(frames)


def _init_empty(log: hyperframe.Log) -> None:
    """An empty log that exists (its encoding is fixed): what `hyperframe init` makes."""
    hyperframe.Log.create(log.path, encoding=log.encoding.name)


@dataclass
class FuzzBase:
    """The log under attack (kept pristine in ``pristine``) and replayable transcripts."""

    pristine: Path
    work: Path
    transcripts: list[Transcript]
    keys: set[str]

    def fresh(self) -> Path:
        """The work copy, restored if a stream changed it."""
        if not self.work.exists() or tree_state(self.work) != self._state:
            shutil.rmtree(self.work, ignore_errors=True)
            shutil.copytree(self.pristine, self.work)
        return self.work

    def __post_init__(self) -> None:
        self._state = tree_state(self.pristine)


def build_fuzz_base(root: Path, seed: int = 0) -> FuzzBase:
    """A base log of three segments and recorded transcripts of real peers in every situation."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    base = root / "base.db"
    shutil.rmtree(base, ignore_errors=True)
    log = hyperframe.open(base)
    batches = [[{"value": f"base-{s}-{i}", "links": []} for i in range(10)] for s in range(3)]
    for docs in batches:
        prev = log.heads()[:1]
        docs[0]["links"] = prev
        log.batch(docs)
    keys = {n.key for n in log.changes()}

    def peer_log(name: str, build: Callable[[hyperframe.Log], None]) -> Path:
        path = root / f"peer-{name}.db"
        shutil.rmtree(path, ignore_errors=True)
        build(hyperframe.open(path))
        return path

    def extra(n: int, tag: str) -> Callable[[hyperframe.Log], None]:
        def build(p: hyperframe.Log) -> None:
            for docs in batches:
                prev = p.heads()[:1] if docs is not batches[0] else []
                p.batch([dict(d, links=(prev if i == 0 else [])) for i, d in enumerate(docs)])
            chain: list[str] = p.heads()[:1]
            p.batch([{"value": f"{tag}-{i}", "links": chain if i == 0 else []} for i in range(n)])

        return build

    def shares_first(n: int) -> Callable[[hyperframe.Log], None]:
        def build(p: hyperframe.Log) -> None:
            p.batch(batches[0])
            p.batch([{"value": f"own-{i}", "links": [p.heads()[0]] if i == 0 else []} for i in range(n)])

        return build

    scenarios: list[tuple[str, Callable[[hyperframe.Log], None], str, str]] = [
        ("superset", extra(12, "sup"), "sync", "sync"),
        ("overlap", shares_first(15), "sync", "sync"),
        ("disjoint-large", lambda p: p.batch([{"value": f"big-{i}"} for i in range(400)]) and None, "sync", "sync"),
        ("empty", _init_empty, "sync", "sync"),
        ("identical", extra(0, "same"), "sync", "sync"),
        ("push-only", shares_first(6), "push", "sync"),
    ]
    transcripts: list[Transcript] = []
    for name, build, peer_mode, real_mode in scenarios:
        roles: set[bool] = set()
        for _attempt in range(8):
            peer = peer_log(name, build)
            real = root / "record.db"
            shutil.rmtree(real, ignore_errors=True)
            shutil.copytree(base, real)
            stream, leader = _record(real, peer, peer_mode, real_mode)
            if leader not in roles:
                roles.add(leader)
                transcripts.append(
                    Transcript(f"{name}/{'leader' if leader else 'follower'}", _pin_role(stream, leader), leader)
                )
            if len(roles) == 2 or name in ("identical", "empty"):
                break
    shutil.rmtree(root / "record.db", ignore_errors=True)
    rng.shuffle(transcripts)
    (root / "transcripts.json").write_text(
        json.dumps(
            {
                "keys": sorted(keys),
                "transcripts": [
                    {"name": t.name, "leader": t.leader, "stream": base64.b64encode(t.stream).decode()}
                    for t in transcripts
                ],
            }
        )
    )
    return FuzzBase(pristine=base, work=root / "work.db", transcripts=transcripts, keys=keys)


def load_fuzz_base(root: Path, work: str = "work.db") -> FuzzBase:
    """The base :func:`build_fuzz_base` left in ``root`` (for worker processes)."""
    doc = json.loads((root / "transcripts.json").read_text())
    transcripts = [Transcript(t["name"], base64.b64decode(t["stream"]), t["leader"]) for t in doc["transcripts"]]
    return FuzzBase(pristine=root / "base.db", work=root / work, transcripts=transcripts, keys=set(doc["keys"]))
