"""Commands that read or write one log: init, add, append, list, heads, get, info, verify, compact, repair, graph."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..encodings import ENCODINGS
from ..errors import EncodingError, NodeNotFoundError, NotALogError, UnknownLinkError
from ..log import Log
from ..log import open as open_log
from .duration import DURATION
from .output import FACT_FORMATS, default_format, format_option, json_alias_option, write_facts, write_nodes
from .progress import progress_bar, quiet_option
from .signing_commands import sign_option, trust_option, trusted

log_dir = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


def existing(directory: Path, version: int | None = None) -> Log:
    """Open a log that must exist already (reading commands), at ``version`` if given."""
    log = open_log(directory, version=version) if version is not None else open_log(directory)
    if log.manifest is None:
        raise NotALogError(
            f"there is no log at {directory}; create one with `hyperframe add {directory} VALUE` "
            f"or `hyperframe init {directory}`",
            path=directory,
        )
    return log


def read_value(log: Log, text: str) -> object:
    """Turn a command-line VALUE (``-`` for stdin) into a value for this log's encoding."""
    if text == "-":
        raw = sys.stdin.buffer.read()
        if log.encoding.name == "binary":
            return raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError(
                f"standard input is not UTF-8 text, and {log.path} stores {log.encoding.name} values; "
                "use a log created with --encoding binary for raw bytes"
            ) from None
        return log.encoding.parse_text(text[:-1] if text.endswith("\n") else text)  # `echo x |` adds one
    return log.encoding.parse_text(text)


@click.command()
@log_dir
@click.option(
    "--encoding",
    type=click.Choice(tuple(ENCODINGS)),
    default="utf-8",
    show_default=True,
    help="How values are encoded; fixed for the life of the log.",
)
def init(directory: Path, encoding: str) -> None:
    """Create an empty log in DIRECTORY.

    Example:

    \b
        hyperframe init notes.db --encoding json
    """
    from ..log import Log

    log = Log.create(directory, encoding=encoding)
    click.echo(f"initialized {directory} ({log.encoding.name})", err=True)


@click.command()
@log_dir
@click.argument("value")
@click.option("--link", "-l", "links", multiple=True, metavar="KEY", help="Key of a node this one links (repeatable).")
@sign_option
def add(directory: Path, value: str, links: tuple[str, ...], key_file: Path | None) -> None:
    """Add VALUE to the log in DIRECTORY and print its key.

    VALUE is text (JSON text for a JSON log; `-` reads standard input, without its
    final newline; a binary log takes stdin's bytes as they are). The log is
    created on first use. A link must name a node the log holds (a unique key prefix
    is enough).

    Examples:

    \b
        hyperframe add log.db hello                  # prints 8c7efb22..., the key
        hyperframe add log.db world --link 8c7efb22
        echo '{"n": 1}' | hyperframe add notes.db -
        hyperframe add field.db sighting --sign me.key   # a signed node (`hyperframe keygen`)
    """
    log = open_log(directory)
    if key_file is not None:
        from ..signing import load_key

        signer = load_key(key_file)
        log.identity, log.sign = signer.identity, signer.sign
    click.echo(log.add(read_value(log, value), links=[resolve_link(log, link) for link in links]).key)


def resolve_link(log: Log, link: str) -> str:
    """A full key for a ``--link`` given as a key or a unique prefix."""
    if len(link) == 64:
        return link
    try:
        return log.get(link).key
    except NodeNotFoundError:
        raise UnknownLinkError(
            f"link {link} is not in {log.path}; add that node first or replicate it in "
            "(`hyperframe sync`), then try again. Nothing was written.",
            key=link,
        ) from None


@click.command()
@log_dir
@click.argument("value")
def append(directory: Path, value: str) -> None:
    """Add VALUE linking every current head (a merge point) and print its key.

    Example:

    \b
        hyperframe append log.db merge
    """
    log = open_log(directory)
    click.echo(log.append(read_value(log, value)).key)


@click.command(name="list")
@log_dir
@format_option()
@click.option("--since", type=click.IntRange(min=0), default=0, help="Only changes after this number.")
@click.option(
    "--until", type=click.IntRange(min=0), default=None, help="Only changes before this number (as hyperlog)."
)
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many nodes.")
@click.option("--reverse", is_flag=True, help="Newest first.")
@click.option(
    "--version", "version", type=click.IntRange(min=0), default=None, help="The log as it was at this version."
)
@click.option("--live", is_flag=True, help="Then keep printing new nodes as they are committed (Ctrl-C ends).")
def list_(
    directory: Path,
    fmt: str | None,
    since: int,
    until: int | None,
    limit: int | None,
    reverse: bool,
    version: int | None,
    live: bool,
) -> None:
    """List the nodes of DIRECTORY in change order.

    Examples:

    \b
        hyperframe list log.db --format table --reverse --limit 10
        hyperframe list log.db --since 100 | jq .value
        hyperframe list log.db --format csv > nodes.csv
        hyperframe list log.db --version 3           # as it was then (`hyperframe history`)
        hyperframe list log.db --live                # a `tail -f` for a log
    """
    if live:
        if version is not None or until is not None or limit is not None or reverse:
            raise click.UsageError("--live takes --since and --format only")
        feed = open_log(directory).changes(since=since, live=True)  # the log may not exist yet
        try:
            write_nodes(feed, fmt or default_format(), sys.stdout, flush=True)
        except KeyboardInterrupt:  # Ctrl-C is how a live listing ends: exit 0
            pass
        return
    log = existing(directory, version)
    nodes = log.changes(since=since, until=until, limit=limit, reverse=reverse)
    write_nodes(nodes, fmt or default_format(), sys.stdout)


