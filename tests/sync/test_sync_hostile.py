"""A peer that misbehaves, driven by hand at the protocol level.

A fake peer writes bytes into a socket pair whose other end is a real Session (or, at the
bottom of this file, into the stdin of a real `hyperframe replicate` process). Every attack
must end in a clear error, quickly, with nothing from the transfer committed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from helpers import Snapshot, disk_state
from sync_helpers import grow

import hyperframe
from hyperframe import Log, node_key
from hyperframe.store import segments
from hyperframe.sync.framing import HEADER, PREAMBLE, Channel, Kind
from hyperframe.sync.nodes import encode_frames
from hyperframe.sync.session import VERSION, Session
from hyperframe.verify import verify_log

TIMEOUT = 5.0
FAKE_FINGERPRINT = "ab" * 32
Row = tuple[bytes, list[bytes], bytes]

# --- building a log and a fake peer's messages -------------------------------------------------


def real_log(tmp_path: Path, n: int = 20, name: str = "real") -> Log:
    log = hyperframe.open(tmp_path / name)
    grow(log, n, name, batches=2)
    return log


def rows_after(heads: list[str], n: int, tag: str) -> list[Row]:
    """``n`` valid new nodes: a chain starting at ``heads``."""
    rows: list[Row] = []
    parents = [bytes.fromhex(h) for h in heads]
    for i in range(n):
        value = f"{tag}-{i}".encode()
        key = bytes.fromhex(node_key(value, [p.hex() for p in parents]))
        rows.append((key, parents, value))
        parents = [key]
    return rows


def nodes_payloads(rows: list[Row], *, group: int = 0, whole: bool = False) -> list[bytes]:
    table = segments.make_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    return list(encode_frames(table, group, whole))


def hello(
    *,
    nodes: int = 0,
    fingerprint: str = FAKE_FINGERPRINT,
    segs: list[tuple[str, int]] | tuple[()] = (),
    mode: str = "sync",
    encoding: str = "utf-8",
    version: object = VERSION,
    nonce: str = "0" * 32,
    protocol: str = "hyperframe-replicate",
    fixed: bool = True,
) -> bytes:
    packed = b"".join(struct.pack("<8sI", bytes.fromhex(sid[:16]), rows) for sid, rows in segs)
    return json.dumps(
        {
            "protocol": protocol,
            "version": version,
            "nonce": nonce,
            "mode": mode,
            "encoding": encoding,
            "fixed": fixed,
            "nodes": nodes,
            "fingerprint": fingerprint,
            "heads": 1,
            "segments": base64.b64encode(packed).decode(),
        }
    ).encode()


def copy_plus_hello(log: Log, extra: int, **kw: object) -> bytes:
    """The HELLO of a peer holding a copy of ``log``'s segments plus ``extra`` nodes."""
    m = log.manifest
    assert m is not None
    return hello(nodes=m.nodes + extra, segs=[(s.id, s.rows) for s in m.segments], **kw)  # type: ignore[arg-type]


def frame(kind: int, payload: bytes = b"", clock: int = 1) -> bytes:
    return HEADER.pack(kind, 0, clock, len(payload)) + payload


def parse(data: bytes) -> list[tuple[int, bytes]]:
    """A byte stream as frames; fails if it is not exactly preamble + whole frames."""
    assert data[: len(PREAMBLE)] == PREAMBLE, data[:40]
    pos, out = len(PREAMBLE), []
    while pos < len(data):
        kind, _flags, _clock, length = HEADER.unpack_from(data, pos)
        pos += HEADER.size
        assert pos + length <= len(data), "a partial frame"
        out.append((kind, data[pos : pos + length]))
        pos += length
    return out


def fingerprint_with(log: Log, rows: list[Row]) -> str:
    m = log.manifest
    assert m is not None
    return segments.fingerprint(pa.array([r[0] for r in rows], pa.binary(32)), m.fingerprint)


