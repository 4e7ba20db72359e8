"""Shared fixtures: fresh log paths, the CLI run in-process or as a real process, disk snapshots.

The folders mirror the package (store/, sync/, notebook/, cli/, reliability/; core/ for the
top-level modules). What tests import is in helpers.py; sync/sync_helpers.py has the
replication tests' own. Tests over ~2 s are marked ``slow``: ``pytest -m "not slow"`` is
the quick loop, plain ``pytest`` (CI) runs everything.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Result, RunCli, Snapshot, disk_state

import hyperframe
from hyperframe.cli import main


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
    # `replicate` writes protocol bytes to stdout: what is not UTF-8 shows as U+FFFD
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


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


@pytest.fixture
def snapshot() -> Snapshot:
    """``snapshot(path, ignore=())``: the files of a directory and their contents' hashes."""
    return disk_state
