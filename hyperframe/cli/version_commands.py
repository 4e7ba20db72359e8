"""Commands about a log's versions: history and vacuum."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .duration import DURATION
from .log_commands import existing, log_dir
from .output import format_option

__all__ = ["COMMANDS"]


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) if seconds else "-"


@click.command()
@log_dir
@format_option(("table", "jsonl"))
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many versions.")
def history(directory: Path, fmt: str | None, limit: int | None) -> None:
    """List the versions of DIRECTORY kept on disk, newest first.

    Each line: version, time (UTC), operation, nodes, heads and segments. Open any of
    them with `hyperframe list DIR --version N` (or `hyperframe.open(DIR, version=N)`).

    Examples:

    \b
        hyperframe history log.db
        hyperframe history log.db --format jsonl | jq .operation
    """
    import json

    from .output import default_format

    versions = existing(directory).history(limit)
    out = sys.stdout
    if (fmt or default_format()) == "jsonl":
        for entry in versions:
            out.write(json.dumps(entry) + "\n")
        return
    out.write(f"{'version':>7}  {'time (UTC)':<19}  {'operation':<13}  {'nodes':>9}  {'heads':>5}  segments\n")
    for entry in versions:
        out.write(
            f"{entry['version']:>7}  {_when(entry['time']):<19}  {entry['operation'] or '-':<13}  "
            f"{entry['nodes']:>9}  {len(entry['heads']):>5}  {entry['segments']}\n"
        )


@click.command()
@log_dir
@click.option(
    "--retain",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Keep versions replaced less than this long ago (0, 12h, 7d ...) [default: the log's retention, 7d].",
)
def vacuum(directory: Path, retain: float | None) -> None:
    """Delete old versions of DIRECTORY and the files only they need.

    A version stays (readable with `--version`, and for readers and replications that
    started on it) until a newer one is older than the retention; the current version
    always stays. Leftovers of interrupted writes go too.

    Examples:

    \b
        hyperframe vacuum log.db
        hyperframe vacuum log.db --retain 0      # keep only the current version
    """
    gone = existing(directory).vacuum(retain_seconds=retain)
    versions = sum(1 for p in gone if p.endswith(".json"))
    click.echo(f"vacuumed {directory}: removed {versions} version(s) and {len(gone) - versions} file(s)")


COMMANDS = [history, vacuum]
