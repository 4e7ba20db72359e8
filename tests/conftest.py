"""Shared fixtures: fresh log paths, the CLI run in-process or as a real process, disk snapshots."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import hyperframe
from hyperframe.cli import main


@dataclass
class Result:
    """What a command did: its exit status and what it printed."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def is_one_line_error(self) -> bool:
        """Failed, and said so in one ``hyperframe: error:`` line on stderr, no traceback."""
        return (
            self.code != 0
            and "Traceback" not in self.err
            and self.err.startswith("hyperframe: error: ")
            and self.err.count("\n") == 1
        )


RunCli = Callable[..., Result]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    """A path where no log exists yet."""
    return tmp_path / "log.db"


@pytest.fixture
def log(log_path: Path) -> hyperframe.Log:
    """A fresh UTF-8 log (nothing on disk until the first write)."""
    return hyperframe.open(log_path)


@pytest.fixture
def json_log(tmp_path: Path) -> hyperframe.Log:
    """A fresh JSON log."""
    return hyperframe.open(tmp_path / "json.db", encoding="json")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Run ``hyperframe ARGS...`` in this process through ``hyperframe.cli.main``.

    ``stdin=b"..."`` feeds standard input.
    """

    def run(*args: object, stdin: bytes | None = None) -> Result:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        capsys.readouterr()
        code = main([os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def _process(argv: list[str], stdin: bytes | None) -> Result:
    proc = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=120, check=False)
    return Result(proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8"))


@pytest.fixture
def run_process() -> RunCli:
    """Run ``python -m hyperframe ARGS...`` as a real process (exit status, no traceback)."""

    def run(*args: object, stdin: bytes | None = None) -> Result:
        return _process([sys.executable, "-m", "hyperframe", *map(str, args)], stdin)

    return run


@pytest.fixture
def run_python() -> RunCli:
    """Run a Python snippet in a fresh interpreter: ``run_python(code, *argv)``."""

    def run(code: str, *args: object, stdin: bytes | None = None) -> Result:
        return _process([sys.executable, "-c", code, *map(str, args)], stdin)

    return run


def disk_state(path: Path) -> dict[str, str]:
    """Every file under ``path`` (relative name -> sha256 of its bytes); {} if ``path`` is absent."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, str]]:
    """``snapshot(path)``: the files of a directory and their contents' hashes."""
    return disk_state
