"""Every node keeps the hyperlog (log id, seq) it was created under; a copy of a directory
never gives out seqs under the original's log id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import write_format1_log

import hyperframe


def _origins(path: Path) -> list[tuple[str, int]]:
    """(log, seq) of every node, in change order, read from the directory itself."""
    log = hyperframe.open(path, read_only=True)
    out: list[tuple[str, int]] = []
    for name in log.files():
        table = pq.read_table(name, columns=["log", "seq"])
        out += zip(table.column("log").to_pylist(), table.column("seq").to_pylist(), strict=True)
    return out


def _own_id(path: Path) -> str:
    manifest = hyperframe.open(path, read_only=True).manifest
    assert manifest is not None and manifest.origin is not None
    return manifest.origin.log


def test_local_nodes_get_the_log_id_and_the_next_seqs(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "a.db")
    log.batch([{"value": "a"}, {"value": "b"}])
    log.add("c", links=log.heads())
    mine = _own_id(log.path)
    assert _origins(log.path) == [(mine, 1), (mine, 2), (mine, 3)]
    log.compact()
    assert _origins(log.path) == [(mine, 1), (mine, 2), (mine, 3)]  # compaction keeps them


def test_a_copied_directory_takes_a_fresh_log_id_on_its_first_write(tmp_path: Path) -> None:
    original = hyperframe.open(tmp_path / "a.db")
    original.batch([{"value": "a"}, {"value": "b"}])
    first = _own_id(original.path)
    shutil.copytree(original.path, tmp_path / "copy.db")
    copy = hyperframe.open(tmp_path / "copy.db")
    copy.add("written in the copy")
    original.add("written in the original")
    fresh = _own_id(copy.path)
    assert fresh != first
    assert _origins(copy.path) == [(first, 1), (first, 2), (fresh, 1)]
    assert _origins(original.path) == [(first, 1), (first, 2), (first, 3)]


def test_replicated_nodes_keep_their_origin(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a.db"), hyperframe.open(tmp_path / "b.db")
    a.batch([{"value": "a1"}, {"value": "a2"}])
    b.add("b1")
    hyperframe.replicate(a, b)
    ia, ib = _own_id(a.path), _own_id(b.path)
    assert sorted(_origins(a.path)) == sorted(_origins(b.path)) == sorted([(ia, 1), (ia, 2), (ib, 1)])
    b.add("b2")
    assert _origins(b.path)[-1] == (ib, 2)


def test_an_older_log_is_upgraded_with_origins_in_change_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    write_format1_log(path, [["a", "b"], ["c"]])
    log = hyperframe.open(path)
    log.add("d", links=log.heads())
    mine = _own_id(path)
    assert _origins(path) == [(mine, 1), (mine, 2), (mine, 3), (mine, 4)]
    assert json.loads(sorted((path / "_hyperframe" / "manifests").iterdir())[-1].read_bytes())["format"] == 3


def test_a_manifest_origin_that_is_malformed_is_damage(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "a.db")
    log.add("a")
    newest = sorted((log.path / "_hyperframe" / "manifests").iterdir())[-1]
    doc = json.loads(newest.read_bytes())
    doc["origin"]["log"] = "has!a bang"
    newest.write_text(json.dumps(doc))
    with pytest.raises(hyperframe.CorruptLogError, match="origin log id"):
        len(hyperframe.open(log.path))


def test_a_big_segment_is_cut_into_row_groups_a_sender_can_decode_one_at_a_time(tmp_path: Path) -> None:
    import os

    log = hyperframe.open(tmp_path / "big.db", encoding="binary")
    log.batch([{"value": os.urandom(1 << 20)} for _ in range(40)])  # one ~40 MiB segment
    (file,) = log.files()
    meta = pq.ParquetFile(file).metadata
    assert meta.num_row_groups >= 3
    assert all(meta.row_group(i).total_byte_size <= 20 * 1024 * 1024 for i in range(meta.num_row_groups))


def test_rows_without_an_origin_among_others_get_the_next_seqs_past_our_own_highest() -> None:
    from hyperframe.store import segments
    from hyperframe.store.origin import Origin, assign

    table = segments.make_table(
        [bytes([i]) * 32 for i in range(4)], [[]] * 4, [b"a", b"b", b"c", b"d"],
        logs=[None, "other", "mine", None], seqs=[None, 9, 5, None],
    )  # fmt: skip
    (out,), after = assign([table], Origin("mine", 2, "home"))
    assert list(zip(out.column("log").to_pylist(), out.column("seq").to_pylist(), strict=True)) == [
        ("mine", 6), ("other", 9), ("mine", 5), ("mine", 7),
    ]  # fmt: skip
    assert after == Origin("mine", 7, "home")
