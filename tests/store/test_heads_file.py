"""Many heads live in a side file, so a manifest stays small whatever the head count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hyperframe
from hyperframe.repair import repair_log
from hyperframe.store.manifest import INLINE_HEADS
from hyperframe.verify import verify_log


def _newest_manifest(path: Path) -> Path:
    return sorted((path / "_hyperframe" / "manifests").iterdir())[-1]


def _unlinked(path: Path, n: int) -> hyperframe.Log:
    log = hyperframe.open(path, encoding="json")
    log.batch([{"value": {"i": i}} for i in range(n)])
    return log


def test_many_heads_leave_the_manifest_small_and_read_back_the_same(tmp_path: Path) -> None:
    log = _unlinked(tmp_path / "a.db", 20 * INLINE_HEADS)
    assert _newest_manifest(log.path).stat().st_size < 2000
    heads = hyperframe.open(log.path).heads()
    assert len(heads) == 20 * INLINE_HEADS and heads == sorted(n.key for n in log)
    few = _unlinked(tmp_path / "b.db", 3)
    assert len(json.loads(_newest_manifest(few.path).read_bytes())["heads"]) == 3  # few heads stay inline


def test_a_damaged_heads_file_is_damage_that_repair_mends(tmp_path: Path) -> None:
    log = _unlinked(tmp_path / "a.db", 2 * INLINE_HEADS)
    (side,) = (log.path / "_hyperframe" / "heads").iterdir()
    side.write_bytes(side.read_bytes()[:-1] + b"\x00")
    with pytest.raises(hyperframe.CorruptLogError, match="heads file"):
        hyperframe.open(log.path).heads()
    assert not verify_log(log.path).ok
    repair_log(log.path)
    assert verify_log(log.path).ok
    assert len(hyperframe.open(log.path).heads()) == 2 * INLINE_HEADS


def test_vacuum_removes_heads_files_no_version_needs(tmp_path: Path) -> None:
    log = _unlinked(tmp_path / "a.db", 2 * INLINE_HEADS)
    log.add("joins five", links=log.heads()[:5])
    folder = log.path / "_hyperframe" / "heads"
    assert len(list(folder.iterdir())) == 2  # the older version's heads stay for its readers
    log.vacuum(retain_seconds=0)
    assert len(list(folder.iterdir())) == 1
    assert len(hyperframe.open(log.path).heads()) == 2 * INLINE_HEADS - 4
