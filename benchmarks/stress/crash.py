"""Part 1: crashes. A child process writes and records every call that returned; SIGKILL.

Each operation (``CRASH_OPS``) has a campaign: the same logs, killed trial after trial, and
the set of keys that returned calls recorded (in an fsynced side file) before each kill.
After every kill :func:`~benchmarks.stress.harness.check_log` must find them all.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe import node_key

from .harness import PartResult, check_log, fsync_append, kill_group, read_records, spawn_child, wait_line

CRASH_OPS = ("add", "batch", "append", "compact", "sync", "cli")
#: how long after "ready" a kill may come, per operation (seconds)
CRASH_DELAY = {"add": 0.4, "batch": 0.8, "append": 0.4, "compact": 0.8, "sync": 1.2, "cli": 0.9}
#: a campaign's logs start over once they hold this many nodes (keeps checks fast)
CRASH_RESET_NODES = 20_000


def _known_keys(log: hyperframe.Log, n: int = 200) -> list[str]:
    return [node.key for node in log.changes(since=max(0, len(log) - n))]


def crash_child(spec: dict[str, Any]) -> None:
    """Run one operation in a loop forever, recording each returned key; the parent kills us."""
    rng = random.Random(spec["seed"])
    op = spec["op"]
    side = os.open(spec["side"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    a = hyperframe.open(spec["a"])
    b = hyperframe.open(spec["b"]) if spec.get("b") else None
    known = _known_keys(a)
    tag = spec["tag"]
    sys.stdout.write("ready\n")
    sys.stdout.flush()

    def value(i: int) -> str:
        return f"{tag}-{i}-" + "x" * rng.choice([0, 1, 10, 100, 2000])

    def links(k: int) -> list[str]:
        return rng.sample(known[-64:], min(k, len(known[-64:])))

    i = 0
    while True:
        i += 1
        if op == "add":
            if known and rng.random() < 0.1:  # the same value and links again: returns the stored node
                node = a.get(rng.choice(known[-64:]))
                again = a.add(node.value, node.links)
                assert again.key == node.key
                fsync_append(side, [f"A {again.key}"])
                continue
            node = a.add(value(i), links(rng.choice([0, 1, 1, 2, 3])))
            known.append(node.key)
            fsync_append(side, [f"A {node.key}"])
        elif op == "batch":
            n = rng.choice([1, 2, 10, 50, 200, 1000, 3000])
            docs: list[dict[str, Any]] = []
            fresh: list[str] = []
            for j in range(n):
                pool = known[-32:] + fresh[-32:]
                ls = rng.sample(pool, min(len(pool), rng.choice([0, 1, 2])))
                v = value(i * 10_000 + j)
                docs.append({"value": v, "links": ls})
                fresh.append(node_key(v.encode(), ls))
            if known and rng.random() < 0.2:
                docs.append({"value": a.get(known[-1]).value, "links": list(a.get(known[-1]).links)})  # a duplicate
            nodes = a.batch(docs)
            known += fresh
            fsync_append(side, [f"A {node.key}" for node in nodes])
        elif op == "append":
            if rng.random() < 0.3:
                node = a.add(value(i))  # an extra head for the next append to merge
            else:
                node = a.append(value(i))
            known.append(node.key)
            fsync_append(side, [f"A {node.key}"])
        elif op == "compact":
            if rng.random() < 0.25:
                a.compact()
                fsync_append(side, ["C"])
            else:
                n = rng.choice([1, 1, 20, 500])
                nodes = a.batch([{"value": value(i * 1000 + j), "links": links(1) if j == 0 else []} for j in range(n)])
                known += [node.key for node in nodes]
                fsync_append(side, [f"A {node.key}" for node in nodes])
        elif op == "sync":
            assert b is not None
            target, name = (a, "A") if rng.random() < 0.5 else (b, "B")
            n = rng.choice([1, 5, 50, 400])
            nodes = target.batch([{"value": f"{name}{value(i * 1000 + j)}"} for j in range(n)])
            fsync_append(side, [f"{name} {node.key}" for node in nodes])
            if rng.random() < 0.7:
                mode = rng.choice(["sync", "sync", "push", "pull"])
                hyperframe.replicate(a, b, mode=mode, timeout=30)
                fsync_append(side, [f"S {mode}"])
        else:  # pragma: no cover
            raise SystemExit(f"unknown op {op}")


@dataclass
class CrashCampaign:
    """One operation's logs, reused trial after trial (crash after crash), and what they must hold."""

    op: str
    root: Path
    rng: random.Random
    generation: int = 0
    expected: dict[str, set[str]] = field(default_factory=lambda: {"A": set(), "B": set()})
    trials: int = 0
    kills: int = 0
    fresh_starts: int = 0
    failures: list[str] = field(default_factory=list)
    orphans_seen: int = 0

    def path(self, name: str) -> Path:
        return self.root / f"{self.op}-{self.generation}-{name}.db"

    def reset(self) -> None:
        self.generation += 1
        self.expected = {"A": set(), "B": set()}
        self.fresh_starts += 1


