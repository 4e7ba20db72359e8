"""What the tests import (the fixtures are in conftest.py): the CLI's result type and disk snapshots."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    """What a command did: its exit status and what it printed."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    def is_one_line_error(self) -> bool:
        """Failed, and said so in one ``hyperframe: error:`` line on stderr, no traceback."""
        return (
            self.code != 0
            and "Traceback" not in self.err
            and self.err.startswith("hyperframe: error: ")
            and self.err.count("\n") == 1
        )


#: the ``run`` / ``run_process`` / ``run_python`` fixtures
RunCli = Callable[..., Result]
#: the ``snapshot`` fixture: ``disk_state``
Snapshot = Callable[..., dict[str, str]]


def disk_state(path: Path, *, ignore: Collection[str] = ()) -> dict[str, str]:
    """Every file under ``path`` (relative name -> sha256 of its bytes); {} if ``path`` is absent.

    ``ignore``: names of files or folders to leave out wherever they are (``__pycache__``).
    """
    if not path.exists():
        return {}
    skip = set(ignore)
    state = {}
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if p.is_file() and not skip.intersection(rel.parts):
            state[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return state


def write_format1_log(path: Path, batches: list[list[str]], *, encoding: str = "utf-8") -> list[str]:
    """Write a log the way hyperframe wrote it before format 2 (``list<fixed_size_binary(32)>``
    links, ``"format": 1`` manifests), one segment and one manifest per batch of values,
    each value linking the one before; return the keys in change order."""
    import json
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq

    from hyperframe.keys import node_key_bytes

    key_type = pa.binary(32)
    links_type = pa.list_(pa.field("item", key_type, nullable=False))
    schema = pa.schema(
        [
            pa.field("key", key_type, nullable=False),
            pa.field("links", links_type, nullable=False),
            pa.field("value", pa.binary(), nullable=False),
        ]
    )
    manifests = path / "_hyperframe" / "manifests"
    manifests.mkdir(parents=True)
    order: list[bytes] = []
    segments: list[dict[str, object]] = []

    def publish(version: int) -> None:
        heads = [order[-1].hex()] if order else []
        fingerprint = bytes(32)
        for key in order:
            fingerprint = bytes(a ^ b for a, b in zip(fingerprint, key))
        doc = {
            "format": 1,
            "version": version,
            "encoding": encoding,
            "nodes": len(order),
            "fingerprint": fingerprint.hex(),
            "created": time.time(),
            "segments": segments,
            "heads": heads,
        }
        (manifests / f"v{version:020d}.json").write_text(json.dumps(doc))

    publish(0)
    for version, batch in enumerate(batches, start=1):
        keys, links, values = [], [], []
        for text in batch:
            value = text.encode()
            link = [order[-1]] if order else []
            key = node_key_bytes(value, link)
            keys.append(key)
            links.append(link)
            values.append(value)
            order.append(key)
        table = pa.table([pa.array(keys, key_type), pa.array(links, links_type), pa.array(values)], schema=schema)
        sid = hashlib.sha256(b"".join(keys)).hexdigest()
        file = path / f"seg-{sid}.parquet"
        meta = table.replace_schema_metadata({b"hyperframe.encoding": encoding.encode()})
        pq.write_table(meta, file, compression="zstd", use_dictionary=["value"], write_page_checksum=True)
        data = file.read_bytes()
        entry = {"file": file.name, "id": sid, "rows": len(keys), "size": len(data)}
        segments = [*segments, {**entry, "sha256": hashlib.sha256(data).hexdigest()}]
        publish(version)
    return [k.hex() for k in order]