class FakePeer:
    """Our end of a socket pair; the other end is handed to a real Session as a Channel."""

    def __init__(self) -> None:
        self.sock, self._theirs = socket.socketpair()
        self._files = [self._theirs.makefile("rb"), self._theirs.makefile("wb")]
        self.got = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self._writer: threading.Thread | None = None
        self.clock = 0

    def _drain(self) -> None:
        try:
            while chunk := self.sock.recv(1 << 16):
                self.got += chunk
        except OSError:
            pass

    def channel(self, timeout: float = TIMEOUT, **kw: object) -> Channel:
        theirs = self._theirs

        def shut() -> None:
            try:
                theirs.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        return Channel(self._files[0], self._files[1], timeout=timeout, on_close=shut, **kw)  # type: ignore[arg-type]

    def play(self, *chunks: bytes, close: bool = True) -> None:
        """Write ``chunks`` in the background (so big ones cannot block), then end our stream."""

        def run() -> None:
            try:
                for chunk in chunks:
                    self.sock.sendall(chunk)
                if close:
                    self.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        self._writer = threading.Thread(target=run, daemon=True)
        self._writer.start()

    def frames(self) -> list[tuple[int, bytes]]:
        """What the real side sent us (after it closed its stream)."""
        self._reader.join(TIMEOUT)
        return parse(bytes(self.got))

    def close(self) -> None:
        for s in (self.sock, self._theirs):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._writer is not None:
            self._writer.join(TIMEOUT)
        self._reader.join(TIMEOUT)
        for f in self._files:
            try:
                f.close()
            except OSError:
                pass
        self.sock.close()
        self._theirs.close()


@pytest.fixture
def peer() -> Iterator[FakePeer]:
    p = FakePeer()
    yield p
    p.close()


def run_real(log: Log, peer: FakePeer, mode: str = "sync", timeout: float = TIMEOUT, **kw: object) -> object:
    return Session(log.replica(), peer.channel(timeout, **kw), mode=mode).run()


def assert_told_peer(peer: FakePeer, *words: str) -> None:
    """The real side's last frame was an ERROR saying what went wrong."""
    frames = peer.frames()
    assert frames and frames[-1][0] == Kind.ERROR, [k for k, _ in frames]
    message = json.loads(frames[-1][1])["message"]
    for word in words:
        assert word in message, message


def assert_untouched(log: Log, before: dict[str, str]) -> None:
    assert disk_state(log.path) == before
    report = verify_log(log.path)
    assert report.ok, report.summary()


# --- the harness itself: a well-behaved fake peer is accepted -------------------------------------


@pytest.mark.parametrize("mode", ["sync", "push"])
def test_a_well_behaved_fake_peer_is_accepted(tmp_path: Path, peer: FakePeer, mode: str) -> None:
    log = real_log(tmp_path)
    rows = rows_after(log.heads(), 5, "fake")
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, copy_plus_hello(log, 5, mode=mode)),
        *(frame(Kind.NODES, p, 2) for p in nodes_payloads(rows)),
        frame(Kind.END, b"", 2),
        frame(
            Kind.DONE,
            json.dumps({"nodes": len(log) + 5, "fingerprint": fingerprint_with(log, rows)}).encode(),
            3,
        ),
    )
    report = run_real(log, peer)
    assert report.received == 5  # type: ignore[attr-defined]
    fresh = hyperframe.open(log.path)
    assert len(fresh) == 25
    assert fresh.heads() == [rows[-1][0].hex()]
    assert verify_log(log.path).ok
    kinds = [k for k, _ in peer.frames()]
    assert kinds[0] == Kind.HELLO and Kind.END in kinds and kinds[-1] == Kind.DONE


# --- a peer that goes away -----------------------------------------------------------------------


def test_a_peer_that_disconnects_after_some_nodes(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 30, "fake")
    payloads = nodes_payloads(rows[:10]) + nodes_payloads(rows[10:20])
    peer.play(PREAMBLE, frame(Kind.HELLO, copy_plus_hello(log, 30)), *(frame(Kind.NODES, p, 2) for p in payloads))

    with pytest.raises(hyperframe.ProtocolError, match="closed"):
        run_real(log, peer)

    assert_untouched(log, before)
    assert len(hyperframe.open(log.path)) == 20


