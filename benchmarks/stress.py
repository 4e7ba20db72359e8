#!/usr/bin/env python
"""The reliability stress run (issue 5): crashes, corruption, concurrency, hostile peers, limits.

One command runs every part and prints one totals line per part, then ``total``::

    python benchmarks/stress.py                        # the full run (~5 min on 2 cores)
    python benchmarks/stress.py --trials 20 --streams 500 --writers 4x250   # a quick one
    python benchmarks/stress.py --only crash,fuzz --seed 7 --seconds 120

    crash: trials 200, kills 200, failures 0 (add 34, batch 34, append 33, compact 33, sync 33, cli 33; ...)
    corruption: cases 14,042, failures 0 (72 damage cases over 12 kinds ..., 13,970 single-byte flips)
    concurrency: writers 4x1000 (add/batch), nodes 4000/4000, compactions 94, syncs 199 (+37 'run again'), ...
    fuzz: streams 10000 (decoders 5989, sessions 4011, open 40), failures 0 (session endings: ...)
    limits: cases 4, failures 0 (8 MB value 0.8 s; 100,000 heads 6.1 s; 4 GB length prefix 0.0 s; ...)
    total: failures 0

The exit status is 1 when anything failed (every failure is printed above the totals),
0 otherwise. The run is seeded (``--seed``); ``--seconds`` bounds the time-driven parts
(crash trials and fuzz streams stop being started once a part has used that many seconds,
and the line then says how many ran). ``--workdir DIR --keep`` leaves the logs behind for
a post-mortem.

The tests ``tests/test_reliability_*.py`` import this file and run each part at CI size,
so the code that the CI checks is the code that the full run uses. See docs/RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe import node_key
from hyperframe.errors import CorruptLogError, ReplicationError
from hyperframe.verify import verify_log

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
PARTS = ("crash", "corruption", "concurrency", "fuzz", "limits")


# ==========================================================================================
# Shared: what a healthy log looks like
# ==========================================================================================


def tree_state(path: Path) -> dict[str, str]:
    """Every file and folder under ``path`` (relative name -> sha256, or "dir"); {} if absent."""
    if not path.exists() and not path.is_symlink():
        return {}
    if path.is_file():
        return {".": hashlib.sha256(path.read_bytes()).hexdigest()}
    out = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        if p.is_symlink():
            out[rel] = f"link -> {os.readlink(p)}"
        elif p.is_dir():
            out[rel] = f"dir {oct(p.lstat().st_mode)}"
        else:
            try:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            except OSError as exc:  # unreadable (chmod 000 as a normal user): note its mode instead
                out[rel] = f"unreadable {oct(p.lstat().st_mode)} {exc.errno}"
    return out


@dataclass
class LogCheck:
    """What :func:`check_log` found."""

    nodes: int = 0
    keys: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_log(path: Path, expected: Iterable[str] = (), *, strict: bool = False, must_exist: bool = False) -> LogCheck:
    """Everything issue 5 asks of a log after a crash, a race or a repair.

    It opens; ``verify`` passes (orphans are warnings, refused only with ``strict``); every
    ``expected`` key is present; no key twice; every node after its links and matching
    its content; change numbers are positions; heads, ``len`` and the live Parquet
    dataset agree with the nodes.
    """
    out = LogCheck()
    expected = set(expected)
    try:
        log = hyperframe.open(path)
        manifest = log.manifest
    except Exception as exc:  # noqa: BLE001 - the harness reports anything
        out.problems.append(f"open: {type(exc).__name__}: {exc}")
        return out
    if manifest is None:
        if expected or must_exist:
            out.problems.append(f"no log at {path} but {len(expected)} key(s) were returned before the kill")
        report = verify_log(path)
        out.problems += [f"verify: {p}" for p in report.errors]
        out.warnings += [str(p) for p in report.warnings]
        return out
    report = verify_log(path)
    out.problems += [f"verify: {p}" for p in report.errors]
    for warning in report.warnings:
        if "orphan" not in warning.message or strict:
            out.problems.append(f"verify warning: {warning}")
        out.warnings.append(str(warning))
    try:
        nodes = list(log.changes())
    except Exception as exc:  # noqa: BLE001
        out.problems.append(f"changes(): {type(exc).__name__}: {exc}")
        return out
    encode = log.encoding.encode
    position: dict[str, int] = {}
    linked: set[str] = set()
    for i, node in enumerate(nodes):
        if node.key in position:
            out.problems.append(f"node {node.key} is stored twice (changes {position[node.key] + 1} and {i + 1})")
        for link in node.links:
            if link not in position:
                out.problems.append(f"node {node.key} (change {i + 1}) comes before its link {link}")
        if node_key(encode(node.value), node.links) != node.key:
            out.problems.append(f"node {node.key} does not match its content")
        if node.change != i + 1:
            out.problems.append(f"node {node.key} has change {node.change} at position {i + 1}")
        position.setdefault(node.key, i)
        linked.update(node.links)
    out.nodes = len(nodes)
    out.keys = set(position)
    missing = expected - out.keys
    if missing:
        out.problems.append(f"{len(missing)} returned key(s) missing, e.g. {sorted(missing)[0]}")
    if len(log) != len(nodes):
        out.problems.append(f"len(log) is {len(log)} but changes() gave {len(nodes)}")
    heads = sorted(out.keys - linked)
    if log.heads() != heads:
        out.problems.append(f"heads() gives {len(log.heads())} keys, the nodes say {len(heads)}")
    try:
        rows = log.dataset().count_rows()
        if rows != len(nodes):
            out.problems.append(f"the live Parquet dataset has {rows} rows, the log {len(nodes)} nodes")
    except Exception as exc:  # noqa: BLE001
        out.problems.append(f"dataset(): {type(exc).__name__}: {exc}")
    return out


def _fsync_append(fd: int, lines: Iterable[str]) -> None:
    os.write(fd, "".join(f"{line}\n" for line in lines).encode())
    os.fsync(fd)


def read_records(path: Path) -> list[str]:
    """Whole lines of a side file; a line cut by the kill (no newline yet) is left out."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").split("\n")[:-1]


def _wait_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The child's first stdout line ("ready"), or "" if it did not come in time."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return ""
        chunk = os.read(fd, 1)
        if not chunk:
            return ""
        buf += chunk
    return buf.decode().strip()


