"""Rich HTML for notebooks: a log's summary and a diff of two logs.

Every renderer here is wrapped by :func:`safe_html`, so a display can never break a
notebook: if reading the log fails, an escaped plain message is shown instead.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp())
>>> _ = log.add("<b>hello</b>")
>>> html = log_html(log)
>>> "1 node" in html and "&lt;b&gt;hello&lt;/b&gt;" in html
True
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..log import Log
    from ..node import Node

__all__ = ["diff_html", "log_html", "safe_html", "short", "value_text"]

#: how many nodes the preview tables show
PREVIEW_ROWS = 5
_STYLE = (
    "<style>.hf-box{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px}"
    ".hf-box table{border-collapse:collapse;margin:4px 0}"
    ".hf-box td,.hf-box th{padding:2px 8px;text-align:left;border-bottom:1px solid #ddd;vertical-align:top}"
    ".hf-box code{font-size:12px}.hf-a{color:#1f77b4}.hf-b{color:#ff7f0e}.hf-muted{color:#777}</style>"
)


def short(key: str, n: int = 12) -> str:
    """The first ``n`` characters of a key: enough to tell nodes apart by eye.

    >>> short("8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602")
    '8c7efb224725'
    """
    return key[:n]


def value_text(value: Any, limit: int = 80) -> str:
    """A one-line text of a value, cut to ``limit`` characters.

    >>> value_text({"species": "Adelie", "n": 1})
    '{"species": "Adelie", "n": 1}'
    >>> value_text("x" * 100, limit=10)
    'xxxxxxxxx…'
    >>> value_text(b"\\x00\\x01")
    "b'\\\\x00\\\\x01'"
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray)):
        text = repr(bytes(value[:limit]))
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _node_rows(nodes: Sequence[Node]) -> str:
    esc = html.escape
    rows = []
    for node in nodes:
        links = ", ".join(short(k, 8) for k in node.links[:3]) + (" …" if len(node.links) > 3 else "")
        rows.append(
            f"<tr><td>{node.change}</td><td><code>{esc(short(node.key))}</code></td>"
            f"<td><code>{esc(links)}</code></td><td>{esc(value_text(node.value))}</td></tr>"
        )
    return "<table><tr><th>change</th><th>key</th><th>links</th><th>value</th></tr>" + "".join(rows) + "</table>"


def log_html(log: Log) -> str:
    """HTML summary of a log: path, nodes, heads, segments, encoding, the latest nodes."""
    esc = html.escape
    info = log.info()
    nodes, heads = int(info["nodes"]), log.heads()
    head_text = ", ".join(f"<code>{esc(short(h))}</code>" for h in heads[:3])
    if len(heads) > 3:
        head_text += f" <span class='hf-muted'>and {len(heads) - 3:,} more</span>"
    facts = [
        ("nodes", f"{nodes:,}"),
        ("heads", f"{len(heads):,}" + (f": {head_text}" if heads else "")),
        ("segments", f"{info['segments']:,} ({_size(int(info['bytes']))})"),
        ("encoding", esc(str(info["encoding"]))),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    parts = [
        _STYLE,
        "<div class='hf-box'>",
        f"<strong>hyperframe.Log</strong> <code>{esc(str(log.path))}</code>",
        f" <span class='hf-muted'>{_plural(nodes, 'node')}</span>",
        f"<table>{body}</table>",
    ]
    if nodes:
        latest = list(log.changes(since=max(0, nodes - PREVIEW_ROWS)))
        parts.append(f"<div class='hf-muted'>latest {_plural(len(latest), 'node')}:</div>")
        parts.append(_node_rows(latest))
    else:
        parts.append("<div class='hf-muted'>empty: add a node with <code>log.add(value)</code></div>")
    parts.append("</div>")
    return "".join(parts)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _side_preview(log: Log, keys: Sequence[str]) -> str:
    if not keys:
        return "<div class='hf-muted'>nothing</div>"
    nodes = [log.get(k) for k in keys[:PREVIEW_ROWS]]
    more = f"<div class='hf-muted'>and {len(keys) - len(nodes):,} more</div>" if len(keys) > len(nodes) else ""
    return _node_rows(nodes) + more


def diff_html(diff: Any) -> str:
    """HTML for a :class:`hyperframe.Diff`: what each side holds that the other lacks.

    ``diff`` needs ``a``, ``b`` (logs), ``only_in_a`` and ``only_in_b`` (hex keys).
    """
    esc = html.escape
    a, b = diff.a, diff.b
    only_a, only_b = list(diff.only_in_a), list(diff.only_in_b)
    shared = len(a) - len(only_a)
    same = not only_a and not only_b
    summary = (
        "<strong>the logs hold the same nodes</strong>"
        if same
        else f"<span class='hf-a'>A</span> lacks {_plural(len(only_b), 'node')} (pull brings them); "
        f"<span class='hf-b'>B</span> lacks {_plural(len(only_a), 'node')} (push sends them)"
    )
    parts = [
        _STYLE,
        "<div class='hf-box'><strong>hyperframe.Diff</strong>",
        "<table>",
        f"<tr><th class='hf-a'>A</th><td><code>{esc(str(a.path))}</code></td><td>{_plural(len(a), 'node')}</td></tr>",
        f"<tr><th class='hf-b'>B</th><td><code>{esc(str(b.path))}</code></td><td>{_plural(len(b), 'node')}</td></tr>",
        f"<tr><th>shared</th><td colspan=2>{_plural(shared, 'node')}</td></tr>",
        "</table>",
        f"<div>{summary}</div>",
    ]
    if not same:
        parts.append(f"<div><span class='hf-a'>only in A</span> ({len(only_a):,}):</div>")
        parts.append(_side_preview(a, only_a))
        parts.append(f"<div><span class='hf-b'>only in B</span> ({len(only_b):,}):</div>")
        parts.append(_side_preview(b, only_b))
    parts.append("</div>")
    return "".join(parts)


def safe_html(obj: Any, render: Callable[[Any], str] | None = None) -> str:
    """``render(obj)``, or if that raises anything, an escaped plain message.

    >>> safe_html(object(), lambda o: 1 / 0).startswith("<pre>")
    True
    """
    try:
        return (render or log_html)(obj)
    except Exception as exc:  # noqa: BLE001 - a display must never break the notebook
        try:
            plain = repr(obj)
        except Exception:  # noqa: BLE001 - even repr may fail on a damaged log
            plain = f"<{type(obj).__name__}>"
        return (
            f"<pre>{html.escape(plain)}\n"
            f"(could not show details: {html.escape(type(exc).__name__)}: {html.escape(str(exc))})</pre>"
        )