def test_a_peer_that_disconnects_in_the_middle_of_a_frame(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 10, "fake")
    whole = frame(Kind.NODES, nodes_payloads(rows)[0], 2)
    peer.play(PREAMBLE, frame(Kind.HELLO, copy_plus_hello(log, 10)), whole[: len(whole) // 2])

    with pytest.raises(hyperframe.ProtocolError, match="middle of a frame|before a frame"):
        run_real(log, peer)

    assert_untouched(log, before)


def test_a_peer_that_disconnects_at_once(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peer.play()
    with pytest.raises(hyperframe.ProtocolError, match="closed"):
        run_real(log, peer)
    assert_untouched(log, before)


def test_a_cut_clone_leaves_a_new_log_empty_and_a_rerun_finishes(tmp_path: Path, peer: FakePeer) -> None:
    source = real_log(tmp_path, 40, "source")
    target = hyperframe.open(tmp_path / "target")
    table = source.to_arrow_raw()
    payload = next(iter(encode_frames(table.slice(0, 25), 0, False)))
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, hello(nodes=40, fingerprint=source.manifest.fingerprint, mode="push")),  # type: ignore[union-attr]
        frame(Kind.NODES, payload, 2),
    )
    with pytest.raises(hyperframe.ProtocolError):
        run_real(target, peer, mode="pull")
    fresh = hyperframe.open(tmp_path / "target")
    assert fresh.manifest is None and len(fresh) == 0

    hyperframe.replicate(source, target)  # running it again finishes the job
    assert [n.key for n in hyperframe.open(target.path).changes()] == [n.key for n in source.changes()]
    assert verify_log(target.path).ok


# --- nodes that fail verification ---------------------------------------------------------------


def _send_rows(log: Log, peer: FakePeer, rows: list[Row]) -> None:
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, copy_plus_hello(log, len(rows))),
        *(frame(Kind.NODES, p, 2) for p in nodes_payloads(rows)),
        frame(Kind.END, b"", 2),
    )


def test_a_tampered_value_is_rejected(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 6, "fake")
    key, links, _value = rows[3]
    rows[3] = (key, links, b"changed after hashing")
    _send_rows(log, peer, rows)

    with pytest.raises(hyperframe.RejectedNodeError) as info:
        run_real(log, peer)

    assert info.value.key == key.hex()
    assert "does not match" in str(info.value)
    assert_untouched(log, before)
    assert_told_peer(peer, key.hex())


def test_a_tampered_link_list_is_rejected(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 4, "fake")
    key, _links, value = rows[0]
    rows[0] = (key, [bytes.fromhex(h) for h in log.heads()][:1] + [bytes.fromhex(next(iter(log)).key)], value)
    _send_rows(log, peer, rows)

    with pytest.raises(hyperframe.RejectedNodeError) as info:
        run_real(log, peer)

    assert info.value.key == key.hex()
    assert_untouched(log, before)


def test_a_node_whose_link_nobody_has_is_rejected(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    ghost = hashlib.sha256(b"never added anywhere").digest()
    good = rows_after(log.heads(), 3, "fake")
    orphan = rows_after([ghost.hex()], 1, "orphan")  # a correct key, but its link is unknown
    _send_rows(log, peer, good + orphan)

    with pytest.raises(hyperframe.RejectedNodeError) as info:
        run_real(log, peer)

    assert info.value.key == ghost.hex()
    assert ghost.hex() in str(info.value)
    assert_untouched(log, before)
    assert_told_peer(peer, ghost.hex())


def test_a_link_that_arrives_after_its_node_is_rejected(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 4, "fake")
    _send_rows(log, peer, [rows[0], rows[2], rows[1], rows[3]])  # rows[2] links rows[1]

    with pytest.raises(hyperframe.RejectedNodeError) as info:
        run_real(log, peer)

    assert info.value.key == rows[1][0].hex()
    assert_untouched(log, before)


def test_nodes_in_a_frame_from_another_schema_are_refused(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    table = pa.table({"key": [b"x" * 32], "value": [b"v"]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, copy_plus_hello(log, 1)),
        frame(Kind.NODES, sink.getvalue().to_pybytes(), 2),
    )

    with pytest.raises(hyperframe.ProtocolError, match="schema"):
        run_real(log, peer)
    assert_untouched(log, before)


def test_a_nodes_frame_naming_a_path_writes_nothing_there(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 2, "fake")
    table = segments.make_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    sink = pa.BufferOutputStream()
    meta = {b"group": b"../../evil", b"whole": b"1", b"file": b"../../evil.parquet"}
    with pa.ipc.new_stream(sink, table.schema.with_metadata(meta)) as writer:
        writer.write_table(table)
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, copy_plus_hello(log, 2, mode="push")),
        frame(Kind.NODES, sink.getvalue().to_pybytes(), 2),
        frame(Kind.END, b"", 2),
        frame(Kind.DONE, b'{"nodes":22,"fingerprint":"' + b"0" * 64 + b'"}', 3),
    )
    try:
        run_real(log, peer)
    except hyperframe.ProtocolError:
        assert_untouched(log, before)  # refused: fine
    else:
        assert len(hyperframe.open(log.path)) == 22 and verify_log(log.path).ok  # or accepted by content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real"]
    assert not (tmp_path.parent / "evil").exists() and not (tmp_path.parent / "evil.parquet").exists()


