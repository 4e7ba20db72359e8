"""What the tests import (the fixtures are in conftest.py): the CLI's result type and disk snapshots."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path


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


#: the ``run`` / ``run_process`` / ``run_python`` fixtures
RunCli = Callable[..., Result]
#: the ``snapshot`` fixture: ``disk_state``
Snapshot = Callable[..., dict[str, str]]


def disk_state(path: Path, *, ignore: Collection[str] = ()) -> dict[str, str]:
    """Every file under ``path`` (relative name -> sha256 of its bytes); {} if ``path`` is absent.

    ``ignore``: names of files or folders to leave out wherever they are (``__pycache__``).
    """
    if not path.exists():
        return {}
    skip = set(ignore)
    state = {}
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not skip.intersection(rel.parts):
            state[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return state
