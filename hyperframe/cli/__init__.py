"""The ``hyperframe`` command line.

Every command's docstring is its ``--help``. Errors print one line to stderr and exit
non-zero; nothing prints a traceback.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from .._optional import DISTRIBUTION
from ..errors import HyperframeError
from . import log_commands, signing_commands, sync_commands, version_commands

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name=DISTRIBUTION, message=f"%(prog)s %(version)s ({DISTRIBUTION})")
def cli() -> None:
    """hyperframe: an append-only Merkle DAG log on Parquet, with replication.

    \b
    hyperframe add log.db hello                 # prints the new key
    hyperframe add log.db world --link <key>
    hyperframe list log.db --format table
    hyperframe sync log.db log2.db              # both end up with the union
    """


for command in (
    *log_commands.COMMANDS,
    *version_commands.COMMANDS,
    *sync_commands.COMMANDS,
    *signing_commands.COMMANDS,
):
    cli.add_command(command)


_NO_ARGS_IS_HELP: tuple[type[click.UsageError], ...] = tuple(
    getattr(click.exceptions, name) for name in ("NoArgsIsHelpError",) if hasattr(click.exceptions, name)
)


def fail(message: str, code: int = 1) -> int:
    """Print one error line to stderr and return the exit status."""
    message = " ".join(str(message).split())  # always one line
    click.echo(f"hyperframe: error: {message}", err=True)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and, as a script, exit with) its status."""
    try:
        status = cli.main(args=argv, prog_name="hyperframe", standalone_mode=False)
        if isinstance(status, int):  # a command's click.exceptions.Exit(code)
            return status
    except _NO_ARGS_IS_HELP as exc:  # bare `hyperframe`: show the help, not an error
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        return 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        hint = ""
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            hint = f" (see `{ctx.command_path} --help`)"
        return fail(exc.format_message() + hint, exc.exit_code)
    except click.exceptions.Abort:
        return fail("aborted", 130)
    except HyperframeError as exc:
        return fail(str(exc))
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`): not an error
        return 0
    except KeyboardInterrupt:
        return fail("interrupted; anything not committed was left out", 130)
    except OSError as exc:
        return fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    return 0


def entry() -> None:  # pragma: no cover - console script shim
    """The console script: run, flush, and leave without interpreter teardown.

    Every write is durable before a command returns, and pyarrow's thread pools can abort
    a process during teardown (apache/arrow#34314), turning a finished command into exit
    status -6; ``os._exit`` after flushing avoids that.
    """
    import os

    status = main()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        pass
    try:
        sys.stderr.flush()
    except ValueError:
        pass
    os._exit(status)