def _kill_group(proc: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the child's whole process group; True if it was still running."""
    alive = proc.poll() is None
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            stream.close()
    return alive


def _child_argv(role: str, spec: dict[str, Any]) -> list[str]:
    return [sys.executable, str(HERE), "_child", role, json.dumps(spec)]


# ==========================================================================================
# Part 1: crashes. A child process writes and records every call that returned; SIGKILL.
# ==========================================================================================

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
                _fsync_append(side, [f"A {again.key}"])
                continue
            node = a.add(value(i), links(rng.choice([0, 1, 1, 2, 3])))
            known.append(node.key)
            _fsync_append(side, [f"A {node.key}"])
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
            _fsync_append(side, [f"A {node.key}" for node in nodes])
        elif op == "append":
            if rng.random() < 0.3:
                node = a.add(value(i))  # an extra head for the next append to merge
            else:
                node = a.append(value(i))
            known.append(node.key)
            _fsync_append(side, [f"A {node.key}"])
        elif op == "compact":
            if rng.random() < 0.25:
                a.compact()
                _fsync_append(side, ["C"])
            else:
                n = rng.choice([1, 1, 20, 500])
                nodes = a.batch([{"value": value(i * 1000 + j), "links": links(1) if j == 0 else []} for j in range(n)])
                known += [node.key for node in nodes]
                _fsync_append(side, [f"A {node.key}" for node in nodes])
        elif op == "sync":
            assert b is not None
            target, name = (a, "A") if rng.random() < 0.5 else (b, "B")
            n = rng.choice([1, 5, 50, 400])
            nodes = target.batch([{"value": f"{name}{value(i * 1000 + j)}"} for j in range(n)])
            _fsync_append(side, [f"{name} {node.key}" for node in nodes])
            if rng.random() < 0.7:
                mode = rng.choice(["sync", "sync", "push", "pull"])
                hyperframe.replicate(a, b, mode=mode, timeout=30)
                _fsync_append(side, [f"S {mode}"])
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
            camp.kills += _kill_group(proc)
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
            "a": str(camp.path("A")),
            "b": str(camp.path("B")) if camp.op == "sync" else None,
            "side": str(side),
            "seed": f"{seed}-{camp.op}-{trial}",
            "tag": f"{camp.op}{camp.generation}.{trial}",
        }
        proc = subprocess.Popen(
            _child_argv("crash", spec), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        if _wait_line(proc, 60) != "ready":
            err = proc.stderr.read().decode() if proc.stderr and proc.poll() is not None else ""
            _kill_group(proc)
            camp.failures.append(f"{camp.op} trial {trial}: the child never got ready {err[-800:]}")
            return
        # a brand new log: aim at its first commits (its creation) half of the time
        limit = 0.03 if fresh and rng.random() < 0.5 else CRASH_DELAY[camp.op]
        time.sleep(rng.uniform(0.0, limit))
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            camp.failures.append(f"{camp.op} trial {trial}: the writer died by itself: {err[-800:]}")
            _kill_group(proc)
        else:
            camp.kills += _kill_group(proc)
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


def summarize(failures: list[str]) -> list[str]:
    """One line per kind of failure (the first example, and how many more were like it)."""
    first: dict[str, str] = {}
    count: Counter[str] = Counter()
    for f in failures:
        shape = re.sub(r"\(seed [^)]*\)|seg-[0-9a-f]+[.…][a-z]*|v\d{20}\.json|\d+", "#", f)[:90]
        first.setdefault(shape, f)
        count[shape] += 1
    return [m + (f"  [x{count[k]}]" if count[k] > 1 else "") for k, m in first.items()]


@dataclass
class PartResult:
    name: str
    line: str
    failures: list[str]  # printed one per line above the totals
    count: int | None = None  # failures counted in the totals line (default: len(failures))

    @property
    def failed(self) -> int:
        return len(self.failures) if self.count is None else self.count


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


# ==========================================================================================
# Part 2: corruption. Damage a log on purpose; verify must name it, reads must refuse it,
# repair must keep every intact node and say what it dropped.
# ==========================================================================================

CliRunner = Callable[[list[str]], tuple[int, str, str]]


def cli_subprocess(args: list[str]) -> tuple[int, str, str]:
    """``hyperframe ARGS`` as a real process: (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "hyperframe", *args], capture_output=True, timeout=120, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def cli_inprocess(args: list[str]) -> tuple[int, str, str]:
    """``hyperframe ARGS`` through ``hyperframe.cli.main`` in this process (fast)."""
    import contextlib

    from hyperframe.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(args)
    return code, out.getvalue(), err.getvalue()


@dataclass
class Sample:
    """A log built for damaging, and everything it held before the damage."""

    path: Path
    values: dict[str, bytes]  # key -> stored value bytes
    links: dict[str, tuple[str, ...]]
    order: list[str]
    segment_of: dict[str, str]  # key -> segment file
    raw: Any  # to_arrow_raw() before the damage

    def descendants(self, keys: set[str]) -> set[str]:
        """``keys`` and every node whose history includes one of them."""
        out = set(keys)
        for key in self.order:
            if any(link in out for link in self.links[key]):
                out.add(key)
        return out


def build_sample(path: Path, *, seed: int = 0, segments: int = 4, per: int = 12, big: bool = False) -> Sample:
    """A log of ``segments`` segments: chains, cross-segment links, separate roots, merges."""
    rng = random.Random(seed)
    log = hyperframe.open(path)
    made: list[str] = []
    for s in range(segments):
        docs: list[dict[str, Any]] = []
        fresh: list[str] = []
        for i in range(per):
            pool = fresh[-4:] + (made[-8:] if s % 3 != 2 else [])  # every third segment starts new roots
            ls = rng.sample(pool, min(len(pool), rng.choice([0, 1, 1, 2])))
            size = rng.choice([1, 8, 40, 300] + ([5000, 70_000] if big else []))
            value = f"s{s}n{i}:" + "".join(rng.choice("abcdefgh ") for _ in range(size))
            docs.append({"value": value, "links": ls})
            fresh.append(node_key(value.encode(), ls))
        log.batch(docs)
        made += fresh
    manifest = log.manifest
    assert manifest is not None
    segment_of: dict[str, str] = {}
    from hyperframe.store import segments as segmod

    for info in manifest.segments:
        for k in segmod.read(path, info, ["key"]).column("key").to_pylist():
            segment_of[k.hex()] = info.file
    nodes = list(log.changes())
    return Sample(
        path=path,
        values={n.key: log.encoding.encode(n.value) for n in nodes},
        links={n.key: n.links for n in nodes},
        order=[n.key for n in nodes],
        segment_of=segment_of,
        raw=log.to_arrow_raw(),
    )


def _manifests(path: Path) -> list[Path]:
    return sorted((path / "_hyperframe" / "manifests").glob("v*.json"))


def _segment_files(path: Path) -> list[str]:
    manifest = hyperframe.open(path).manifest
    assert manifest is not None
    return [s.file for s in manifest.segments]


@dataclass
class Damage:
    kind: str
    file: str  # the file verify and repair must name
    lost: set[str]  # keys repair may drop (a damaged segment's nodes and their descendants)
    orphan: bool = False  # only an orphan: verify passes with a warning


DAMAGE_KINDS = (
    "flip",
    "truncate",
    "delete",
    "copy",
    "listed_twice",
    "listed_twice_raw",
    "manifest_garbage",
    "manifest_truncated",
    "manifest_version",
    "manifests_removed",
    "orphan_tmp",
    "orphan_segment",
)


def damage(sample: Sample, kind: str, rng: random.Random) -> Damage:
    """Do ``kind`` of damage to the sample log."""
    path = sample.path
    files = _segment_files(path)
    target = rng.choice(files)
    seg_path = path / target
    lost = sample.descendants({k for k, f in sample.segment_of.items() if f == target})
    newest = _manifests(path)[-1]
    if kind == "flip":
        data = bytearray(seg_path.read_bytes())
        data[rng.randrange(len(data))] ^= rng.choice([0x01, 0x04, 0x20, 0x80, 0xFF, rng.randrange(1, 256)])
        seg_path.write_bytes(bytes(data))
        return Damage(kind, target, lost)
    if kind == "truncate":
        data = seg_path.read_bytes()
        seg_path.write_bytes(data[: rng.choice([0, 1, 4, rng.randrange(len(data)), len(data) - 1])])
        return Damage(kind, target, lost)
    if kind == "delete":
        seg_path.unlink()
        return Damage(kind, target, lost)
    if kind == "copy":  # the same bytes under another segment name: an unlisted file
        name = f"seg-{rng.randbytes(32).hex()}.parquet"
        shutil.copyfile(seg_path, path / name)
        return Damage(kind, name, set(), orphan=True)
    if kind in ("listed_twice", "listed_twice_raw"):
        doc = json.loads(newest.read_bytes())
        entry = next(s for s in doc["segments"] if s["file"] == target)
        doc["segments"].insert(rng.randrange(len(doc["segments"]) + 1), entry)
        if kind == "listed_twice":  # a careful hand edit: the node count agrees
            doc["nodes"] += entry["rows"]
        newest.write_text(json.dumps(doc))
        return Damage(kind, newest.name, set())  # the manifest is what is wrong
    if kind == "manifest_garbage":
        newest.write_bytes(rng.randbytes(rng.choice([0, 1, 100, 1000])))
        return Damage(kind, newest.name, set())
    if kind == "manifest_truncated":
        data = newest.read_bytes()
        newest.write_bytes(data[: rng.randrange(1, len(data) - 1)])
        return Damage(kind, newest.name, set())
    if kind == "manifest_version":  # valid JSON whose version is not its file's number
        doc = json.loads(newest.read_bytes())
        doc["version"] = max(0, doc["version"] - rng.choice([1, 3, 100]))
        newest.write_text(json.dumps(doc))
        return Damage(kind, newest.name, set())
    if kind == "manifests_removed":
        for m in _manifests(path):
            m.unlink()
        return Damage(kind, "_hyperframe/manifests", set())
    if kind == "orphan_tmp":
        where = rng.choice([path, path / "_hyperframe" / "manifests"])
        name = f".{rng.randbytes(16).hex()}.tmp"
        (where / name).write_bytes(rng.randbytes(100))
        return Damage(kind, name, set(), orphan=True)
    if kind == "orphan_segment":  # a valid segment of nodes no manifest lists (a writer died before publishing)
        other = build_sample(path.parent / f"{path.name}-other", seed=rng.randrange(1 << 30), segments=1, per=5)
        name = _segment_files(other.path)[0]
        shutil.copyfile(other.path / name, path / name)
        shutil.rmtree(other.path)
        return Damage(kind, name, set(), orphan=True)
    raise ValueError(kind)


def probe_reads(path: Path, sample: Sample, *, thorough: bool = True) -> tuple[list[str], bool]:
    """Read a (maybe damaged) log every way there is.

    Each read must either give exactly what the log held before the damage, or raise
    ``CorruptLogError``; nothing may return a node whose key does not match its content.
    Returns (failures, whether every read succeeded).
    """
    failures = _FirstOfEach()
    everything_read = True
    try:
        log = hyperframe.open(path)
        _ = log.manifest
    except CorruptLogError:
        return [], False
    except Exception as exc:  # noqa: BLE001
        return [f"open: {type(exc).__name__}: {exc}"], False

    def attempt(name: str, fn: Callable[[], Any]) -> tuple[Any, bool]:
        nonlocal everything_read
        try:
            return fn(), True
        except CorruptLogError:
            everything_read = False
            return None, False
        except Exception as exc:  # noqa: BLE001
            everything_read = False
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
            return None, False

    encode = log.encoding.encode

    def check_node(where: str, node: Any) -> None:
        value = encode(node.value)
        if node_key(value, node.links) != node.key:
            failures.append(f"{where}: served node {node.key[:16]} whose key does not match its content")
        elif sample.values.get(node.key) != value or sample.links.get(node.key) != node.links:
            failures.append(f"{where}: served node {node.key[:16]} that the log never held")

    readers: list[tuple[str, Callable[[], Any]]] = [("changes()", lambda: list(log.changes()))]
    if thorough:
        readers.append(("changes(reverse)", lambda: list(log.changes(reverse=True))[::-1]))
    for name, fn in readers:
        nodes, ok = attempt(name, fn)
        if ok:
            for node in nodes:
                check_node(name, node)
            if [n.key for n in nodes] != sample.order:
                failures.append(
                    f"{name}: silently served {len(nodes)} node(s) ({len(set(n.key for n in nodes))} distinct) "
                    f"instead of the {len(sample.order)} the log held, with no CorruptLogError"
                )
    keys = sample.order if thorough else sample.order[-1:]
    for key in keys:
        node, ok = attempt("get", lambda key=key: log.get(key))
        if ok:
            check_node("get", node)
            if node.key != key:
                failures.append(f"get: get({key[:16]}) returned another node {node.key[:16]}")
        found, ok = attempt("in", lambda key=key: key in log)
        if ok and found is not True:
            failures.append(
                f"in: `{key[:16]}… in log` is {found!r} for a node the manifest lists, with no CorruptLogError"
            )
    if thorough:
        node, ok = attempt("get(prefix)", lambda: log.get(sample.order[-1][:12]))
        if ok:
            check_node("get(prefix)", node)
    raw, ok = attempt("to_arrow_raw()", log.to_arrow_raw)
    if ok:
        if not raw.schema.equals(sample.raw.schema):
            failures.append(f"to_arrow_raw(): served a table with another schema ({raw.schema.types}) without an error")
        elif not raw.equals(sample.raw):
            failures.append("to_arrow_raw(): served a table that differs from what the log held, without an error")
    if thorough:
        _, ok = attempt("to_arrow()", lambda: log.to_arrow(progress=False))
    return failures.lines(), everything_read


class _FirstOfEach:
    """Failure messages, kept once per reader (the first example and how many more)."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}
        self._count: Counter[str] = Counter()

    def append(self, message: str) -> None:
        reader = message.split(":")[0]
        self._first.setdefault(reader, message)
        self._count[reader] += 1

    def __iadd__(self, messages: Iterable[str]) -> _FirstOfEach:
        for m in messages:
            self.append(m)
        return self

    def lines(self) -> list[str]:
        return [
            m + (f" (and {self._count[r] - 1} more like it)" if self._count[r] > 1 else "")
            for r, m in self._first.items()
        ]


def corruption_case(root: Path, kind: str, seed: int, cli: CliRunner, *, big: bool = False) -> list[str]:
    """Build a log, damage it, and check verify, the CLI, every read path and repair."""
    rng = random.Random(f"{seed}-{kind}")
    path = root / f"{kind}-{seed}.db"
    sample = build_sample(path, seed=seed, segments=rng.choice([2, 4, 6]), per=rng.choice([3, 12, 40]), big=big)
    hurt = damage(sample, kind, rng)
    where = f"{kind} (seed {seed}, {hurt.file})"
    failures: list[str] = []
    before = tree_state(path)

    # verify, from Python and from the shell, finds it and names the file
    report = verify_log(path)
    named = [str(p) for p in (report.warnings if hurt.orphan else report.errors) if hurt.file in str(p)]
    if hurt.orphan:
        if not report.ok:
            failures.append(f"{where}: verify reports errors for a mere orphan: {report.summary()}")
    elif report.ok:
        failures.append(f"{where}: verify_log says ok")
    if not named:
        failures.append(f"{where}: verify_log does not name {hurt.file}: {report.summary()} {report.warnings}")
    code, out, err = cli(["verify", str(path)])
    if "Traceback" in err:
        failures.append(f"{where}: `hyperframe verify` printed a traceback")
    if hurt.orphan:
        if code != 0:
            failures.append(f"{where}: `hyperframe verify` exits {code} for an orphan (a warning)")
        strict, s_out, s_err = cli(["verify", "--strict", str(path)])
        if strict == 0:
            failures.append(f"{where}: `hyperframe verify --strict` exits 0 with an orphan")
        if hurt.file not in s_out + s_err:
            failures.append(f"{where}: `hyperframe verify --strict` does not name {hurt.file}")
    elif code == 0:
        failures.append(f"{where}: `hyperframe verify` exits 0")
    if hurt.file not in out + err:
        failures.append(f"{where}: `hyperframe verify` does not name {hurt.file}: {(out + err).strip()[:300]}")
    if tree_state(path) != before:
        failures.append(f"{where}: verify changed files on disk")

    # every read refuses or serves exactly the old content
    read_failures, _ = probe_reads(path, sample)
    failures += [f"{where}: {f}" for f in read_failures]

    # repair keeps every intact node, reports what it dropped, and leaves a clean log
    if rng.random() < 0.5:
        code, out, err = cli(["repair", str(path)])
        if code != 0 or "Traceback" in err:
            failures.append(f"{where}: `hyperframe repair` exited {code}: {err.strip()[:300]}")
            return failures
        summary = out
        repair_report = None
    else:
        from hyperframe.repair import repair_log

        try:
            repair_report = repair_log(path)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{where}: repair_log raised {type(exc).__name__}: {exc}")
            return failures
        summary = repair_report.summary()
    after = check_log(path, strict=True, must_exist=True)
    failures += [f"{where}: after repair: {p}" for p in after.problems[:5]]
    intact = set(sample.order) - hurt.lost
    if intact - after.keys:
        failures.append(f"{where}: repair dropped {len(intact - after.keys)} intact node(s): {summary.strip()}")
    if after.keys - set(sample.order) and kind != "orphan_segment":
        failures.append(f"{where}: repair produced {len(after.keys - set(sample.order))} node(s) the log never held")
    dropped = len(set(sample.order) - after.keys)
    if repair_report is not None:
        if repair_report.kept_nodes != after.nodes or repair_report.dropped_nodes != dropped:
            failures.append(
                f"{where}: repair reports kept {repair_report.kept_nodes}, dropped {repair_report.dropped_nodes}; "
                f"the log now holds {after.nodes} and lost {dropped}"
            )
        listed = repair_report.removed_files if hurt.orphan else repair_report.damaged_files
        if kind != "manifests_removed" and hurt.file not in listed:
            failures.append(f"{where}: the repair report does not name {hurt.file}: {summary}")
        if hurt.orphan and repair_report.damaged_files:
            failures.append(f"{where}: repair calls intact files damaged: {repair_report.damaged_files}")
    elif f"dropped {dropped}" not in summary:
        failures.append(f"{where}: `hyperframe repair` says {summary.strip()!r} but {dropped} node(s) were lost")
    # and the repaired log takes writes again
    try:
        log = hyperframe.open(path)
        node = log.append(f"after repair {seed}")
        result = check_log(path, after.keys | {node.key}, strict=True)
        failures += [f"{where}: writing after repair: {p}" for p in result.problems[:3]]
    except Exception as exc:  # noqa: BLE001
        failures.append(f"{where}: writing after repair: {type(exc).__name__}: {exc}")
    return failures


def flip_sweep(
    path: Path, sample: Sample, positions: Iterable[int], masks: Iterable[int], file: str | None = None
) -> tuple[int, list[str]]:
    """Flip bits at every (position, mask) of one segment: verify must fail, reads must refuse or be right."""
    seg = path / (file or _segment_files(path)[0])
    original = seg.read_bytes()
    failures: list[str] = []
    cases = 0
    seen: set[str] = set()
    try:
        for mask in masks:
            for pos in positions:
                if pos >= len(original):
                    continue
                data = bytearray(original)
                data[pos] ^= mask
                seg.write_bytes(bytes(data))
                cases += 1
                if verify_log(path).ok:
                    failures.append(f"flip byte {pos} ^ {mask:#04x} of {seg.name}: verify_log says ok")
                found, _ = probe_reads(path, sample, thorough=False)
                for f in found:
                    kind = f.split(":")[0] + ":" + f.split(":")[1][:25]
                    if kind not in seen:  # one example of each kind of failure is enough
                        seen.add(kind)
                        failures.append(
                            f"flip byte {pos} ^ {mask:#04x} of {seg.name[:16]}… ({len(original)} bytes): {f}"
                        )
    finally:
        seg.write_bytes(original)
    return cases, failures


def run_corruption(
    root: Path,
    *,
    seed: int = 0,
    rounds: int = 6,
    sweep_masks: tuple[int, ...] = (0x01, 0x04, 0x20, 0x80, 0xFF),
    cli: CliRunner = cli_subprocess,
) -> PartResult:
    """Every damage kind ``rounds`` times (different logs and spots), then exhaustive byte flips."""
    root.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    failures: list[str] = []
    cases = 0
    for r in range(rounds):
        for kind in DAMAGE_KINDS:
            cases += 1
            try:
                failures += corruption_case(root, kind, seed * 1000 + r, cli, big=(r % 3 == 2))
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{kind} round {r}: harness error {type(exc).__name__}: {exc}")
    flips = 0
    for n, (segments, per, big) in enumerate(((1, 10, False), (2, 60, True))):
        path = root / f"sweep-{n}.db"
        sample = build_sample(path, seed=seed + n, segments=segments, per=per, big=big)
        size = (path / _segment_files(path)[0]).stat().st_size
        positions = (
            range(size)
            if size <= 4000
            else sorted(set(random.Random(seed).sample(range(size), 300)) | set(range(size - 600, size)))
        )
        done, found = flip_sweep(path, sample, positions, sweep_masks)
        flips += done
        failures += found
    raw = len(failures)
    failures = summarize(failures)
    distinct = f" ({len(failures)} distinct, listed above)" if raw else ""
    line = (
        f"corruption: cases {cases + flips:,}, failures {raw}{distinct} ({cases} damage cases over "
        f"{len(DAMAGE_KINDS)} kinds with verify/CLI/reads/repair checks, {flips:,} single-byte flips) "
        f"in {time.monotonic() - start:.1f} s"
    )
    return PartResult("corruption", line, failures, raw)


# ==========================================================================================
# Part 3: concurrency. Writers, a compactor, a syncer and a reader on one log at once.
# ==========================================================================================


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
                _fsync_append(side, [node.key])
                i += 1
            else:
                docs = []
                for j in range(i, min(n, i + spec["batch"])):
                    ls = [keys[-1]] if keys and rng.random() < 0.7 else []
                    docs.append({"value": f"w{w}-{j}", "links": ls})
                    keys.append(node_key(docs[-1]["value"].encode(), ls))
                nodes = log.batch(docs)
                _fsync_append(side, [node.key for node in nodes])
                i += len(docs)
        return
    done = 0
    while not stop.exists() or done < spec.get("at_least", 0):
        try:
            if role == "compactor":
                time.sleep(rng.uniform(0.05, spec["pause"]))
                log.compact()
                _fsync_append(side, ["ok"])
            elif role == "syncer":
                time.sleep(rng.uniform(0.1, spec["pause"]))
                hyperframe.replicate(log, spec["peer"], timeout=30)
                _fsync_append(side, ["ok"])
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
                _fsync_append(side, ["ok"])
        except ReplicationError as exc:
            _fsync_append(side, ["again " + json.dumps(f"{type(exc).__name__}: {exc}")])
        except Exception as exc:  # noqa: BLE001 - recorded and judged by the parent
            _fsync_append(side, ["error " + json.dumps(f"{type(exc).__name__}: {exc}")])
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
        specs.append({"role": "syncer", "pause": 0.6, "peer": str(peer_path), "at_least": 2})
    if reader:
        specs.append({"role": "reader"})
    procs = []
    for n, spec in enumerate(specs):
        spec.update(log=str(log_path), stop=str(stop), side=str(root / f"{spec['role']}-{n}.side"), seed=f"{seed}-{n}")
        Path(spec["side"]).unlink(missing_ok=True)
        procs.append(
            subprocess.Popen(
                _child_argv("concurrency", spec),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        )
    failures: list[str] = []
    try:
        for proc, spec in zip(procs, specs):
            if _wait_line(proc, 60) != "ready":
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
            _kill_group(proc)
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


# ==========================================================================================
# Part 4: hostile peers. Generated byte streams fed to one side of the protocol.
# ==========================================================================================


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
    from hyperframe.sync.framing import HEADER

    return HEADER.pack(kind & 0xFF, flags & 0xFF, clock & 0xFFFF, len(payload) if length is None else length) + payload


def split_frames(stream: bytes) -> list[tuple[int, int, int, bytes]]:
    """The whole frames of a stream that starts with the preamble (stops at the first partial one)."""
    from hyperframe.sync.framing import HEADER, PREAMBLE

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
    from hyperframe.sync.framing import PREAMBLE

    return PREAMBLE + b"".join(frame_bytes(k, p, c, f) for k, f, c, p in frames)


@dataclass
class Transcript:
    """What a real peer sent to the base log in one replication (replayable: its role is pinned)."""

    name: str
    stream: bytes
    leader: bool


def _record(real: Path, peer: Path, peer_mode: str = "sync", real_mode: str = "sync") -> tuple[bytes, bool]:
    """Replicate ``peer`` into ``real`` over a socket pair, capturing what the peer side sent."""
    import socket

    from hyperframe.sync.framing import Channel
    from hyperframe.sync.session import Session

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
            Session(hyperframe.open(log_path), channel, mode=mode).run()
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
    with log._store.lock():
        log._store.initialize(log.encoding.name)


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


# --- stream generators -----------------------------------------------------------------------

_KINDS = [ord(c) for c in "HSEMFPNZDX"]


def _random_payload(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 7, 8, 16, 48, 100, 1000, rng.randrange(5000)]))


