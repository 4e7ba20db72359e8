"""How the CLI prints: the one ``--format`` option, and nodes or facts in each format.

Every command that prints data takes ``--format`` from :func:`format_option`, so the option,
its spelling and its choices are declared here once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO, TypeVar

import click

from ..encodings import js_stringify
from ..node import Node

__all__ = [
    "FACT_FORMATS",
    "NODE_FORMATS",
    "default_format",
    "format_option",
    "json_alias_option",
    "write_facts",
    "write_nodes",
]

NODE_FORMATS = ("table", "jsonl", "csv")
"""Formats for a list of nodes (``list``, ``get``)."""
FACT_FORMATS = ("table", "json", "jsonl")
"""Formats for one set of named facts (``info``); ``json`` and ``jsonl`` both print one line."""

F = TypeVar("F", bound=Callable[..., Any])


def format_option(choices: tuple[str, ...] = NODE_FORMATS, default: str | None = None) -> Callable[[F], F]:
    """The ``--format`` option (parameter ``fmt``).

    With ``default=None`` the command picks with :func:`default_format`: ``table`` on a
    terminal, ``jsonl`` in a pipe.
    """
    if default is None:
        help_text = "Output format [default: table on a terminal, jsonl in a pipe]."
    else:
        help_text = "Output format."
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


json_alias_option = click.option(
    "--json", "as_json", is_flag=True, hidden=True, help="Deprecated: the same as --format json."
)
"""``--json`` (parameter ``as_json``), kept working, and out of ``--help``, for scripts written before ``--format``."""


def default_format(stream: TextIO | None = None) -> str:
    """``table`` on a terminal, ``jsonl`` in a pipe."""
    stream = stream or sys.stdout
    return "table" if stream.isatty() else "jsonl"


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return js_stringify(value)


def write_facts(facts: Mapping[str, Any], fmt: str, out: TextIO) -> None:
    """Write named facts: aligned ``name: value`` lines, or one JSON object on one line."""
    if fmt in ("json", "jsonl"):
        out.write(json.dumps(dict(facts)) + "\n")
    else:
        for name, value in facts.items():
            out.write(f"{name:>12}: {value}\n")


def _flushing(nodes: Iterable[Node], out: TextIO) -> Iterable[Node]:
    """Flush ``out`` before waiting for each next node (a live listing shows each at once)."""
    for node in nodes:
        yield node
        out.flush()
    out.flush()


def write_nodes(nodes: Iterable[Node], fmt: str, out: TextIO, *, flush: bool = False) -> int:
    """Write ``nodes`` in ``fmt``; return how many were written (``flush``: after each one)."""
    if flush:
        nodes = _flushing(nodes, out)
    count = 0
    if fmt == "jsonl":
        for node in nodes:
            out.write(json.dumps(node.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        import csv  # only for csv: `hyperframe add` never loads it

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["change", "key", "links", "value"])
        for node in nodes:
            writer.writerow([node.change, node.key, " ".join(node.links), _value_text(node.value)])
            count += 1
    else:
        out.write(f"{'change':>7}  {'key':<12}  {'links':<27}  value\n")
        for node in nodes:
            links = ",".join(link[:8] for link in node.links[:3]) + ("…" if len(node.links) > 3 else "")
            value = _value_text(node.value).replace("\n", "\\n")
            if len(value) > 60:
                value = value[:59] + "…"
            out.write(f"{node.change:>7}  {node.key[:12]:<12}  {links:<27}  {value}\n")
            count += 1
    return count
