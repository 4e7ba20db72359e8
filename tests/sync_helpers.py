"""Helpers shared by the replication tests."""

from __future__ import annotations

import random

from hyperframe import Log, node_key


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
