"""Replication in one process: hyperframe.replicate(a, b) and hyperframe.diff(a, b).

Every case from issue 3; after every successful sync both logs hold exactly the union
(same keys, same values and links), the same heads, and pass `verify`.
"""

from __future__ import annotations

import random
import shutil
import threading
from pathlib import Path

import pytest
from helpers import Snapshot
from sync_helpers import Content, assert_converged, assert_holds, content, grow, union

import hyperframe
from hyperframe import Log
from hyperframe.verify import verify_log

# --- helpers ------------------------------------------------------------------------------


def version(log: Log) -> int:
    m = hyperframe.open(log.path).manifest
    return -1 if m is None else m.version


def own_size(nodes: Content, keys: set[str], log: Log) -> int:
    """What the issue counts as the missing nodes' own size: 32 B key, 32 B per link, the value bytes."""
    return sum(32 + 32 * len(nodes[k][1]) + len(log.encoding.encode(nodes[k][0])) for k in keys)


# --- clone, disjoint, shared --------------------------------------------------------------


def test_clone_into_an_empty_log(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 120, "a", batches=3)
    before = content(a)
    b = hyperframe.open(tmp_path / "b")  # nothing on disk yet

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (120, 0)
    assert (report.nodes_a, report.nodes_b) == (120, 120)
    assert report.mode == "sync"
    assert_converged(a, b, expected=before)
    # the clone keeps A's change order (every node after its links)
    assert [n.key for n in b.changes()] == [n.key for n in a.changes()]


def test_clone_takes_the_sources_encoding(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    grow(a, 30, "j")
    b = hyperframe.open(tmp_path / "b")
    hyperframe.replicate(b, a, mode="pull")
    assert hyperframe.open(b.path).encoding.name == "json"
    assert_converged(a, b, expected=content(a))
    assert hyperframe.open(b.path).get(a.heads()[0]).value == hyperframe.open(a.path).get(a.heads()[0]).value


def test_replicate_accepts_paths(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 10, "a")
    report = hyperframe.replicate(str(tmp_path / "a"), tmp_path / "b")
    assert report.sent_a_to_b == 10
    assert_converged(a, hyperframe.open(tmp_path / "b"), expected=content(a))


def test_two_logs_with_no_common_root(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 40, "a", batches=2)
    grow(b, 25, "b")
    expected = union(content(a), content(b))
    va, vb = version(a), version(b)

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (40, 25)
    assert (report.nodes_a, report.nodes_b) == (65, 65)
    assert_converged(a, b, expected=expected)
    assert version(a) > va and version(b) > vb
    assert len(a.heads()) >= 2  # two roots' worth of heads, on both sides


def test_shared_history_then_both_sides_add(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 60, "base", batches=2)
    hyperframe.replicate(a, b)
    grow(a, 15, "left")
    grow(b, 9, "right")
    expected = union(content(a), content(b))

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (15, 9)
    assert_converged(a, b, expected=expected)


def test_both_sides_added_the_same_node_independently(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 20, "base")
    hyperframe.replicate(a, b)
    head = a.heads()[0]
    a.add("same", links=[head])
    b.add("same", links=[head])
    grow(a, 3, "a-only")
    grow(b, 4, "b-only")
    expected = union(content(a), content(b))
    assert len(expected) == 20 + 1 + 3 + 4

    hyperframe.replicate(a, b)

    assert_converged(a, b, expected=expected)


@pytest.mark.parametrize(("extra_a", "extra_b"), [(1, 1), (2, 1), (7, 0), (0, 5)])
def test_copied_directory_then_both_copies_add(tmp_path: Path, extra_a: int, extra_b: int) -> None:
    """hyperlog: "likely disastrous"; here both copies end with the union."""
    a = hyperframe.open(tmp_path / "log.db")
    grow(a, 50, "base", batches=3)
    shutil.copytree(tmp_path / "log.db", tmp_path / "log2.db")  # cp -r
    b = hyperframe.open(tmp_path / "log2.db")
    grow(a, extra_a, "original")
    grow(b, extra_b, "copy")
    expected = union(content(a), content(b))

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (extra_a, extra_b)
    assert_converged(a, b, expected=expected)


# --- nothing to do, one side empty -----------------------------------------------------------


def test_identical_logs_send_nothing_in_one_round_trip(tmp_path: Path, snapshot: Snapshot) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 200, "a", batches=4)
    shutil.copytree(a.path, tmp_path / "b")
    b = hyperframe.open(tmp_path / "b")
    expected = content(a)
    disk_a, disk_b = snapshot(a.path), snapshot(b.path)

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 0)
    assert report.round_trips == 1
    assert report.bytes_total < 1024
    assert report.seconds < 2
    assert snapshot(a.path) == disk_a and snapshot(b.path) == disk_b  # nothing written
    assert_converged(a, b, expected=expected)


