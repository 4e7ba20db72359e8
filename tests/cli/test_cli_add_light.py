"""`hyperframe add` from the shell loads only what an add needs (issue 13: its wall time is
measured against `python -c "import pyarrow.parquet"`)."""

from __future__ import annotations

from pathlib import Path

from helpers import RunCli

#: modules an add never uses: progress bars, CSV output, the whole-batch JSON encoder,
#: Arrow's compute kernels (~0.1 s to import)
NOT_FOR_AN_ADD = ("hyperframe.progress", "tqdm", "csv", "hyperframe._json_batch", "pyarrow.compute")

CODE = """
import contextlib, io, sys
from hyperframe.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    for argv in ({argv!r}, {again!r}):
        assert main(list(argv)) == 0, argv
print(",".join(m for m in {unwanted!r} if m in sys.modules))
"""


def test_add_loads_nothing_it_does_not_use(run_python: RunCli, tmp_path: Path) -> None:
    for encoding in ("utf-8", "json"):
        log = str(tmp_path / f"{encoding}.db")
        first = ("add", log, '"hello"') if encoding == "json" else ("add", log, "hello")
        if encoding == "json":
            assert (
                run_python(f"from hyperframe.cli import main; main(['init', {log!r}, '--encoding', 'json'])").code == 0
            )
        again = (*first[:2], '{"n": 1.0}' if encoding == "json" else "world")
        result = run_python(CODE.format(argv=first, again=again, unwanted=NOT_FOR_AN_ADD))
        assert result.code == 0, result.err
        assert result.out.strip() == "", f"{encoding}: {result.out}"