def _cli_crash_argv(camp: CrashCampaign, i: int) -> tuple[list[str], str]:
    rng = camp.rng
    a, b = camp.path("A"), camp.path("B")
    known = sorted(camp.expected["A"])
    what = rng.choice(["add", "add", "append", "compact", "sync"])
    base = [sys.executable, "-m", "hyperframe"]  # argv[3] is the command
    if what == "add":
        argv = [*base, "add", str(a), f"cli-{camp.generation}-{i}"]
        if known and rng.random() < 0.7:
            argv += ["--link", rng.choice(known)[: rng.choice([8, 64])]]
        return argv, "A"
    if what == "append":
        return [*base, "append", str(a), f"cli-append-{camp.generation}-{i}"], "A"
    if what == "compact":
        return ([*base, "compact", str(a)] if camp.expected["A"] else [*base, "add", str(a), f"cli-{i}"]), "A"
    return [*base, "sync", str(a), str(b), "--timeout", "30"], "S"


def _apply_records(camp: CrashCampaign, lines: Iterable[str]) -> None:
    """Fold a child's side file into what the logs must hold."""
    for line in lines:
        if line.startswith("S "):  # a replication returned: push A->B, pull B->A, sync both
            mode = line[2:]
            a, b = camp.expected["A"], camp.expected["B"]
            if mode in ("sync", "push"):
                b |= a
            if mode in ("sync", "pull"):
                a |= b
        elif len(line) == 66 and line[1] == " " and line[0] in "AB":
            camp.expected[line[0]].add(line[2:])


def _cli_trial(camp: CrashCampaign, trial: int) -> None:
    """Run CLI commands one after another until the kill time comes, then SIGKILL the running one."""
    rng = camp.rng
    kill_at = time.monotonic() + rng.uniform(0.05, 1.6)
    i = 0
    while True:
        i += 1
        argv, kind = _cli_crash_argv(camp, trial * 100 + i)
        if kind == "S":
            for name in "AB":  # both sides exist and differ, so the sync has work to do
                value = f"{name}-seed-{camp.generation}-{trial}-{i}"
                camp.expected[name].add(hyperframe.open(camp.path(name)).add(value).key)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        while proc.poll() is None and time.monotonic() < kill_at:
            time.sleep(0.005)
        if proc.poll() is None:
            camp.kills += kill_group(proc)
            return
        out, err = proc.communicate()
        if proc.returncode != 0:
            camp.failures.append(
                f"cli trial {trial}: `{' '.join(argv[3:])}` exited {proc.returncode}: {err.decode()[-300:]}"
            )
            return
        if kind == "S":
            _apply_records(camp, ["S sync"])
        elif argv[3] in ("add", "append"):
            camp.expected["A"].add(out.decode().strip())