def _hello_doc(rng: random.Random) -> dict[str, Any]:
    packed = b"".join(struct.pack("<8sI", rng.randbytes(8), rng.randrange(100)) for _ in range(rng.randrange(4)))
    return {
        "protocol": "hyperframe-replicate",
        "version": 1,
        "nonce": rng.choice(["0" * 32, "f" * 32, rng.randbytes(16).hex()]),
        "mode": rng.choice(["sync", "push", "pull"]),
        "encoding": rng.choice(["utf-8", "utf-8", "json", "binary"]),
        "fixed": rng.random() < 0.8,
        "nodes": rng.choice([0, 1, 30, 31, 1000, 10**9]),
        "fingerprint": rng.randbytes(32).hex(),
        "heads": rng.choice([0, 1, 10**12]),
        "segments": base64.b64encode(packed).decode(),
    }


_HOSTILE_VALUES: list[Any] = [
    None,
    -1,
    0,
    2**70,
    -(2**63),
    1.5,
    float("nan"),
    "",
    "x",
    "../../etc/passwd",
    [],
    {},
    True,
    "A" * 10_000,
    ["seg-../../x.parquet"],
    {"file": "../evil"},
]


def mutate_hello(payload: bytes, rng: random.Random) -> bytes:
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = _hello_doc(rng)
    for _ in range(rng.randrange(1, 4)):
        field_ = rng.choice(list(doc) + ["extra"])
        roll = rng.random()
        if roll < 0.2:
            doc.pop(field_, None)
        elif roll < 0.4 and field_ == "segments":
            paths = b"".join(p.ljust(12, b"\0")[:12] for p in (b"../../etc/pw", b"/tmp/evil.pq", b"seg-..\\x.pq"))
            doc["segments"] = rng.choice(
                [
                    base64.b64encode(paths).decode(),
                    "!!notbase64!!",
                    base64.b64encode(rng.randbytes(rng.randrange(40))).decode(),
                ]
            )
        else:
            value = rng.choice(_HOSTILE_VALUES)
            doc[field_] = value
    try:
        return json.dumps(doc, allow_nan=True).encode()
    except (TypeError, ValueError):
        return b"{}"


