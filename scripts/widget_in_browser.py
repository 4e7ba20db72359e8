"""Try the merge widget for real: JupyterLab in headless Chromium, driven by Playwright.

    pip install jupyterlab playwright          # not in any extra: too heavy for CI
    apt-get install chromium                   # a system browser (never `playwright install`)
    python scripts/widget_in_browser.py [--out DIR] [--chromium /usr/bin/chromium]

Copies notebooks/ and data/ to a temporary directory (JupyterLab autosaves; the repository
is never written), starts JupyterLab there on 127.0.0.1, opens notebooks/merge.ipynb, runs
every cell, then uses the widget as a person would and takes a screenshot at each step:

1. ``1-waiting.png``: the widget as it opens: what each side lacks, buttons ready
   (``1b-graph.png``: its graph section opened);
2. ``2-pulled.png``: after clicking **Pull (B → A)**: the progress bar, the summary;
3. ``3-typo.png``: B's path mistyped: the diff is gone and the buttons are disabled;
4. ``4-refused.png``: **Compare** on the typo: refused, nothing created;
5. ``5-create.png``: "create B if missing" ticked and compared: what Push would create.

It prints what the widget said at each step and exits non-zero if the widget did not behave.
The kernel imports hyperframe from this checkout (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_lab(root: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("MPLBACKEND", None)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = open(root / "jupyterlab.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"JupyterLab did not answer at {url}")


def _widget_text(page: Any) -> dict[str, Any]:
    """What the merge widget shows: counts, status, summary, progress, buttons' state."""
    box = page.locator(".widget-vbox", has_text="hyperframe merge").first
    html = box.locator(".widget-html")
    texts = [t.strip() for t in html.all_inner_texts() if t.strip()]
    buttons = {
        name: box.locator("button", has_text=name).first.is_disabled() for name in ("Pull", "Push", "Sync", "Compare")
    }
    return {"texts": texts, "disabled": buttons, "b": box.locator(".widget-text input").nth(1).input_value()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("widget-screenshots"), help="where the screenshots go")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the system Chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hyperframe-lab-"))
    for name in ("notebooks", "data"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    port, token = _free_port(), secrets.token_hex(16)
    lab = _start_lab(work, port, token)
    failures: list[str] = []
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/status?token={token}")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/notebooks/merge.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            try:  # JupyterLab may ask which kernel to start: the notebook's own, python3
                page.locator(".jp-Dialog button", has_text="Select").first.click(timeout=8_000)
            except PlaywrightTimeout:
                pass
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            time.sleep(2)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
            page.screenshot(path=str(args.out / "0-after-run-all.png"))
            page.locator(".jp-Cell", has_text="w = hf.merge_widget(a, b)").first.scroll_into_view_if_needed()
            box = page.locator(".widget-vbox", has_text="hyperframe merge").first
            box.wait_for(timeout=60_000)
            time.sleep(1)

            def shot(name: str, note: str) -> dict[str, Any]:
                box.scroll_into_view_if_needed()
                time.sleep(0.5)
                box.screenshot(path=str(args.out / name))
                seen = _widget_text(page)
                print(f"--- {name}: {note}\n    B = {seen['b']}\n    disabled: {seen['disabled']}")
                for text in seen["texts"]:
                    print("    |", text.replace("\n", " ")[:200])
                return seen

            seen = shot("1-waiting.png", "the widget as it opens")
            if not any("Pull brings 129 node(s) into A" in t for t in seen["texts"]) or seen["disabled"]["Sync"]:
                failures.append("1: the widget did not open with the diff and its buttons ready")

            box.locator(
                ".lm-AccordionPanel-title, .jupyter-widget-Collapse-header, .p-Collapse-header", has_text="the graph"
            ).first.click()
            box.locator(".widget-image img, img.widget-image").first.wait_for(timeout=60_000)
            shot("1b-graph.png", "the graph section opened")

            box.locator("button", has_text="Pull").first.click()
            box.locator(".widget-html", has_text="done in").first.wait_for(timeout=120_000)
            seen = shot("2-pulled.png", "after Pull (B → A)")
            if not any("pull: 0 node(s) A→B, 129 B→A" in t for t in seen["texts"]):
                failures.append("2: Pull did not report 129 nodes B→A")

            b_input = box.locator(".widget-text input").nth(1)
            typo = seen["b"].replace("dream-team", "dream-teem")
            b_input.fill(typo)
            b_input.press("Enter")
            time.sleep(1)
            seen = shot("3-typo.png", "B mistyped, not compared yet")
            if not all(seen["disabled"][name] for name in ("Pull", "Push", "Sync")):
                failures.append("3: the actions stayed enabled for a path not compared")

            box.locator("button", has_text="Compare").first.click()
            box.locator(".widget-html", has_text="NotALogError").first.wait_for(timeout=60_000)
            seen = shot("4-refused.png", "Compare on the mistyped path")
            if Path(typo).exists() or not all(seen["disabled"][name] for name in ("Pull", "Push", "Sync")):
                failures.append("4: a mistyped B was accepted (or created)")

            box.locator(".widget-checkbox input").first.check()
            box.locator("button", has_text="Compare").first.click()
            box.locator(".widget-html", has_text="does not exist yet").first.wait_for(timeout=60_000)
            seen = shot("5-create.png", "create B if missing, then Compare")
            if seen["disabled"]["Push"] or Path(typo).exists():
                failures.append(
                    "5: with 'create B if missing' the Push button should be ready, and nothing created yet"
                )
            page.screenshot(path=str(args.out / "0-page.png"))
            browser.close()
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
        shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print("FAILED", failure, file=sys.stderr)
    print(f"screenshots in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
