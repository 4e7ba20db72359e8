"""Signed nodes and who may write (issue 11): Ed25519 keys, sign/verify, trust lists, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hyperframe
from hyperframe import Node, signing
from hyperframe.verify import verify_log


def test_a_signed_log_stores_identity_and_signature_and_reads_them_back(tmp_path: Path) -> None:
    me = signing.keypair()
    log = hyperframe.open(tmp_path / "log.db", identity=me.identity, sign=me.sign)
    node = log.add("signed hello")
    assert node.identity == me.identity and signing.valid(node)
    again = hyperframe.open(log.path).get(node.key)
    assert (again.identity, again.signature) == (node.identity, node.signature)
    assert [n.signature for n in log.changes()] == [node.signature]


def test_sign_is_called_with_key_links_value_and_identity(tmp_path: Path) -> None:
    seen: list[Node] = []

    def sign(node: Node) -> bytes:
        seen.append(node)
        return b"sig:" + node.key.encode()[:8]

    log = hyperframe.open(tmp_path / "log.db", identity=b"me", sign=sign)
    root = log.add("root")
    child = log.add("child", links=root)
    assert [(n.value, n.links, n.identity) for n in seen] == [("root", (), b"me"), ("child", (root.key,), b"me")]
    assert child.signature == b"sig:" + child.key.encode()[:8]


def test_a_per_node_identity(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    a = log.add("from alice", identity=b"alice")
    (b,) = log.batch([{"value": "from bob", "identity": b"bob"}])
    assert (hyperframe.open(log.path).get(a.key).identity, hyperframe.open(log.path).get(b.key).identity) == (
        b"alice",
        b"bob",
    )
    with pytest.raises(hyperframe.UsageError):
        log.add("bad", identity="not bytes")  # type: ignore[arg-type]


def test_a_sign_that_raises_fails_the_add_writes_nothing_and_fires_reject(tmp_path: Path) -> None:
    def sign(node: Node) -> bytes:
        raise RuntimeError("the key is locked")

    log = hyperframe.open(tmp_path / "log.db", identity=b"me", sign=sign)
    rejected: list[Any] = []
    log.on("reject", lambda node, error: rejected.append((node.value, str(error))))
    with pytest.raises(RuntimeError, match="locked"):
        log.add("never stored")
    assert log.manifest is None and not log.path.exists()  # refused before anything was created
    assert rejected == [("never stored", "the key is locked")]


def test_signatures_travel_with_replication_and_verify_refuses_untrusted_nodes(tmp_path: Path) -> None:
    me, stranger = signing.keypair(), signing.keypair()
    ours = hyperframe.open(tmp_path / "ours.db", identity=me.identity, sign=me.sign)
    node = ours.add("ours")
    theirs = hyperframe.open(tmp_path / "theirs.db", identity=stranger.identity, sign=stranger.sign)
    theirs.add("theirs")
    lab = hyperframe.open(tmp_path / "lab.db", verify=signing.trust([me.identity]))
    hyperframe.replicate(ours, lab, mode="push")
    assert lab.get(node.key).signature == node.signature and signing.valid(lab.get(node.key))
    with pytest.raises(hyperframe.ReplicationError, match="invalid signature"):
        hyperframe.replicate(theirs, lab, mode="push")
    assert len(lab) == 1


def test_a_verify_that_raises_refuses_the_transfer(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a.db")
    a.add("x")

    def verify(node: Node) -> bool:
        raise ValueError("broken verifier")

    b = hyperframe.open(tmp_path / "b.db", verify=verify)
    with pytest.raises(hyperframe.ReplicationError, match="invalid signature"):
        hyperframe.replicate(a, b, mode="push")
    assert len(b) == 0
    assert not b.path.exists()  # a refused transfer into a log not on disk yet creates none


def test_keys_and_trust_files_round_trip(tmp_path: Path) -> None:
    me = signing.keypair()
    me.save(tmp_path / "me.key")
    assert signing.load_key(tmp_path / "me.key").identity == me.identity
    assert (tmp_path / "me.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(hyperframe.UsageError, match="exists"):
        me.save(tmp_path / "me.key")
    (tmp_path / "team.trust").write_text(f"# the team\n{me.identity.hex()}  # me\n")
    log = hyperframe.open(tmp_path / "log.db", identity=me.identity, sign=me.sign)
    assert signing.load_trust(tmp_path / "team.trust")(log.add("hi"))
    (tmp_path / "bad.trust").write_text("not hex\n")
    with pytest.raises(hyperframe.UsageError, match="bad.trust:1"):
        signing.load_trust(tmp_path / "bad.trust")


def test_the_cli_signs_verifies_and_refuses_an_untrusted_push(tmp_path: Path, run: Any, run_process: Any) -> None:
    me_key, other_key, team = tmp_path / "me.key", tmp_path / "other.key", tmp_path / "team.trust"
    identity = run("keygen", me_key).out.strip()
    assert len(identity) == 64
    team.write_text(identity + "\n")
    run("keygen", other_key)
    signed = run("add", tmp_path / "field.db", "signed", "--sign", me_key)
    assert signed.code == 0
    assert run("verify", tmp_path / "field.db", "--trust", team).code == 0
    run("add", tmp_path / "field.db", "unsigned")
    result = run("verify", tmp_path / "field.db", "--trust", team)
    assert result.code != 0 and "unsigned" in result.out
    run("add", tmp_path / "intruder.db", "intruder", "--sign", other_key)

    def intruder_pushes() -> Any:
        return run_process(
            "pipe",
            f"hyperframe replicate {tmp_path / 'intruder.db'} --mode push --quiet",
            f"hyperframe replicate {tmp_path / 'lab.db'} --trust {team} --quiet",
        )

    pipe = intruder_pushes()
    assert pipe.code != 0 and "invalid signature" in pipe.err
    assert not (tmp_path / "lab.db").exists()  # refused before the log was created
    run("add", tmp_path / "lab.db", "ours", "--sign", me_key)
    pipe = intruder_pushes()
    assert pipe.code != 0 and "invalid signature" in pipe.err
    assert verify_log(tmp_path / "lab.db").nodes == 1
