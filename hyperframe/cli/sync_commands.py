"""Commands that move nodes between logs: sync, replicate, pipe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import NotALogError
from .progress import progress_bar, quiet_option, replication_bar
from .signing_commands import trust_option, trusted

if TYPE_CHECKING:
    from ..sync.modes import Mode

    _StrChoice = click.Choice[str]
else:  # click.Choice is generic only from click 8.4 on
    _StrChoice = click.Choice


class ModeChoice(_StrChoice):
    """``click.Choice`` over :data:`hyperframe.sync.modes.MODES`, read when first needed.

    Importing anything under ``hyperframe.sync`` runs the package's ``__init__``, which
    loads numpy, and ``import hyperframe.cli`` must stay light; so the modes are looked
    up when ``--help`` or parsing asks for them, not when this module is imported.
    """

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from ..sync.modes import MODES

        return MODES

    @choices.setter
    def choices(self, value: object) -> None:
        pass  # click.Choice.__init__ assigns the (empty) choices; MODES is the only source


#: what a replication bar says it is doing, by mode
VERBS: dict[str, str] = {"sync": "syncing", "push": "pushing", "pull": "pulling"}

mode_option = click.option(
    "--mode",
    type=ModeChoice(),
    default="sync",
    show_default=True,
    help="sync: both ways; push: only send; pull: only receive.",
)
_timeout = click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Give up when the peer is silent for this many seconds.",
)
_deadline = click.option(
    "--deadline",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Give up when the whole session takes longer than this many seconds [default: 60 x --timeout].",
)


def timeout_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--timeout`` (the peer's silence) and ``--deadline`` (the whole session)."""
    return _timeout(_deadline(command))


@click.command()
@click.argument("dir_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("dir_b", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only say what each side lacks; change nothing.")
@click.option("--push", "direction", flag_value="push", help="Only copy A's nodes into B.")
@click.option("--pull", "direction", flag_value="pull", help="Only copy B's nodes into A.")
@timeout_option
@quiet_option
def sync(
    dir_a: Path,
    dir_b: Path,
    dry_run: bool,
    direction: Mode | None,
    timeout: float,
    deadline: float | None,
    quiet: bool,
) -> None:
    """Replicate two log directories: afterwards both hold the union.

    Examples:

    \b
        hyperframe sync log.db log2.db
        hyperframe sync field-laptop/ lab/ --push      # only A -> B
        hyperframe sync a/ b/ --dry-run
    """
    from ..log import Log
    from ..sync import diff, replicate

    a, b = Log(dir_a), Log(dir_b)
    if a.manifest is None and b.manifest is None:
        raise NotALogError(f"neither {dir_a} nor {dir_b} holds a log; nothing to sync", path=dir_a)
    if dry_run:
        click.echo(diff(a, b).summary())
        return
    mode: Mode = direction or "sync"
    with replication_bar(quiet, VERBS[mode]) as progress:
        report = replicate(a, b, mode=mode, timeout=timeout, deadline=deadline, progress=progress)
    click.echo(report.summary())


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@mode_option
@timeout_option
@quiet_option
@click.option("--live", is_flag=True, help="After the sync, keep sending what either side commits (until a side ends).")
@trust_option
@click.option(
    "--protocol",
    type=click.Choice(["hyperframe", "hyperlog"]),
    default="hyperframe",
    show_default=True,
    help="hyperlog: speak JavaScript hyperlog 4.12.1's protocol (the other end pipes log.replicate()).",
)
@click.option(
    "--encoding",
    default="json",
    show_default=True,
    help="With --protocol hyperlog: the encoding of a log created by this replication "
    "(json, like hyperlog's valueEncoding 'json', the common case).",
)
def replicate(
    directory: Path,
    mode: Mode,
    timeout: float,
    deadline: float | None,
    quiet: bool,
    live: bool,
    trust_file: Path | None,
    protocol: str,
    encoding: str,
) -> None:
    """Speak the replication protocol on stdin/stdout for the log in DIRECTORY.

    The same command runs on both ends; wire them with any byte stream (pipe, ssh,
    socat, nc, dupsh). Only protocol bytes go to stdout; a one-line summary goes to
    stderr.

    Examples:

    \b
        hyperframe pipe 'hyperframe replicate log.db' 'hyperframe replicate log2.db'
        hyperframe pipe 'hyperframe replicate log.db --mode push' 'ssh host hyperframe replicate data/log'
        hyperframe pipe 'hyperframe replicate a.db --live' 'hyperframe replicate b.db --live'
        hyperframe pipe 'ssh field hyperframe replicate log.db' 'hyperframe replicate lab.db --trust team.trust'
        hyperframe pipe 'node rep.js log.db' 'hyperframe replicate log2.db --protocol hyperlog'
    """
    from ..log import Log
    from ..sync.transport import run_stdio, stdio

    if protocol == "hyperlog":
        from ..hyperlog import peer

        reader, writer = stdio()
        log = Log(directory, verify=trusted(trust_file))
        log.replica().adopt_encoding(encoding)  # the encoding of a log this replication creates
        done = peer.run(log, reader, writer, mode=mode, live=live, timeout=timeout, deadline=deadline)
        click.echo(f"hyperframe: {done.summary()}", err=True)
        return
    with replication_bar(quiet, f"{VERBS[mode]} {directory.name}") as progress:
        report = run_stdio(
            Log(directory, verify=trusted(trust_file)).replica(),
            mode=mode,
            timeout=timeout,
            deadline=deadline,
            progress=progress,
            live=live,
        )
    click.echo(f"hyperframe: {report.summary()}", err=True)


