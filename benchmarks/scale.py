#!/usr/bin/env python3
"""The cost table (issue 13): time and peak memory of the main operations on logs of
100k, 1M and (with ``--big``) 10M nodes, and how each grows with the log.

    python benchmarks/scale.py                    # 100k and 1M
    python benchmarks/scale.py --big              # 100k, 1M and 10M
    python benchmarks/scale.py --sizes 10000,100000 --only open_heads,get

Every log is a linear chain of small JSON values (node i links node i-1, the shape of
``benchmarks/run.py``'s big log), built once per size with ``log.batch`` in 10 chunks (so
10 segments). Every operation runs in a fresh Python process (``scale.py --child ...``),
so each peak RSS (``VmHWM``) is that operation's own; the time is measured inside the
process, after ``import hyperframe`` and the imports of numpy and pyarrow (and pandas for
``to_pandas``), whose fixed cost would hide the growth. Between two sizes the growth
exponent ``log(t2/t1) / log(n2/n1)`` is computed (1 = linear, 0 = constant); a line
growing worse than linear is flagged and, unless ``--no-profile``, profiled with cProfile
at the largest size up to 1M (or ``--profile-size``; top functions printed, the ``.prof``
file kept in the results folder). The table is printed and the figures go to
``benchmarks/results/scale-<time>.json`` and ``benchmarks/results/scale-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from bench_core import chain_chunks, child_env, extend_chain, fmt_bytes, fmt_s  # noqa: E402

DEFAULT_SIZES = (100_000, 1_000_000)
BIG_SIZE = 10_000_000
#: a line whose time exponent exceeds this (and whose time at the larger size is above
#: ``SLOW_ENOUGH`` seconds, so that it is not noise) grows worse than linear
WORSE_THAN_LINEAR = 1.15
SLOW_ENOUGH = 0.05
#: flagged lines are profiled at the largest size up to this one (cProfile at 10M takes long)
PROFILE_SIZE = 1_000_000
OPS = ("build", "open_heads", "contains", "get", "changes", "to_pandas", "diff", "clone", "verify", "compact")
DESCRIPTION = {
    "build": "build: log.batch in chunks (fresh process)",
    "open_heads": "open + heads()",
    "contains": "`key in log` (first call: loads the key index)",
    "get": "get(key) of a node in the middle",
    "changes": "iterate changes() over everything",
    "to_pandas": "to_pandas() (JSON fields expanded)",
    "diff": "sync with a copy, 1 % new on each side",
    "clone": "clone into an empty log (replicate)",
    "verify": "verify_log",
    "compact": "compact() into one segment (a copy)",
}


def chunk_for(n: int) -> int:
    """Chunk size of ``log.batch`` when building an ``n``-node log: n/10, so every log has 10 segments."""
    return max(1, n // 10)


# --- the child: one operation in a fresh process ---------------------------------------------


def _status_kb(field: str) -> int:
    """A ``/proc/self/status`` memory line of this process, in KiB (0 if there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _peak_kb() -> int:
    """This process's own RSS high-water mark (``ru_maxrss`` would include the parent's at fork)."""
    peak = _status_kb("VmHWM")
    if peak:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rss_kb() -> int:
    return _status_kb("VmRSS")


def child(op: str, args: list[str], profile: str | None) -> None:
    # the libraries' import time is a constant, not a cost of the log: paid before the clock starts
    import numpy  # noqa: F401
    import pyarrow  # noqa: F401
    import pyarrow.compute  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import hyperframe

    if op == "to_pandas":
        import pandas  # noqa: F401

    start_rss = _rss_kb()
    extra: dict[str, Any] = {}
    path = Path(args[0])

    def build() -> None:
        n, chunk = int(args[1]), int(args[2])
        log = hyperframe.open(path, encoding="json")
        for docs in chain_chunks(n, chunk):
            log.batch(docs)
        extra["nodes"] = len(log)

    def open_heads() -> None:
        extra["heads"] = len(hyperframe.open(path).heads())

    def contains() -> None:
        log = hyperframe.open(path)
        t = time.perf_counter()
        found = args[1] in log
        extra["first_call_s"] = time.perf_counter() - t
        t = time.perf_counter()
        again = args[1] in log
        extra["second_call_s"] = time.perf_counter() - t
        assert found and again, "a key the log holds was not found"

    def get() -> None:
        node = hyperframe.open(path).get(args[1])
        assert node.key == args[1]

    def changes() -> None:
        count = 0
        for _ in hyperframe.open(path).changes():
            count += 1
        extra["nodes"] = count

    def to_pandas() -> None:
        df = hyperframe.open(path).to_pandas(progress=False)
        extra["rows"], extra["columns"] = len(df), len(df.columns)

    def replicate() -> None:
        from hyperframe.sync import replicate as rep

        report = rep(hyperframe.open(path), hyperframe.open(args[1]), timeout=600.0)
        extra.update(
            bytes=report.bytes_a_to_b + report.bytes_b_to_a,
            round_trips=report.round_trips,
            sent=report.sent_a_to_b + report.sent_b_to_a,
            strategy=report.strategy,
        )

    def verify() -> None:
        from hyperframe.verify import verify_log

        report = verify_log(path)
        extra["errors"] = len(report.errors)

    def compact() -> None:
        hyperframe.open(path).compact()

    work = {
        "build": build,
        "open_heads": open_heads,
        "contains": contains,
        "get": get,
        "changes": changes,
        "to_pandas": to_pandas,
        "diff": replicate,
        "clone": replicate,
        "verify": verify,
        "compact": compact,
    }[op]
    if profile:
        seconds = _profiled(work, profile)
    else:
        t0 = time.perf_counter()
        work()
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_kb": _peak_kb(), "start_kb": start_rss, **extra}), flush=True)


def _profiled(work: Any, out: str) -> float:
    """Run ``work()`` under cProfile, threads included (replication runs one side in a
    thread); write the merged stats to ``out`` and return the (profiled) seconds."""
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.runcall(original, self)

    threading.Thread.run = run  # type: ignore[method-assign]
    main = cProfile.Profile()
    t0 = time.perf_counter()
    try:
        main.runcall(work)
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
    seconds = time.perf_counter() - t0
    stats = pstats.Stats(main)
    for prof in profiles:
        try:
            stats.add(prof)
        except TypeError:  # a thread that never ran
            pass
    stats.dump_stats(out)
    return seconds


# --- the parent ------------------------------------------------------------------------------


def run_child(op: str, *args: Any, profile: Path | None = None, timeout: float = 3600) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", op, *map(str, args)]
    if profile is not None:
        cmd += ["--profile-out", str(profile)]
    wall0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=child_env())
    wall = time.perf_counter() - wall0
    if proc.returncode != 0:
        raise RuntimeError(f"{op} on {args[0]} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    doc: dict[str, Any] = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    doc["wall"] = wall
    return doc


def _manifest(path: Path) -> dict[str, Any]:
    latest = max((path / "_hyperframe" / "manifests").glob("v*.json"))
    doc: dict[str, Any] = json.loads(latest.read_text())
    return doc


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def middle_key(path: Path) -> str:
    import pyarrow.parquet as pq

    segs = _manifest(path)["segments"]
    seg = segs[len(segs) // 2]
    keys = pq.read_table(path / seg["file"], columns=["key"]).column("key")
    raw: bytes = keys[len(keys) // 2].as_py()
    return raw.hex()


def ensure_log(work: Path, n: int) -> tuple[Path, dict[str, Any] | None]:
    """The ``n``-node chain log under ``work`` (reused when a previous ``--workdir`` run left it)."""
    path = work / f"chain-{n}.db"
    done = work / f"chain-{n}.json"
    if path.exists() and done.exists():
        return path, json.loads(done.read_text())
    shutil.rmtree(path, ignore_errors=True)
    doc = run_child("build", path, n, chunk_for(n))
    assert doc["nodes"] == n, doc
    done.write_text(json.dumps(doc))
    return path, doc


def measure(op: str, base: Path, n: int, scratch: Path, profile: Path | None = None) -> dict[str, Any]:
    """Run one operation on the ``n``-node log ``base`` (copies made here are not timed)."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        if op == "open_heads":
            return run_child(op, base, profile=profile)
        if op in ("contains", "get"):
            return run_child(op, base, middle_key(base), profile=profile)
        if op in ("changes", "to_pandas", "verify"):
            return run_child(op, base, profile=profile)
        if op == "clone":
            return run_child(op, base, scratch / "clone.db", profile=profile)
        if op == "compact":
            copy = scratch / "compact.db"
            shutil.copytree(base, copy)
            doc = run_child(op, copy, profile=profile)
            doc["segments_before"] = len(_manifest(base)["segments"])
            return doc
        if op == "diff":
            a, b = scratch / "a.db", scratch / "b.db"
            shutil.copytree(base, a)
            shutil.copytree(base, b)
            k = max(1, n // 100)
            docs_a = extend_chain(a, k, "from a")
            docs_b = extend_chain(b, k, "from b")
            doc = run_child("diff", a, b, profile=profile)
            assert doc["sent"] == len(docs_a) + len(docs_b), doc
            doc["missing"] = 2 * k
            return doc
        raise ValueError(op)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def exponent(n1: int, t1: float, n2: int, t2: float) -> float | None:
    if t1 <= 0 or t2 <= 0:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MB"


def top_functions(stats_file: Path, limit: int = 14) -> list[str]:
    """The profile's top functions by own time and by cumulative time, as text lines."""
    import io
    import pstats

    out: list[str] = []
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats = pstats.Stats(str(stats_file), stream=buf)
        stats.strip_dirs().sort_stats(key).print_stats(limit)
        lines = buf.getvalue().splitlines()
        table_start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls")), 0)
        out.append(f"-- by {key}:")
        out.extend(ln.rstrip() for ln in lines[table_start : table_start + limit + 1] if ln.strip())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="", help="comma-separated log sizes (default 100000,1000000)")
    parser.add_argument("--big", action="store_true", help=f"add {BIG_SIZE:,} nodes to the default sizes")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(OPS)}")
    parser.add_argument("--workdir", type=Path, default=None, help="where logs are built (kept: reused next time)")
    parser.add_argument("--no-profile", action="store_true", help="do not profile lines worse than linear")
    parser.add_argument(
        "--profile-size",
        type=int,
        default=None,
        help=f"profile at this size (default: the largest size up to {PROFILE_SIZE:,}; cProfile doubles the time)",
    )
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where the JSON results go")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1:], args.profile_out)
        return 0

    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()} or set(DEFAULT_SIZES))
    if args.big and BIG_SIZE not in sizes:
        sizes.append(BIG_SIZE)
    ops = [o.strip() for o in args.only.split(",") if o.strip()] or list(OPS)
    unknown = [o for o in ops if o not in OPS]
    if unknown:
        parser.error(f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(OPS)}")
    keep = args.workdir is not None
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hf-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    print(
        f"hyperframe cost table: sizes {', '.join(f'{n:,}' for n in sizes)}; python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; load {'/'.join(f'{x:.1f}' for x in os.getloadavg())}; work dir {work} "
        f"({fmt_bytes(free)} free)",
        flush=True,
    )
    commit_at_start = _git(["rev-parse", "--short", "HEAD"])
    table: dict[str, dict[int, dict[str, Any]]] = {op: {} for op in ops}
    errors: dict[str, dict[int, str]] = {}
    started = time.perf_counter()
    try:
        for n in sizes:
            base, built = ensure_log(work, n)
            manifest = _manifest(base)
            info = f"{len(manifest['segments'])} segments, {fmt_bytes(dir_bytes(base))} on disk"
            print(f"{n:,} nodes: {info}", flush=True)
            if "build" in table:
                if built is None:  # reused: not measured in this run
                    print(f"    build: reused from {base} (not timed in this run)", flush=True)
                else:
                    built["chunk"] = chunk_for(n)
                    built["disk_bytes"] = dir_bytes(base)
                    table["build"][n] = built
                    print(f"    build: {fmt_s(built['seconds'])}, peak {fmt_mb(built['peak_kb'])}", flush=True)
            for op in ops:
                if op == "build":
                    continue
                try:
                    doc = measure(op, base, n, work / "scratch")
                except Exception as exc:  # noqa: BLE001 (one failure must not lose the rest of the table)
                    errors.setdefault(op, {})[n] = " ".join(str(exc).split())[-600:]
                    print(f"    {op}: ERROR {errors[op][n]}", flush=True)
                    continue
                table[op][n] = doc
                detail = ""
                if op in ("diff", "clone"):
                    detail = f", {doc['bytes']:,} B, {doc['round_trips']} round trips"
                print(
                    f"    {op}: {fmt_s(doc['seconds'])}, peak {fmt_mb(doc['peak_kb'])} "
                    f"(at start {fmt_mb(doc['start_kb'])}){detail}",
                    flush=True,
                )
        growth = report(table, sizes)
        profiles: dict[str, list[str]] = {}
        flagged = [op for op, g in growth.items() if g["worse_than_linear"]]
        if flagged and not args.no_profile:
            n = args.profile_size or max([m for m in sizes if m <= PROFILE_SIZE] or sizes[:1])
            base, _ = ensure_log(work, n)
            args.results.mkdir(parents=True, exist_ok=True)
            for op in flagged:
                if op == "build":
                    continue
                stats_file = args.results / f"scale-profile-{op}-{n}.prof"
                try:
                    measure(op, base, n, work / "scratch", profile=stats_file)
                except Exception as exc:  # noqa: BLE001
                    print(f"profile of {op} failed: {' '.join(str(exc).split())[-600:]}", flush=True)
                    continue
                profiles[op] = top_functions(stats_file)
                print(f"\nprofile of {op} at {n:,} nodes ({stats_file}):", flush=True)
                print("\n".join(profiles[op]), flush=True)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    save(args.results, sizes, table, growth, profiles, total, errors, commit_at_start)
    print(f"done in {total:.0f} s" + (f"; {sum(map(len, errors.values()))} measurement(s) failed" if errors else ""))
    return 1 if errors else 0


