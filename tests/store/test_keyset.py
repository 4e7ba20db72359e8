"""Columnar key sets and the framed-hash kernels agree with the plain Python answers,
including keys that share their first 8 bytes (what a crafted peer can arrange cheaply)."""

from __future__ import annotations

import os
import random

import numpy as np
import pyarrow as pa
import pytest

from hyperframe.keys import array_keys, node_key_bytes, row_keys
from hyperframe.store import keyset


def _keys(keys: list[bytes]) -> np.ndarray:
    return keyset.as_keys(b"".join(keys))


def _near_twins(count: int) -> list[bytes]:
    """Distinct keys that all share their first 8 bytes."""
    head = os.urandom(8)
    return [head + os.urandom(24) for _ in range(count)]


@pytest.mark.parametrize("hashed", [False, True])
def test_isin_tells_keys_apart_that_share_8_bytes(hashed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if hashed:
        monkeypatch.setattr(keyset, "_HASHED", 0)
    twins = _near_twins(6)
    others = [os.urandom(32) for _ in range(50)]
    among = twins[::2] + others[::3]
    query = twins + others
    expected = [k in set(among) for k in query]
    assert keyset.isin(_keys(query), _keys(among)).tolist() == expected
    assert keyset.isin(_keys(query), _keys(among + among)).tolist() == expected  # repeats allowed


def test_keyset_matches_a_python_set_over_many_runs() -> None:
    rng = random.Random(7)
    seen = keyset.KeySet()
    truth: set[bytes] = set()
    pool = _near_twins(40) + [os.urandom(32) for _ in range(2000)]
    for _ in range(60):
        fresh = [k for k in rng.sample(pool, rng.randint(1, 80)) if k not in truth]
        fresh = list(dict.fromkeys(fresh))
        query = rng.sample(pool, 100)
        assert seen.contains(_keys(query)).tolist() == [k in truth for k in query]
        seen.add(_keys(fresh))
        truth.update(fresh)
    assert len(seen) == len(truth)
    assert set(seen) == truth
    assert len(seen.runs) <= len(truth).bit_length()


def test_keyset_runs_stay_logarithmic_whatever_the_frame_sizes() -> None:
    """Shrinking frames (a peer chooses them) must not pile up runs to search."""
    seen = keyset.KeySet()
    total = 0
    for size in range(400, 0, -1):
        seen.add(keyset.as_keys(os.urandom(32 * size)))
        total += size
    assert len(seen) == total
    assert len(seen.runs) <= total.bit_length()


def test_lookup_finds_the_first_equal_key_of_a_sorted_run() -> None:
    twins = _near_twins(4)
    stored = _keys([twins[0], twins[1], twins[1], twins[2]])  # one prefix for all: sorted
    ids, words = keyset.prefixes(stored), keyset.words(stored)
    query = _keys([twins[1], twins[3], twins[2], os.urandom(32)])
    assert keyset.lookup(ids, words, keyset.prefixes(query), keyset.words(query)).tolist() == [1, -1, 3, -1]


def _binary(values: list[bytes]) -> pa.Array:
    ends = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int32)
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(ends), pa.py_buffer(b"".join(values))])


@pytest.mark.parametrize("seed", range(5))
def test_array_keys_frames_like_the_per_node_hash(seed: int) -> None:
    """Lengths across digit boundaries, empty values, many links, a fat value, a slice."""
    rng = random.Random(seed)
    sizes = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 10_000, 65_536, 65_537, 200_000]
    values = [os.urandom(rng.choice(sizes) if rng.random() < 0.2 else rng.randint(0, 40)) for _ in range(400)]
    counts = [rng.choice([0, 0, 1, 1, 1, 2, 3, 9] + ([60] if seed == 4 else [])) for _ in values]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    flat = os.urandom(32 * int(offsets[-1]))
    expected = [
        node_key_bytes(v, [flat[32 * j : 32 * j + 32] for j in range(offsets[i], offsets[i + 1])])
        for i, v in enumerate(values)
    ]
    assert array_keys(_binary(values), offsets, flat) == expected
    assert row_keys(values, offsets.tolist(), flat) == expected
    start = 37
    part = offsets[start:] - offsets[start]
    assert array_keys(_binary(values).slice(start), part, flat[32 * int(offsets[start]) :]) == expected[start:]
