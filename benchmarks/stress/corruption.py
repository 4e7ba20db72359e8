"""Part 2: corruption. Damage a log on purpose; verify must name it, reads must refuse it,
repair must keep every intact node and say what it dropped.

``DAMAGE_KINDS`` are done ``rounds`` times each to freshly built logs (:func:`corruption_case`),
then :func:`flip_sweep` flips single bytes of whole segments.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe import node_key
from hyperframe.errors import CorruptLogError
from hyperframe.verify import verify_log

from .harness import CliRunner, PartResult, check_log, cli_subprocess, summarize, tree_state


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
        listed = (
            repair_report.removed_files + repair_report.adopted_files if hurt.orphan else repair_report.damaged_files
        )
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