def report(table: dict[str, dict[int, dict[str, Any]]], sizes: list[int]) -> dict[str, dict[str, Any]]:
    """Print the table (markdown) and return each line's growth exponents."""
    growth: dict[str, dict[str, Any]] = {}
    head = ["operation", *(f"{n:,}: time / peak RSS" for n in sizes)]
    pairs = list(zip(sizes, sizes[1:]))
    head += [f"exponent {a:,}→{b:,} (time, mem)" for a, b in pairs]
    print("\n| " + " | ".join(head) + " |", flush=True)
    print("|" + "---|" * len(head), flush=True)
    for op, per in table.items():
        cells = [DESCRIPTION[op]]
        for n in sizes:
            d = per.get(n)
            if d is None:
                cells.append("–")
                continue
            cell = f"{fmt_s(d['seconds'])} / {fmt_mb(d['peak_kb'])}"
            if op in ("diff", "clone"):
                cell += f"; {fmt_bytes(d['bytes'])}, {d['round_trips']} RT"
            cells.append(cell)
        exps = []
        worse = False
        for a, b in pairs:
            if a not in per or b not in per:
                cells.append("–")
                continue
            et = exponent(a, per[a]["seconds"], b, per[b]["seconds"])
            em = exponent(a, per[a]["peak_kb"] - per[a]["start_kb"], b, per[b]["peak_kb"] - per[b]["start_kb"])
            exps.append({"from": a, "to": b, "time": et, "memory_above_start": em})
            bad = et is not None and et > WORSE_THAN_LINEAR and per[b]["seconds"] > SLOW_ENOUGH
            worse = worse or bad
            shown_m = "–" if em is None else f"{em:.2f}"
            cells.append(f"{'–' if et is None else f'{et:.2f}'}, {shown_m}" + (" **worse than linear**" if bad else ""))
        growth[op] = {"exponents": exps, "worse_than_linear": worse}
        print("| " + " | ".join(cells) + " |", flush=True)
    return growth


