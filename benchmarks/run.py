#!/usr/bin/env python3
"""Run every hyperframe speed benchmark and print ratios measured in this run.

    python benchmarks/run.py            # the full run (~15 min on 2 cores; installs hyperlog with npm)
    python benchmarks/run.py --quick    # a small smoke version (< 2 min)
    python benchmarks/run.py --quick --no-js --only batch,diff

Each benchmark prints ``name: ours X, baseline Y, ratio Z (target ...) OK|MISSED|report only``;
the figures also go to ``benchmarks/results/<time>-<full|quick>.json`` and
``benchmarks/results/latest-<full|quick>.json``. Exit status: 0 unless a benchmark
crashed (a missed target is reported, not an error; ``--strict`` makes it one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "js"), str(HERE.parent)]

import bench_core  # noqa: E402
import bench_hyperlog  # noqa: E402
import bench_notebook  # noqa: E402
import bench_sync  # noqa: E402

ORDER = {
    **bench_core.BENCHMARKS,
    **bench_sync.BENCHMARKS,
    **bench_hyperlog.BENCHMARKS,
    **bench_notebook.BENCHMARKS,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under 2 minutes")
    parser.add_argument("--no-js", action="store_true", help="skip the hyperlog (Node.js) baselines")
    parser.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(ORDER)}")
    parser.add_argument("--workdir", type=Path, default=None, help="where to build logs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory afterwards")
    parser.add_argument("--batch-timeout", type=float, default=None, help="stop the batch-add run after this many s")
    parser.add_argument("--results", type=Path, default=HERE / "results", help="where the JSON results go")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(ORDER)
    unknown = [n for n in chosen if n not in ORDER]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}")

    sizes = bench_core.QUICK if args.quick else bench_core.FULL
    if args.batch_timeout:
        from dataclasses import replace

        sizes = replace(sizes, batch_timeout=args.batch_timeout)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="hf-bench-", dir=args.workdir))
    else:
        work = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    ctx = bench_core.Context(sizes=sizes, quick=args.quick, js=not args.no_js, work=work)

    mode = "quick" if args.quick else "full"
    env = environment()
    env["bytecode_compiled_first"] = bench_core.compile_bytecode()  # fresh processes import it like an install
    print(
        f"hyperframe benchmarks ({mode}): python {env['python']}, pyarrow {env['pyarrow']}, {env['cpus']} CPUs, "
        f"node {env['node'] or 'absent'}; commit {env['commit'] or '?'}; load {_load()}; work dir {work}",
        flush=True,
    )
    if ctx.js:
        try:
            from _hyperlog import HYPERLOG_VERSION, ensure_hyperlog

            start = time.perf_counter()
            folder = ensure_hyperlog()
            print(
                f"    (hyperlog {HYPERLOG_VERSION} ready in {folder}, {time.perf_counter() - start:.1f} s)",
                flush=True,
            )
        except Exception as exc:  # noqa: BLE001 (the baseline is optional)
            ctx.js_error = " ".join(str(exc).split())[:300]
            print(f"    (hyperlog baseline unavailable: {ctx.js_error})", flush=True)

    started = time.perf_counter()
    crashed: list[str] = []
    timings: dict[str, float] = {}
    try:
        for name in chosen:
            start = time.perf_counter()
            try:
                ORDER[name](ctx)
            except Exception as exc:  # noqa: BLE001 (one crash must not stop the rest)
                crashed.append(name)
                print(f"{name}: ERROR {type(exc).__name__}: {' '.join(str(exc).split())[:500]}", flush=True)
                traceback.print_exc(file=sys.stderr)
            timings[name] = time.perf_counter() - start
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started

    missed = [r.name for r in ctx.results if r.met is False]
    env["load_average_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"done in {total:.0f} s: {sum(r.met is True for r in ctx.results)} target(s) met, {len(missed)} missed"
        + (f" ({', '.join(missed)})" if missed else "")
        + (f", {len(crashed)} crashed ({', '.join(crashed)})" if crashed else "")
        + f"; load {_load()} (other work on the machine skews the timings)",
        flush=True,
    )
    save(ctx, args.results, mode, env, total, timings, crashed)
    if crashed:
        return 1
    return 1 if (args.strict and missed) else 0


def _load() -> str:
    """The 1/5/15-minute load averages, to judge how busy the machine was."""
    if not hasattr(os, "getloadavg"):
        return "?"
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def environment() -> dict[str, object]:
    import pyarrow

    def output(cmd: list[str]) -> str | None:
        try:
            return (
                subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=10, cwd=HERE).stdout.strip()
                or None
            )
        except (OSError, subprocess.SubprocessError):
            return None

    return {
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "node": output(["node", "--version"]) if shutil.which("node") else None,
        "commit": output(["git", "rev-parse", "--short", "HEAD"]),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "dirty": bool(output(["git", "status", "--porcelain", "--", "../hyperframe"])),
    }


def save(
    ctx: bench_core.Context,
    folder: Path,
    mode: str,
    env: dict[str, object],
    total: float,
    timings: dict[str, float],
    crashed: list[str],
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "mode": mode,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": env,
        "sizes": ctx.sizes.__dict__,
        "seconds": total,
        "benchmark_seconds": timings,
        "crashed": crashed,
        "results": [{"name": r.name, "line": r.line, "met": r.met, **r.data} for r in ctx.results],
    }
    text = json.dumps(doc, indent=2, default=str)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (folder / f"{stamp}-{mode}.json").write_text(text)
    (folder / f"latest-{mode}.json").write_text(text)
    print(f"results: {folder / f'{stamp}-{mode}.json'}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
