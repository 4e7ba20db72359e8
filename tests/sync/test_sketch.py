"""Set-difference sketches: IBLTs recover a difference exactly (or say they cannot), strata estimate its size."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hyperframe.sync import sketch
from hyperframe.sync.sketch import IBLT


def split_sets(seed: int, common: int, only_a: int, only_b: int) -> tuple[np.ndarray, np.ndarray, set[int], set[int]]:
    rng = np.random.default_rng(seed)
    ids = np.unique(rng.integers(0, 2**64, common + only_a + only_b + 16, dtype=np.uint64))
    rng.shuffle(ids)
    ids = ids[: common + only_a + only_b]
    base, extra_a, extra_b = ids[:common], ids[common : common + only_a], ids[common + only_a :]
    a = np.concatenate([base, extra_a])
    b = np.concatenate([base, extra_b])
    rng.shuffle(a)
    rng.shuffle(b)
    return a, b, set(extra_a.tolist()), set(extra_b.tolist())


def difference(a: np.ndarray, b: np.ndarray, m: int) -> IBLT:
    return IBLT.of(a, m).subtract(IBLT.of(b, m))


# --- IBLT -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("only_a", "only_b"), [(1, 0), (0, 1), (3, 4), (20, 0), (40, 60), (700, 300)])
def test_a_big_enough_iblt_recovers_the_exact_difference(only_a: int, only_b: int) -> None:
    a, b, want_a, want_b = split_sets(7, 5000, only_a, only_b)
    m = sketch.size_for(2 * (only_a + only_b))
    decoded = difference(a, b, m).decode()
    assert decoded is not None
    mine, theirs = decoded
    assert set(mine.tolist()) == want_a and len(mine) == only_a
    assert set(theirs.tolist()) == want_b and len(theirs) == only_b
    assert mine.dtype == theirs.dtype == np.uint64


@pytest.mark.parametrize("d", [1, 5, 20, 64, 500, 2000])
def test_size_for_decodes_most_of_the_time_and_is_never_wrong(d: int) -> None:
    ok = 0
    trials = 20 if d <= 64 else 6  # peeling a big difference takes a while
    for seed in range(trials):
        a, b, want_a, want_b = split_sets(1000 + seed, 3000, d // 3, d - d // 3)
        decoded = difference(a, b, sketch.size_for(d)).decode()
        if decoded is None:
            continue
        mine, theirs = decoded
        assert (set(mine.tolist()), set(theirs.tolist())) == (want_a, want_b)  # never a wrong answer
        ok += 1
    assert ok >= 0.8 * trials


def test_a_too_small_iblt_says_so_instead_of_answering_wrong() -> None:
    failures = 0
    for seed in range(10):
        a, b, want_a, want_b = split_sets(seed, 2000, 250, 250)
        decoded = difference(a, b, sketch.size_for(10)).decode()
        if decoded is None:
            failures += 1
        else:
            assert (set(decoded[0].tolist()), set(decoded[1].tolist())) == (want_a, want_b)
    assert failures == 10


def test_equal_sets_decode_to_nothing() -> None:
    a, b, _, _ = split_sets(3, 4000, 0, 0)
    decoded = difference(a, b, 30).decode()
    assert decoded is not None
    assert len(decoded[0]) == len(decoded[1]) == 0
    empty = IBLT.of(np.empty(0, np.uint64), 30)
    assert empty.decode() is not None
    assert not empty.ids.any() and not empty.counts.any()


def test_subtraction_is_linear() -> None:
    a, b, only_a, only_b = split_sets(11, 1000, 30, 20)
    m = 120
    direct = difference(a, b, m)
    reduced = IBLT.of(np.array(sorted(only_a), np.uint64), m).subtract(IBLT.of(np.array(sorted(only_b), np.uint64), m))
    assert np.array_equal(direct.ids, reduced.ids)
    assert np.array_equal(direct.checks, reduced.checks)
    assert np.array_equal(direct.counts, reduced.counts)


def test_sketches_of_different_sizes_cannot_be_subtracted() -> None:
    ids = np.arange(10, dtype=np.uint64)
    with pytest.raises(ValueError):
        IBLT.of(ids, 30).subtract(IBLT.of(ids, 33))


def test_of_does_not_change_its_input() -> None:
    ids = np.array([5, 1, 2**63 + 9], np.uint64)
    IBLT.of(ids, 30)
    assert ids.tolist() == [5, 1, 2**63 + 9]


def test_bytes_round_trip() -> None:
    a, _, _, _ = split_sets(5, 500, 0, 0)
    table = IBLT.of(a, 66)
    data = table.to_bytes()
    assert len(data) == 66 * sketch.CELL_BYTES
    back = IBLT.from_bytes(data)
    assert back.m == 66
    assert np.array_equal(back.ids, table.ids)
    assert np.array_equal(back.checks, table.checks)
    assert np.array_equal(back.counts, table.counts)
    assert back.to_bytes() == data


@pytest.mark.parametrize("length", [1, 15, 17, 16 * 4, 16 * 5, 16 * 3 + 8])
def test_from_bytes_refuses_partial_cells(length: int) -> None:
    with pytest.raises(ValueError):
        IBLT.from_bytes(b"\x01" * length)


def test_random_bytes_decode_quickly_to_nothing() -> None:
    rng = np.random.default_rng(9)
    start = time.perf_counter()
    for _ in range(20):
        table = IBLT.from_bytes(rng.bytes(16 * 3000))
        assert table.decode() is None
    assert time.perf_counter() - start < 5


def test_a_hostile_table_that_peels_in_a_cycle_stops() -> None:
    """Each id is put in only one of its three cells: peeling it makes the other two 'pure' with
    the opposite sign, which peels it back, forever, unless decoding bounds its work."""
    m = 3 * 400
    table = IBLT.empty(m)
    ids = np.random.default_rng(4).integers(1, 2**64, 300, dtype=np.uint64)
    checks = sketch._check(ids)
    cells = sketch._cells(ids, m)[0]
    for i, c in enumerate(cells):
        table.ids[c] ^= ids[i]
        table.checks[c] ^= checks[i]
        table.counts[c] += 1
    start = time.perf_counter()
    result = table.decode()
    assert time.perf_counter() - start < 5
    assert result is None


def test_size_for_is_a_whole_number_of_subtables_and_grows() -> None:
    sizes = [sketch.size_for(d) for d in range(0, 3000, 7)]
    assert all(s % sketch.HASHES == 0 for s in sizes)
    assert all(s >= 1.5 * d for s, d in zip(sizes, range(0, 3000, 7)))
    assert sizes == sorted(sizes)
    assert sketch.size_for(0) > 0


# --- strata estimator -------------------------------------------------------------------------


def strata_estimate(a: np.ndarray, b: np.ndarray) -> int:
    levels = sketch.strata_levels(max(len(a), len(b)))
    return sketch.estimate(sketch.strata(a, levels).subtract(sketch.strata(b, levels)))


@pytest.mark.parametrize("d", [0, 1, 2, 5, 10])
def test_small_differences_are_estimated_exactly(d: int) -> None:
    a, b, _, _ = split_sets(21, 20000, d // 2, d - d // 2)
    assert strata_estimate(a, b) == d


@pytest.mark.parametrize("d", [50, 300, 1000, 3000])
def test_larger_differences_are_estimated_within_a_small_factor(d: int) -> None:
    estimates = []
    for seed in range(12):
        a, b, _, _ = split_sets(300 + seed, 20000, d // 2, d - d // 2)
        estimates.append(strata_estimate(a, b))
    assert d / 1.5 <= float(np.median(estimates)) <= 1.5 * d, estimates
    assert all(d / 5 <= e <= 5 * d for e in estimates), estimates


def test_strata_size_is_levels_times_cells_whatever_the_set() -> None:
    for n in (0, 1, 100, 100_000):
        levels = sketch.strata_levels(n)
        assert levels >= 2
        ids = np.arange(min(n, 1000), dtype=np.uint64)
        assert sketch.strata(ids, levels).m == levels * sketch.STRATA_CELLS
    assert sketch.strata_levels(1_000_000) > sketch.strata_levels(1000)


def test_strata_of_an_empty_set_is_empty() -> None:
    table = sketch.strata(np.empty(0, np.uint64), 5)
    assert table.m == 5 * sketch.STRATA_CELLS
    assert not table.ids.any() and not table.counts.any() and not table.checks.any()
