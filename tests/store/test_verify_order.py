"""verify finds keys stored twice and links stored after (or never before) their node,
within a segment and across segments, and names each row once, in row order."""

from __future__ import annotations

from pathlib import Path

import hyperframe
from hyperframe.keys import node_key_bytes
from hyperframe.store import segments
from hyperframe.store.directory import LogStore
from hyperframe.verify import verify_log


def _node(value: bytes, links: list[bytes]) -> tuple[bytes, list[bytes], bytes]:
    return node_key_bytes(value, links), links, value


def _write(path: Path, *tables: list[tuple[bytes, list[bytes], bytes]]) -> None:
    """Segments written as given (no API writes such logs): the checks are verify's alone."""
    store = LogStore(path)
    with store.lock():
        current = store.latest()
        assert current is not None
        for rows in tables:
            table = segments.make_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
            current = store.commit(current, [table], heads=current.heads)


def test_verify_names_repeats_and_misplaced_links_row_by_row(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    log.add("seed")
    a, b = _node(b"a", []), _node(b"b", [])
    later = _node(b"later", [])
    uses_later = _node(b"uses later", [later[0]])  # its link comes one row after it
    nowhere = _node(b"nowhere", [node_key_bytes(b"never stored", [])])
    both = _node(b"both", [a[0], node_key_bytes(b"also never", [])])
    itself = (node_key_bytes(b"x", []), [node_key_bytes(b"x", [])], b"x")  # a key that links itself
    _write(log.path, [a, uses_later, later, a, nowhere], [b, a, both, itself])
    problems = [p.message for p in verify_log(log.path).errors]
    assert [m for m in problems if "twice" in m or "before the node" in m] == [
        f"row 1: link {later[0].hex()} is not stored before the node",
        f"row 3: key {a[0].hex()} is stored twice",
        f"row 4: link {nowhere[1][0].hex()} is not stored before the node",
        f"row 1: key {a[0].hex()} is stored twice",  # in the second segment, stored in the first
        f"row 2: link {both[1][1].hex()} is not stored before the node",
        f"row 3: link {itself[0].hex()} is not stored before the node",
    ]


def test_a_sound_log_verifies_with_its_heads(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "log.db")
    first = log.batch([{"value": f"v{i}"} for i in range(50)])
    log.batch([{"value": "joins", "links": [n.key for n in first[:10]]}])
    report = verify_log(log.path)
    assert report.ok and report.nodes == 51
    assert len(log.heads()) == 41
