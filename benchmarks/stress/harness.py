"""What every campaign shares: what a healthy log looks like, child processes, results.

``check_log`` is the test issue 5 asks of a log after a crash, a race or a repair; the
child helpers start ``python -m benchmarks.stress _child ROLE SPEC`` processes (from the
repository root, so they work from any directory) and kill their whole process group.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hyperframe
from hyperframe import node_key
from hyperframe.verify import verify_log

#: the repository root: child processes run ``-m benchmarks.stress`` from here
ROOT = Path(__file__).resolve().parents[2]
PARTS = ("crash", "corruption", "concurrency", "fuzz", "limits")


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


def fsync_append(fd: int, lines: Iterable[str]) -> None:
    os.write(fd, "".join(f"{line}\n" for line in lines).encode())
    os.fsync(fd)


def read_records(path: Path) -> list[str]:
    """Whole lines of a side file; a line cut by the kill (no newline yet) is left out."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return data.decode("utf-8", "replace").split("\n")[:-1]


def wait_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
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


def kill_group(proc: subprocess.Popen[bytes]) -> bool:
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


def child_argv(role: str, spec: dict[str, Any]) -> list[str]:
    """The command line of a child process that runs ``CHILD_ROLES[role](spec)`` (see ``cli.child_main``)."""
    return [sys.executable, "-m", "benchmarks.stress", "_child", role, json.dumps(spec)]


def child_env() -> dict[str, str]:
    """This process's environment with the repository root first on ``PYTHONPATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def spawn_child(role: str, spec: dict[str, Any], **popen: Any) -> subprocess.Popen[bytes]:
    """Start a child in a process group of its own, from the repository root.

    It runs in ``ROOT`` (so ``benchmarks.stress`` is the one imported, whatever the
    caller's directory), so every path in ``spec`` must be absolute.
    """
    return subprocess.Popen(child_argv(role, spec), cwd=ROOT, env=child_env(), start_new_session=True, **popen)


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


CliRunner = Callable[[list[str]], tuple[int, str, str]]


def cli_subprocess(args: list[str]) -> tuple[int, str, str]:
    """``hyperframe ARGS`` as a real process: (exit status, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "hyperframe", *args], capture_output=True, timeout=120, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def cli_inprocess(args: list[str]) -> tuple[int, str, str]:
    """``hyperframe ARGS`` through ``hyperframe.cli.main`` in this process (fast)."""
    from hyperframe.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(args)
    return code, out.getvalue(), err.getvalue()