def mutate_nodes(payload: bytes, rng: random.Random) -> bytes:
    data = bytearray(payload)
    if not data:
        return rng.randbytes(50)
    for _ in range(rng.randrange(1, 4)):
        roll = rng.random()
        i = rng.randrange(len(data))
        if roll < 0.6:
            data[i] ^= 1 << rng.randrange(8)
        elif roll < 0.8:
            del data[i : i + rng.randrange(1, 64)]
        else:
            data[i:i] = rng.randbytes(rng.randrange(1, 64))
    return bytes(data)


def mutate_stream(transcript: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One to three structural or byte-level mutations of a real transcript."""
    frames = split_frames(transcript)
    names = []
    for _ in range(rng.randrange(1, 4)):
        op = rng.choice(
            [
                "flip",
                "truncate",
                "insert",
                "delete",
                "drop",
                "dup",
                "swap",
                "kind",
                "payload",
                "payload_flip",
                "length",
                "huge",
                "hello",
                "nodes",
                "nodes_dup",
                "extra",
                "clock",
                "flags",
            ]
        )
        names.append(op)
        if op in ("flip", "truncate", "insert", "delete"):
            data = bytearray(join_frames(frames))
            i = rng.randrange(len(data))
            if op == "flip":
                data[i] ^= 1 << rng.randrange(8)
            elif op == "truncate":
                del data[i:]
            elif op == "insert":
                data[i:i] = rng.randbytes(rng.randrange(1, 40))
            else:
                del data[i : i + rng.randrange(1, 200)]
            return "+".join(names), bytes(data)  # byte-level: the frame structure is gone
        if not frames:
            frames.append((ord("H"), 0, 1, json.dumps(_hello_doc(rng)).encode()))
        j = rng.randrange(len(frames))
        kind, flags, clock, payload = frames[j]
        if op == "drop":
            del frames[j]
        elif op == "dup":
            frames.insert(j, frames[j])
        elif op == "swap":
            k = rng.randrange(len(frames))
            frames[j], frames[k] = frames[k], frames[j]
        elif op == "kind":
            frames[j] = (rng.choice(_KINDS + [0, 0x7F, rng.randrange(256)]), flags, clock, payload)
        elif op == "payload":
            frames[j] = (kind, flags, clock, _random_payload(rng))
        elif op == "payload_flip":
            frames[j] = (kind, flags, clock, mutate_nodes(payload, rng))
        elif op in ("length", "huge"):
            from hyperframe.sync.framing import PREAMBLE

            lie = (
                rng.choice([0, 1, len(payload) + 1, len(payload) * 2 + 9])
                if op == "length"
                else rng.choice([2**32 - 1, 2**31, 64 * 2**20 + 1, 64 * 2**20, rng.randrange(2**32)])
            )
            head = join_frames(frames[:j])
            tail = join_frames(frames[j + 1 :])[len(PREAMBLE) :]
            return "+".join(names), head + frame_bytes(kind, payload, clock, flags, length=lie) + tail
        elif op == "hello":
            hellos = [i for i, f in enumerate(frames) if f[0] == ord("H")] or [j]
            j = rng.choice(hellos)
            frames[j] = (ord("H"), frames[j][1], frames[j][2], mutate_hello(frames[j][3], rng))
        elif op == "nodes":
            nodes = [i for i, f in enumerate(frames) if f[0] == ord("N")] or [j]
            j = rng.choice(nodes)
            frames[j] = (frames[j][0], frames[j][1], frames[j][2], mutate_nodes(frames[j][3], rng))
        elif op == "nodes_dup":  # the same nodes twice, in a row or later
            nodes = [i for i, f in enumerate(frames) if f[0] == ord("N")]
            if nodes:
                j = rng.choice(nodes)
                frames.insert(rng.randrange(j + 1, len(frames) + 1), frames[j])
        elif op == "extra":
            frames.insert(
                rng.randrange(len(frames) + 1), (rng.choice(_KINDS), 0, rng.randrange(5), _random_payload(rng))
            )
        elif op == "clock":
            frames[j] = (kind, flags, rng.choice([0, 0xFFFF, rng.randrange(0x10000)]), payload)
        else:
            frames[j] = (kind, rng.randrange(256), clock, payload)
    return "+".join(names), join_frames(frames)


def generate_stream(rng: random.Random, base: FuzzBase) -> tuple[str, bytes]:
    """A hostile stream: random bytes, random frames, a real HELLO plus junk, or a mutated transcript."""
    from hyperframe.sync.framing import PREAMBLE

    roll = rng.random()
    if roll < 0.05:
        return "random-bytes", rng.randbytes(rng.randrange(200))
    if roll < 0.10:
        return "preamble+random", PREAMBLE + rng.randbytes(rng.randrange(300))
    if roll < 0.25:
        frames = [
            (rng.choice(_KINDS + [rng.randrange(256)]), 0, rng.randrange(6), _random_payload(rng))
            for _ in range(rng.randrange(1, 6))
        ]
        return "random-frames", join_frames(frames)
    if roll < 0.40:
        frames = [(ord("H"), 0, 1, json.dumps(_hello_doc(rng)).encode())]
        frames += [
            (rng.choice(_KINDS), 0, rng.randrange(1, 6), _random_payload(rng)) for _ in range(rng.randrange(0, 5))
        ]
        return "hello+random", join_frames(frames)
    transcript = rng.choice(base.transcripts)
    if roll < 0.50:
        cut = rng.randrange(len(transcript.stream))
        return f"truncated/{transcript.name}", transcript.stream[:cut]
    if roll < 0.53:
        return f"replay/{transcript.name}", transcript.stream
    name, stream = mutate_stream(transcript.stream, rng)
    return f"{name}/{transcript.name}", stream


# --- running a stream ------------------------------------------------------------------------


@dataclass
class StreamOutcome:
    error: BaseException | None
    committed: bool
    seconds: float
    failures: list[str]


def _keys_in_stream(stream: bytes) -> set[str]:
    from hyperframe.sync.nodes import decode_frame

    keys: set[str] = set()
    for kind, _f, _c, payload in split_frames(stream):
        if kind == ord("N"):
            try:
                table, _, _ = decode_frame(payload)
                keys |= {k.hex() for k in table.column("key").to_pylist()}
            except Exception:  # noqa: BLE001, S112
                continue
    return keys


def run_session_stream(
    base: FuzzBase, stream: bytes, *, mode: str = "sync", timeout: float = 2.0, reader: Any = None
) -> StreamOutcome:
    """Feed ``stream`` to a real Session on a copy of the base log; judge how it ended."""
    from hyperframe.sync.framing import Channel
    from hyperframe.sync.session import Session

    path = base.fresh()
    log = hyperframe.open(path)
    manifest = log.manifest
    before = manifest.version if manifest else None
    channel = Channel(reader if reader is not None else io.BytesIO(stream), Sink(), timeout=timeout)  # type: ignore[arg-type]
    outcome: dict[str, BaseException | None] = {}

    def go() -> None:
        try:
            Session(log, channel, mode=mode).run()
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc

    start = time.monotonic()
    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(timeout * 3 + 10)
    seconds = time.monotonic() - start
    failures: list[str] = []
    if thread.is_alive():
        return StreamOutcome(None, False, seconds, [f"the session hung for {seconds:.1f} s"])
    error = outcome["error"]
    if error is not None and not isinstance(error, ReplicationError):
        failures.append(f"{type(error).__name__} escaped (not a ReplicationError): {error}")
    if seconds > timeout * 2 + 5:
        failures.append(f"the session took {seconds:.1f} s with a {timeout} s timeout")
    after = hyperframe.open(path).manifest
    committed = (after.version if after else None) != before
    if committed:
        new = check_log(path, base.keys, must_exist=True)
        failures += [f"after a commit: {p}" for p in new.problems[:3]]
        offered = _keys_in_stream(stream)
        foreign = new.keys - base.keys - offered
        if foreign:
            failures.append(f"{len(foreign)} committed node(s) were never sent")
    return StreamOutcome(error, committed, seconds, failures)


def run_decoder_stream(base: FuzzBase, stream: bytes) -> list[str]:
    """Feed ``stream`` through the frame reader and every message decoder directly (fast)."""
    import numpy as np

    from hyperframe.sync import sketch
    from hyperframe.sync.framing import Channel, Kind
    from hyperframe.sync.nodes import Incoming
    from hyperframe.sync.session import Session

    failures: list[str] = []
    log = hyperframe.open(base.pristine)
    channel = Channel(io.BytesIO(stream), Sink(), timeout=2.0)  # type: ignore[arg-type]
    session = Session(log, channel)
    incoming = Incoming(local_has=log._keys_now().present)
    ids = np.array([int(k[:16], 16) for k in sorted(base.keys)], dtype=np.uint64)
    try:
        for _ in range(1000):
            try:
                frame = channel.receive()
            except ReplicationError:
                break
            try:
                if frame.kind == Kind.HELLO:
                    session._parse_hello(frame.payload)
                elif frame.kind == Kind.NODES:
                    incoming.add(frame.payload)
                elif frame.kind == Kind.END:
                    incoming.check_links()
                    incoming.tables()
                elif frame.kind in (Kind.SKETCH, Kind.ESTIMATE):
                    # what Session._follow / Session._lead do with them, minus the size checks
                    # that only the session knows (both refuse with a ProtocolError)
                    try:
                        table = sketch.IBLT.from_bytes(frame.payload)
                    except ValueError:
                        continue  # the documented refusal (the Session turns it into a ProtocolError)
                    if frame.kind == Kind.SKETCH:
                        table.subtract(sketch.IBLT.of(ids, table.m)).decode()
                    elif table.m % sketch.STRATA_CELLS == 0 and table.m >= 2 * sketch.STRATA_CELLS:
                        guess = sketch.estimate(sketch.strata(ids, table.m // sketch.STRATA_CELLS).subtract(table))
                        sketch.size_for(guess)
            except ReplicationError:
                continue
            except Exception as exc:  # noqa: BLE001
                failures.append(f"{Kind.NAMES.get(frame.kind, frame.kind)} frame: {type(exc).__name__} escaped: {exc}")
    finally:
        channel.close()
    return failures


def run_open_stream(base: FuzzBase, stream: bytes, timeout: float = 0.3) -> StreamOutcome:
    """Write ``stream`` into a socket and keep it open: the session must give up after ``timeout``."""
    import socket

    a, b = socket.socketpair()
    try:
        a.sendall(stream[: 1 << 16])
        outcome = run_session_stream(base, stream, timeout=timeout, reader=b.makefile("rb"))
        if outcome.error is None or outcome.seconds > timeout * 4 + 3:
            outcome.failures.append(f"an open stream ended with {outcome.error!r} after {outcome.seconds:.1f} s")
        return outcome
    finally:
        a.close()
        b.close()


def fuzz_server(spec: dict[str, Any]) -> None:
    """A worker process: run streams sent on stdin, answer one JSON line each on stdout.

    A stream that kills the process (a segfault in a decoder) costs only this worker: the
    parent records the stream and starts another.
    """
    base = load_fuzz_base(Path(spec["root"]), spec["work"])
    crashes: list[str] = []
    threading.excepthook = lambda args: crashes.append(f"{args.exc_type.__name__}: {args.exc_value}")
    stdin, stdout = sys.stdin.buffer, sys.stdout
    stdout.write("ready\n")
    stdout.flush()
    while True:
        head = stdin.readline()
        if not head:
            return
        job = json.loads(head)
        stream = stdin.read(job["size"])
        result: dict[str, Any] = {"error": None, "committed": False, "failures": []}
        if job["target"] == "decoders":
            result["failures"] = run_decoder_stream(base, stream)
        else:
            if job["target"] == "open":
                outcome = run_open_stream(base, stream)
            else:
                outcome = run_session_stream(base, stream, mode=job["mode"], timeout=job.get("timeout", 2.0))
            result.update(
                error=type(outcome.error).__name__ if outcome.error else None,
                message=str(outcome.error)[:300] if outcome.error else "",
                committed=outcome.committed,
                failures=outcome.failures,
                seconds=outcome.seconds,
            )
        if crashes:
            result["failures"] = result["failures"] + [f"a protocol thread died: {c}" for c in crashes]
            crashes.clear()
        stdout.write(json.dumps(result) + "\n")
        stdout.flush()


class FuzzWorker:
    """The parent's handle on a :func:`fuzz_server` process; restarted whenever a stream kills it."""

    def __init__(self, root: Path, name: str) -> None:
        self.root, self.name = root, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def _start(self) -> subprocess.Popen[bytes]:
        spec = {"root": str(self.root), "work": f"work-{self.name}.db"}
        with open(self.root / f"worker-{self.name}.stderr", "ab") as err:
            proc = subprocess.Popen(
                _child_argv("fuzz", spec),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        if _wait_line(proc, 60) != "ready":
            _kill_group(proc)
            raise RuntimeError("the fuzz worker did not start")
        return proc

    def run(self, stream: bytes, target: str, mode: str = "sync", timeout: float = 2.0) -> dict[str, Any]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(
                json.dumps({"size": len(stream), "target": target, "mode": mode, "timeout": timeout}).encode() + b"\n"
            )
            proc.stdin.write(stream)
            proc.stdin.flush()
            wait = timeout * 2 + 6
            line = _wait_line(proc, wait)
        except (BrokenPipeError, OSError):
            line = ""
        if line:
            return json.loads(line)
        hung = proc.poll() is None
        _kill_group(proc)  # dead (a crash) or hung
        self.proc = None
        self.restarts += 1
        if hung:
            return {
                "error": "hung",
                "committed": False,
                "failures": [f"the stream hung its process for over {wait:.0f} s (a {timeout:g} s timeout); killed it"],
            }
        code = proc.returncode
        how = f"signal {-code} ({signal.Signals(-code).name})" if code and code < 0 else f"status {code}"
        return {"error": "died", "committed": False, "failures": [f"the process running the stream died: {how}"]}

    def close(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)
            self.proc = None


def fuzz_job(seed: int, n: int, base: FuzzBase, sessions_share: float) -> tuple[str, bytes, str, str]:
    """Stream number ``n`` of a seeded run: (name, bytes, target, mode); reproducible one by one."""
    rng = random.Random(f"{seed}-{n}")
    name, stream = generate_stream(rng, base)
    target = "sessions" if rng.random() < sessions_share else "decoders"
    return name, stream, target, rng.choice(["sync", "sync", "sync", "push", "pull"])


def run_fuzz(
    root: Path,
    *,
    streams: int = 10_000,
    sessions: int = 4000,
    seed: int = 0,
    seconds: float = 600,
    open_streams: int = 40,
    jobs: int = 2,
) -> PartResult:
    """``streams`` generated streams: about ``sessions`` through a whole Session, the rest through the decoders."""
    start = time.monotonic()
    deadline = start + seconds
    base = build_fuzz_base(root, seed)
    failures: list[str] = []
    seen: dict[str, int] = {}
    first: dict[str, str] = {}
    endings: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    (root / "crashers").mkdir(exist_ok=True)
    share = sessions / max(1, streams)
    jobs_list = list(range(streams)) + [-(i + 1) for i in range(open_streams)]

    def work(worker: FuzzWorker, mine: list[int]) -> None:
        for n in mine:
            if time.monotonic() > deadline:
                return
            if n >= 0:
                name, stream, target, mode = fuzz_job(seed, n, base, share)
            else:
                name, stream, _, mode = fuzz_job(seed, -n + streams, base, share)
                target, name = "open", f"open/{name}"
                stream = stream[: random.Random(n).randrange(len(stream) + 1)]
            result = worker.run(stream, target, mode)
            with lock:
                counts[target] += 1
                counts["commits"] += bool(result.get("committed"))
                if target != "decoders":
                    endings[result.get("error") or "finished"] += 1
                for f in result["failures"]:
                    kind = f[:50]
                    seen[kind] = seen.get(kind, 0) + 1
                    if seen[kind] == 1:
                        saved = root / "crashers" / f"stream-{seed}-{n}.bin"
                        saved.write_bytes(stream)
                        first[kind] = f"stream {n} ({name}, {target}/{mode}; bytes in {saved}): {f}"

    workers = [FuzzWorker(root, str(i)) for i in range(jobs)]
    threads = [threading.Thread(target=work, args=(w, jobs_list[i::jobs])) for i, w in enumerate(workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for w in workers:
            w.close()
    failures += [f"{seen[k]} stream(s) like {m}" for k, m in first.items()]
    total = counts["decoders"] + counts["sessions"]
    short = f" of {streams} (stopped by --seconds)" if total < streams else ""
    top = ", ".join(f"{k} {v}" for k, v in endings.most_common(6))
    line = (
        f"fuzz: streams {total}{short} (decoders {counts['decoders']}, sessions {counts['sessions']}, "
        f"open {counts['open']}), failures {len(failures)} (session endings: {top}; {counts['commits']} verified "
        f"commits; {sum(w.restarts for w in workers)} worker deaths) in {time.monotonic() - start:.1f} s"
    )
    return PartResult("fuzz", line, failures)


# ==========================================================================================
# Part 5: limits. Big values, 100,000 heads, a 4 GB length prefix.
# ==========================================================================================


def limit_big_value(root: Path, megabytes: int = 8) -> list[str]:
    """A value of several MB is added, read back, and replicated (API and CLI)."""
    failures: list[str] = []
    a, b, c = root / "big-a.db", root / "big-b.db", root / "big-c.db"
    for p in (a, b, c):
        shutil.rmtree(p, ignore_errors=True)
    value = "".join(random.Random(megabytes).choice("abcdefghij") for _ in range(1000)) * (
        megabytes * 1024 * 1024 // 1000
    )
    log = hyperframe.open(a)
    small = log.add("small")
    node = log.add(value, links=[small.key])
    if hyperframe.open(a).get(node.key).value != value:
        failures.append(f"a {megabytes} MB value does not read back")
    hyperframe.open(b).add("b's own")
    hyperframe.replicate(a, b)
    if hyperframe.open(b).get(node.key).value != value:
        failures.append(f"a {megabytes} MB value does not replicate (API)")
    code, out, err = cli_subprocess(["sync", str(a), str(c)])
    if code != 0 or hyperframe.open(c).get(node.key[:12]).value != value:
        failures.append(f"a {megabytes} MB value does not replicate (CLI): {code} {err.strip()[:200]}")
    for p in (a, b, c):
        failures += [f"{p.name}: {f}" for f in check_log(p, {node.key}, must_exist=True).problems[:3]]
    return failures


def limit_many_heads(root: Path, heads: int = 100_000) -> list[str]:
    """A log of ``heads`` unlinked nodes (one batch) opens fast, lists its heads, syncs, and merges."""
    failures: list[str] = []
    a, b, c = root / "heads-a.db", root / "heads-b.db", root / "heads-c.db"
    for p in (a, b, c):
        shutil.rmtree(p, ignore_errors=True)
    log = hyperframe.open(a)
    log.batch([{"value": f"head-{i}"} for i in range(heads)])
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, hyperframe; print(len(hyperframe.open(sys.argv[1]).heads()))", str(a)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - start
    if proc.stdout.strip() != str(heads):
        failures.append(f"a fresh process sees {proc.stdout.strip()!r} heads, not {heads}: {proc.stderr[-300:]}")
    if took > 10:
        failures.append(f"opening a log of {heads} heads in a fresh process took {took:.1f} s")
    hyperframe.open(c).batch([{"value": f"c-{i}"} for i in range(50)])
    for target in (b, c):  # into an empty log, and into one with nodes of its own
        try:
            hyperframe.replicate(a, target, timeout=120)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"syncing {heads} heads into {target.name}: {type(exc).__name__}: {exc}")
    if len(hyperframe.open(b).heads()) != heads or len(hyperframe.open(c).heads()) != heads + 50:
        failures.append(
            f"after syncing, heads are {len(hyperframe.open(b).heads())} and {len(hyperframe.open(c).heads())}"
        )
    merge = hyperframe.open(c).append("merge everything")
    if len(merge.links) != heads + 50 or hyperframe.open(c).heads() != [merge.key]:
        failures.append(f"append over {heads + 50} heads linked {len(merge.links)}")
    hyperframe.replicate(c, a, timeout=120)
    for p in (a, b, c):
        failures += [f"{p.name}: {f}" for f in check_log(p, must_exist=True).problems[:3]]
    return failures


def limit_length_prefix(root: Path) -> list[str]:
    """A frame announcing 4 GB (or just over the limit) is refused at once, without allocating it."""
    import tracemalloc

    from hyperframe.sync.framing import MAX_FRAME, PREAMBLE, Channel

    failures: list[str] = []
    for length in (2**32 - 1, 2**31, MAX_FRAME + 1):
        stream = PREAMBLE + frame_bytes(ord("N"), b"", length=length) + b"x" * 1000
        tracemalloc.start()
        channel = Channel(io.BytesIO(stream), Sink(), timeout=5)  # type: ignore[arg-type]
        start = time.monotonic()
        try:
            channel.receive()
            failures.append(f"a {length}-byte length prefix was accepted")
        except hyperframe.ProtocolError as exc:
            if "limit" not in str(exc):
                failures.append(f"a {length}-byte length prefix: {exc}")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"a {length}-byte length prefix raised {type(exc).__name__}: {exc}")
        finally:
            channel.close()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        if peak > 8 * 2**20:
            failures.append(f"a {length}-byte length prefix made the reader allocate {peak:,} bytes")
        if time.monotonic() - start > 2:
            failures.append(f"refusing a {length}-byte length prefix took {time.monotonic() - start:.1f} s")
    return failures


def limit_oversized_value(root: Path, megabytes: int = 70) -> list[str]:
    """A value bigger than one frame holds is stored; replication refuses it cleanly (no hang, no partial commit)."""
    failures: list[str] = []
    a, b = root / "huge-a.db", root / "huge-b.db"
    for p in (a, b):
        shutil.rmtree(p, ignore_errors=True)
    hyperframe.open(a).add("x" * (megabytes * 2**20))
    hyperframe.open(b).add("b")
    before = tree_state(b)
    start = time.monotonic()
    try:
        hyperframe.replicate(a, b, timeout=20)
        failures.append(f"a {megabytes} MB value replicated although it exceeds the frame limit (check the docs)")
    except ReplicationError:
        pass
    except Exception as exc:  # noqa: BLE001
        failures.append(f"replicating a {megabytes} MB value raised {type(exc).__name__}: {exc}")
    if time.monotonic() - start > 30:
        failures.append(f"refusing a {megabytes} MB value took {time.monotonic() - start:.0f} s")
    if {k: v for k, v in tree_state(b).items() if not k.endswith("lock")} != {
        k: v for k, v in before.items() if not k.endswith("lock")
    }:
        failures.append("the receiving log changed although replication failed")
    return failures


LIMITS: dict[str, Callable[[Path], list[str]]] = {
    "8 MB value": limit_big_value,
    "100,000 heads": limit_many_heads,
    "4 GB length prefix": limit_length_prefix,
    "70 MB value refused": limit_oversized_value,
}


def run_limits(root: Path) -> PartResult:
    root.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    failures: list[str] = []
    took = []
    for name, case in LIMITS.items():
        t = time.monotonic()
        try:
            failures += [f"{name}: {f}" for f in case(root)]
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        took.append(f"{name} {time.monotonic() - t:.1f} s")
    line = (
        f"limits: cases {len(LIMITS)}, failures {len(failures)} ({'; '.join(took)}) in {time.monotonic() - start:.1f} s"
    )
    return PartResult("limits", line, failures)


# ==========================================================================================
# Running it
# ==========================================================================================

CHILD_ROLES: dict[str, Callable[[dict[str, Any]], None]] = {
    "crash": crash_child,
    "concurrency": concurrency_child,
    "fuzz": fuzz_server,
}


def child_main(argv: list[str]) -> int:
    role, spec = argv[0], json.loads(argv[1])
    CHILD_ROLES[role](spec)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_child":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200, help="crash trials (kills) [200]")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice [0]")
    parser.add_argument("--seconds", type=float, default=600, help="time bound of each time-driven part [600]")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts [{','.join(PARTS)}]")
    parser.add_argument("--workdir", type=Path, default=None, help="where logs are built [a temp dir]")
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    parser.add_argument("--jobs", type=int, default=2, help="crash campaigns run at once [2]")
    parser.add_argument("--streams", type=int, default=10_000, help="hostile streams to generate [10000]")
    parser.add_argument("--writers", default="4x1000", help="concurrent writers x nodes each [4x1000]")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hyperframe-stress-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[PartResult] = []
    try:
        for part in parts:
            try:
                result = run_part(part, args, workdir)
            except Exception as exc:  # noqa: BLE001 - a part that cannot run is a failure, the others still run
                import traceback

                result = PartResult(
                    part,
                    f"{part}: could not run, failures 1",
                    [f"{type(exc).__name__}: {exc}\n" + traceback.format_exc()[-1500:]],
                )
            for failure in result.failures:
                print(f"FAIL {result.name}: {failure}", flush=True)
            print(result.line, flush=True)
            results.append(result)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    failures = sum(r.failed for r in results)
    print(f"total: failures {failures}")
    return 1 if failures else 0


def run_part(part: str, args: argparse.Namespace, workdir: Path) -> PartResult:
    """Run one part at the size the command line asks for."""
    if part == "crash":
        return run_crash(workdir / "crash", trials=args.trials, seed=args.seed, seconds=args.seconds, jobs=args.jobs)
    if part == "corruption":
        return run_corruption(workdir / "corruption", seed=args.seed)
    if part == "concurrency":
        writers, per_writer = (int(x) for x in args.writers.split("x"))
        return run_concurrency(workdir / "concurrency", writers=writers, per_writer=per_writer, seed=args.seed)
    if part == "fuzz":
        return run_fuzz(
            workdir / "fuzz", streams=args.streams, sessions=args.streams * 2 // 5, seed=args.seed, seconds=args.seconds
        )
    if part == "limits":
        return run_limits(workdir / "limits")
    raise ValueError(f"unknown part {part}")


if __name__ == "__main__":
    sys.exit(main())
