"""The public surface: `hyperframe.__all__` is exactly what the package offers, and user
code calling it type-checks under `mypy --strict` (lazy names included)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import hyperframe


def _public_names() -> set[str]:
    names = {
        name
        for name, value in vars(hyperframe).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in ("TYPE_CHECKING", "annotations")
    }
    return names | set(hyperframe._LAZY) | {"__version__"}


def test_all_is_exactly_the_public_names() -> None:
    assert sorted(hyperframe.__all__) == sorted(_public_names())
    assert len(set(hyperframe.__all__)) == len(hyperframe.__all__)


@pytest.mark.parametrize("name", hyperframe.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(hyperframe, name) is not None


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        hyperframe.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_lazy_names_are_listed_by_dir() -> None:
    assert {"replicate", "diff", "merge_widget"} <= set(dir(hyperframe))


USER_CODE = """
import hyperframe

a = hyperframe.open("a.db", encoding="json")
node: hyperframe.Node = a.add({"msg": "hello"})
a.add({"msg": "reply"}, links=node)
report: hyperframe.ReplicationReport = hyperframe.replicate(a, "b.db", mode="push", timeout=5.0)
line: str = report.summary()
d: hyperframe.Diff = hyperframe.diff(a, "b.db")
lacking: list[str] = d.only_in_b
widget = hyperframe.merge_widget("a.db", "b.db", plot=False)
widget.run("sync")
count: int = a.to_arrow(since=1).num_rows + len(a.to_pandas(expand=False))
state: hyperframe.Snapshot = a.snapshot(["key"])
try:
    a.get("00")
except hyperframe.NodeNotFoundError as exc:
    print(exc.key)
"""


@pytest.mark.slow
def test_user_code_calling_the_api_passes_mypy_strict(tmp_path: Path) -> None:
    user = tmp_path / "user_code.py"
    user.write_text(textwrap.dedent(USER_CODE))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(user),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_importing_the_log_loads_no_notebook_module() -> None:
    code = "import sys, hyperframe.log; print([m for m in sys.modules if 'notebook' in m])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
