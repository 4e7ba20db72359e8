"""Repair a damaged log: keep every intact node, drop what cannot be trusted, say what was lost.

What ``repair`` does, holding the write lock:

1. picks the newest manifest that parses (or, if none does, every segment file in the
   directory whose name matches its content);
2. keeps the segments whose bytes match their checksum and whose nodes all match their
   keys; a damaged or missing segment's nodes are dropped, and so is every node whose
   history went with them (a log never holds a node without its links);
3. publishes a new manifest over the survivors and removes orphan files.

Lost nodes can be brought back by replicating from a peer that still has them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CorruptLogError, NotALogError
from .store import manifest as mf
from .store import segments
from .store.directory import LogStore
from .store.manifest import Manifest, SegmentInfo

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class RepairReport:
    """What :func:`repair_log` kept, dropped and removed."""

    path: str
    kept_nodes: int = 0
    dropped_nodes: int = 0
    damaged_files: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)
    rebuilt_manifest: bool = False

    def summary(self) -> str:
        text = f"repaired {self.path}: kept {self.kept_nodes} node(s), dropped {self.dropped_nodes}"
        if self.damaged_files:
            text += f"; damaged: {', '.join(self.damaged_files)}"
        if self.removed_files:
            text += f"; removed {len(self.removed_files)} orphan file(s)"
        if self.dropped_nodes:
            text += "; replicate from a peer to recover the dropped nodes"
        return text


def _intact_table(store: LogStore, info: SegmentInfo) -> pa.Table | None:
    """The segment's table if its bytes (checked against ``info.sha256`` by the read) and
    every node check out, else None."""
    try:
        table = store.read_segment(info)
    except Exception:
        return None
    if not table.schema.equals(segments.schema()) or segments.segment_id(table.column("key")) != info.id:
        return None
    return None if segments.mismatched_rows(table) else table


def _candidates(store: LogStore, report: RepairReport) -> tuple[Manifest | None, list[SegmentInfo], list[SegmentInfo]]:
    """The newest readable manifest, its segments, and the other segment files on disk."""
    base: Manifest | None = None
    for version in reversed(mf.manifest_versions(store.path)):
        try:
            base = mf.read_manifest(store.path, version)
            break
        except CorruptLogError:
            report.damaged_files.append(mf.manifest_path(store.path, version).name)
            report.rebuilt_manifest = True
    listed = list(base.segments) if base else []
    names = {s.file for s in listed}
    others = []
    for file in sorted(store.path.glob("seg-*.parquet")):
        if file.name in names:
            continue
        try:
            others.append(SegmentInfo(file.name, file.name[4:-8], 0, file.stat().st_size, ""))
            mf.segment_file_name(file.name[4:-8])
        except ValueError:
            others.pop()
    if base is None:
        report.rebuilt_manifest = True
    return base, listed, others


def repair_log(path: str | Path) -> RepairReport:
    """Rebuild a log's manifest from its intact segments; see the module docs."""
    import pyarrow as pa

    from .log import _next_heads

    store = LogStore(Path(path))
    if not store.exists():
        raise NotALogError(f"{path} is not a hyperframe log (no {mf.META_DIR}/ folder); nothing to repair", path=path)
    report = RepairReport(str(path))
    with store.lock():
        base, listed, others = _candidates(store, report)
        encoding = base.encoding if base else _guess_encoding(store)
        kept: list[pa.Table] = []
        known: set[bytes] = set()
        changed = report.rebuilt_manifest
        pending: list[pa.Table] = []
        for info in listed:
            table = _intact_table(store, info)
            if table is None:
                report.damaged_files.append(info.file)
                changed = True
                continue
            pending.append(table)
        listed_tables = len(pending)
        if report.rebuilt_manifest:
            # the newest state is unreadable: intact segments it may have listed are on disk
            # but unlisted; they hold valid nodes, so they come back, in an order where links come first
            extra = [t for t in (_intact_table(store, info) for info in others) if t is not None]
            pending += _causal_order(extra)
        unlinked = 0  # rows of unlisted files whose history is gone
        for n, table in enumerate(pending):
            keys = segments.split_keys(segments.key_bytes(table.column("key")))
            offsets, flat = segments.links_per_row(table)
            links = segments.split_keys(flat)
            keep = []
            for row, key in enumerate(keys):
                if key in known:
                    continue  # already kept from another segment (a compaction's copy)
                if all(link in known for link in links[offsets[row] : offsets[row + 1]]):
                    keep.append(row)
                    known.add(key)
                elif n >= listed_tables:
                    unlinked += 1
            if len(keep) != table.num_rows:
                table = table.take(segments.indices(keep))
                changed = True
            if table.num_rows:
                kept.append(table)
        report.kept_nodes = sum(t.num_rows for t in kept)
        # what the trusted manifest listed and did not survive, plus unlisted nodes that lost their history
        trusted = base.nodes if base is not None else 0
        report.dropped_nodes = max(0, trusted - report.kept_nodes) + unlinked
        current: Manifest | None = base
        if changed:
            newest = mf.manifest_versions(store.path)
            fresh = Manifest(version=(newest[-1] if newest else -1), encoding=encoding, created=time.time())
            heads = _next_heads((), pa.concat_tables(kept)) if kept else ()
            current = store.commit(fresh, kept, heads=heads)
        report.removed_files = [p.name for p in store.remove_orphans(current)]
    return report


def _causal_order(tables: list[pa.Table]) -> list[pa.Table]:
    """Order whole segments so each one's outside links come from earlier ones."""
    import pyarrow as pa

    if len(tables) < 2:
        return tables
    combined = pa.concat_tables(tables)
    import networkx as nx

    from .graph import build_graph

    graph = build_graph(combined)
    order = {
        key: i
        for i, key in enumerate(nx.lexicographical_topological_sort(graph, key=lambda k: graph.nodes[k]["change"]))
    }
    rows = sorted(range(combined.num_rows), key=lambda r: order[combined.column("key")[r].as_py().hex()])
    return [combined.take(segments.indices(rows)).combine_chunks()]


def _guess_encoding(store: LogStore) -> str:
    """Without any manifest, take the encoding every segment file records in its metadata."""
    import pyarrow.parquet as pq

    for file in sorted(store.path.glob("seg-*.parquet")):
        try:
            meta = pq.read_schema(file).metadata or {}
        except Exception:
            continue
        if segments.ENCODING_META in meta:
            return str(meta[segments.ENCODING_META].decode())
    return "utf-8"
