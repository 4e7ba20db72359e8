"""The manifest: which segment files make up a log, in order, plus cached summary facts.

Manifests are numbered JSON files under ``_hyperframe/manifests/``; the highest number is
the log's current state. A commit writes number N+1 with put-if-absent, so a manifest is
never overwritten and a reader sees either a whole old state or a whole new one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import CorruptLogError
from .durable import publish_exclusive, write_temp

FORMAT = 1
META_DIR = "_hyperframe"
MANIFEST_DIR = "manifests"
#: manifest numbers are written with this many digits, so the highest is 10**20 - 1
VERSION_DIGITS = 20
MAX_VERSION = 10**VERSION_DIGITS - 1
_NAME = re.compile(r"^v(\d{20})\.json$")
_SEGMENT_ID = re.compile(r"[0-9a-f]{64}")
#: how many older manifests stay behind for readers that are still looking at them
KEEP_OLD = 8
#: how long a segment replaced by a compaction stays on disk for readers and replications
#: that started before it, in seconds
RETAIN_SECONDS = 300.0


@dataclass(frozen=True)
class SegmentInfo:
    """One immutable segment file as the manifest records it."""

    file: str  # file name inside the log directory, derived from `id`
    id: str  # sha256 of the segment's keys in row order (hex)
    rows: int
    size: int  # bytes on disk
    sha256: str  # of the file's bytes

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "id": self.id, "rows": self.rows, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    """A whole state of a log."""

    version: int
    encoding: str
    segments: tuple[SegmentInfo, ...] = ()
    heads: tuple[str, ...] = ()  # hex keys, ascending
    fingerprint: str = "0" * 64  # XOR of every key (hex): equal sets, equal fingerprints
    created: float = 0.0
    #: segment files a compaction replaced, with the time after which they may be deleted
    retired: tuple[tuple[str, float], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return sum(s.rows for s in self.segments)

    def next(self, **changes: Any) -> Manifest:
        return replace(self, version=self.version + 1, **changes)

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": self.version,
            "encoding": self.encoding,
            "nodes": self.nodes,
            "fingerprint": self.fingerprint,
            "created": self.created,
            "segments": [s.to_json() for s in self.segments],
            "heads": list(self.heads),
        }
        if self.retired:
            doc["retired"] = [list(r) for r in self.retired]
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, where: Path) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {FORMAT}")
            segments = tuple(
                SegmentInfo(str(s["file"]), str(s["id"]), int(s["rows"]), int(s["size"]), str(s["sha256"]))
                for s in doc["segments"]
            )
            for s in segments:
                if s.file != segment_file_name(s.id):
                    raise ValueError(f"segment file name {s.file!r} does not match its id")
            manifest = cls(
                version=int(doc["version"]),
                encoding=str(doc["encoding"]),
                segments=segments,
                heads=tuple(str(h) for h in doc["heads"]),
                fingerprint=str(doc["fingerprint"]),
                created=float(doc.get("created", 0.0)),
                retired=tuple((str(f), float(t)) for f, t in doc.get("retired", [])),
            )
            for file, _ in manifest.retired:
                if not file.startswith("seg-") or file != segment_file_name(file[4:-8]):
                    raise ValueError(f"retired file name {file!r} is not a segment name")
            if int(doc["nodes"]) != manifest.nodes:
                raise ValueError("node count does not match its segments")
            ids: set[str] = set()
            for s in segments:
                if s.id in ids:
                    raise ValueError(f"segment {s.file} is listed twice")
                ids.add(s.id)
            match = _NAME.match(where.name)
            if match and int(match.group(1)) != manifest.version:
                raise ValueError(f"it says version {manifest.version} but is file number {int(match.group(1))}")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptLogError(
                f"manifest {where.name} is damaged ({exc}); run `hyperframe repair {where.parent.parent.parent}` "
                "to rebuild it from the segment files",
                path=where.parent.parent.parent,
                file=str(where),
            ) from None
        return manifest


def segment_file_name(segment_id: str) -> str:
    """The file name of a segment: derived from its content hash, never taken from a peer."""
    if not _SEGMENT_ID.fullmatch(segment_id):
        raise ValueError(f"bad segment id {segment_id!r}")
    return f"seg-{segment_id}.parquet"


def manifest_dir(log_dir: Path) -> Path:
    return log_dir / META_DIR / MANIFEST_DIR


def manifest_versions(log_dir: Path) -> list[int]:
    """All manifest numbers present, ascending."""
    try:
        names = [p.name for p in manifest_dir(log_dir).iterdir()]
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_NAME.match, names) if m)


def manifest_path(log_dir: Path, version: int) -> Path:
    return manifest_dir(log_dir) / f"v{version:0{VERSION_DIGITS}d}.json"


def read_manifest(log_dir: Path, version: int) -> Manifest:
    path = manifest_path(log_dir, version)
    return Manifest.from_bytes(path.read_bytes(), where=path)


def read_latest(log_dir: Path) -> Manifest | None:
    """The current state, or None if the directory holds no manifest yet."""
    versions = manifest_versions(log_dir)
    if not versions:
        return None
    return read_manifest(log_dir, versions[-1])


def publish(log_dir: Path, manifest: Manifest) -> bool:
    """Durably publish ``manifest`` as the next state; False if that number was taken."""
    directory = manifest_dir(log_dir)
    temp = write_temp(directory, manifest.to_bytes())
    return publish_exclusive(temp, manifest_path(log_dir, manifest.version))


def prune_old(log_dir: Path, keep: int = KEEP_OLD) -> bool:
    """Remove all but the newest ``keep`` manifests (write lock held); True if any went."""
    old = manifest_versions(log_dir)[:-keep]
    for version in old:
        manifest_path(log_dir, version).unlink(missing_ok=True)
    return bool(old)
