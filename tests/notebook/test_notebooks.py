"""Execute the notebooks in notebooks/ and check what they produce, not only that they ran.

They run through ``scripts/run_notebooks.py`` (the script that saves their outputs), and the
outputs saved in each .ipynb must be what a fresh run prints: a notebook whose behaviour
changed must be run and saved again (``python scripts/run_notebooks.py``).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from helpers import disk_state

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")
pytest.importorskip("duckdb")

pytestmark = [pytest.mark.notebook, pytest.mark.slow]  # each starts a kernel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
HELLO = "8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602"
WORLD = "5f5e63be98841981a12b6041e4200677851714ec4305d13a3ee30197439ff193"


def _runner() -> Any:
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _runner()


def _tree(path: Path) -> dict[str, str]:
    return disk_state(path, ignore=("__pycache__", ".ipynb_checkpoints"))


class Ran:
    """An executed notebook: the outputs of each tagged cell."""

    def __init__(self, nb: Any) -> None:
        self.nb = nb
        self.cells = [c for c in nb.cells if c.cell_type == "code"]

    def cell(self, tag: str) -> Any:
        (found,) = [c for c in self.cells if tag in c.metadata.get("tags", [])]
        return found

    def text(self, tag: str) -> str:
        """Everything a cell printed or returned, as text (stdout, text/plain, text/html)."""
        parts = []
        for out in self.cell(tag).outputs:
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.data.get("text/plain", ""))
                parts.append(out.data.get("text/html", ""))
        return "\n".join(parts)

    def mimes(self, tag: str) -> set[str]:
        return {m for out in self.cell(tag).outputs if "data" in out for m in out.data}


@functools.cache
def run(name: str) -> Ran:
    """Execute notebooks/NAME once per test session, as scripts/run_notebooks.py does."""
    before = _tree(ROOT / "data"), _tree(NOTEBOOKS)
    nb = runner.execute(NOTEBOOKS / name)
    assert (_tree(ROOT / "data"), _tree(NOTEBOOKS)) == before, "a notebook wrote into the repository"
    ran = Ran(nb)
    for cell in ran.cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
        for out in cell.outputs:
            assert "Traceback" not in out.get("text", ""), out.get("text")
    return ran


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_saved_outputs_are_what_the_notebook_prints(name: str) -> None:
    saved = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{name} was saved with cells not run (or without outputs)"
    assert sum(bool(c.get("outputs")) for c in code) > len(code) // 2, f"{name} was saved without its outputs"
    problems = runner.differences(saved, run(name).nb)
    assert not problems, f"{name}: run `python scripts/run_notebooks.py {name}` and commit it:\n" + "\n".join(problems)


def test_quickstart() -> None:
    nb = run("quickstart.ipynb")
    assert f"hello: {HELLO}" in nb.text("keys")
    assert f"world: {WORLD} links ['8c7efb224725']" in nb.text("keys")
    refused = nb.text("refused")
    assert f"refused: link {WORLD} is not in" in refused and "Nothing was written." in refused
    assert "3 nodes in log2" in refused
    synced = nb.text("sync")
    assert "sync: 2 node(s) A→B, 3 B→A" in synced
    assert "log1: 5 nodes, log2: 5 nodes, same heads: True" in synced
    listing = nb.text("listing")
    assert "pull: 0 node(s) A→B, 1 B→A" in listing
    assert "6 d12de7263f29 'hi from log2' -> ['5f5e63be9884']" in listing
    assert "text/html" in nb.mimes("display") and "<th>nodes</th><td>6</td>" in nb.text("display")
    frame = nb.text("frame")
    assert "<td>hi from log2</td>" in frame and "<th>is_head</th>" in frame and "<th>depth</th>" in frame
    records = nb.text("records")
    assert "5 nodes, one head: True" in records and "'species': 'Adelie'" in records
    assert "<th>species</th>" in records and "<td>Chinstrap</td>" in records and "<th>body_mass_g</th>" in records
    duck = nb.text("duckdb")
    assert "│ Gentoo    │     2 │ 4925.0 │" in duck
    assert '{"sample":"N3A1","species":"Chinstrap","island":"Dream","body_mass_g":3500}' in duck


def test_explore() -> None:
    nb = run("explore.ipynb")
    assert "hyperframe.Log" in nb.text("open") and "272 nodes" in nb.text("open")
    assert "(272, 22)" in nb.text("frame")
    types = nb.text("types")
    assert "observation    234" in types and "day             31" in types
    assert "401 nodes, 344 observations" in nb.text("both")
    flippers = nb.text("flippers")
    expected = ("biscoe  Adelie       188.8", "Gentoo       217.2", "dream   Adelie       190.4", "Chinstrap    195.8")
    for line in expected:
        assert line in flippers
    pivot = nb.text("pivot")
    assert "Biscoe       44    64    60" in pivot and "Torgersen    20    16    16" in pivot
    for tag in ("plot", "plot-both"):
        assert "image/png" in nb.mimes(tag)
    assert "206 nodes in the history of" in nb.text("branch")
    assert "144 nodes after the 2007 close in biscoe-team" in nb.text("descendants")
    assert "272 rows; 272 rows in 1 segment file(s)" in nb.text("arrow")
    duck = nb.text("duckdb")
    assert "│   272 │   272 │" in duck  # the files count every node once
    assert "│ Gentoo    │   124 │ 5076.0 │" in duck


def test_merge() -> None:
    nb = run("merge.ipynb")
    assert "272 and 257 nodes" in nb.text("copy")
    tags = [c.metadata.get("tags", [""])[0] for c in nb.cells]
    assert tags.index("diff") < tags.index("widget")  # what each side lacks comes first
    diff = nb.text("diff")
    assert "has 144 node(s)" in diff and "has 129 node(s)" in diff and "128 shared" in diff
    assert "hyperframe.Diff" in diff  # the rich display
    assert "image/png" in nb.mimes("plot-diff")
    assert "application/vnd.jupyter.widget-view+json" in nb.mimes("widget")
    assert not any(".click()" in c.source or "replicate(a, b" in c.source for c in nb.cells)  # nobody clicks for you
    state = nb.nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    shown = [m["state"].get("value", "") for m in state.values() if m.get("model_name") == "HTMLModel"]
    assert any("<b>Pull</b> brings <b>129</b> node(s) into A" in v for v in shown)  # saved as it waits
    merged = nb.text("merge-code")
    assert "push: 272 node(s) A→B" in merged and "push: 129 node(s) A→B" in merged
    assert "401 nodes in merged; the teams' logs: 272 and 257" in merged
    heads = nb.text("heads")
    assert "2 heads" in heads and heads.count("<td>close</td>") == 2
    assert "<td>biscoe</td>" in heads and "<td>dream</td>" in heads
    joined = nb.text("append")
    assert "1 head, the new node: True" in joined and "402 of 402 nodes are in its history" in joined
    table = nb.text("merged")
    assert "dream     66    50    60" in table and "biscoe    44    64    60" in table
    assert "image/png" in nb.mimes("plot-merged")
    cli = nb.text("cli")
    assert "biscoe-team: 272 new node(s) -> cli-merged.db" in cli and "dream-team: 129 new node(s)" in cli
    assert "cli-merged.db: 401 nodes, 2 head(s)" in cli and "ok: 401 nodes" in cli and "%|" not in cli  # --quiet
    assert "272 nodes in data/biscoe-team" in " ".join(nb.text("untouched").split())