def test_identical_sets_cut_into_different_segments_are_identical(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 300, "a", batches=6)
    shutil.copytree(a.path, tmp_path / "b")
    b = hyperframe.open(tmp_path / "b")
    b.compact()
    assert len(b.manifest.segments) == 1 < len(a.manifest.segments)
    va, vb = version(a), version(b)

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 0)
    assert report.round_trips == 1
    assert report.bytes_total < 1024
    assert (version(a), version(b)) == (va, vb)


def test_two_empty_logs(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    report = hyperframe.replicate(a, b)
    assert (report.sent_a_to_b, report.sent_b_to_a, report.nodes_a, report.nodes_b) == (0, 0, 0, 0)
    assert report.round_trips == 1
    assert len(hyperframe.open(a.path)) == len(hyperframe.open(b.path)) == 0


@pytest.mark.parametrize("empty_side", ["a", "b"])
def test_one_side_empty(tmp_path: Path, empty_side: str) -> None:
    full = hyperframe.open(tmp_path / "full")
    grow(full, 80, "full", batches=2)
    (tmp_path / "empty").mkdir()  # an existing, empty directory
    empty = hyperframe.open(tmp_path / "empty")
    a, b = (empty, full) if empty_side == "a" else (full, empty)
    expected = content(full)

    report = hyperframe.replicate(a, b)

    sent = (0, 80) if empty_side == "a" else (80, 0)
    assert (report.sent_a_to_b, report.sent_b_to_a) == sent
    assert_converged(a, b, expected=expected)


# --- one direction only -------------------------------------------------------------------


def test_push_only_sends_a_to_b_and_nothing_back(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 30, "base")
    hyperframe.replicate(a, b)
    grow(a, 10, "a-new")
    grow(b, 6, "b-new")
    only_a, only_b = content(a), content(b)
    disk_a = snapshot(a.path)

    report = hyperframe.replicate(a, b, mode="push")

    assert report.mode == "push"
    assert (report.sent_a_to_b, report.sent_b_to_a) == (10, 0)
    assert_holds(b, union(only_a, only_b))
    assert_holds(a, only_a)  # A received nothing
    assert snapshot(a.path) == disk_a


def test_pull_only_brings_b_to_a_and_sends_nothing(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 30, "base")
    hyperframe.replicate(a, b)
    grow(a, 10, "a-new")
    grow(b, 6, "b-new")
    only_a, only_b = content(a), content(b)
    disk_b = snapshot(b.path)

    report = hyperframe.replicate(a, b, mode="pull")

    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 6)
    assert_holds(a, union(only_a, only_b))
    assert_holds(b, only_b)  # B received nothing
    assert snapshot(b.path) == disk_b


def test_push_into_an_empty_log_and_pull_from_an_empty_log(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 12, "a")
    expected = content(a)
    report = hyperframe.replicate(a, tmp_path / "b", mode="push")
    assert report.sent_a_to_b == 12
    assert_holds(hyperframe.open(tmp_path / "b"), expected)

    report = hyperframe.replicate(tmp_path / "c", a, mode="push")  # C is empty: nothing to push
    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 0)
    assert_holds(a, expected)
    assert len(hyperframe.open(tmp_path / "c")) == 0


def test_then_a_sync_finishes_what_a_push_left(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 10, "a")
    grow(b, 10, "b")
    expected = union(content(a), content(b))
    hyperframe.replicate(a, b, mode="push")
    report = hyperframe.replicate(a, b)
    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 10)
    assert_converged(a, b, expected=expected)


