"""Repair a damaged log: keep every intact node, drop what cannot be trusted, say what was lost.

What ``repair`` does, holding the write lock:

1. picks the newest manifest that parses (the *base*);
2. judges every segment file by its content alone (its name matches its keys, every key
   matches its node, every value decodes): a file is intact or it is not, whatever
   checksum any manifest recorded for it;
3. if the newest manifest is damaged or a listed segment is not intact, rebuilds the
   state: the base's intact segments in their order, then the intact nodes of every
   other segment file in the directory, top level and ``_hyperframe/retired/`` (older
   states, compaction inputs, crashed writers' files) wherever all their links are
   known, so no node whose bytes are intact anywhere is lost, and a log never holds a
   node without its links;
4. publishes the new manifest (intact format-2 files are listed as they are, a retired
   one moved back to the top level: a segment file is never rewritten; format-1 files
   are written anew in format 2) and removes the files no version needs.

Running it again, or after it was killed at any point, finds the same intact files and
does the same. Lost nodes can be brought back by replicating from a peer that has them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .encodings import get_encoding
from .errors import CorruptLogError, NotALogError
from .store import layout, segments
from .store import manifest as mf
from .store.commit import Change, commit
from .store.directory import LogStore, writing
from .store.keyindex import KeyIndex
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
    #: intact segment files no readable manifest listed, whose nodes the log now holds
    adopted_files: list[str] = field(default_factory=list)
    rebuilt_manifest: bool = False

    def summary(self) -> str:
        text = f"repaired {self.path}: kept {self.kept_nodes} node(s), dropped {self.dropped_nodes}"
        if self.damaged_files:
            text += f"; damaged: {', '.join(self.damaged_files)}"
        if self.adopted_files:
            text += f"; took in the intact nodes of {len(self.adopted_files)} unlisted segment file(s)"
        if self.removed_files:
            text += f"; removed {len(self.removed_files)} orphan file(s)"
        if self.dropped_nodes:
            text += "; replicate from a peer to recover the dropped nodes"
        return text


@dataclass
class _Piece:
    """Rows of one intact segment file not placed yet."""

    info: SegmentInfo
    table: pa.Table
    listed: bool
    whole: bool = True  # no row taken away yet: may be listed as the file it is
    taken: int = 0  # rows placed from it


def repair_log(path: str | Path, *, progress: Callable[[int, int], None] | None = None) -> RepairReport:
    """Rebuild a log's manifest from its intact segments; see the module docs.

    ``progress(done, total)`` is called as each segment file is judged (files).
    """
    store = LogStore(Path(path))
    if not store.exists():
        raise NotALogError(f"{path} is not a hyperframe log (no {mf.META_DIR}/ folder); nothing to repair", path=path)
    report = RepairReport(str(path))
    base = _newest_readable(store, report)
    encoding = base.encoding if base else _guess_encoding(store)

    def stage(_empty: Manifest, _index: KeyIndex) -> Change | None:
        report.damaged_files += _set_aside_unfollowable(store)
        if report.damaged_files:
            report.rebuilt_manifest = True
        base_now = _newest_readable(store, RepairReport(report.path))  # under the lock: the state to judge
        sources: dict[str, Path] = {}
        files, salvaged = _intact_files(store, encoding, progress, sources)
        listed = [files.get(info.file) for info in base_now.segments] if base_now else []
        damaged = [
            info.file
            for info, found in zip(base_now.segments if base_now else (), listed)
            if found is None or (found[0].size, found[0].sha256) != (info.size, info.sha256)
        ]  # unreadable, or its bytes changed (a checksum to record anew if the nodes in it are intact)
        report.damaged_files += damaged
        names = {info.file for info in base_now.segments} if base_now else set()
        pieces = [_Piece(found[0], found[1], True) for found in listed if found is not None]
        unlisted = [_Piece(info, table, False) for name, (info, table) in files.items() if name not in names]
        unlisted += [_Piece(SegmentInfo("", "", 0, 0, ""), rows, False, whole=False) for rows in salvaged]
        keep, tables, unplaced = _place(pieces + unlisted)
        adopted = [piece.info.file or "(rows of a damaged file)" for piece in unlisted if piece.taken]
        if base_now is not None and not damaged and not report.rebuilt_manifest and not adopted:
            report.kept_nodes = base_now.nodes
            _make_live(store, [(info, None) for info in base_now.segments], sources)
            return None  # nothing to rebuild: the newest state is whole and no intact node is outside it
        report.rebuilt_manifest = True
        report.adopted_files = adopted
        _make_live(store, keep, sources)
        kept = sum(t.num_rows for _, t in keep) + sum(t.num_rows for t in tables)
        report.kept_nodes = kept
        trusted = base_now.nodes if base_now is not None else 0
        report.dropped_nodes = max(0, trusted - kept) + unplaced
        return Change(tables, keep)

    commit(store, KeyIndex(store.read_segment), encoding=encoding, stage=stage, rebuild=True, operation="repair")
    with writing(store.path), store.lock():
        current = store.latest()
        if current is not None:
            report.removed_files = [p.name for p in store.vacuum(current, current.retention)]
    return report


def _make_live(store: LogStore, listed: Sequence[tuple[SegmentInfo, object]], sources: dict[str, Path]) -> None:
    """A listed file must be live: bring the ones only found retired back to the top."""
    for info, _table in listed:
        source = sources.get(info.file)
        if source is not None and source.parent != store.path and not (store.path / info.file).exists():
            layout.restore(store.path, source)


def _set_aside_unfollowable(store: LogStore) -> list[str]:
    """Move manifests numbered so high that no commit could follow them (hyperframe never
    writes those; someone placed them) to ``_hyperframe/damaged/``."""
    moved = []
    for version in mf.manifest_versions(store.path):
        if version + 2 > mf.MAX_VERSION:
            source = mf.manifest_path(store.path, version)
            aside = store.meta / "damaged"
            aside.mkdir(exist_ok=True)
            source.rename(aside / source.name)
            moved.append(source.name)
    return moved


def _newest_readable(store: LogStore, report: RepairReport) -> Manifest | None:
    """The newest manifest that parses; damaged newer ones are reported."""
    for version in reversed(mf.manifest_versions(store.path)):
        try:
            return mf.read_manifest(store.path, version)
        except (CorruptLogError, OSError):
            report.damaged_files.append(mf.manifest_path(store.path, version).name)
            report.rebuilt_manifest = True
    report.rebuilt_manifest = True
    return None


def _intact_files(
    store: LogStore,
    encoding: str,
    progress: Callable[[int, int], None] | None = None,
    sources: dict[str, Path] | None = None,
) -> tuple[dict[str, tuple[SegmentInfo, pa.Table]], list[pa.Table]]:
    """Every segment file, live or retired, whose content is intact, by segment file name
    (of two intact copies of one segment, the top-level one); and the rows that still check
    out in damaged files that parse (a node intact inside a damaged file is not lost)."""
    undecodable = get_encoding(encoding).undecodable_rows
    sources = {} if sources is None else sources
    found: dict[str, tuple[SegmentInfo, pa.Table]] = {}
    salvaged: list[pa.Table] = []
    every = layout.live_files(store.path) + layout.retired_files(store.path)
    for done, file in enumerate(every):
        if progress is not None:
            progress(done, len(every))
        intact = segments.inspect_file(file)
        if intact is not None and not undecodable(intact[1].column("value")):
            if intact[0].file not in found:
                found[intact[0].file] = (intact[0], intact[1])
                sources[intact[0].file] = file
            continue
        rows = intact[1] if intact is not None else segments.salvage_file(file)
        if rows is not None:
            bad = set(undecodable(rows.column("value")))
            if bad:
                rows = rows.take(segments.indices([r for r in range(rows.num_rows) if r not in bad]))
            if rows.num_rows:
                salvaged.append(rows)
    if progress is not None:
        progress(len(every), len(every))
    return dict(sorted(found.items())), salvaged


def _place(pieces: list[_Piece]) -> tuple[list[tuple[SegmentInfo, pa.Table]], list[pa.Table], int]:
    """Order intact rows so every node comes after its links, without duplicates.

    Listed segments come first, in their order; a segment taken whole is kept as the
    file it is, rows taken from a segment in part go into new segments. Rows of unlisted
    files whose links never show up are not placed: returns (kept files, new tables,
    how many unlisted rows could not be placed).
    """
    known: set[bytes] = set()
    keep: list[tuple[SegmentInfo, pa.Table]] = []
    tables: list[pa.Table] = []
    progress = True
    while progress:
        progress = False
        for piece in pieces:
            if not piece.table.num_rows:
                continue
            rows = _placeable(piece.table, known)
            if not rows:
                continue
            progress = True
            piece.taken += len(rows)
            if piece.whole and len(rows) == piece.table.num_rows and not tables:
                keep.append((piece.info, piece.table))
            else:
                tables.append(piece.table.take(segments.indices(rows)))
            rest = sorted(set(range(piece.table.num_rows)) - set(rows))
            piece.table = piece.table.take(segments.indices(rest))
            piece.whole = False
    unplaced = sum(p.table.num_rows for p in pieces if not p.listed)
    unplaced -= _already_known(pieces, known)
    return keep, tables, max(0, unplaced)


def _placeable(table: pa.Table, known: set[bytes]) -> list[int]:
    """Rows whose links are all known (or earlier in the table); they become known.

    Rows whose key is known already are skipped (a compaction's copy of the same node).
    """
    keys = segments.split_keys(segments.key_bytes(table.column("key")))
    offsets, flat = segments.links_per_row(table)
    links = segments.split_keys(flat)
    rows = []
    for row, key in enumerate(keys):
        if key in known:
            continue
        if all(link in known for link in links[offsets[row] : offsets[row + 1]]):
            rows.append(row)
            known.add(key)
    return rows


def _already_known(pieces: list[_Piece], known: set[bytes]) -> int:
    """Unlisted rows left over only because their node was placed from another file."""
    count = 0
    for piece in pieces:
        if not piece.listed and piece.table.num_rows:
            keys = segments.split_keys(segments.key_bytes(piece.table.column("key")))
            count += sum(1 for k in keys if k in known)
    return count


def _guess_encoding(store: LogStore) -> str:
    """Without any manifest, take the encoding every segment file records in its metadata."""
    import pyarrow.parquet as pq

    for file in layout.live_files(store.path) + layout.retired_files(store.path):
        try:
            meta = pq.read_schema(file).metadata or {}
        except Exception:
            continue
        if segments.ENCODING_META in meta:
            return str(meta[segments.ENCODING_META].decode())
    return "utf-8"
