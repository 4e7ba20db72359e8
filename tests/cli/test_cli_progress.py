"""Progress bars where the wait is: on stderr when it is a terminal (a pseudo-terminal here),
silenced by --quiet, absent when stderr is a pipe; stdout is never touched."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import RunCli

import hyperframe

pytest.importorskip("tqdm")

BAR = "%|"  # tqdm's bar, once it knows a total


@dataclass
class Terminal:
    """What a command did with its stderr on a pseudo-terminal."""

    code: int
    out: str  # stdout (a pipe)
    screen: str  # everything written to the terminal, carriage returns kept


def on_terminal(*args: object, cwd: Path | None = None, size: tuple[int, int] = (30, 100)) -> Terminal:
    """Run ``python -m hyperframe ARGS`` with stderr on a pseudo-terminal of ``size`` (rows, columns)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    argv = [sys.executable, "-m", "hyperframe", *map(str, args)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, cwd=cwd)
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the slave side closed: the command is done
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read().decode("utf-8", "replace")
    return Terminal(proc.wait(timeout=30), out, screen.decode("utf-8", "replace"))


def _pair(tmp_path: Path, n: int = 300) -> tuple[Path, Path]:
    a, b = hyperframe.open(tmp_path / "a", encoding="json"), hyperframe.open(tmp_path / "b", encoding="json")
    for log in (a, b):
        log.add({"protocol": 1})
    a.batch([{"value": {"side": "a", "i": i}} for i in range(n)])
    b.batch([{"value": {"side": "b", "i": i}} for i in range(n // 2)])
    return a.path, b.path


def test_sync_draws_a_bar_from_the_start_on_a_terminal(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    term = on_terminal("sync", a, b)
    assert term.code == 0, term.screen
    assert term.out.startswith("sync: 300 node(s) A→B, 150 B→A") and "\r" not in term.out
    frames = [f for f in term.screen.split("\r") if f.strip()]
    assert frames[0].startswith("syncing: 0")  # drawn before the first node arrived
    phases = [p for p in ("comparing", "receiving", "writing") if p in term.screen]
    assert phases[0] == "comparing" and "writing" in phases, frames  # the planning phase says so
    assert term.screen.index("comparing") < term.screen.index("/450")  # then the total it learnt
    assert "450/450" in term.screen and BAR in term.screen
    assert term.screen.rstrip(" ").endswith("\r")  # leave=False: the bar is wiped at the end


def test_quiet_and_a_pipe_mean_no_bar(tmp_path: Path, run_process: RunCli) -> None:
    a, b = _pair(tmp_path)
    quiet = on_terminal("sync", a, b, "--quiet")
    assert quiet.code == 0 and quiet.screen == "" and quiet.out.startswith("sync: 300 node(s)")
    piped = run_process("sync", a, b)  # stderr is a pipe
    assert piped.code == 0 and piped.err == "" and piped.out.startswith("sync: 0 node(s)")


def test_merge_shows_a_bar_per_source_then_the_verify(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    term = on_terminal("merge", tmp_path / "m", a, b)
    assert term.code == 0, term.screen
    assert "merging a" in term.screen and "merging b" in term.screen and "verifying m" in term.screen
    assert term.screen.index("merging a") < term.screen.index("merging b") < term.screen.index("verifying m")
    assert "m: 451 nodes" in term.out and "ok: 451 nodes" in term.out
    assert "\r" not in term.out


def test_replicate_keeps_stdout_for_the_protocol(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    term = on_terminal(
        "pipe", f"{sys.executable} -m hyperframe replicate {a}", f"{sys.executable} -m hyperframe replicate {b}"
    )
    assert term.code == 0, term.screen
    assert len(hyperframe.open(a)) == len(hyperframe.open(b)) == 451  # the bytes on stdout were only protocol
    assert "syncing a" in term.screen and "syncing b" in term.screen  # both ends' stderr is the terminal
    assert "hyperframe: " in term.screen and term.out == ""
    quiet = on_terminal(
        "pipe", f"{sys.executable} -m hyperframe replicate -q {a}", f"{sys.executable} -m hyperframe replicate -q {b}"
    )
    assert quiet.code == 0 and "syncing" not in quiet.screen and quiet.screen.count("hyperframe: ") == 2


@pytest.mark.parametrize(
    ("command", "label"), [("verify", "verifying a"), ("compact", "compacting a"), ("repair", "repairing a")]
)
def test_maintenance_commands_show_a_bar(tmp_path: Path, run_process: RunCli, command: str, label: str) -> None:
    a, _ = _pair(tmp_path)
    term = on_terminal(command, a)
    assert term.code == 0, term.screen
    assert label in term.screen and "\r" not in term.out
    assert on_terminal(command, a, "--quiet").screen == ""
    piped = run_process(command, a)
    assert piped.code == 0 and label not in piped.err and "\r" not in piped.err


def test_a_terminal_that_reports_no_size_still_gets_a_bar(tmp_path: Path) -> None:
    a, _ = _pair(tmp_path)
    term = on_terminal("verify", a, size=(0, 0))  # tqdm alone would draw nothing here
    assert term.code == 0 and "verifying a" in term.screen and "301/301" in term.screen


def test_errors_stay_one_line_with_a_bar_on_the_terminal(tmp_path: Path) -> None:
    term = on_terminal("verify", tmp_path / "nothing")
    assert term.code == 1
    lines = [line for line in term.screen.replace("\r", "\n").splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hyperframe: error: ")


def test_importing_the_cli_still_loads_no_heavy_package(run_python: RunCli) -> None:
    result = run_python(
        "import sys, hyperframe.cli, hyperframe.cli.progress; "
        "print(sorted(m for m in ('numpy', 'pyarrow', 'pandas', 'tqdm') if m in sys.modules))"
    )
    assert result.code == 0 and result.out.strip() == "[]", result.err
