"""How the CLI writes nodes: jsonl, csv or an aligned table."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from ..encodings import js_stringify
from ..node import Node

FORMATS = ("table", "jsonl", "csv")


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


def write_nodes(nodes: Iterable[Node], fmt: str, out: TextIO) -> int:
    """Write ``nodes`` in ``fmt``; return how many were written."""
    count = 0
    if fmt == "jsonl":
        for node in nodes:
            out.write(json.dumps(node.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
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