def crash_trial(camp: CrashCampaign, seed: int, trial: int) -> None:
    """Start a writer, kill it with SIGKILL at a random moment, check what it left."""
    rng = camp.rng
    if trial == 0 or rng.random() < 0.08:
        camp.reset()  # sometimes kill the very first commits of a brand new log
    fresh = not camp.path("A").exists()
    started = time.monotonic()
    if camp.op == "cli":
        _cli_trial(camp, trial)
    else:
        side = camp.root / f"{camp.op}-{camp.generation}-{trial}.side"
        spec = {
            "op": camp.op,
            "a": os.path.abspath(camp.path("A")),
            "b": os.path.abspath(camp.path("B")) if camp.op == "sync" else None,
            "side": os.path.abspath(side),
            "seed": f"{seed}-{camp.op}-{trial}",
            "tag": f"{camp.op}{camp.generation}.{trial}",
        }
        proc = spawn_child("crash", spec, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_line(proc, 60) != "ready":
            err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            kill_group(proc)
            camp.failures.append(f"{camp.op} trial {trial}: the child never got ready {err[-800:]}")
            return
        # a brand new log: aim at its first commits (its creation) half of the time
        limit = 0.03 if fresh and rng.random() < 0.5 else CRASH_DELAY[camp.op]
        time.sleep(rng.uniform(0.0, limit))
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            camp.failures.append(f"{camp.op} trial {trial}: the writer died by itself: {err[-800:]}")
            kill_group(proc)
        else:
            camp.kills += kill_group(proc)
        _apply_records(camp, read_records(side))
        side.unlink(missing_ok=True)
    camp.trials += 1
    names = ("A", "B") if camp.op in ("sync", "cli") else ("A",)
    for name in names:
        result = check_log(camp.path(name), camp.expected[name])
        camp.orphans_seen += len(result.warnings)
        for problem in result.problems[:5]:
            camp.failures.append(f"{camp.op} trial {trial} ({name}, {time.monotonic() - started:.2f} s): {problem}")
        if result.problems:
            camp.reset()  # go on with a clean log so one failure is not counted again and again
            return
        if result.nodes > CRASH_RESET_NODES:
            camp.reset()
            return
    if trial % 10 == 9 and camp.path("A").exists():  # compact cleans every orphan: strict verify passes
        hyperframe.open(camp.path("A")).compact()
        result = check_log(camp.path("A"), camp.expected["A"], strict=True)
        camp.failures += [f"{camp.op} trial {trial} after compact: {p}" for p in result.problems[:5]]


def run_crash(root: Path, *, trials: int = 200, seed: int = 0, seconds: float = 600, jobs: int = 2) -> PartResult:
    """``trials`` kills spread over the operations, ``jobs`` campaigns at a time."""
    root.mkdir(parents=True, exist_ok=True)
    camps = {op: CrashCampaign(op, root, random.Random(f"{seed}-{op}")) for op in CRASH_OPS}
    plan = [CRASH_OPS[i % len(CRASH_OPS)] for i in range(trials)]
    random.Random(seed).shuffle(plan)
    groups: list[list[str]] = [[] for _ in range(jobs)]
    owner = {op: i % jobs for i, op in enumerate(CRASH_OPS)}
    for op in plan:
        groups[owner[op]].append(op)
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    counters = Counter()

    def work(group: list[str]) -> None:
        for op in group:
            if time.monotonic() > deadline:
                return
            try:
                crash_trial(camps[op], seed, counters[op])
            except Exception as exc:  # noqa: BLE001 - a harness bug is a failure too
                camps[op].failures.append(f"{op} trial {counters[op]}: harness error {type(exc).__name__}: {exc}")
            counters[op] += 1

    threads = [threading.Thread(target=work, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = sum(c.trials for c in camps.values())
    kills = sum(c.kills for c in camps.values())
    failures = [f for c in camps.values() for f in c.failures]
    keys = sum(len(c.expected["A"]) + len(c.expected["B"]) for c in camps.values())
    per_op = ", ".join(f"{op} {camps[op].trials}" for op in CRASH_OPS)
    short = f" of {trials} (stopped by --seconds)" if done < trials else ""
    line = (
        f"crash: trials {done}{short}, kills {kills}, failures {len(failures)} ({per_op}; "
        f"{sum(c.fresh_starts for c in camps.values())} fresh logs, {sum(c.orphans_seen for c in camps.values())} "
        f"orphan warnings seen, {keys:,} returned keys still checked at the end) in {time.monotonic() - start:.1f} s"
    )
    return PartResult("crash", line, failures)