def test_nodes_sent_to_a_push_only_side_are_refused(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 2, "fake")
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, hello(nodes=22, segs=[(s.id, s.rows) for s in log.manifest.segments], mode="pull")),  # type: ignore[union-attr]
        *(frame(Kind.NODES, p, 2) for p in nodes_payloads(rows)),
        frame(Kind.END, b"", 2),
    )
    with pytest.raises(hyperframe.ProtocolError, match="only pushing"):
        run_real(log, peer, mode="push")
    assert_untouched(log, before)


# --- malformed bytes and frames -------------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: example\r\n\r\n",
        b"\x00" * 64,
        os.urandom(4096),
        b"HF",  # shorter than the preamble
    ],
    ids=["http", "zeros", "random", "short"],
)
def test_garbage_bytes_are_a_protocol_error(tmp_path: Path, peer: FakePeer, garbage: bytes, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peer.play(garbage)
    start = time.perf_counter()
    with pytest.raises(hyperframe.ProtocolError):
        run_real(log, peer)
    assert time.perf_counter() - start < TIMEOUT / 2
    assert_untouched(log, before)


def test_garbage_that_keeps_coming_is_a_protocol_error_not_a_hang(tmp_path: Path, peer: FakePeer) -> None:
    log = real_log(tmp_path)
    peer.play(*(b"y\n" * 50_000 for _ in range(20)), close=False)
    start = time.perf_counter()
    with pytest.raises(hyperframe.ProtocolError, match="not speaking"):
        run_real(log, peer)
    assert time.perf_counter() - start < TIMEOUT / 2


def test_an_unknown_frame_type_is_a_protocol_error(tmp_path: Path, peer: FakePeer) -> None:
    log = real_log(tmp_path)
    peer.play(PREAMBLE, frame(ord("?"), b"what"))
    with pytest.raises(hyperframe.ProtocolError, match="unknown frame type"):
        run_real(log, peer)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json at all",
        b"[]",
        b'{"protocol": "hyperframe-replicate", "version": %d}' % VERSION,
        hello(protocol="something-else"),
        hello(mode="everything"),
        hello(fingerprint="12"),
        hello(nodes=-5),
        hello(segs=[("ab" * 32, 3)])[:-20] + b'"AAAA"}',  # a segment list that is not whole entries
    ],
    ids=[
        "text",
        "list",
        "fields-missing",
        "other-protocol",
        "bad-mode",
        "bad-fingerprint",
        "negative",
        "bad-segments",
    ],
)
def test_a_malformed_hello_is_a_protocol_error(
    tmp_path: Path, peer: FakePeer, payload: bytes, snapshot: Snapshot
) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peer.play(PREAMBLE, frame(Kind.HELLO, payload))
    with pytest.raises(hyperframe.ProtocolError):
        run_real(log, peer)
    assert_untouched(log, before)
    assert_told_peer(peer)


def test_a_frame_out_of_turn_is_a_protocol_error(tmp_path: Path, peer: FakePeer) -> None:
    log = real_log(tmp_path)
    peer.play(PREAMBLE, frame(Kind.DONE, b"{}"))
    with pytest.raises(hyperframe.ProtocolError, match="DONE where HELLO"):
        run_real(log, peer)


