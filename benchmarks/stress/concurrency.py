"""Part 3: concurrency. Writers, a compactor, a syncer and a reader on one log at once.

Every role is a child process (:func:`concurrency_child`); they start together on a "go"
line, and the parent then checks that every value every writer was told it wrote is in
the log exactly once, and that a final sync leaves both logs equal.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe import node_key
from hyperframe.errors import ReplicationError

from .harness import PartResult, check_log, fsync_append, kill_group, read_records, spawn_child, wait_line


def _wait_go() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()


def concurrency_child(spec: dict[str, Any]) -> None:
    role = spec["role"]
    rng = random.Random(spec["seed"])
    side = os.open(spec["side"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stop = Path(spec["stop"])
    log = hyperframe.open(spec["log"])
    _wait_go()
    if role == "writer":
        w, n, mode = spec["writer"], spec["n"], spec["mode"]
        keys: list[str] = []
        i = 0
        while i < n:
            if mode == "add":
                node = log.add(f"w{w}-{i}", rng.sample(keys[-10:], min(len(keys), rng.choice([0, 1, 2]))))
                keys.append(node.key)
                fsync_append(side, [node.key])
                i += 1
            else:
                docs = []
                for j in range(i, min(n, i + spec["batch"])):
                    ls = [keys[-1]] if keys and rng.random() < 0.7 else []
                    docs.append({"value": f"w{w}-{j}", "links": ls})
                    keys.append(node_key(docs[-1]["value"].encode(), ls))
                nodes = log.batch(docs)
                fsync_append(side, [node.key for node in nodes])
                i += len(docs)
        return
    done = 0
    while not stop.exists() or done < spec.get("at_least", 0):
        try:
            if role == "compactor":
                time.sleep(rng.uniform(0.05, spec["pause"]))
                log.compact()
                fsync_append(side, ["ok"])
            elif role == "syncer":
                time.sleep(rng.uniform(0.1, spec["pause"]))
                hyperframe.replicate(log, spec["peer"], timeout=30)
                fsync_append(side, ["ok"])
            else:  # reader: every read path, on a long-lived handle and on fresh ones
                handle = log if rng.random() < 0.5 else hyperframe.open(spec["log"])
                what = rng.randrange(6)
                if what == 0:
                    _ = ("ab" * 32) in handle
                elif what == 1:
                    tail = list(handle.changes(limit=20, reverse=True))
                    if tail:
                        handle.get(rng.choice(tail).key[:16])
                elif what == 2:
                    for head in handle.heads()[:3]:
                        handle.get(head)
                elif what == 3:
                    sum(1 for _ in handle.changes())
                elif what == 4:
                    handle.to_arrow_raw()
                else:
                    len(handle), handle.info()
                fsync_append(side, ["ok"])
        except ReplicationError as exc:
            fsync_append(side, ["again " + json.dumps(f"{type(exc).__name__}: {exc}")])
        except Exception as exc:  # noqa: BLE001 - recorded and judged by the parent
            fsync_append(side, ["error " + json.dumps(f"{type(exc).__name__}: {exc}")])
        done += 1


def run_concurrency(
    root: Path,
    *,
    writers: int = 4,
    per_writer: int = 1000,
    seed: int = 0,
    batch: int = 50,
    modes: tuple[str, ...] = ("add", "batch"),
    reader: bool = True,
    syncer: bool = True,
    compactor: bool = True,
    timeout: float = 600,
) -> PartResult:
    """``writers`` processes add ``per_writer`` nodes each to one log while others compact, sync and read."""
    root.mkdir(parents=True, exist_ok=True)
    log_path, peer_path, stop = root / "shared.db", root / "peer.db", root / "stop"
    for p in (log_path, peer_path):
        shutil.rmtree(p, ignore_errors=True)
    stop.unlink(missing_ok=True)
    hyperframe.open(log_path).batch([{"value": f"seed-{i}"} for i in range(20)])
    peer_keys = {n.key for n in hyperframe.open(peer_path).batch([{"value": f"peer-{i}"} for i in range(100)])}
    start = time.monotonic()
    specs: list[dict[str, Any]] = []
    for w in range(writers):
        specs.append({"role": "writer", "writer": w, "n": per_writer, "mode": modes[w % len(modes)], "batch": batch})
    if compactor:
        specs.append({"role": "compactor", "pause": 1.0, "at_least": 3})
    if syncer:
        specs.append({"role": "syncer", "pause": 0.6, "peer": os.path.abspath(peer_path), "at_least": 2})
    if reader:
        specs.append({"role": "reader"})
    procs = []
    for n, spec in enumerate(specs):
        side = root / f"{spec['role']}-{n}.side"
        spec.update(
            log=os.path.abspath(log_path), stop=os.path.abspath(stop), side=os.path.abspath(side), seed=f"{seed}-{n}"
        )
        Path(spec["side"]).unlink(missing_ok=True)
        procs.append(
            spawn_child("concurrency", spec, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    failures: list[str] = []
    try:
        for proc, spec in zip(procs, specs):
            if wait_line(proc, 60) != "ready":
                failures.append(f"the {spec['role']} never got ready")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        deadline = time.monotonic() + timeout
        for proc, spec in zip(procs, specs):
            if spec["role"] != "writer":
                continue
            try:
                proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                failures.append(f"writer {spec['writer']} did not finish in {timeout:.0f} s")
        writers_done = time.monotonic() - start
        stop.write_text("stop")
        for proc, spec in zip(procs, specs):
            try:
                proc.wait(max(1.0, deadline + 60 - time.monotonic()))
            except subprocess.TimeoutExpired:
                failures.append(f"the {spec['role']} did not stop")
    finally:
        for proc in procs:
            kill_group(proc)
    outcomes: Counter[str] = Counter()
    odd: dict[str, str] = {}  # role + exception type -> the first message
    writer_keys: set[str] = set()
    for proc, spec in zip(procs, specs):
        if proc.returncode not in (0, -signal.SIGKILL) or (proc.returncode != 0 and spec["role"] == "writer"):
            failures.append(f"the {spec['role']} exited {proc.returncode}")
        for line in read_records(Path(spec["side"])):
            if spec["role"] == "writer":
                writer_keys.add(line)
            else:
                word, _, rest = line.partition(" ")
                outcomes[f"{spec['role']} {word}"] += 1
                if word == "error" or (word == "again" and spec["role"] != "syncer"):
                    message = json.loads(rest)
                    what = f"{spec['role']} {message.split(':')[0]}"
                    outcomes[what] += 1
                    odd.setdefault(what, message)
    failures += [f"the {what.split()[0]} got {outcomes[what]} x {m}" for what, m in odd.items()]
    # one more sync with nobody writing must finish, and then both logs hold everything
    try:
        hyperframe.replicate(log_path, peer_path, timeout=60)
    except Exception as exc:  # noqa: BLE001
        failures.append(f"the final sync failed: {type(exc).__name__}: {exc}")
    expected_values = {f"w{w}-{i}" for w in range(writers) for i in range(per_writer)}
    result = check_log(log_path, writer_keys, must_exist=True)
    failures += [f"shared log: {p}" for p in result.problems[:10]]
    values = Counter(n.value for n in hyperframe.open(log_path).changes() if str(n.value).startswith("w"))
    present = sum(1 for v in expected_values if values[v] == 1)
    if present != len(expected_values):
        failures.append(f"shared log: {present} of {len(expected_values)} writer values present exactly once")
    if len(writer_keys) != len(expected_values):
        failures.append(f"the writers recorded {len(writer_keys)} returned keys, expected {len(expected_values)}")
    if syncer:
        peer = check_log(peer_path, writer_keys | peer_keys, must_exist=True)
        failures += [f"peer log: {p}" for p in peer.problems[:10]]
        if peer.ok and result.ok and peer.keys != result.keys:
            failures.append("after the final sync the two logs differ")
    line = (
        f"concurrency: writers {writers}x{per_writer} ({'/'.join(modes)}), nodes {present}/{len(expected_values)}, "
        f"compactions {outcomes['compactor ok']}, syncs {outcomes['syncer ok']} "
        f"(+{outcomes['syncer again']} 'run again'), reads {outcomes['reader ok']}, failures {len(failures)} "
        f"(writers done in {writers_done:.1f} s) in {time.monotonic() - start:.1f} s"
    )
    return PartResult("concurrency", line, failures)
