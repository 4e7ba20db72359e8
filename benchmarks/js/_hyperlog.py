"""Install and run the JavaScript hyperlog baseline used by our benchmarks.

hyperlog (and its npm dependencies) is installed into a cache folder, never
into the repository: ``~/.cache/hyperframe-bench/js`` or the folder named by
``$HYPERFRAME_BENCH_CACHE``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess

HERE = pathlib.Path(__file__).resolve().parent
HYPERLOG_VERSION = "4.12.1"
_STAMP = ".hf-package-json.sha256"


def cache_dir() -> pathlib.Path:
    env = os.environ.get("HYPERFRAME_BENCH_CACHE")
    if env:
        return pathlib.Path(env).expanduser()
    return pathlib.Path.home() / ".cache" / "hyperframe-bench" / "js"


def _installed_version(folder: pathlib.Path, pkg: str) -> str | None:
    try:
        meta = json.loads((folder / "node_modules" / pkg / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return meta.get("version")


def ensure_hyperlog() -> pathlib.Path:
    """Copy package.json and the .js scripts into the cache folder, run
    ``npm install`` there once, and return the folder."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found on PATH; the hyperlog baseline needs Node.js and npm")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    pkg_src = HERE / "package.json"
    shutil.copyfile(pkg_src, folder / "package.json")
    for script in HERE.glob("*.js"):
        shutil.copyfile(script, folder / script.name)

    digest = hashlib.sha256(pkg_src.read_bytes()).hexdigest()
    stamp = folder / _STAMP
    up_to_date = (
        _installed_version(folder, "hyperlog") == HYPERLOG_VERSION
        and stamp.exists()
        and stamp.read_text().strip() == digest
    )
    if not up_to_date:
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"npm install failed in {folder} (exit {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        got = _installed_version(folder, "hyperlog")
        if got != HYPERLOG_VERSION:
            raise RuntimeError(f"npm install left hyperlog {got!r} in {folder}, wanted {HYPERLOG_VERSION}")
        stamp.write_text(digest + "\n")
    return folder


def run_node(script: str, *args: str, timeout: float) -> dict:
    """Run ``node <cache>/<script> args...`` with cwd=<cache> and return the
    JSON object printed on the last line of stdout."""
    folder = ensure_hyperlog()
    cmd = ["node", str(folder / script), *map(str, args)]
    try:
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{' '.join(cmd)} timed out after {timeout} s") from exc
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            result = None
    if proc.returncode != 0 or not isinstance(result, dict):
        raise RuntimeError(
            f"{' '.join(cmd)} failed (exit {proc.returncode}); last stdout line: "
            f"{lines[-1] if lines else '<none>'!r}\nstderr:\n{proc.stderr[-4000:]}"
        )
    return result