def test_garbage_in_a_nodes_frame_is_a_protocol_error(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peer.play(PREAMBLE, frame(Kind.HELLO, copy_plus_hello(log, 3)), frame(Kind.NODES, os.urandom(500), 2))
    with pytest.raises(hyperframe.ProtocolError, match="NODES"):
        run_real(log, peer)
    assert_untouched(log, before)


def test_an_oversized_length_prefix_is_refused_without_allocating(
    tmp_path: Path, peer: FakePeer, snapshot: Snapshot
) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    peer.play(PREAMBLE, HEADER.pack(Kind.HELLO, 0, 1, 0xFFFF_FFFF) + b"x" * 1000, close=False)
    start = time.perf_counter()
    channel = peer.channel(TIMEOUT)
    with pytest.raises(hyperframe.ProtocolError, match="limit"):
        Session(log.replica(), channel).run()
    assert time.perf_counter() - start < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 256 * 1024
    assert channel.bytes_in < 64 * 1024  # it did not try to read the announced payload
    assert_untouched(log, before)


def test_a_frame_just_over_a_small_limit_is_refused(tmp_path: Path, peer: FakePeer) -> None:
    log = real_log(tmp_path)
    peer.play(PREAMBLE, frame(Kind.HELLO, copy_plus_hello(log, 0) + b" " * 2000))
    with pytest.raises(hyperframe.ProtocolError, match="limit"):
        run_real(log, peer, max_frame=1024)


def test_the_peer_giving_up_is_reported(tmp_path: Path, peer: FakePeer) -> None:
    log = real_log(tmp_path)
    peer.play(PREAMBLE, frame(Kind.ERROR, json.dumps({"message": "disk full over here"}).encode()))
    with pytest.raises(hyperframe.ReplicationError, match="disk full over here"):
        run_real(log, peer)


def test_a_stream_looped_back_to_itself_is_detected(tmp_path: Path) -> None:
    log = real_log(tmp_path)
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "rb", buffering=0), os.fdopen(w, "wb", buffering=0)
    try:
        start = time.perf_counter()
        with pytest.raises(hyperframe.ProtocolError, match="echoed"):
            Session(log.replica(), Channel(reader, writer, timeout=TIMEOUT)).run()
        assert time.perf_counter() - start < TIMEOUT / 2
    finally:
        reader.close()


# --- silence ---------------------------------------------------------------------------------------


def test_a_silent_peer_times_out(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    start = time.perf_counter()
    with pytest.raises(hyperframe.PeerTimeoutError):
        run_real(log, peer, timeout=0.5)
    assert 0.4 < time.perf_counter() - start < 3
    assert_untouched(log, before)


def test_a_peer_that_goes_silent_mid_transfer_times_out(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 10, "fake")
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, copy_plus_hello(log, 10)),
        frame(Kind.NODES, nodes_payloads(rows[:5])[0], 2),
        close=False,
    )
    start = time.perf_counter()
    with pytest.raises(hyperframe.PeerTimeoutError, match="Nothing from this transfer was committed"):
        run_real(log, peer, timeout=0.5)
    assert time.perf_counter() - start < 3
    assert_untouched(log, before)


def test_a_connection_that_breaks_while_waiting_for_the_peer_fails_at_once(tmp_path: Path, snapshot: Snapshot) -> None:
    """Half-open connection: we queued our nodes and wait for the peer's; then the peer stops
    reading (its reading half closes), so our pending write fails with EPIPE. Nothing we send
    can arrive any more, so the session should fail then, not wait out the whole timeout and
    then blame a silent peer. (Seen from the shell: `hyperframe pipe 'hyperframe replicate A'
    'hyperframe replicate B | head -c 4000'` sometimes waits the full --timeout, 60 s by default.)"""
    log = hyperframe.open(tmp_path / "big")
    log.batch([{"value": f"value number {i} " + "x" * 100} for i in range(5000)])  # ~700 KB on the wire
    before = snapshot(log.path)
    mine, theirs = socket.socketpair()
    files = [theirs.makefile("rb"), theirs.makefile("wb")]

    def fake() -> None:  # an empty peer: the real side must send it everything
        try:
            mine.sendall(PREAMBLE + frame(Kind.HELLO, hello(nodes=0, fingerprint="0" * 64)))
            time.sleep(1.0)  # read nothing: the real side's writes fill the socket and block
            mine.shutdown(socket.SHUT_RD)  # ...and now they never can be read
        except OSError:
            pass

    thread = threading.Thread(target=fake, daemon=True)
    thread.start()
    channel = Channel(files[0], files[1], timeout=6.0)
    try:
        start = time.perf_counter()
        with pytest.raises(hyperframe.ReplicationError) as info:
            Session(log.replica(), channel).run()
        elapsed = time.perf_counter() - start
    finally:
        thread.join(TIMEOUT)
        for s in (mine, theirs):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for f in files:
            f.close()
        mine.close()
        theirs.close()
    assert not isinstance(info.value, hyperframe.PeerTimeoutError), (
        f"after {elapsed:.1f} s: {info.value} (but the write had failed: {channel._write_error!r})"
    )
    assert elapsed < 4
    assert_untouched(log, before)


