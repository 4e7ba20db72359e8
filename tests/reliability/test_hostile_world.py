"""Issue 9's cases, one regression test each: nothing lost, nothing let in, whatever arrives.

Each test reproduces what a hostile peer or an unlucky user did to the version before
the fix (the case number is the issue's) and asserts what a user sees now.
"""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from stress_harness import stress

import hyperframe
from hyperframe.keys import node_key_bytes
from hyperframe.store import manifest as mf
from hyperframe.store import segments
from hyperframe.store.directory import LogStore
from hyperframe.sync.framing import PREAMBLE, Channel, Kind
from hyperframe.sync.nodes import encode_frames
from hyperframe.sync.session import VERSION, Session
from hyperframe.verify import verify_log

# --- a scripted peer: a fixed stream of frames, and a sink for what the honest side says


def play(log: hyperframe.Log, *frames: bytes, mode: str = "sync", timeout: float = 3.0) -> Any:
    channel = Channel(io.BytesIO(PREAMBLE + b"".join(frames)), stress.Sink(), timeout=timeout)  # type: ignore[arg-type]
    return Session(log.replica(), channel, mode=mode).run()  # type: ignore[arg-type]


def hello(**fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "protocol": "hyperframe-replicate",
        "version": VERSION,
        "nonce": "f" * 32,
        "mode": "sync",
        "encoding": "utf-8",
        "fixed": True,
        "nodes": 20,
        "fingerprint": "ab" * 32,
        "heads": 1,
        "segments": "",
    }
    doc.update(fields)
    return json.dumps(doc).encode()


def hello_plus(log: hyperframe.Log, extra: int, **fields: Any) -> bytes:
    """The HELLO of a peer holding this log's segments plus ``extra`` nodes (this side only receives)."""
    manifest = log.manifest
    assert manifest is not None
    packed = b"".join(struct.pack("<8sI", bytes.fromhex(s.id[:16]), s.rows) for s in manifest.segments)
    return hello(nodes=manifest.nodes + extra, segments=base64.b64encode(packed).decode(), **fields)


def frame(kind: int, payload: bytes = b"", clock: int = 2) -> bytes:
    return stress.frame_bytes(kind, payload, clock)


def chain(log: hyperframe.Log, n: int, tag: str = "n") -> list[str]:
    keys: list[str] = []
    for i in range(n):
        keys.append(log.add(f"{tag}{i}", links=keys[-1:]).key)
    return keys


def nodes_payloads(values: list[bytes], links: list[list[bytes]] | None = None) -> list[bytes]:
    links = links or [[] for _ in values]
    keys = [node_key_bytes(v, ls) for v, ls in zip(values, links)]
    return list(encode_frames(segments.make_table(keys, links, values), 0, False))