@click.command()
@log_dir
def heads(directory: Path) -> None:
    """Print the keys nothing links to yet, one a line.

    Examples:

    \b
        hyperframe heads log.db
        hyperframe heads log.db | xargs -n1 hyperframe get log.db
    """
    for key in existing(directory).heads():
        click.echo(key)


@click.command()
@log_dir
@click.argument("key")
@format_option(default="jsonl")
def get(directory: Path, key: str, fmt: str) -> None:
    """Print the node with KEY (or the only key starting with that prefix).

    Examples:

    \b
        hyperframe get log.db 8c7e
        hyperframe get log.db 8c7efb22 --format table
    """
    node = existing(directory).get(key)
    write_nodes([node], fmt, sys.stdout)


@click.command()
@log_dir
@format_option(FACT_FORMATS, default="table")
@json_alias_option
def info(directory: Path, fmt: str, as_json: bool) -> None:
    """Summarize a log: encoding, nodes, heads, segments, bytes.

    `--format json` (or `jsonl`) prints the same facts as one JSON object on one line.

    Examples:

    \b
        hyperframe info log.db
        hyperframe info log.db --format json | jq .nodes
    """
    facts = existing(directory).info()
    write_facts(facts, "json" if as_json else fmt, sys.stdout)


@click.command()
@log_dir
@click.option("--strict", is_flag=True, help="Also fail on orphan files left by interrupted writes.")
@trust_option
@quiet_option
def verify(directory: Path, strict: bool, trust_file: Path | None, quiet: bool) -> None:
    """Check every segment, key, link, head and checksum; exit 1 on any damage.

    Problems go to stdout, one a line, and on damage one error line to stderr; warnings
    (orphan files from interrupted writes) go to stderr. `hyperframe repair` fixes what can be fixed.

    Examples:

    \b
        hyperframe verify log.db
        hyperframe verify log.db --strict || hyperframe repair log.db
        hyperframe verify field.db --trust team.trust   # and every node signed by the team
    """
    from ..verify import verify_log

    if not (directory / "_hyperframe").is_dir():
        existing(directory)  # says clearly why this is not a log
    with progress_bar(quiet, f"verifying {directory.name}") as progress:
        report = verify_log(directory, progress=progress, trust=trusted(trust_file))
    for problem in report.errors:
        click.echo(f"error: {problem}")
    for problem in report.warnings:
        click.echo(f"warning: {problem}", err=True)
    click.echo(report.summary())
    if not report.ok:
        raise click.ClickException(f"{directory} is damaged: {report.summary()}")
    if strict and report.warnings:
        raise click.ClickException(f"{directory} has {len(report.warnings)} orphan file(s) (--strict)")


@click.command()
@log_dir
@click.option(
    "--retain",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Keep older versions (and the replaced segments) this long: 0, 12h, 7d ... [default: the log's, 7d].",
)
@quiet_option
def compact(directory: Path, retain: float | None, quiet: bool) -> None:
    """Merge all segments into one (order and content kept), then vacuum.

    A log written by an older hyperframe (format 1) is rewritten in format 2.

    Examples:

    \b
        hyperframe compact log.db
        hyperframe compact log.db --retain 0     # free the old files (and versions) now
    """
    log = existing(directory)
    before = log.info()["segments"]
    with progress_bar(quiet, f"compacting {directory.name}") as progress:
        log.compact(retain_seconds=retain, progress=progress)
    click.echo(f"compacted {directory}: {before} segment(s) -> {log.info()['segments']}")


@click.command()
@log_dir
@quiet_option
def repair(directory: Path, quiet: bool) -> None:
    """Rebuild a damaged log from its intact segments and remove orphan files.

    Nodes in damaged or missing segments (and nodes that link them) are dropped and
    counted; replicate from a peer to get them back.

    Example:

    \b
        hyperframe repair log.db
    """
    from ..repair import repair_log

    with progress_bar(quiet, f"repairing {directory.name}", unit="file") as progress:
        report = repair_log(directory, progress=progress)
    click.echo(report.summary())


@click.command()
@log_dir
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("graph.png"),
    show_default=True,
    help="Image file to write (.png, .svg or .pdf).",
)
@click.option("--label", metavar="FIELD", default=None, help="Value field to write on nodes (nested: a.b).")
@click.option(
    "--other",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="A second log: colour nodes only-here / only-there / shared.",
)
@click.option("--max-nodes", type=click.IntRange(min=1), default=None, help="Draw at most this many nodes.")
def graph(directory: Path, output: Path, label: str | None, other: Path | None, max_nodes: int | None) -> None:
    """Draw the causal graph of DIRECTORY to an image file (needs the notebook extra).

    Examples:

    \b
        hyperframe graph data/biscoe-team -o biscoe.png --label species
        hyperframe graph data/biscoe-team --other data/dream-team -o diff.svg
    """
    from ..notebook.plot import save_graph

    options: dict[str, Any] = {"label": label}
    if other is not None:
        options["other"] = existing(other)
    if max_nodes is not None:
        options["max_nodes"] = max_nodes
    click.echo(f"wrote {save_graph(existing(directory), output, **options)}")


COMMANDS = [init, add, append, list_, heads, get, info, verify, compact, repair, graph]
