"""What a transfer remembers of the nodes it received, and the exact-list arithmetic
(issue 9, case 4: memory that does not grow with what the peer sends).

Every received key and every link that must be stored locally used to be a Python
``bytes`` in a ``set`` (about 120 bytes a node), so a liar announcing a huge count could
grow the honest side until its deadline; they are sorted NumPy runs now (32 bytes a key).
``np.setdiff1d`` on a FULL list of 2**21 ids took seconds without looking at the deadline.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from hyperframe.errors import ProtocolError, RejectedNodeError
from hyperframe.keys import node_key_bytes
from hyperframe.store import segments
from hyperframe.sync.nodes import MAX_DUPLICATES, Incoming, encode_frames


def _frame(rows: list[tuple[bytes, list[bytes]]]) -> bytes:
    keys = [node_key_bytes(v, ls) for v, ls in rows]
    (payload,) = encode_frames(segments.make_table(keys, [ls for _, ls in rows], [v for v, _ in rows]), 0, False)
    return payload


def _chain(n: int, tag: str) -> list[tuple[bytes, list[bytes]]]:
    rows: list[tuple[bytes, list[bytes]]] = []
    for i in range(n):
        value = f"{tag}-{i}".encode()
        rows.append((value, [node_key_bytes(*rows[-1])] if rows and i % 2 else []))
    return rows


def test_received_keys_cost_about_32_bytes_a_node() -> None:
    frames = [_frame([(f"n-{f}-{i}".encode(), []) for i in range(10_000)]) for f in range(10)]
    Incoming(local_has=lambda keys: set()).add(_frame([(b"warm", [])]))  # imports are not the nodes' cost
    incoming = Incoming(local_has=lambda keys: set(), max_rows=-1)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for payload in frames:
            incoming.add(payload)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        incoming.close()
    assert incoming.received == 100_000 and len(incoming.seen) == 100_000
    # before: a set of 100,000 bytes objects, ~120 bytes each (12 MB)
    assert grown / 100_000 < 60, f"{grown / 100_000:.0f} bytes a received node"


def test_links_resolve_only_to_nodes_earlier_in_the_stream() -> None:
    rows = _chain(9, "c")
    incoming = Incoming(local_has=lambda keys: set())
    incoming.add(_frame(rows[:4]))
    incoming.add(_frame(rows[4:]))
    incoming.check_links()  # each link arrived before the node naming it: nothing to look up
    assert len(incoming.pending_links) == 0 and incoming.received == 9

    # a link to a node later in the same frame (or in a later one) must be stored locally
    later = (b"later", [])
    for split in ([[(b"first", [node_key_bytes(*later)]), later]], [[(b"first", [node_key_bytes(*later)])], [later]]):
        incoming = Incoming(local_has=lambda keys: set())
        for part in split:
            incoming.add(_frame(part))
        with pytest.raises(RejectedNodeError, match=node_key_bytes(*later).hex()):
            incoming.check_links()
        stored = Incoming(local_has=lambda keys: set(keys))  # ... and is fine if it is
        for part in split:
            stored.add(_frame(part))
        stored.check_links()

    # a node linking itself cannot be resolved by itself
    incoming = Incoming(local_has=lambda keys: set())
    own = node_key_bytes(b"x", [])
    incoming.add(_frame([(b"y", [own]), (b"x", [])]))
    with pytest.raises(RejectedNodeError):
        incoming.check_links()


def test_repeated_nodes_within_a_frame_and_across_frames_are_kept_once_and_counted() -> None:
    rows = _chain(6, "d")
    incoming = Incoming(local_has=lambda keys: set())
    incoming.add(_frame(rows + rows[:2]))
    incoming.add(_frame(rows[3:5]))
    assert incoming.duplicates == 4 and incoming.received == 10
    (table,) = incoming.tables()
    assert table.num_rows == 6
    assert segments.key_bytes(table.column("key")) == b"".join(node_key_bytes(*r) for r in rows)
    incoming = Incoming(local_has=lambda keys: set())
    with pytest.raises(ProtocolError, match="twice"):
        incoming.add(_frame([rows[0]] * (MAX_DUPLICATES + 2)))


def test_the_exact_list_difference_is_setdiff1d_and_fast() -> None:
    from hyperframe.sync.session import minus

    rng = np.random.default_rng(5)
    for n, m in [(0, 0), (0, 5), (5, 0), (1, 1), (300, 40), (40, 300)]:
        a = rng.integers(0, 50, n, dtype=np.uint64)
        b = rng.integers(0, 50, m, dtype=np.uint64)
        assert np.array_equal(minus(a, b), np.setdiff1d(a, b)), (a, b)
    theirs = rng.integers(0, 2**63, 2**21, dtype=np.uint64)
    mine = np.concatenate([theirs[:1000], rng.integers(0, 2**63, 1000, dtype=np.uint64)])
    start = time.perf_counter()
    only_theirs, only_mine = minus(theirs, mine), minus(mine, theirs)
    took = time.perf_counter() - start
    assert len(only_theirs) == 2**21 - 1000 and len(only_mine) == 1000
    assert took < 4, f"{took:.1f} s for a FULL list of 2**21 ids (np.setdiff1d: about 6 s)"
