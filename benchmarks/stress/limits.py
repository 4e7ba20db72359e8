"""Part 5: limits. Big values, 100,000 heads, a 4 GB length prefix.

Each case in ``LIMITS`` returns its failures; :func:`run_limits` runs them all and times them.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hyperframe
from hyperframe.errors import ReplicationError
from hyperframe.sync.framing import Kind

from .harness import PartResult, check_log, cli_subprocess, tree_state
from .wire import Sink, frame_bytes


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
        stream = PREAMBLE + frame_bytes(Kind.NODES, b"", length=length) + b"x" * 1000
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
