"""Part 7: repairs. Random damage to real logs, ``repair`` killed at random points, repair again.

Each trial builds a log of a random shape with the public API and the CLI (:data:`SHAPES`:
chains, branches, 20 chained ``hyperframe add``s so the 17th auto-compacts, compactions
with ``--retain``), then plays rounds of: one to three damages in a row (:data:`DAMAGES`:
flipped, truncated or deleted segment files, the newest manifest(s) replaced by garbage
or deleted), repairs killed at random points (a ``hyperframe repair`` process SIGKILLed
after a random delay, or a child that dies at its k-th file-system call), a repair that
finishes, and the same repair once or twice more. What must hold (:func:`check_repaired`):

- no node whose bytes are intact somewhere in the directory is lost: before a repair,
  :func:`intact_nodes` reads every segment file (live or retired) and keeps the rows whose
  key is the hash of their links and value; of those, every node whose links are intact
  too (recursively) must be in the log after the repair, with its links;
- a killed repair never destroys intact bytes (the intact set is the same after it);
- repair never crashes: it exits 0, or with one ``hyperframe: error:`` line;
- the log ends readable (``changes()``, ``to_arrow()``, ``get``) and ``verify`` passes;
- repairing again changes nothing (every file byte for byte as before).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe.keys import node_key_bytes
from hyperframe.store import segments

from .harness import ROOT, PartResult, check_log, child_env, cli_inprocess, spawn_child, summarize, tree_state

SHAPES = ("chain", "branches", "cli20", "compacted", "retained")
DAMAGES = (
    "flip",
    "flip-many",
    "truncate",
    "delete",
    "manifest-garbage",
    "manifest-delete",
    "manifest-truncate",
    "manifests-garbage",
    "manifests-delete",
)
#: the exit status of a repair child that died at its planned file-system call
CRASHED = 86
_MUTATIONS = ("replace", "rename", "link", "unlink", "remove", "rmdir", "mkdir", "write", "fsync", "ftruncate")


# --- building logs ---------------------------------------------------------------------------------


def _cli(args: list[str]) -> str:
    code, out, err = cli_inprocess(args)
    if code != 0:
        raise RuntimeError(f"hyperframe {' '.join(args)} failed: {err.strip()}")
    return out.strip()


def build_log(path: Path, shape: str, rng: random.Random) -> None:
    """A log of ``shape``, built through the public API and the CLI."""
    d = str(path)
    if shape == "chain":  # one commit per node, each linking the last
        log = hyperframe.open(path)
        prev: list[str] = []
        for i in range(rng.randrange(6, 14)):
            prev = [log.add(f"chain-{i}-" + "x" * rng.choice([1, 50, 3000]), links=prev).key]
    elif shape == "branches":  # roots, branches and merges over several batches
        log = hyperframe.open(path)
        made: list[str] = []
        for s in range(rng.randrange(2, 6)):
            docs = []
            for i in range(rng.randrange(1, 12)):
                pool = made[-6:]
                docs.append({"value": f"b{s}-{i}-{rng.random():.6f}", "links": rng.sample(pool, min(len(pool), 2))})
            made += [n.key for n in log.batch(docs)]
            if rng.random() < 0.5:
                made.append(log.append(f"merge-{s}").key)
    elif shape == "cli20":  # 20 chained `hyperframe add`s: the 17th compacts by itself
        prev_key = ""
        for i in range(20):
            prev_key = _cli(["add", d, f"cli-{i}", *(["--link", prev_key] if prev_key else [])])
    else:  # adds, `compact --retain 0`, more adds, a compaction that keeps what it replaced, more adds
        prev_key = ""
        retain = "300" if shape == "compacted" else "100000"
        for round_ in range(3 if shape == "retained" else 2):
            for i in range(rng.randrange(3, 8)):
                prev_key = _cli(["add", d, f"r{round_}-{i}", *(["--link", prev_key] if prev_key else [])])
            _cli(["compact", d, "--retain", "0" if round_ == 0 else retain])
        for i in range(rng.randrange(1, 4)):
            prev_key = _cli(["add", d, f"after-{i}", "--link", prev_key])


# --- what is intact --------------------------------------------------------------------------------


Node = tuple[bytes, tuple[bytes, ...]]  # value, links


def segment_files(path: Path) -> list[Path]:
    """Every segment file anywhere in the log's directory: live ones (``seg-<id>.parquet``) and
    the copies a compaction retired (``_hyperframe/retired/seg-<id>...``), whatever the layout."""
    return sorted(p for p in path.rglob("seg-*") if p.is_file() and not p.is_symlink())


def intact_nodes(path: Path, whole: set[bytes] | None = None) -> dict[bytes, Node]:
    """Every node some segment file holds with a key that matches its links and value.

    Read without page checksums, so a row is judged by its own bytes: a key that verifies
    is the node, whatever else in the file is damaged. ``whole`` (if given) receives the
    keys held by files intact as a whole (page checksums pass, every row verifies, the name
    is the hash of the keys): the files any repair can keep as they are.
    """
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[bytes, Node] = {}
    expected = segments.schema()
    for file in segment_files(path):
        try:
            data = file.read_bytes()
            with pq.ParquetFile(pa.BufferReader(data)) as pf:
                table = pf.read()
            if any(
                name not in table.column_names or not table.schema.field(name).type.equals(expected.field(name).type)
                for name in expected.names
            ):
                continue
            keys = table.column("key").to_pylist()
            links = table.column("links").to_pylist()
            values = table.column("value").to_pylist()
        except Exception:  # noqa: BLE001, S112 - a file that does not parse holds nothing we can trust
            continue
        good = 0
        for key, ls, value in zip(keys, links, values):
            if key is None or value is None or ls is None or any(link is None for link in ls):
                continue
            if node_key_bytes(value, ls) == key:
                found[key] = (value, tuple(ls))
                good += 1
        if whole is not None and good == len(keys) and hashlib.sha256(b"".join(keys)).hexdigest() == file.name[4:68]:
            try:
                with pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True) as pf:
                    pf.read()
                whole.update(keys)
            except Exception:  # noqa: BLE001, S110 - a page checksum fails: intact only row by row
                pass
    return found


def recoverable(intact: dict[bytes, Node]) -> set[bytes]:
    """The intact nodes whose links are intact too, all the way down (a log holds a node only
    with its links)."""
    keep = set(intact)
    changed = True
    while changed:
        changed = False
        for key in list(keep):
            if any(link not in keep for link in intact[key][1]):
                keep.discard(key)
                changed = True
    return keep


# --- damage ----------------------------------------------------------------------------------------


def _manifests(path: Path) -> list[Path]:
    return sorted((path / "_hyperframe" / "manifests").glob("v*.json"))


def damage(path: Path, kind: str, rng: random.Random) -> str:
    """Do ``kind`` of damage; returns what was done (for failure messages)."""
    segs = segment_files(path)
    manifests = _manifests(path)
    if kind.startswith("manifest"):
        if not manifests:
            return f"{kind}: no manifest left"
        hit = manifests[-rng.randrange(2, 5) :] if kind.startswith("manifests") else manifests[-1:]
        for m in hit:
            if kind.endswith("delete"):
                m.unlink()
            elif kind.endswith("truncate"):
                data = m.read_bytes()
                m.write_bytes(data[: rng.randrange(0, max(1, len(data)))])
            else:
                m.write_bytes(
                    rng.choice([b"{garbage", b"", rng.randbytes(rng.randrange(1, 300)), b'{"version": "x"}', b"[]"])
                )
        return f"{kind} {','.join(m.name[-9:] for m in hit)}"
    if not segs:
        return f"{kind}: no segment left"
    seg = rng.choice(segs)
    raw = bytearray(seg.read_bytes())
    if kind == "delete":
        seg.unlink()
    elif kind == "truncate":
        seg.write_bytes(bytes(raw[: rng.randrange(0, len(raw))]))
    else:
        for _ in range(1 if kind == "flip" else rng.randrange(2, 20)):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        seg.write_bytes(bytes(raw))
    return f"{kind} {seg.name[:16]}"


# --- repairs: finished, killed, crashed --------------------------------------------------------------


#: how long finished ``hyperframe repair`` processes took (kills are drawn over that span)
DURATIONS: list[float] = [0.6]


def kill_delay(rng: random.Random) -> float:
    """A random moment within a typical repair process's life (start-up included)."""
    typical = sorted(DURATIONS[-50:])[len(DURATIONS[-50:]) // 2]
    return rng.uniform(0.02, 1.1 * typical)


def repair_process(path: Path, *, kill_after: float | None = None) -> tuple[int | None, str]:
    """``hyperframe repair`` as a real process: (exit status, stderr); None if it was killed."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hyperframe", "repair", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=child_env(),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=kill_after if kill_after is not None else 120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, ""
    DURATIONS.append(time.monotonic() - started)
    return proc.returncode, err.decode("utf-8", "replace")


def repair_crash_child(spec: dict[str, Any]) -> None:
    """Child role "repair-crash": run ``repair_log`` and die (``os._exit``) at the k-th
    file-system call (a write is torn in half first); prints how many calls it made."""
    from hyperframe.repair import repair_log

    crash_at = int(spec["crash_at"])
    calls = [0]
    real_exit = os._exit

    def wrap(name: str, fn: Any) -> Any:
        def inner(*args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            if calls[0] == crash_at:
                if name == "write" and len(args) > 1 and len(args[1]) > 1:
                    fn(args[0], args[1][: len(args[1]) // 2])
                real_exit(CRASHED)
            return fn(*args, **kwargs)

        return inner

    for name in _MUTATIONS:
        setattr(os, name, wrap(name, getattr(os, name)))
    repair_log(spec["path"])
    sys.stdout.write(f"{calls[0]}\n")
    sys.stdout.flush()
    real_exit(0)  # as the CLI does: no interpreter teardown (pyarrow's threads can abort it)


def repair_crashing(path: Path, crash_at: int) -> tuple[int, str]:
    proc = spawn_child(
        "repair-crash", {"path": str(path), "crash_at": crash_at}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate(timeout=120)
    return proc.returncode, err.decode("utf-8", "replace")


# --- a trial ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    trials: int = 0
    kills: int = 0
    repairs: int = 0
    damages: Counter[str] = field(default_factory=Counter)
    shapes: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # nodes repairs dropped (damaged for good): expected, not failures
    failures: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.trials += other.trials
        self.kills += other.kills
        self.repairs += other.repairs
        self.damages.update(other.damages)
        self.shapes.update(other.shapes)
        self.dropped += other.dropped
        self.failures += other.failures

    def to_json(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "kills": self.kills,
            "repairs": self.repairs,
            "damages": dict(self.damages),
            "shapes": dict(self.shapes),
            "dropped": self.dropped,
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Tally:
        return cls(
            doc["trials"],
            doc["kills"],
            doc["repairs"],
            Counter(doc["damages"]),
            Counter(doc["shapes"]),
            doc["dropped"],
            list(doc["failures"]),
        )


def _one_line_error(code: int | None, err: str) -> str | None:
    """None if a repair's ending is acceptable (0, or non-zero with one error line), else why not."""
    if code == 0:
        return None
    if "Traceback" in err:
        return "a traceback: " + err[-500:].replace("\n", " | ")
    if not (err.startswith("hyperframe: error: ") and err.count("\n") == 1):
        return f"exit {code} and stderr {err[-300:]!r}"
    return None


def check_repaired(
    path: Path, must_hold: set[bytes], universe: dict[bytes, Node], whole: set[bytes] | None = None
) -> list[str]:
    """After a finished repair: every recoverable node is there, the log reads every way, verify
    passes. ``whole``: the keys files intact as a whole held before the repair (to say which
    kind of loss it was)."""
    problems: list[str] = []
    result = check_log(path)
    problems += result.problems[:4]
    held = {bytes.fromhex(k) for k in result.keys}
    lost = must_hold - held
    if lost:
        in_whole = len(lost & whole) if whole is not None else "?"
        problems.append(
            f"lost {len(lost)} intact node(s) ({in_whole} in files intact as a whole), e.g. {min(lost).hex()[:16]}"
        )
    invented = held - set(universe)
    if invented:
        problems.append(f"holds {len(invented)} node(s) that never existed")
    try:
        log = hyperframe.open(path)
        table = log.to_arrow(progress=False)
        if table.num_rows != len(held):
            problems.append(f"to_arrow() has {table.num_rows} rows for {len(held)} nodes")
        encode = log.encoding.encode
        for key in sorted(held)[:: max(1, len(held) // 5)]:
            node = log.get(key.hex())
            value, links = universe[key]
            if encode(node.value) != value or tuple(bytes.fromhex(k) for k in node.links) != links:
                problems.append(f"get({key.hex()[:16]}) differs from the node it was")
    except Exception as exc:  # noqa: BLE001 - the harness reports anything
        problems.append(f"reading: {type(exc).__name__}: {str(exc)[:200]}")
    return problems


def repair_trial(root: Path, seed: int, trial: int, *, subprocess_share: float = 0.5, keep: bool = True) -> Tally:
    """One trial: build, then rounds of damage, killed repairs, a repair, and repairs again.

    When a check fails, the directory as it was before that repair is kept next to the
    trial's (``…-before-N``) for a post-mortem (unless ``keep`` is False).
    """
    rng = random.Random(f"{seed}:{trial}")
    tally = Tally(trials=1)
    shape = SHAPES[trial % len(SHAPES)]
    tally.shapes[shape] += 1
    path = root / f"trial-{seed}-{trial}.db"
    shutil.rmtree(path, ignore_errors=True)
    build_log(path, shape, rng)
    universe = dict(intact_nodes(path))
    history: list[str] = [shape]
    kept: list[Path] = []

    def fail(message: str, before: Path | None = None) -> None:
        where = f" [kept: {before}]" if before is not None and keep else ""
        tally.failures.append(f"trial {trial} (seed {seed}; {' > '.join(history)}): {message}{where}")

    def snapshot() -> Path:
        copy = root / f"{path.stem}-before-{len(history)}.db"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(path, copy)
        kept.append(copy)
        return copy

    def judge_repair(code: int | None, err: str, must_hold: set[bytes], whole: set[bytes], before: Path) -> bool:
        """A repair that finished: how it ended, then everything about the log."""
        tally.repairs += 1
        why = _one_line_error(code, err)
        if why or code != 0:
            fail(f"repair: {why or 'refused: ' + err.strip()}", before)
            return False
        problems = check_repaired(path, must_hold, universe, whole)
        for p in problems:
            fail(p, before)
        return not problems

    def finished_repair() -> bool:
        """Run a repair that is not killed; check everything. False if the trial cannot go on."""
        whole: set[bytes] = set()
        must_hold = recoverable(intact_nodes(path, whole))
        before = snapshot()
        if rng.random() < subprocess_share:
            code, err = repair_process(path)
            history.append("repair")
        else:
            try:
                code, _out, err = cli_inprocess(["repair", str(path)])
            except BaseException as exc:  # noqa: BLE001 - what escapes main() is a crash
                fail(f"repair raised {type(exc).__name__}: {exc}", before)
                return False
            history.append("repair(in-process)")
        return judge_repair(code, err, must_hold, whole, before)

    def again() -> None:
        state = tree_state(path)
        if not finished_repair():
            return
        history[-1] += " again"
        after = tree_state(path)
        if after != state:
            changed = sorted(k for k in set(state) | set(after) if state.get(k) != after.get(k))
            fail(f"repairing again changed {changed[:4]}", kept[-1] if kept else None)

    def killed_repair() -> None:
        whole: set[bytes] = set()
        must_hold = recoverable(intact_nodes(path, whole))
        before = snapshot()
        if rng.random() < 0.5:
            code, err = repair_process(path, kill_after=kill_delay(rng))
            history.append("kill" if code is None else "kill(too late)")
        else:
            code, err = repair_crashing(path, rng.randrange(1, 40))
            history.append("crash" if code == CRASHED else "crash(too late)")
            code = None if code == CRASHED else code
        if code is not None:  # it finished before the planned kill
            judge_repair(code, err, must_hold, whole, before)
            return
        tally.kills += 1
        gone = must_hold - recoverable(intact_nodes(path))
        if gone:
            fail(f"a killed repair destroyed {len(gone)} intact node(s), e.g. {min(gone).hex()[:16]}", before)

    for round_ in range(rng.randrange(1, 4)):
        for _ in range(rng.choice([1, 1, 2, 3])):
            kind = rng.choice(DAMAGES)
            tally.damages[kind] += 1
            history.append(damage(path, kind, rng))
        for _ in range(rng.choice([0, 1, 1, 2])):
            killed_repair()
        if not finished_repair():
            break
        for _ in range(rng.choice([1, 1, 2])):
            again()
        if rng.random() < 0.4:  # the repaired log takes writes again
            log = hyperframe.open(path)
            node = log.add(f"after-repair-{round_}-{rng.random():.6f}", links=log.heads()[:1])
            links = tuple(bytes.fromhex(k) for k in node.links)
            universe[bytes.fromhex(node.key)] = (log.encoding.encode(node.value), links)
            history.append("add")
    try:
        tally.dropped += len(universe) - len(hyperframe.open(path))
    except Exception:  # noqa: BLE001 - reported above already
        pass
    for copy in kept:
        if not keep or not any(str(copy) in f for f in tally.failures):
            shutil.rmtree(copy, ignore_errors=True)
    if not tally.failures or not keep:
        shutil.rmtree(path, ignore_errors=True)
    return tally


def run_trials(root: Path, seed: int, trials: list[int], seconds: float) -> Tally:
    root.mkdir(parents=True, exist_ok=True)
    total = Tally()
    start = time.monotonic()
    for trial in trials:
        if time.monotonic() - start > seconds:
            break
        try:
            total.add(repair_trial(root, seed, trial))
        except Exception as exc:  # noqa: BLE001 - a trial that cannot run is a failure; the next one runs
            total.add(Tally(trials=1, failures=[f"trial {trial} (seed {seed}): {type(exc).__name__}: {exc}"]))
    return total


def repairs_worker(spec: dict[str, Any]) -> None:
    """Child role "repairs": run some trials and print their tally as one JSON line."""
    tally = run_trials(Path(spec["root"]), spec["seed"], spec["trials"], spec["seconds"])
    sys.stdout.write(json.dumps(tally.to_json()) + "\n")


def _kind_of(failure: str) -> str:
    """Which promise a failure message is about (for the totals line)."""
    text = failure.split("): ", 1)[-1]
    if text.startswith("lost"):
        return "lost intact nodes" + (" (row by row only)" if "(0 in files intact" in text else "")
    if text.startswith("a killed repair"):
        return "killed repair destroyed nodes"
    if text.startswith("repairing again"):
        return "repair again changed files"
    if text.startswith("repair"):
        return "repair crashed or refused"
    return "log unreadable or verify fails"


def run_repairs(root: Path, *, trials: int = 200, seed: int = 0, seconds: float = 600, jobs: int = 2) -> PartResult:
    """The repair campaign: ``trials`` trials over ``jobs`` worker processes, at most ``seconds`` long."""
    total = Tally()
    if jobs <= 1:
        total = run_trials(root, seed, list(range(trials)), seconds)
    else:
        procs = [
            spawn_child(
                "repairs",
                {
                    "root": str(root / f"job{j}"),
                    "seed": seed,
                    "trials": list(range(j, trials, jobs)),
                    "seconds": seconds,
                },
                stdout=subprocess.PIPE,
            )
            for j in range(jobs)
        ]
        for j, proc in enumerate(procs):
            out, _ = proc.communicate()
            try:
                total.add(Tally.from_json(json.loads(out.decode().strip().splitlines()[-1])))
            except (ValueError, IndexError, KeyError):
                total.failures.append(f"repair worker {j} died (exit {proc.returncode}) without a tally")
    damages = ", ".join(f"{k} {v}" for k, v in sorted(total.damages.items()))
    kinds = Counter(_kind_of(f) for f in total.failures)
    what = "; ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    line = (
        f"repairs: trials {total.trials}, kills {total.kills}, repairs {total.repairs}, "
        f"failures {len(total.failures)}{' (' + what + ')' if what else ''} "
        f"(damages: {damages}; nodes dropped as damaged: {total.dropped})"
    )
    if total.trials < trials:
        line += f" [stopped after {seconds:g} s: {total.trials} of {trials} trials]"
    return PartResult("repairs", line, summarize(total.failures), count=len(total.failures))
