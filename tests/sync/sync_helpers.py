"""Helpers shared by the replication tests: growing a log, and checking what a log holds.

Each takes a ``Log`` or the path of one; what they check is read back from disk through a
fresh ``Log``. (Disk snapshots are the ``snapshot`` fixture of tests/conftest.py.)
"""

from __future__ import annotations

import random
from pathlib import Path

import hyperframe
from hyperframe import Log, node_key
from hyperframe.verify import verify_log

#: what a log holds: key -> (value, links)
Content = dict[str, tuple[object, tuple[str, ...]]]


def grow(log: Log, n: int, tag: str, *, batches: int = 1, seed: object = None) -> list[str]:
    """Add ``n`` nodes (values ``tag-i``) in ``batches`` commits; each links 0-2 recent nodes.

    The same tag and seed on logs with the same heads add the same nodes.
    """
    rng = random.Random(f"{tag}/{seed}")
    pool = list(log.heads())
    made: list[str] = []
    per = -(-n // batches)
    for b in range(batches):
        docs = []
        for i in range(b * per, min(n, (b + 1) * per)):
            k = min(len(pool), rng.choice([0, 1, 1, 2]))
            links = rng.sample(pool[-50:], k) if k else []
            value: object = {"tag": tag, "i": i} if log.encoding.name == "json" else f"{tag}-{i}"
            key = node_key(log.encoding.encode(value), links)
            docs.append({"value": value, "links": links})
            pool.append(key)
            made.append(key)
        if docs:
            log.batch(docs)
    return made


def _path(log: Log | Path) -> Path:
    return log.path if isinstance(log, Log) else log


def content(log: Log | Path) -> Content:
    """Every node as key -> (value, links), read back from disk through a fresh Log."""
    fresh = hyperframe.open(_path(log))
    return {n.key: (n.value, n.links) for n in fresh.changes()}


def union(*parts: Content) -> Content:
    out: Content = {}
    for part in parts:
        out.update(part)
    return out


def true_heads(nodes: Content) -> list[str]:
    """The keys no node links to, sorted: what ``heads()`` must say."""
    linked = {link for _value, links in nodes.values() for link in links}
    return sorted(set(nodes) - linked)


def assert_holds(log: Log | Path, expected: Content) -> None:
    """The log holds exactly ``expected`` (values and links intact), its heads are right, verify passes."""
    path = _path(log)
    got = content(path)
    assert set(got) == set(expected)
    assert got == expected
    fresh = hyperframe.open(path)
    assert len(fresh) == len(expected)
    assert fresh.heads() == true_heads(expected)
    report = verify_log(path)
    assert report.ok, report.summary()
    assert report.nodes == len(expected)


def assert_converged(*logs: Log | Path, expected: Content) -> None:
    """Every log holds exactly ``expected``, and all have the same heads (a ``Log`` object's own too)."""
    for log in logs:
        assert_holds(log, expected)
    heads = [log.heads() if isinstance(log, Log) else hyperframe.open(log).heads() for log in logs]
    assert all(h == heads[0] for h in heads)