def test_an_unknown_mode_is_a_usage_error(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    with pytest.raises(hyperframe.UsageError):
        hyperframe.replicate(a, b, mode="both")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- again, and in a ring -------------------------------------------------------------------


def test_sync_twice_second_sends_nothing(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 40, "a", batches=2)
    grow(b, 30, "b", batches=2)
    expected = union(content(a), content(b))
    first = hyperframe.replicate(a, b)
    assert (first.sent_a_to_b, first.sent_b_to_a) == (40, 30)
    va, vb = version(a), version(b)

    second = hyperframe.replicate(a, b)

    assert (second.sent_a_to_b, second.sent_b_to_a) == (0, 0)
    assert second.round_trips == 1
    assert second.bytes_total < 1024
    assert (version(a), version(b)) == (va, vb)
    assert_converged(a, b, expected=expected)


def test_three_logs_in_a_ring_converge(tmp_path: Path) -> None:
    a, b, c = (hyperframe.open(tmp_path / n) for n in "abc")
    grow(a, 20, "root")
    hyperframe.replicate(a, b)  # A and B share a root, C starts on its own
    grow(a, 7, "a")
    grow(b, 5, "b")
    grow(c, 11, "c", batches=2)
    expected = union(content(a), content(b), content(c))

    hyperframe.replicate(a, b)
    hyperframe.replicate(b, c)
    hyperframe.replicate(c, a)

    assert_converged(a, b, c, expected=expected)
    # one more lap moves nothing
    for x, y in ((a, b), (b, c), (c, a)):
        again = hyperframe.replicate(x, y)
        assert (again.sent_a_to_b, again.sent_b_to_a) == (0, 0)


# --- larger differences: the estimate path ----------------------------------------------------


def _big_pair(tmp_path: Path, *, compact: bool) -> tuple[Log, Log]:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 3000, "base", batches=6)
    shutil.copytree(a.path, tmp_path / "b")
    b = hyperframe.open(tmp_path / "b")
    if compact:  # cut B's segments differently, so no segment is shared
        b.compact()
        assert len(b.manifest.segments) == 1 < len(a.manifest.segments)
    return a, b


@pytest.mark.parametrize("compact", [False, True], ids=["same-cut", "compacted"])
def test_larger_differences_use_the_estimate_and_converge(tmp_path: Path, compact: bool) -> None:
    a, b = _big_pair(tmp_path, compact=compact)
    new_a = set(grow(a, 300, "A"))
    new_b = set(grow(b, 200, "B"))
    nodes_a, nodes_b = content(a), content(b)
    expected = union(nodes_a, nodes_b)

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (300, 200)
    assert report.sides is not None
    assert any("estimat" in side.strategy for side in report.sides), [s.strategy for s in report.sides]
    assert report.round_trips <= 4
    missing = own_size(nodes_a, new_a, a) + own_size(nodes_b, new_b, b)
    # 64 B per node for framing, plus its origin (a log id of 26 B, its offset and a 4-byte seq: issue 12)
    assert report.bytes_total <= missing + (64 + 34) * 500 + 10 * 1024
    assert_converged(a, b, expected=expected)


def test_compacting_after_a_sync_still_converges(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 500, "base", batches=5)
    hyperframe.replicate(a, b)
    a.compact()
    grow(a, 90, "A", batches=3)
    grow(b, 140, "B", batches=2)
    expected = union(content(a), content(b))

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (90, 140)
    assert_converged(a, b, expected=expected)


def test_a_small_difference_between_differently_cut_logs_costs_little(tmp_path: Path) -> None:
    a, b = _big_pair(tmp_path, compact=True)
    new_a, new_b = set(grow(a, 1, "A")), set(grow(b, 1, "B"))
    nodes_a, nodes_b = content(a), content(b)

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (1, 1)
    assert report.round_trips <= 4
    missing = own_size(nodes_a, new_a, a) + own_size(nodes_b, new_b, b)
    assert report.bytes_total <= missing + 64 * 2 + 10 * 1024  # no O(log size) step
    assert_converged(a, b, expected=union(nodes_a, nodes_b))