@click.command()
@click.argument("first")
@click.argument("second")
def pipe(first: str, second: str) -> None:
    """Run two commands with each one's stdout wired into the other's stdin.

    Exits 0 only when both commands succeed (what `dupsh` does).

    Example:

    \b
        hyperframe pipe 'hyperframe replicate log.db' 'hyperframe replicate log2.db'
    """
    from ..sync.transport import wire

    status = wire(first, second)
    if any(status):
        raise click.ClickException(f"the commands exited with {status[0]} and {status[1]}")


@click.command()
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.argument("sources", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@timeout_option
@quiet_option
def merge(target: Path, sources: tuple[Path, ...], timeout: float, deadline: float | None, quiet: bool) -> None:
    """Copy every node of SOURCES into TARGET (created if new); sources are not changed.

    Example:

    \b
        hyperframe merge merged.db data/biscoe-team data/dream-team
    """
    from ..log import Log
    from ..sync import replicate
    from ..verify import verify_log

    out = Log(target)
    for source in sources:
        src = Log(source, read_only=True)
        if src.manifest is None:
            raise NotALogError(f"{source} is not a hyperframe log; give log directories to merge", path=source)
        with replication_bar(quiet, f"merging {source.name}") as progress:
            report = replicate(src, out, mode="push", timeout=timeout, deadline=deadline, progress=progress)
        click.echo(f"{source}: {report.sent_a_to_b} new node(s) -> {target} ({report.bytes_total:,} bytes)")
    facts = out.info()
    with progress_bar(quiet, f"verifying {target.name}") as progress:
        check = verify_log(target, progress=progress)
    click.echo(
        f"{target}: {facts['nodes']} nodes, {facts['heads']} head(s), {facts['segments']} segment(s); "
        + check.summary()
    )
    if not check.ok:
        raise click.exceptions.Exit(1)


@click.command("import")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.argument("source", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--encoding", default="json", show_default=True, help="The encoding of TARGET if it is created.")
def import_command(target: Path, source: Path, encoding: str) -> None:
    """Copy every node of the hyperlog LevelDB directory SOURCE into the log TARGET.

    SOURCE is only read (a copy of it is opened). Every key is re-hashed, each node keeps
    its hyperlog log id and seq, and a second import copies only what is new.

    Example:

    \b
        hyperframe import log2.db log.db
    """
    from ..hyperlog.leveldb import import_hyperlog

    added = import_hyperlog(source, target, encoding=encoding)
    click.echo(f"imported {added} new node(s) from {source} into {target}")


COMMANDS: list[click.Command] = [sync, replicate, pipe, merge, import_command]
