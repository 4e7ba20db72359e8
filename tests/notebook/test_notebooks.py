"""Execute the notebooks in notebooks/ and check what they produce, not only that they ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import disk_state

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
pytest.importorskip("ipywidgets")

pytestmark = [pytest.mark.notebook, pytest.mark.slow]  # each starts a kernel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
HELLO = "8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602"
WORLD = "5f5e63be98841981a12b6041e4200677851714ec4305d13a3ee30197439ff193"


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


@pytest.fixture(autouse=True)
def inline_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the kernel pick its inline backend (CI exports MPLBACKEND=Agg for other tests),
    so figures come out as images, as they do for a user in Jupyter."""
    monkeypatch.delenv("MPLBACKEND", raising=False)


def run(name: str) -> Ran:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    before = _tree(ROOT / "data"), _tree(NOTEBOOKS)
    client.execute()
    assert (_tree(ROOT / "data"), _tree(NOTEBOOKS)) == before, "a notebook wrote into the repository"
    ran = Ran(nb)
    for cell in ran.cells:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
        for out in cell.outputs:
            assert "Traceback" not in out.get("text", ""), out.get("text")
    return ran


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


def test_merge() -> None:
    nb = run("merge.ipynb")
    assert "272 and 257 nodes" in nb.text("copy")
    diff = nb.text("diff")
    assert "has 144 node(s)" in diff and "has 129 node(s)" in diff and "128 shared" in diff
    assert "hyperframe.Diff" in diff  # the rich display
    assert "image/png" in nb.mimes("plot-diff")
    assert "application/vnd.jupyter.widget-view+json" in nb.mimes("widget")
    click = nb.text("click")
    assert "sync: 144 node(s) A→B, 129 B→A" in click and "A has 401, B has 401" in click
    assert "error: None" in click
    merged = nb.text("merged")
    assert "401 401 nodes; identical: True ; heads: 2" in merged
    assert "dream     66    50    60" in merged and "biscoe    44    64    60" in merged
    assert "272 nodes in" in nb.text("untouched")