def test_progress_is_reported_while_receiving(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 50, "a")
    calls: list[tuple[int, int]] = []
    hyperframe.replicate(a, tmp_path / "b", progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == (50, 50)
    assert all(done <= total for done, total in calls)


# --- encodings ----------------------------------------------------------------------------


def test_different_encodings_are_incompatible_and_nothing_changes(tmp_path: Path, snapshot: Snapshot) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b")  # utf-8
    grow(a, 5, "a")
    grow(b, 5, "b")
    disk_a, disk_b = snapshot(a.path), snapshot(b.path)

    with pytest.raises(hyperframe.IncompatiblePeerError) as info:
        hyperframe.replicate(a, b)

    assert "json" in str(info.value) and "utf-8" in str(info.value)
    assert snapshot(a.path) == disk_a and snapshot(b.path) == disk_b


def test_json_values_survive_replication(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="json")
    b = hyperframe.open(tmp_path / "b", encoding="json")
    root = a.add({"msg": "héllo", "n": [1, 2.5, None], "nested": {"z": 1, "a": True}})
    b.add({"other": "side"})
    expected = union(content(a), content(b))
    hyperframe.replicate(a, b)
    assert_converged(a, b, expected=expected)
    assert hyperframe.open(b.path).get(root.key).value == {
        "msg": "héllo",
        "n": [1, 2.5, None],
        "nested": {"z": 1, "a": True},
    }


# --- diff ---------------------------------------------------------------------------------


def test_diff_says_what_each_side_lacks_and_changes_nothing(tmp_path: Path, snapshot: Snapshot) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 30, "base")
    hyperframe.replicate(a, b)
    new_a = grow(a, 4, "a")
    new_b = grow(b, 6, "b")
    disk_a, disk_b = snapshot(a.path), snapshot(b.path)

    d = hyperframe.diff(a, b)

    assert d.only_in_a == new_a  # in A's change order
    assert d.only_in_b == new_b
    assert d.shared == 30
    assert not d.identical
    assert "4 node(s)" in d.summary() and "6 node(s)" in d.summary()
    assert snapshot(a.path) == disk_a and snapshot(b.path) == disk_b

    hyperframe.replicate(a, b)
    after = hyperframe.diff(a, b)
    assert after.identical and after.shared == 40
    assert (after.only_in_a, after.only_in_b) == ([], [])