def _git(args: list[str]) -> str | None:
    """A git command's output in this checkout (None when git is missing or fails)."""
    try:
        got = subprocess.run(["git", *args], check=False, capture_output=True, text=True, timeout=10, cwd=HERE)
        return got.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def save(
    folder: Path,
    sizes: list[int],
    table: dict[str, dict[int, dict[str, Any]]],
    growth: dict[str, dict[str, Any]],
    profiles: dict[str, list[str]],
    total: float,
    errors: dict[str, dict[int, str]],
    commit_at_start: str | None,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "commit_at_start": commit_at_start,
        "commit": _git(["rev-parse", "--short", "HEAD"]),
        "dirty": bool(_git(["status", "--porcelain", "--", "../hyperframe"])),
        "load_average_after": os.getloadavg(),
        "sizes": sizes,
        "seconds": total,
        "operations": {op: {str(n): d for n, d in per.items()} for op, per in table.items()},
        "growth": growth,
        "profiles": profiles,
        "errors": {op: {str(n): e for n, e in per.items()} for op, per in errors.items()},
    }
    text = json.dumps(doc, indent=2, default=str)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (folder / f"scale-{stamp}.json").write_text(text)
    (folder / "scale-latest.json").write_text(text)
    print(f"results: {folder / f'scale-{stamp}.json'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