# --- incompatible peers ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [VERSION + 1, 0, str(VERSION), None])
def test_an_unknown_protocol_version_is_incompatible(
    tmp_path: Path, peer: FakePeer, version: object, snapshot: Snapshot
) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peer.play(PREAMBLE, frame(Kind.HELLO, copy_plus_hello(log, 3, version=version)))
    with pytest.raises(hyperframe.IncompatiblePeerError, match="version"):
        run_real(log, peer)
    assert_untouched(log, before)
    assert_told_peer(peer, "version")


def test_a_peer_with_another_encoding_is_incompatible(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)  # utf-8
    before = snapshot(log.path)
    peer.play(PREAMBLE, frame(Kind.HELLO, hello(nodes=4, encoding="json")))
    with pytest.raises(hyperframe.IncompatiblePeerError, match="json"):
        run_real(log, peer)
    assert_untouched(log, before)


# --- hostile reconciliation messages -------------------------------------------------------------
# The real log and the fake peer share no segment and hold 20 nodes each: the sketch path.
# nonce "0..." makes the fake the leader (it sends the first SKETCH); "f..." makes it the follower.


def test_a_sketch_bigger_than_the_reconciliation_can_need_is_refused(
    tmp_path: Path, peer: FakePeer, snapshot: Snapshot
) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    huge = b"\x00" * (16 * 3 * 100_000)  # 300,000 cells for 40 nodes
    peer.play(PREAMBLE, frame(Kind.HELLO, hello(nodes=20, nonce="0" * 32)), frame(Kind.SKETCH, huge, 2))
    with pytest.raises(hyperframe.ProtocolError, match="SKETCH"):
        run_real(log, peer)
    assert_untouched(log, before)


def test_a_sketch_of_partial_cells_is_refused(tmp_path: Path, peer: FakePeer) -> None:
    log = real_log(tmp_path)
    peer.play(PREAMBLE, frame(Kind.HELLO, hello(nodes=20, nonce="0" * 32)), frame(Kind.SKETCH, b"\x01" * 37, 2))
    with pytest.raises(hyperframe.ProtocolError, match="SKETCH"):
        run_real(log, peer)


