"""The benchmark suite runs end to end at smoke size and prints its ratio lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: every line the quick run must print (name prefixes; sizes are part of some names)
EXPECTED = [
    "batch_add_5k_vs_hyperlog:",
    "batch_add_5k_vs_floor:",
    "open_heads_20_000_fresh_process:",
    "open_heads_20_000_peak_memory:",
    "cli_add_one_node:",
    "cli_import_weight:",
    "clone_5k_vs_hyperlog:",
    "clone_20_000_vs_file_copy:",
    "diff_20_000_plus_1pct_cloned:",
    "diff_20_000_identical:",
    "diff_20_000_plus_1pct_compacted:",
    "diff_20_000_plus_1pct_recut:",
    "diff_bytes_per_missing_node:",
]


@pytest.mark.slow
def test_quick_benchmark_runs_and_prints_ratios(tmp_path: Path) -> None:
    proc = subprocess.run(  # noqa: PLW1510 (the status is asserted below)
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--no-js",
            "--workdir",
            str(tmp_path),
            "--results",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    for name in EXPECTED:
        found = [line for line in lines if line.startswith(name)]
        assert found, f"no line starting {name!r} in:\n{proc.stdout}"
        assert " ratio " in found[0] and "(target " in found[0], found[0]
    assert "ERROR" not in proc.stdout
    # the correctness targets hold even at smoke size
    for name in ("cli_import_weight:", "diff_20_000_identical:"):
        line = next(line for line in lines if line.startswith(name))
        assert line.endswith(" OK"), line
