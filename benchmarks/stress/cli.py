"""The reliability stress run (issues 5 and 9): crashes, corruption, concurrency, hostile peers,
limits, lying peers, repairs.

The command line of ``python -m benchmarks.stress`` (see the package docstring): parse the
flags, run each part at the size they ask for, print one totals line per part, then
``total``. ``_child ROLE SPEC`` as the first arguments runs one child process of a part
instead (how :func:`~benchmarks.stress.harness.spawn_child` starts them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .concurrency import concurrency_child, run_concurrency
from .corruption import run_corruption
from .crash import crash_child, run_crash
from .fuzz import fuzz_server, run_fuzz
from .harness import PARTS as BASE_PARTS
from .harness import PartResult
from .liar import run_peers
from .limits import run_limits
from .repairs import repair_crash_child, repairs_worker, run_repairs

#: every part, in the order a full run takes them ("peers" and "repairs": issue 9)
PARTS = (*BASE_PARTS, "peers", "repairs")

CHILD_ROLES: dict[str, Callable[[dict[str, Any]], None]] = {
    "crash": crash_child,
    "concurrency": concurrency_child,
    "fuzz": fuzz_server,
    "repairs": repairs_worker,
    "repair-crash": repair_crash_child,
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
        prog="python -m benchmarks.stress",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument("--peers", type=int, default=300, help="lying-peer runs [300]")
    parser.add_argument("--repairs", type=int, default=200, help="repair-campaign trials [200]")
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
    if part == "peers":
        return run_peers(workdir / "peers", runs=args.peers, seed=args.seed, seconds=args.seconds, jobs=args.jobs)
    if part == "repairs":
        return run_repairs(
            workdir / "repairs", trials=args.repairs, seed=args.seed, seconds=args.seconds, jobs=args.jobs
        )
    raise ValueError(f"unknown part {part}")
