"""Rich notebook display of logs and diffs: informative, escaped, and never raising."""

from __future__ import annotations

from pathlib import Path

import hyperframe
from hyperframe.notebook.display import diff_html, log_html, safe_html, value_text


def test_log_html_summarises_the_log(json_log: hyperframe.Log) -> None:
    first = json_log.add({"species": "Adelie"})
    json_log.add({"species": "Gentoo"}, links=[first.key])
    json_log.add({"species": "Chinstrap"})
    html = json_log._repr_html_()
    assert "hyperframe.Log" in html and str(json_log.path) in html
    assert "<th>nodes</th><td>3</td>" in html
    assert "<th>heads</th><td>2:" in html
    assert "<th>segments</th><td>3 (" in html
    assert "<th>encoding</th><td>json</td>" in html
    for head in json_log.heads():
        assert head[:12] in html
    assert "Gentoo" in html and "Chinstrap" in html  # the preview table


def test_preview_shows_only_the_latest_nodes(log: hyperframe.Log) -> None:
    log.batch([{"value": f"note {i:02d}"} for i in range(12)])
    html = log_html(log)
    assert "latest 5 nodes" in html
    assert "note 11" in html and "note 07" in html and "note 06" not in html


def test_values_are_escaped(log: hyperframe.Log) -> None:
    log.add("<script>alert(1)</script>")
    html = log._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_empty_log(tmp_path: Path) -> None:
    html = hyperframe.open(tmp_path / "new")._repr_html_()
    assert "<th>nodes</th><td>0</td>" in html and "empty" in html


def test_repr_html_never_raises_on_a_damaged_log(log: hyperframe.Log) -> None:
    log.add("hello")
    for manifest in (log.path / "_hyperframe" / "manifests").glob("v*.json"):
        manifest.write_text("{ not json")
    html = log._repr_html_()
    assert html.startswith("<pre>") and "could not show details" in html
    assert "CorruptLogError" in html


def test_repr_html_never_raises_when_a_segment_is_gone(log: hyperframe.Log) -> None:
    log.add("hello")
    for seg in log.path.glob("seg-*.parquet"):
        seg.unlink()
    html = log._repr_html_()
    assert html.startswith("<pre>") and "hyperframe.Log" in html


def test_safe_html_survives_a_failing_repr() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr either")

    html = safe_html(Broken(), lambda o: str(1 / 0))
    assert "Broken" in html and "ZeroDivisionError" in html


def test_value_text_is_one_short_line() -> None:
    assert value_text("a\nb\tc") == "a b c"
    assert len(value_text({"k": "x" * 500})) == 80


def test_diff_html(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="json")
    root = a.add({"n": 0})
    b.add({"n": 0})
    a.add({"n": "only-a <1>"}, links=[root.key])
    for i in range(7):
        b.add({"n": f"only-b {i}"}, links=[root.key])
    d = hyperframe.diff(a, b)
    html = diff_html(d)
    assert html == d._repr_html_()
    assert "A</span> lacks 7 nodes" in html and "B</span> lacks 1 node " in html
    assert "<th>shared</th><td colspan=2>1 node</td>" in html
    assert "only-a &lt;1&gt;" in html and "and 2 more" in html
    same = diff_html(hyperframe.diff(a, a))
    assert "the logs hold the same nodes" in same