def damage_file(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated: nothing of its node can be read


def newest_manifest(path: Path) -> Path:
    return mf.manifest_path(path, mf.manifest_versions(path)[-1])


# --- 1. repair never loses intact nodes, also across repeated repairs --------------------


def test_1a_a_repair_that_died_before_publishing_loses_nothing_the_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    keys = chain(log, 10)
    newest = log.manifest.segments[-1]  # type: ignore[union-attr]
    damage_file(log.path / newest.file)
    real_publish = mf.publish

    def die(*args: object) -> bool:
        raise OSError("killed before publishing")

    monkeypatch.setattr(mf, "publish", die)
    with pytest.raises(OSError):
        _repair(log.path)
    monkeypatch.setattr(mf, "publish", real_publish)
    report = _repair(log.path)
    assert (report.kept_nodes, report.dropped_nodes) == (9, 1)
    assert [n.key for n in hyperframe.open(log.path).changes()] == keys[:9]
    assert verify_log(log.path).ok


def test_1b_damaging_the_newest_manifest_twice_with_repairs_between_loses_nothing(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    keys = chain(log, 10)
    for _ in range(3):
        newest_manifest(log.path).write_bytes(b"garbage")
        report = _repair(log.path)
        assert report.dropped_nodes == 0, report.summary()
        assert {n.key for n in hyperframe.open(log.path).changes()} == set(keys)
        assert verify_log(log.path).ok


def test_1_a_repair_never_rewrites_a_segment_file(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    chain(log, 6)
    before = {p.name: p.read_bytes() for p in log.path.glob("seg-*.parquet")}
    newest_manifest(log.path).write_bytes(b"garbage")
    _repair(log.path)
    after = {p.name: p.read_bytes() for p in log.path.glob("seg-*.parquet")}
    assert {name: after[name] for name in before if name in after} == {
        name: data for name, data in before.items() if name in after
    }


def _repair(path: Path) -> Any:
    from hyperframe.repair import repair_log

    return repair_log(path)


# --- 2. repair after an auto-compaction and a garbage manifest ----------------------------


@pytest.mark.parametrize("seed", range(8))
def test_2_repair_after_auto_compaction_and_a_garbage_manifest_ends_readable(
    tmp_path: Path, seed: int, run_process: Any
) -> None:
    path = tmp_path / "log.db"
    previous: list[str] = []
    for i in range(20):  # the 17th commit auto-compacts
        args = ["add", path, f"v{seed}-{i}"] + (["--link", previous[-1]] if previous else [])
        result = run_process(*args)
        assert result.code == 0, result.err
        previous.append(result.out.strip())
    newest_manifest(path).write_bytes(os.urandom(64))
    result = run_process("repair", path)
    assert result.code == 0 and "Traceback" not in result.err, result.err
    log = hyperframe.open(path)
    assert [n.key for n in log.changes()] == previous
    assert verify_log(path).ok


# --- 3. poisoned values are refused, from any source ---------------------------------------


def _json_log(tmp_path: Path) -> hyperframe.Log:
    log = hyperframe.open(tmp_path / "json.db", encoding="json")
    log.add({"ok": 1})
    return log


@pytest.mark.parametrize(
    "value",
    [b"this is not JSON {", b"[" * 5000 + b"]" * 5000, b'{"a": NaN', b"\xff\xfe"],
    ids=["not-json", "5000-deep", "truncated", "not-utf8"],
)
def test_3_a_peer_sending_a_value_the_encoding_cannot_decode_is_rejected(tmp_path: Path, value: bytes) -> None:
    log = _json_log(tmp_path)
    before = stress.tree_state(log.path)
    payloads = nodes_payloads([value])
    stream = [frame(Kind.HELLO, hello_plus(log, 1, encoding="json", mode="push"))]
    stream += [frame(Kind.NODES, p) for p in payloads] + [frame(Kind.END)]
    with pytest.raises(hyperframe.RejectedNodeError, match="cannot decode"):
        play(log, *stream, mode="pull")
    assert stress.tree_state(log.path) == before


def test_3_a_utf8_log_refuses_bytes_that_are_not_utf8_from_add(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    with pytest.raises(hyperframe.EncodingError, match="not UTF-8"):
        log.add(b"\xff\xfe")
    assert log.manifest is None


def test_3_a_utf8_log_rejects_bytes_that_are_not_utf8_from_a_peer(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    log.add("ok")
    before = stress.tree_state(log.path)
    stream = [frame(Kind.HELLO, hello_plus(log, 1, mode="push"))]
    stream += [frame(Kind.NODES, p) for p in nodes_payloads([b"caf\xe9"])] + [frame(Kind.END)]
    with pytest.raises(hyperframe.RejectedNodeError):
        play(log, *stream, mode="pull")
    assert stress.tree_state(log.path) == before


def test_3_an_undecodable_stored_value_is_found_by_verify_and_reads_raise_only_hyperframe_errors(
    tmp_path: Path,
) -> None:
    log = _json_log(tmp_path)
    store = LogStore(log.path)  # a value written before the rule existed (no API writes it now)
    bad = b"this is not JSON {"
    table = segments.make_table([node_key_bytes(bad, [])], [[]], [bad])
    with store.lock():
        current = store.latest()
        assert current is not None
        store.commit(current, [table], heads=current.heads + (node_key_bytes(bad, []).hex(),))
    report = verify_log(log.path)
    assert not report.ok and "does not decode as json" in report.summary()
    log = hyperframe.open(log.path)
    for read in (lambda: list(log.changes()), lambda: log.get(node_key_bytes(bad, []).hex()), log.to_pandas):
        with pytest.raises(hyperframe.HyperframeError):
            read()


# --- 4. sessions a peer could keep alive forever end at the first message over budget -----


def _honest(tmp_path: Path) -> hyperframe.Log:
    log = hyperframe.open(tmp_path / "honest.db")
    log.batch([{"value": f"mine-{i}"} for i in range(20)])
    return log


def test_4_need_in_a_loop_is_stopped_by_the_message_budget(tmp_path: Path) -> None:
    log = _honest(tmp_path)  # peer nonce "f"*32: the honest side leads and sends the sketches
    stream = [frame(Kind.HELLO, hello())] + [frame(Kind.NEED, struct.pack("<Q", 99))] * 200
    start = time.monotonic()
    with pytest.raises(hyperframe.ProtocolError, match="NEED messages in one transfer"):
        play(log, *stream)
    assert time.monotonic() - start < 2


def test_4_full_lists_in_a_loop_are_stopped_by_the_message_budget(tmp_path: Path) -> None:
    log = _honest(tmp_path)
    stream = [frame(Kind.HELLO, hello())] + [frame(Kind.FULL, b"\x01" * 8)] * 200
    with pytest.raises(hyperframe.ProtocolError, match="FULL messages in one transfer"):
        play(log, *stream)


def test_4_garbage_sketches_in_a_loop_are_stopped_by_the_message_budget(tmp_path: Path) -> None:
    log = _honest(tmp_path)  # peer nonce "0"*32: the peer leads, the honest side answers sketches
    garbage = frame(Kind.SKETCH, os.urandom(16 * 3 * 40))
    with pytest.raises(hyperframe.ProtocolError, match="SKETCH messages in one transfer"):
        play(log, frame(Kind.HELLO, hello(nonce="0" * 32)), *[garbage] * 200)


def test_4_the_same_node_in_endless_frames_is_refused_without_growing(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "empty.db")
    payload = nodes_payloads([b"again"])[0]
    stream = [frame(Kind.HELLO, hello(nodes=1, fixed=True))] + [frame(Kind.NODES, payload)] * 5000
    with pytest.raises(hyperframe.ProtocolError, match="more than the 1 node"):
        play(log, *stream)
    assert log.manifest is None and not log.path.exists()


def test_4_a_session_ends_at_its_deadline_even_if_the_peer_keeps_talking(tmp_path: Path) -> None:
    log = _honest(tmp_path)
    ours, theirs = socket.socketpair()
    stop = threading.Event()

    def drip() -> None:  # a HELLO, then a PLAN's payload one byte at a time: never a whole frame
        try:
            theirs.sendall(PREAMBLE + frame(Kind.HELLO, hello()) + frame(Kind.PLAN, b"\x00" * 10_000)[:8])
            while not stop.is_set():
                theirs.sendall(b"\x00")
                time.sleep(0.2)
        except OSError:
            pass

    def drain() -> None:
        try:
            while theirs.recv(65536):
                pass
        except OSError:
            pass

    threads = [threading.Thread(target=drip, daemon=True), threading.Thread(target=drain, daemon=True)]
    for t in threads:
        t.start()
    reader, writer = ours.makefile("rb"), ours.makefile("wb")
    channel = Channel(reader, writer, timeout=30)
    start = time.monotonic()
    with pytest.raises(hyperframe.PeerTimeoutError, match="deadline"):
        Session(log.replica(), channel, deadline=1.5).run()
    stop.set()
    for sock in (theirs, ours):  # wakes the threads blocked in recv (ours: the channel's reader)
        sock.shutdown(socket.SHUT_RDWR)
    for t in threads:
        t.join(5)
    reader.close()
    writer.close()
    ours.close()
    theirs.close()
    assert time.monotonic() - start < 5


# --- 5. sizes chosen by the peer are checked before anything is allocated -----------------


@pytest.mark.parametrize(
    "payload",
    [
        hello(nodes=10**30),
        hello(nodes=-1),
        hello(nodes=True),
        hello(nodes=1.5),
        hello().replace(b'"nodes": 20', b'"nodes": Infinity'),
        hello().replace(b'"nodes": 20', b'"nodes": NaN'),
        hello(heads=10**30),
        hello(fingerprint="zz" * 32),
        hello(nonce=["a"]),
        hello(segments=base64.b64encode(struct.pack("<8sI", b"x" * 8, 10**9)).decode()),
    ],
    ids=["1e30", "negative", "bool", "float", "Infinity", "NaN", "heads", "fingerprint", "nonce", "rows>nodes"],
)
def test_5_a_hello_with_an_absurd_field_is_one_protocol_error(tmp_path: Path, payload: bytes) -> None:
    log = _honest(tmp_path)
    with pytest.raises(hyperframe.ProtocolError, match="malformed HELLO"):
        play(log, frame(Kind.HELLO, payload))


@pytest.mark.parametrize("cells", [3 * 10**7, 3 * 2**60, 2**64 - 1])
def test_5_a_need_for_an_enormous_sketch_is_refused_before_it_is_built(tmp_path: Path, cells: int) -> None:
    log = _honest(tmp_path)
    start = time.monotonic()
    with pytest.raises(hyperframe.ProtocolError, match="out of bounds"):
        play(log, frame(Kind.HELLO, hello(nodes=2**40)), frame(Kind.NEED, struct.pack("<Q", cells)))
    assert time.monotonic() - start < 2


def test_5_a_hello_with_nodes_infinity_is_one_line_on_stderr(tmp_path: Path) -> None:
    log = _honest(tmp_path)
    stream = PREAMBLE + frame(Kind.HELLO, hello().replace(b'"nodes": 20', b'"nodes": Infinity'))
    proc = subprocess.run(
        [sys.executable, "-m", "hyperframe", "replicate", str(log.path), "--timeout", "2"],
        input=stream,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = proc.stderr.decode()
    assert proc.returncode != 0 and err.startswith("hyperframe: error: ") and err.count("\n") == 1, err


# --- 6. a peer that never reads costs time, not memory -------------------------------------


@pytest.mark.slow
def test_6_a_peer_that_never_reads_is_timed_out_with_bounded_memory(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "big.db", encoding="binary")
    # 40 MiB of values nothing compresses, in one segment (a sender used to read it whole: +267 MiB)
    log.batch([{"value": os.urandom(100_000)} for _ in range(400)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperframe", "replicate", str(log.path), "--timeout", "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(PREAMBLE + frame(Kind.HELLO, hello(encoding="binary", nodes=0, fixed=False, segments="")))
    proc.stdin.flush()  # and never read its stdout
    peak = 0
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < 60:
        peak = max(peak, _vm_hwm_mib(proc.pid))
        time.sleep(0.05)
    assert proc.poll() is not None, "the honest side did not give up"
    _, err_bytes = proc.communicate(timeout=30)
    err = err_bytes.decode()
    assert proc.returncode != 0 and err.count("\n") == 1 and "read nothing" in err, err
    assert peak < 256, f"peak RSS {peak} MiB"
    assert len(hyperframe.open(log.path)) == 400


def _vm_hwm_mib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


# --- 7. an add that reports success is visible to the next reader --------------------------


def test_7_a_manifest_numbered_at_the_limit_is_refused_and_repair_sets_it_aside(tmp_path: Path, run: Any) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    chain(log, 3)
    newest = newest_manifest(log.path)
    doc = json.loads(newest.read_bytes())
    doc["version"] = mf.MAX_VERSION
    mf.manifest_path(log.path, mf.MAX_VERSION).write_text(json.dumps(doc))
    assert not verify_log(log.path).ok
    result = run("add", log.path, "after")
    assert result.is_one_line_error() and "manifest numbers" in result.err
    assert run("repair", log.path).code == 0
    key = run("add", log.path, "after").out.strip()
    assert hyperframe.open(log.path).get(key).value == "after"
    assert verify_log(log.path).ok


# --- 8. the first concurrent writes to a new log do not race ------------------------------


@pytest.mark.slow
def test_8_three_processes_creating_the_same_log_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(15):
        path = tmp_path / f"new-{round_}.db"
        procs = [
            subprocess.Popen([sys.executable, "-m", "hyperframe", "add", str(path), f"v{i}"], stderr=subprocess.PIPE)
            for i in range(3)
        ]
        errors = [p.communicate()[1].decode() for p in procs]
        assert all(p.returncode == 0 for p in procs), errors
        assert len(hyperframe.open(path)) == 3


def test_8_threads_sharing_one_handle_creating_the_log_all_succeed(tmp_path: Path) -> None:
    for round_ in range(20):
        log = hyperframe.open(tmp_path / f"new-{round_}.db")
        errors: list[BaseException] = []

        def add(i: int, log: hyperframe.Log = log, errors: list[BaseException] = errors) -> None:
            try:
                log.add(f"v{i}")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=add, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(hyperframe.open(log.path)) == 3


# --- 10. values JavaScript cannot hold either: an EncodingError, one line on stderr --------


@pytest.mark.parametrize(
    "make", [lambda: 10**400, lambda: -(10**400), lambda: _deep_list(5000)], ids=["1e400", "-1e400", "5000-deep"]
)
def test_10_values_javascript_cannot_hold_are_an_encoding_error(tmp_path: Path, make: Any) -> None:
    log = hyperframe.open(tmp_path / "json.db", encoding="json")
    with pytest.raises(hyperframe.EncodingError):
        log.add(make())
    assert log.manifest is None


def _deep_list(depth: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth - 1):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


@pytest.mark.parametrize(
    "text",
    ["1" * 400, "1" * 5000, "[" * 3000 + "]" * 3000, "[" * 100_000 + "]" * 100_000],
    ids=["400-digits", "5000-digits", "3000-deep", "100000-deep"],
)
def test_10_the_cli_refuses_values_javascript_cannot_hold_in_one_line(tmp_path: Path, run: Any, text: str) -> None:
    path = tmp_path / "json.db"
    assert run("init", path, "--encoding", "json").code == 0
    result = run("add", path, "-", stdin=text.encode())
    assert result.is_one_line_error(), result.err
    assert len(hyperframe.open(path)) == 0


# --- 11. a full disk through the API is a StorageError, and the log is as it was ----------


def test_11_a_full_disk_is_a_storage_error_naming_the_log_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    log = hyperframe.open(tmp_path / "log.db")
    keys = chain(log, 3)
    before = stress.tree_state(log.path)
    real_write = os.write

    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(hyperframe.StorageError, match="No space left") as caught:
        log.add("one more")
    monkeypatch.setattr(os, "write", real_write)
    assert caught.value.path == str(log.path)
    assert isinstance(caught.value, hyperframe.HyperframeError)
    after = stress.tree_state(log.path)
    assert {k: v for k, v in after.items() if not k.endswith(".tmp")} == before
    assert [n.key for n in hyperframe.open(log.path).changes()] == keys
