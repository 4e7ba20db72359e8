"""The heads a commit records: old heads and new keys nothing new links, sorted, once each,
also when keys share their first 8 bytes (the fast sort's tie case)."""

from __future__ import annotations

import os
import random

import pytest

from hyperframe.store import segments
from hyperframe.store.commit import next_heads


@pytest.mark.parametrize("seed", range(20))
def test_next_heads_is_the_set_difference_sorted(seed: int) -> None:
    rng = random.Random(seed)
    shared = os.urandom(8)

    def key() -> bytes:
        return shared + os.urandom(24) if rng.random() < 0.3 else os.urandom(32)

    keys = [key() for _ in range(rng.randint(1, 80))]
    old = [key().hex() for _ in range(rng.randint(0, 6))] + ([keys[-1].hex()] if seed % 3 == 0 else [])
    links = [[rng.choice(keys[:i]) for _ in range(rng.randint(0, 2))] if i else [] for i in range(len(keys))]
    links = [ls + ([bytes.fromhex(rng.choice(old))] if old and rng.random() < 0.3 else []) for ls in links]
    table = segments.make_table(keys, links, [b"v"] * len(keys))
    linked = {link for ls in links for link in ls}
    expected = sorted({k.hex() for k in keys if k not in linked} | {h for h in old if bytes.fromhex(h) not in linked})
    assert next_heads(old, [table]) == tuple(expected)


def test_no_new_rows_keep_the_old_heads() -> None:
    assert next_heads(("ab" * 32,), [segments.make_table([], [], [])]) == ("ab" * 32,)