def test_diff_with_an_empty_log(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    keys = grow(a, 5, "a")
    d = hyperframe.diff(a, hyperframe.open(tmp_path / "nothing"))  # a Log not written yet: empty
    assert (d.only_in_a, d.only_in_b, d.shared) == (keys, [], 0)
    assert not (tmp_path / "nothing").exists()
    with pytest.raises(hyperframe.NotALogError, match="nothing there yet"):  # a path: a typo is not a log
        hyperframe.diff(a, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


# --- more shapes ------------------------------------------------------------------------------


def test_push_on_the_estimate_path_moves_one_way_only(tmp_path: Path) -> None:
    a, b = _big_pair(tmp_path, compact=True)
    grow(a, 300, "A")
    grow(b, 200, "B")
    nodes_a, nodes_b = content(a), content(b)

    report = hyperframe.replicate(a, b, mode="push")

    assert (report.sent_a_to_b, report.sent_b_to_a) == (300, 0)
    assert_holds(b, union(nodes_a, nodes_b))
    assert_holds(a, nodes_a)


def test_a_clone_shares_segments_so_later_syncs_cost_little(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 3000, "base", batches=3)
    b = hyperframe.open(tmp_path / "b")
    hyperframe.replicate(a, b)
    new_a, new_b = set(grow(a, 5, "A")), set(grow(b, 5, "B"))
    nodes_a, nodes_b = content(a), content(b)

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (5, 5)
    missing = own_size(nodes_a, new_a, a) + own_size(nodes_b, new_b, b)
    assert report.bytes_total <= missing + 64 * 10 + 10 * 1024
    assert report.round_trips <= 4
    assert_converged(a, b, expected=union(nodes_a, nodes_b))


def test_big_values_travel_in_several_frames(tmp_path: Path) -> None:
    a = hyperframe.open(tmp_path / "a", encoding="binary")
    b = hyperframe.open(tmp_path / "b", encoding="binary")
    rng = random.Random(5)
    blobs = [rng.randbytes(3 * 1024 * 1024) for _ in range(4)]  # 12 MB: more than one NODES frame
    first = a.add(blobs[0])
    for blob in blobs[1:]:
        a.add(blob, links=[first.key])
    b.add(b"small")
    expected = union(content(a), content(b))

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (4, 1)
    assert report.bytes_a_to_b > 12 * 1024 * 1024
    assert_converged(a, b, expected=expected)


def test_a_log_replicated_with_itself_changes_nothing(tmp_path: Path, snapshot: Snapshot) -> None:
    a = hyperframe.open(tmp_path / "a")
    grow(a, 20, "a")
    before = snapshot(a.path)
    report = hyperframe.replicate(a, hyperframe.open(tmp_path / "a"))
    assert (report.sent_a_to_b, report.sent_b_to_a) == (0, 0)
    assert report.round_trips == 1
    assert snapshot(a.path) == before


def test_a_read_only_log_can_push(tmp_path: Path, snapshot: Snapshot) -> None:
    grow(hyperframe.open(tmp_path / "a"), 15, "a")
    a = hyperframe.Log(tmp_path / "a", read_only=True)
    b = hyperframe.open(tmp_path / "b")
    grow(b, 4, "b")
    nodes_a, nodes_b = content(a), content(b)
    before = snapshot(a.path)

    report = hyperframe.replicate(a, b, mode="push")

    assert report.sent_a_to_b == 15
    assert_holds(b, union(nodes_a, nodes_b))
    assert snapshot(a.path) == before


def test_a_read_only_log_that_would_receive_fails_cleanly(tmp_path: Path, snapshot: Snapshot) -> None:
    grow(hyperframe.open(tmp_path / "a"), 15, "a")
    a = hyperframe.Log(tmp_path / "a", read_only=True)
    b = hyperframe.open(tmp_path / "b")
    grow(b, 4, "b")
    before_a = snapshot(a.path)

    with pytest.raises(hyperframe.HyperframeError, match="read-only"):
        hyperframe.replicate(a, b)

    assert snapshot(a.path) == before_a
    assert verify_log(b.path).ok


def test_a_writer_racing_the_replication_still_ends_in_the_union(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 20, "a")
    grow(b, 15, "b")
    expected = union(content(a), content(b))
    other_writer = hyperframe.open(tmp_path / "a")
    raced: list[hyperframe.Node] = []

    once = threading.Lock()

    def progress(done: int, total: int) -> None:  # called from both sides' threads
        with once:
            if not raced:  # once, while nodes are arriving: another writer adds to A
                raced.append(other_writer.add("racer", links=[other_writer.heads()[0]]))

    hyperframe.replicate(a, b, progress=progress)

    assert len(raced) == 1
    expected[raced[0].key] = (raced[0].value, raced[0].links)
    assert_converged(a, b, expected=expected)


def test_when_no_sketch_ever_decodes_the_exact_id_lists_still_converge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hyperframe.sync import sketch

    monkeypatch.setattr(sketch.IBLT, "decode", lambda self: None)  # every sketch "too small"
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 200, "base", batches=2)
    hyperframe.replicate(a, b)
    grow(a, 30, "A")
    grow(b, 20, "B")
    expected = union(content(a), content(b))

    report = hyperframe.replicate(a, b)

    assert (report.sent_a_to_b, report.sent_b_to_a) == (30, 20)
    assert report.sides is not None
    assert any("full" in side.strategy for side in report.sides), [s.strategy for s in report.sides]
    assert_converged(a, b, expected=expected)


def test_the_report_counts_the_same_bytes_on_both_ends(tmp_path: Path) -> None:
    a, b = hyperframe.open(tmp_path / "a"), hyperframe.open(tmp_path / "b")
    grow(a, 50, "a")
    grow(b, 40, "b")
    report = hyperframe.replicate(a, b)
    assert report.sides is not None
    side_a, side_b = report.sides
    assert side_a.bytes_out == side_b.bytes_in == report.bytes_a_to_b
    assert side_b.bytes_out == side_a.bytes_in == report.bytes_b_to_a
    assert (side_a.sent, side_a.received, side_b.sent, side_b.received) == (50, 40, 40, 50)
    assert report.bytes_total == report.bytes_a_to_b + report.bytes_b_to_a
    assert "50 node(s) A→B, 40 B→A" in report.summary()


def test_received_rows_beyond_the_spill_size_wait_on_disk_and_commit_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 9: memory must not grow with what a peer sends; rows beyond SPILL_BYTES go to a file
    from hyperframe.sync import nodes

    monkeypatch.setattr(nodes, "SPILL_BYTES", 1)  # spill after every frame
    monkeypatch.setattr(nodes, "ROWS_PER_FRAME", 7)
    a = hyperframe.open(tmp_path / "a.db")
    a.batch([{"value": f"row {i}", "links": []} for i in range(50)])
    b = hyperframe.open(tmp_path / "b.db")
    b.add("b's own")
    spilled: list[str] = []
    real = nodes._Spill.__init__

    def watch(self: nodes._Spill) -> None:
        real(self)
        spilled.append(self.path)

    monkeypatch.setattr(nodes._Spill, "__init__", watch)
    hyperframe.replicate(a, b)
    assert spilled and not any(Path(p).exists() for p in spilled)  # used, then removed
    assert hyperframe.diff(a, b).identical
