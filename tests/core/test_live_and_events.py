"""hyperlog parity (issue 11): live feeds, live replication, events, per-call encodings, links."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import hyperframe
from hyperframe import Node
from hyperframe.verify import verify_log

# --- the live changes feed -------------------------------------------------------------------


def test_a_live_feed_yields_what_exists_then_what_another_process_commits(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = hyperframe.open(path)
    log.add("before")
    feed = log.changes(live=True, timeout=20)
    assert next(feed).value == "before"
    proc = subprocess.Popen([sys.executable, "-m", "hyperframe", "add", str(path), "from another process"])
    start = time.monotonic()
    node = next(feed)
    assert node.value == "from another process" and node.change == 2
    proc.wait(30)
    assert time.monotonic() - start < 20


def test_a_live_feed_works_on_a_log_that_does_not_exist_yet_and_ends_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    got: list[str] = []

    def read() -> None:
        got.extend(n.value for n in hyperframe.open(path).changes(live=True, timeout=1.5))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)
    hyperframe.open(path).add("first")
    reader.join(10)
    assert not reader.is_alive() and got == ["first"]


def test_tail_starts_at_the_current_end(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    log.batch([{"value": v} for v in "abc"])
    feed = log.changes(tail=True, timeout=5)
    log.add("d")
    assert [n.value for n in (next(feed),)] == ["d"]


def test_a_live_feed_refuses_until_limit_and_reverse(tmp_path: Path) -> None:
    with pytest.raises(hyperframe.UsageError):
        hyperframe.open(tmp_path / "log.db").changes(live=True, until=3)


def test_the_live_feed_sees_a_commit_within_250_ms(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    feed = log.changes(tail=True, timeout=10)
    writer = hyperframe.open(log.path)
    latencies = []
    for i in range(5):
        threading.Timer(0.1, writer.add, args=(f"n{i}",)).start()
        start = time.monotonic()
        next(feed)
        latencies.append(time.monotonic() - start - 0.1)
    assert sorted(latencies)[2] < 0.25, latencies


def test_list_live_prints_new_nodes_and_ctrl_c_ends_it_with_status_0(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    hyperframe.open(path).add("old")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperframe", "list", str(path), "--live", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert '"old"' in proc.stdout.readline()
    hyperframe.open(path).add("new")
    assert '"new"' in proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err, err


# --- live replication ------------------------------------------------------------------------


def test_live_replication_carries_new_nodes_both_ways_without_echo(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a.db"), hyperframe.open(tmp_path / "b.db")
    a.add("a0")
    b.add("b0")
    stop = threading.Event()
    reports: list[hyperframe.ReplicationReport] = []
    thread = threading.Thread(
        target=lambda: reports.append(hyperframe.replicate(a.path, b.path, live=True, stop=stop.is_set, timeout=5))
    )
    thread.start()
    _wait(lambda: len(a) == 2 and len(b) == 2)
    one = a.add("a1", links=a.heads()).key
    _wait(lambda: one in b)
    two = b.add("b1", links=[one]).key
    _wait(lambda: two in a)
    stop.set()
    thread.join(20)
    assert not thread.is_alive()
    report = reports[0]
    assert (report.sent_a_to_b, report.sent_b_to_a) == (2, 2)  # a0 + a1, b0 + b1: nothing echoed back
    assert hyperframe.diff(a, b).identical
    assert verify_log(a.path).ok and verify_log(b.path).ok


def test_two_replicate_live_processes_joined_by_pipe_see_each_others_nodes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    hyperframe.open(a).add("a0")
    hyperframe.open(b).add("b0")
    pipe = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hyperframe",
            "pipe",
            f"{sys.executable} -m hyperframe replicate {a} --live --timeout 5 --quiet",
            f"{sys.executable} -m hyperframe replicate {b} --live --timeout 5 --quiet",
        ],
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait(lambda: len(hyperframe.open(a)) == 2 and len(hyperframe.open(b)) == 2, 30)
        key = hyperframe.open(a).add("typed in terminal a").key
        start = time.monotonic()
        _wait(lambda: key in hyperframe.open(b), 10)
        assert time.monotonic() - start < 3.0  # about 0.1 s when the machine is idle
    finally:
        os.killpg(pipe.pid, signal.SIGTERM)
        pipe.wait(30)
    assert verify_log(a).ok and verify_log(b).ok


def _wait(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_process_can_refuse_a_transfer_and_nothing_is_committed(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a.db"), hyperframe.open(tmp_path / "b.db")
    a.batch([{"value": "fine"}, {"value": "forbidden"}])
    seen: list[str] = []

    def process(node: Node) -> None:
        seen.append(node.value)
        if node.value == "forbidden":
            raise hyperframe.RejectedNodeError("we do not take that", key=node.key)

    with pytest.raises(hyperframe.HyperframeError):
        hyperframe.replicate(a, b, mode="push", process=process)
    assert "fine" in seen and len(b) == 0


# --- events ------------------------------------------------------------------------------------


def test_preadd_then_add_for_every_node_and_get_fails_during_preadd(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    calls: list[tuple[str, str]] = []

    def preadd(node: Node) -> None:
        with pytest.raises(hyperframe.NodeNotFoundError):
            log.get(node.key)
        calls.append(("preadd", node.value))

    log.on("preadd", preadd)
    log.on("add", lambda node: calls.append(("add", node.value)))
    nodes = log.batch([{"value": "a"}, {"value": "b"}])
    log.append("c")
    assert calls == [("preadd", "a"), ("preadd", "b"), ("add", "a"), ("add", "b"), ("preadd", "c"), ("add", "c")]
    assert nodes[1].change == 2


def test_a_refused_add_fires_reject_and_a_preadd_veto_writes_nothing(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    log.add("here")
    rejected: list[tuple[str, type[BaseException]]] = []
    log.on("reject", lambda node, error: rejected.append((node.value, type(error))))
    with pytest.raises(hyperframe.UnknownLinkError):
        log.add("orphan", links=["ab" * 32])
    assert rejected == [("orphan", hyperframe.UnknownLinkError)]

    def veto(node: Node) -> None:
        raise PermissionError("not today")

    log.on("preadd", veto)
    with pytest.raises(PermissionError):
        log.add("vetoed")
    assert rejected[-1] == ("vetoed", PermissionError)
    assert [n.value for n in hyperframe.open(log.path).changes()] == ["here"]
    log.off("preadd", veto)
    log.add("after")
    assert len(log) == 2


def test_a_raising_add_callback_is_logged_and_the_log_is_fine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = hyperframe.open(tmp_path / "log.db")

    def broken(node: Node) -> None:
        raise RuntimeError("callback bug")

    log.on("add", broken)
    with caplog.at_level(logging.ERROR, logger="hyperframe"):
        node = log.add("kept")
    assert "callback" in caplog.text
    assert hyperframe.open(log.path).get(node.key).value == "kept"


def test_events_fire_for_replicated_nodes(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a.db"), hyperframe.open(tmp_path / "b.db")
    a.batch([{"value": "x"}, {"value": "y"}])
    added: list[tuple[str, int]] = []
    b.on("add", lambda node: added.append((node.value, node.change)))
    hyperframe.replicate(a, b)
    assert added == [("x", 1), ("y", 2)]


def test_unknown_events_and_callbacks_are_usage_errors(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    with pytest.raises(hyperframe.UsageError):
        log.on("change", print)  # type: ignore[arg-type]
    with pytest.raises(hyperframe.UsageError):
        log.off("add", print)


# --- behaviour that differed from hyperlog -----------------------------------------------------


def test_a_binary_log_returns_bytes_from_add_as_it_reads_them_back(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "bin.db", encoding="binary")
    node = log.add("text in")
    assert node.value == b"text in" and log.get(node.key) == node


def test_encoding_per_call(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")  # utf-8
    node = log.add(b"raw", encoding="binary")
    assert node.value == b"raw"
    assert log.get(node.key).value == "raw"
    assert log.get(node.key, encoding="binary").value == b"raw"
    assert [n.value for n in log.changes(encoding="binary")] == [b"raw"]
    json_node = log.add({"a": 1}, encoding="json")
    assert log.get(json_node.key).value == '{"a":1}'
    assert log.get(json_node.key, encoding="json").value == {"a": 1}
    with pytest.raises(hyperframe.EncodingError):
        log.add(b"\xff", encoding="binary")  # bytes this utf-8 log could not read back


def test_links_take_a_key_a_node_or_a_list_of_either(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    root = log.add("root")
    assert log.add("by key", links=root.key).links == (root.key,)
    assert log.add("by node", links=root).links == (root.key,)
    both = log.add("both", links=[root, log.heads()[0]])
    assert root.key in both.links
    for bad in (5, b"bytes", {"a": 1}, [5]):
        with pytest.raises(hyperframe.UsageError):
            log.add("bad", links=bad)  # type: ignore[arg-type]


def test_a_node_a_peer_sends_that_fails_verification_fires_reject(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a.db")
    a.add("x")
    b = hyperframe.open(tmp_path / "b.db", verify=lambda node: False)
    rejected: list[tuple[str, str]] = []
    b.on("reject", lambda node, error: rejected.append((node.key, type(error).__name__)))
    with pytest.raises(hyperframe.ReplicationError):
        hyperframe.replicate(a, b, mode="push")
    assert rejected == [(a.heads()[0], "RejectedNodeError")]