def test_a_request_for_an_enormous_sketch_is_refused(tmp_path: Path, peer: FakePeer, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peer.play(
        PREAMBLE,
        frame(Kind.HELLO, hello(nodes=20, nonce="f" * 32)),
        frame(Kind.NEED, struct.pack("<Q", 3 * 2**38), 2),
    )
    start = time.perf_counter()
    with pytest.raises(hyperframe.ProtocolError, match="out of bounds"):
        run_real(log, peer)
    assert time.perf_counter() - start < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 256 * 1024
    assert_untouched(log, before)


@pytest.mark.parametrize(
    ("kind", "payload", "match"),
    [
        (Kind.PLAN, b"\x01" * 7, "PLAN"),
        (Kind.NEED, b"\x01\x02", "NEED"),
        (Kind.ESTIMATE, b"\x00" * (16 * 3), "ESTIMATE"),
    ],
    ids=["plan", "need", "estimate"],
)
def test_malformed_reconciliation_messages_are_refused(
    tmp_path: Path, peer: FakePeer, kind: int, payload: bytes, match: str, snapshot: Snapshot
) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    peer.play(PREAMBLE, frame(Kind.HELLO, hello(nodes=20, nonce="f" * 32)), frame(kind, payload, 2))
    with pytest.raises(hyperframe.ProtocolError, match=match):
        run_real(log, peer)
    assert_untouched(log, before)


# --- the same attacks on a real `hyperframe replicate` process's stdin ------------------------------


def replicate_process(path: Path, stdin: bytes, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "hyperframe", "replicate", str(path), "--timeout", "5", *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=timeout,
    )


def assert_failed_cleanly(proc: subprocess.CompletedProcess[bytes], *words: str) -> None:
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hyperframe: error:"), err
    for word in words:
        assert word in err, err
    frames = parse(proc.stdout)  # stdout carries protocol bytes only
    assert frames[0][0] == Kind.HELLO and frames[-1][0] == Kind.ERROR


def test_process_garbage_on_stdin(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    proc = replicate_process(log.path, b"hello, is anybody there?\n" * 40)
    assert_failed_cleanly(proc, "not speaking")
    assert_untouched(log, before)


def test_process_empty_stdin(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    proc = replicate_process(log.path, b"")
    assert_failed_cleanly(proc, "closed")
    assert_untouched(log, before)


def test_process_oversized_length_prefix(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    start = time.perf_counter()
    proc = replicate_process(log.path, PREAMBLE + HEADER.pack(Kind.HELLO, 0, 1, 0xFFFF_FFFF) + b"x" * 4096)
    assert time.perf_counter() - start < 10
    assert_failed_cleanly(proc, "limit")
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1024 * 1024  # KiB: no child reached 1 GiB
    assert_untouched(log, before)


def test_process_tampered_node(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    rows = rows_after(log.heads(), 5, "fake")
    rows[2] = (rows[2][0], rows[2][1], b"evil")
    stdin = (
        PREAMBLE
        + frame(Kind.HELLO, copy_plus_hello(log, 5))
        + b"".join(frame(Kind.NODES, p, 2) for p in nodes_payloads(rows))
        + frame(Kind.END, b"", 2)
    )
    proc = replicate_process(log.path, stdin)
    assert_failed_cleanly(proc, rows[2][0].hex())
    assert_untouched(log, before)


def test_process_missing_link(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    ghost = hashlib.sha256(b"nobody has me").hexdigest()
    rows = rows_after(log.heads(), 2, "fake") + rows_after([ghost], 2, "orphan")
    stdin = (
        PREAMBLE
        + frame(Kind.HELLO, copy_plus_hello(log, 4))
        + b"".join(frame(Kind.NODES, p, 2) for p in nodes_payloads(rows))
        + frame(Kind.END, b"", 2)
    )
    proc = replicate_process(log.path, stdin)
    assert_failed_cleanly(proc, ghost)
    assert_untouched(log, before)


def test_process_unknown_version(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    proc = replicate_process(log.path, PREAMBLE + frame(Kind.HELLO, copy_plus_hello(log, 1, version=99)))
    assert_failed_cleanly(proc, "version")
    assert_untouched(log, before)


def test_process_well_behaved_fake_peer_is_accepted(tmp_path: Path) -> None:
    log = real_log(tmp_path)
    rows = rows_after(log.heads(), 3, "fake")
    stdin = (
        PREAMBLE
        + frame(Kind.HELLO, copy_plus_hello(log, 3))
        + b"".join(frame(Kind.NODES, p, 2) for p in nodes_payloads(rows))
        + frame(Kind.END, b"", 2)
        + frame(Kind.DONE, json.dumps({"nodes": 23, "fingerprint": fingerprint_with(log, rows)}).encode(), 3)
    )
    proc = replicate_process(log.path, stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "received 3 new node(s)" in proc.stderr.decode()
    assert [k for k, _ in parse(proc.stdout)][-1] == Kind.DONE
    assert len(hyperframe.open(log.path)) == 23 and verify_log(log.path).ok


def test_process_silent_peer_times_out(tmp_path: Path, snapshot: Snapshot) -> None:
    log = real_log(tmp_path)
    before = snapshot(log.path)
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hyperframe", "replicate", str(log.path), "--timeout", "0.5"],
            stdin=subprocess.PIPE,  # held open and never written: the peer is silent, not gone
            stdout=out,
            stderr=err,
        )
        try:
            start = time.perf_counter()
            proc.wait(timeout=30)
            elapsed = time.perf_counter() - start
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            assert proc.stdin is not None
            proc.stdin.close()
    message = (tmp_path / "err").read_bytes()
    assert proc.returncode != 0
    assert elapsed < 10
    assert b"sent nothing" in message and b"Traceback" not in message, message
    assert parse((tmp_path / "out").read_bytes())[-1][0] == Kind.ERROR
    assert_untouched(log, before)
