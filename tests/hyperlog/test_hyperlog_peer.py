"""hyperframe as a hyperlog 4.12.1 peer, against the real JavaScript hyperlog (tests/js,
installed by `npm ci` there): two OS processes joined by pipes, and LevelDB imports."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import hyperframe
from hyperframe.hyperlog import peer, wire
from hyperframe.keys import node_key

JS = Path(__file__).resolve().parents[1] / "js"
if not (JS / "node_modules" / "hyperlog").is_dir():
    raise RuntimeError(f"the JavaScript hyperlog is not installed: run `npm ci` in {JS} (.ci/run does)")
HF = [sys.executable, "-m", "hyperframe"]


def node(script: str, *args: object) -> str:
    done = subprocess.run(["node", str(JS / script), *map(str, args)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def dump(db: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in node("dump.js", db).splitlines()]


def pipe(js_args: list[object], hf_args: list[object], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    js = " ".join(["node", str(JS / "rep.js"), *map(str, js_args)])
    hf = " ".join([*HF, "replicate", *map(str, hf_args), "--protocol", "hyperlog", "--timeout", "10"])
    return subprocess.run([*HF, "pipe", js, hf], capture_output=True, text=True, timeout=timeout)


def keys_of(log: hyperframe.Log) -> set[str]:
    return {n.key for n in log}


def files_digest(path: Path) -> str:
    return hashlib.sha256(
        repr(sorted((str(p.relative_to(path)), p.read_bytes()) for p in path.rglob("*") if p.is_file())).encode()
    ).hexdigest()


@pytest.fixture(scope="module")
def js_1000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("js") / "log.db"
    node("make.js", db, "--count", 1000, "--chain", "--tag", "t1000")
    return db


def test_a_pull_clone_from_js_holds_every_node_with_its_key_log_and_seq(js_1000: Path, tmp_path: Path) -> None:
    src = tmp_path / "js.db"
    shutil.copytree(js_1000, src)
    done = pipe([src], [tmp_path / "py.db", "--mode", "pull"])
    assert done.returncode == 0, done.stderr
    log = hyperframe.open(tmp_path / "py.db")
    js_nodes = dump(src)
    assert keys_of(log) == {n["key"] for n in js_nodes} and len(log) == 1000
    assert log.heads() == [js_nodes[-1]["key"]]
    assert log.encoding.name == "json"  # the default for a log created by a hyperlog replication
    for n in js_nodes[:5]:  # the value bytes travel unchanged: the key recomputes from them
        assert node_key(base64.b64decode(str(n["value"])), list(n["links"])) == n["key"]  # type: ignore[arg-type]


def test_push_and_sync_leave_both_sides_with_the_union(js_1000: Path, tmp_path: Path) -> None:
    src = tmp_path / "js.db"
    shutil.copytree(js_1000, src)
    py = hyperframe.open(tmp_path / "py.db", encoding="json")
    assert pipe([src], [py.path]).returncode == 0
    for i in range(7):
        py.append({"py": i})
    node("make.js", src, "--count", 5, "--chain", "--tag", "js-later")
    done = pipe([src], [py.path, "--mode", "sync"])
    assert done.returncode == 0, done.stderr
    js_nodes = dump(src)
    assert {n["key"] for n in js_nodes} == keys_of(py) and len(py) == 1012
    manifest = py.manifest
    assert manifest is not None and manifest.origin is not None
    mine = [n for n in js_nodes if n["log"] == manifest.origin.log]
    assert [n["seq"] for n in mine] == list(range(1, 8))  # our own log id, seqs 1..7, as hyperlog requires


@pytest.mark.parametrize("mode", ["push", "pull"])
def test_each_mode_moves_only_its_direction(js_1000: Path, tmp_path: Path, mode: str) -> None:
    src = tmp_path / "js.db"
    shutil.copytree(js_1000, src)
    py = hyperframe.open(tmp_path / "py.db", encoding="json")
    assert pipe([src], [py.path]).returncode == 0
    node("make.js", src, "--count", 5, "--chain", "--tag", "js5")
    for i in range(7):
        py.append({"py": i})
    other = "pull" if mode == "push" else "push"
    done = pipe([src, "--mode", other], [py.path, "--mode", mode])
    assert done.returncode == 0, done.stderr
    js_count = len(dump(src))
    if mode == "push":
        assert (js_count, len(py)) == (1012, 1007)
    else:
        assert (js_count, len(py)) == (1005, 1012)


def test_a_two_log_database_announced_lazily_arrives_whole(tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    node("make-two-logs.js", db, "--own-before", 10)
    done = pipe([db], [tmp_path / "py.db", "--mode", "pull"])
    assert done.returncode == 0, done.stderr
    js_nodes = dump(db)
    assert keys_of(hyperframe.open(tmp_path / "py.db")) == {n["key"] for n in js_nodes}
    assert len({n["log"] for n in js_nodes}) == 2


def test_live_mode_moves_new_nodes_both_ways_without_echoes(js_1000: Path, tmp_path: Path) -> None:
    src = tmp_path / "js.db"
    shutil.copytree(js_1000, src)
    py = hyperframe.open(tmp_path / "py.db", encoding="json")
    assert pipe([src], [py.path]).returncode == 0

    def write_later() -> None:
        threading.Event().wait(1.0)
        for i in range(3):
            py.append({"py live": i, "text": "é"})  # JSON.stringify's exact bytes, or JS would re-key them

    writer = threading.Thread(target=write_later)
    writer.start()
    done = pipe(
        [src, "--live", "--append-count", 4, "--append-every", 100, "--exit-after", 2500, "--append-tag", "js"],
        [py.path, "--live"],
    )
    writer.join()
    assert done.returncode == 0, done.stderr
    js_nodes = dump(src)
    assert {n["key"] for n in js_nodes} == keys_of(hyperframe.open(py.path)) and len(js_nodes) == 1007


def test_import_reads_a_leveldb_without_changing_it_and_a_second_import_adds_nothing(
    js_1000: Path, tmp_path: Path
) -> None:
    before = files_digest(js_1000)
    assert hyperframe.import_hyperlog(js_1000, tmp_path / "py.db") == 1000
    assert hyperframe.import_hyperlog(js_1000, tmp_path / "py.db") == 0
    assert files_digest(js_1000) == before
    log = hyperframe.open(tmp_path / "py.db")
    assert [n.key for n in log] == [str(n["key"]) for n in dump(js_1000)]  # hyperlog's change order


def test_import_of_a_database_not_closed_cleanly_then_replication_moves_only_the_difference(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    killed = subprocess.run(["node", str(JS / "kill-write.js"), str(db), "--count", "300", "--chain"], timeout=60)
    assert killed.returncode != 0  # it died without closing the database
    done = subprocess.run([*HF, "import", str(tmp_path / "py.db"), str(db)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "imported 300 new node(s)" in done.stdout
    node("make.js", db, "--count", 3, "--chain", "--tag", "after")
    again = pipe([db], [tmp_path / "py.db", "--mode", "pull"])
    assert again.returncode == 0 and "received 3 node(s)" in again.stderr, again.stderr


def test_where_two_js_copies_would_hang_hyperframe_ends_with_one_line(js_1000: Path, tmp_path: Path) -> None:
    original, copy = tmp_path / "original.db", tmp_path / "copy.db"
    shutil.copytree(js_1000, original)
    shutil.copytree(js_1000, copy)  # the same log id in two places
    node("make.js", original, "--count", 2, "--chain", "--tag", "orig")
    node("make.js", copy, "--count", 1, "--chain", "--tag", "copy")
    assert hyperframe.import_hyperlog(copy, tmp_path / "py.db") == 1001
    done = pipe([original], [tmp_path / "py.db", "--mode", "pull"], timeout=30)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert "could not be placed" in errors[0] or "slot" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert len(hyperframe.open(tmp_path / "py.db")) == 1001  # nothing partial


# --- a scripted hyperlog peer: bad input is one clear error, nothing committed -------------


def _scripted(log: hyperframe.Log, frames: bytes, *, timeout: float = 2.0) -> peer.HyperlogReport:
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(w_in, frames), os.close(w_in)), daemon=True)
    drain = threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(r_out, 65536), b"")], daemon=True)
    feeder.start()
    drain.start()
    with os.fdopen(r_in, "rb", buffering=0) as reader, os.fdopen(w_out, "wb", buffering=0) as writer:
        return peer.run(log, reader, writer, mode="pull", timeout=timeout)


def _hello_and_have(log_id: str, seq: int) -> bytes:
    return (
        wire.encode(wire.HANDSHAKE, wire.message("Handshake", version=1, mode="push"))
        + wire.encode(wire.HAVE, wire.message("Log", log=log_id, seq=seq))
        + wire.encode(wire.SENT_HEADS)
    )


def _node(value: bytes, seq: int, key: str | None = None) -> bytes:
    msg = wire.message("Node", change=seq, key=key or node_key(value, []), log="jslog", seq=seq, value=value)
    return wire.encode(wire.NODE, msg)


def test_a_node_whose_key_does_not_match_is_refused_and_nothing_is_committed(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "py.db", encoding="json")
    frames = _hello_and_have("jslog", 2) + _node(b'{"a":1}', 1) + _node(b'{"a":2}', 2, key="ab" * 32)
    with pytest.raises(hyperframe.RejectedNodeError, match="does not match"):
        _scripted(log, frames)
    assert len(hyperframe.open(tmp_path / "py.db")) == 0


def test_unknown_types_are_ignored_and_an_oversized_frame_is_refused(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "py.db", encoding="json")
    ok = _hello_and_have("jslog", 1) + wire.varint(3) + b"\x09zz" + _node(b'{"a":1}', 1)
    assert _scripted(log, ok).received == 1
    huge = _hello_and_have("jslog", 1) + wire.varint(wire.MAX_FRAME + 1) + b"\x03"
    with pytest.raises(hyperframe.ProtocolError, match="limit"):
        _scripted(hyperframe.open(tmp_path / "other.db", encoding="json"), huge)


def test_a_silent_peer_meets_the_timeout(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "py.db", encoding="json")
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    os.write(w_in, _hello_and_have("jslog", 5))  # then nothing, and the pipe stays open
    with os.fdopen(r_in, "rb", buffering=0) as reader, os.fdopen(w_out, "wb", buffering=0) as writer:
        with pytest.raises(hyperframe.PeerTimeoutError):
            peer.run(log, reader, writer, mode="pull", timeout=0.5)
    os.close(w_in)
    os.close(r_out)
    assert len(hyperframe.open(tmp_path / "py.db")) == 0


def test_signed_nodes_travel_through_js_intact_and_are_verified(tmp_path: Path) -> None:
    from hyperframe import signing

    me, stranger = signing.keypair(), signing.keypair()
    signed = hyperframe.open(tmp_path / "signed.db", encoding="json", identity=me.identity, sign=me.sign)
    for i in range(5):
        signed.append({"signed": i})
    js = tmp_path / "js.db"
    assert pipe([js, "--mode", "pull"], [signed.path, "--mode", "push"]).returncode == 0
    back = tmp_path / "back.db"
    assert pipe([js], [back, "--mode", "pull"]).returncode == 0  # JS -> a second hyperframe log
    nodes = list(hyperframe.open(back))
    assert len(nodes) == 5 and all(n.identity == me.identity and signing.valid(n) for n in nodes)
    # a log that trusts only someone else refuses them all: nothing committed, one line
    strict = tmp_path / "strict.db"
    (tmp_path / "team.trust").write_text(stranger.identity.hex() + "\n")
    done = pipe([js], [strict, "--mode", "pull", "--trust", tmp_path / "team.trust"])
    assert done.returncode != 0 and "invalid signature" in done.stderr and "Traceback" not in done.stderr
    assert not (strict / "_hyperframe" / "manifests").is_dir() or len(hyperframe.open(strict)) == 0


def test_endless_unknown_frames_are_cut_off(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "py.db", encoding="json")
    junk = (wire.varint(2) + b"\x09z") * (peer.MAX_IGNORED + 1)
    with pytest.raises(hyperframe.ProtocolError, match="unknown types"):
        _scripted(log, _hello_and_have("jslog", 1) + junk)


def test_nodes_whose_links_never_come_are_bounded_and_refused(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "py.db", encoding="json")
    missing = "cd" * 32
    frames = _hello_and_have("jslog", 3)
    for seq in (1, 2, 3):  # each links a node nobody sends
        value = json.dumps({"orphan": seq}).encode()
        msg = wire.message(
            "Node", change=seq, key=node_key(value, [missing]), log="jslog", seq=seq, value=value, links=[missing]
        )
        frames += wire.encode(wire.NODE, msg)
    with pytest.raises(hyperframe.ReplicationError, match="could not be placed"):
        _scripted(log, frames)
    assert len(hyperframe.open(tmp_path / "py.db")) == 0


def test_an_older_log_is_asked_to_be_compacted_first_then_replicates(tmp_path: Path) -> None:
    from helpers import write_format1_log

    old = tmp_path / "old.db"
    write_format1_log(old, [['"a"', '"b"']], encoding="json")  # JSON texts: the JS side decodes them
    js = tmp_path / "js.db"
    done = pipe([js, "--mode", "pull"], [old, "--mode", "push"])
    assert done.returncode != 0 and "hyperframe compact" in done.stderr and "Traceback" not in done.stderr
    hyperframe.open(old).compact()  # upgrades: its nodes get this log's id and seqs 1, 2
    assert pipe([js, "--mode", "pull"], [old, "--mode", "push"]).returncode == 0
    assert len(dump(js)) == 2
