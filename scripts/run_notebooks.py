"""Execute the notebooks in notebooks/ the way CI does, and write their outputs into them.

    python scripts/run_notebooks.py               # run every notebook, save its outputs in the .ipynb
    python scripts/run_notebooks.py merge         # only notebooks/merge.ipynb
    python scripts/run_notebooks.py --check       # run, compare with the saved outputs, change nothing

The notebooks are committed with their outputs, so they can be read without running them.
``tests/notebook/test_notebooks.py`` executes them with :func:`execute` from this file and
checks that what they print now is what is saved (:func:`text_outputs`, which sets aside
what changes from run to run: temporary paths, timings, byte counts, object ids). After
changing a notebook, or what a notebook shows, run this script and commit the result.

Needs the ``notebook`` and ``test`` extras (nbclient, ipykernel).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TIMEOUT = 300  # seconds per cell

#: what differs between two honest runs, and what stands for it when outputs are compared
VOLATILE = [
    (re.compile(r"(?:/private)?/(?:tmp|var/folders)/[^\s'\"<>)]*?hyperframe-[a-z]+-[A-Za-z0-9_]+"), "<tmp>"),
    (re.compile(re.escape(str(ROOT))), "<repo>"),
    # a checkout elsewhere (saved in one clone, checked in another): any absolute path to data/
    (re.compile(r"(?:/[\w.\-]+)+(?=/(?:data|notebooks)/)"), "<repo>"),
    (re.compile(r"\b\d+(?:\.\d+)? s\b"), "<t> s"),
    (re.compile(r"\[\d\d:\d\d(?:<[^\]]*)?\]"), "[<t>]"),
    (re.compile(r"\b[\d,]+ bytes\b"), "<n> bytes"),
    (re.compile(r"\b\d+ B (out|in)\b"), r"<n> B \1"),
    (re.compile(r"\b\d+ round trip\(s\)"), "<n> round trip(s)"),
    (re.compile(r"\b0x[0-9a-f]{6,}\b"), "0x…"),
]


def execute(path: Path, *, timeout: int = TIMEOUT) -> Any:
    """Run every cell of the notebook at ``path`` in a fresh kernel; return the notebook with
    its new outputs (nothing is written). The kernel runs in notebooks/, with this Python's
    ``bin`` first on PATH (so ``!hyperframe ...`` cells find the command) and without
    ``MPLBACKEND`` (figures come out as images, as they do for a user in Jupyter)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("PYTHONHASHSEED", "0")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    client.execute(env=env)
    return nb


def normalize(text: str) -> str:
    """``text`` with what changes from run to run replaced by placeholders."""
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def text_outputs(nb: Any) -> list[tuple[str, str, list[str]]]:
    """Per code cell: its name (first tag, else its index), its printed text and plain-text
    results (normalized), and the kinds of rich output it made (``image/png``, widgets...)."""
    cells = []
    for index, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        texts, kinds = [], set()
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                texts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                texts.append(out.data.get("text/plain", ""))
                kinds.update(m for m in out.data if m != "text/plain")
            elif out.output_type == "error":
                texts.append(f"{out.ename}: {out.evalue}")
        tags = cell.metadata.get("tags", [])
        cells.append((tags[0] if tags else str(index), normalize("".join(texts)), sorted(kinds)))
    return cells


def differences(saved: Any, fresh: Any) -> list[str]:
    """Where the saved outputs of a notebook differ from a fresh run (empty: none)."""
    problems = []
    old, new = text_outputs(saved), text_outputs(fresh)
    if [name for name, _, _ in old] != [name for name, _, _ in new]:
        return ["the cells differ: save the notebook's outputs again"]
    for (name, old_text, old_kinds), (_, new_text, new_kinds) in zip(old, new):
        if old_text != new_text:
            problems.append(f"cell {name}: saved\n{old_text}\nnow\n{new_text}")
        if old_kinds != new_kinds:
            problems.append(f"cell {name}: saved {old_kinds}, now {new_kinds}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names (default: all of notebooks/)")
    parser.add_argument("--check", action="store_true", help="compare with the saved outputs; write nothing")
    args = parser.parse_args(argv)
    import nbformat

    paths = [NOTEBOOKS / f"{n.removesuffix('.ipynb')}.ipynb" for n in args.names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    status = 0
    from nbclient.exceptions import CellExecutionError

    for path in paths:
        try:
            fresh = execute(path)
        except CellExecutionError as exc:
            print(f"{path.name}: a cell failed: {exc.ename}: {exc.evalue}", file=sys.stderr)
            status = 1
            continue
        if args.check:
            problems = differences(nbformat.read(path, as_version=4), fresh)
            print(f"{path.name}: " + ("outputs as saved" if not problems else "\n".join(problems)))
            status = status or int(bool(problems))
        else:
            nbformat.write(fresh, path)
            print(f"{path.name}: executed, outputs saved")
    return status


if __name__ == "__main__":
    sys.exit(main())
