"""The manifest: which segment files make up a log, in order, plus cached summary facts.

Manifests are numbered JSON files under ``_hyperframe/manifests/``; the highest number is
the log's current state. A commit writes number N+1 with put-if-absent, so a manifest is
never overwritten and a reader sees either a whole old state or a whole new one.

Each manifest records the operation that wrote it (``log.history()`` lists them) and the
log's retention: how long a version stays readable after a newer one replaced it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import CorruptLogError
from ..keys import KEY_BYTES, KEY_HEX
from .durable import publish_exclusive, publish_replace, write_temp
from .layout import META_DIR as META_DIR
from .layout import file_sha256, heads_path, tmp_dir
from .origin import Origin

#: the format hyperframe writes: 3 keeps each node's hyperlog origin (``log``, ``seq``); 2 stores
#: links as ``list<binary>`` (format 1: ``list<fixed_size_binary(32)>``)
FORMAT = 3
#: formats hyperframe reads (an older log is upgraded by its first write or ``compact``)
READABLE_FORMATS = (1, 2, 3)
MANIFEST_DIR = "manifests"
#: manifest numbers are written with this many digits, so the highest is 10**20 - 1
VERSION_DIGITS = 20
MAX_VERSION = 10**VERSION_DIGITS - 1
_NAME = re.compile(r"^v(\d{20})\.json$")
_SEGMENT_ID = re.compile(r"[0-9a-f]{64}")
#: more heads than this go to a side file (``_hyperframe/heads/``), so a manifest stays small
#: whatever the head count (100,000 unlinked values are 100,000 heads: 6.4 MB of JSON)
INLINE_HEADS = 1000
#: how long a version stays readable (with the files it lists) after a newer one replaced
#: it, unless the log sets its own: a week, like Delta Lake
RETENTION_SECONDS = 7 * 24 * 3600.0
#: what wrote each version (the ``operation`` of ``log.history()``)
OPERATIONS = (
    "create", "add", "append", "batch", "extend", "receive",
    "compact", "auto-compact", "repair", "upgrade", "set retention",
)  # fmt: skip


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
    #: what wrote this version ("add", "compact", ...; None in format-1 manifests)
    operation: str | None = None
    #: seconds a replaced version stays readable (see :data:`RETENTION_SECONDS`)
    retention: float = RETENTION_SECONDS
    format: int = FORMAT
    #: this directory's own hyperlog log id and highest seq (None until its first node)
    origin: Origin | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return sum(s.rows for s in self.segments)

    def summary(self) -> dict[str, Any]:
        """This version as ``Log.history()`` lists it."""
        return {
            "version": self.version,
            "time": self.created,
            "operation": self.operation,
            "nodes": self.nodes,
            "heads": list(self.heads),
            "segments": len(self.segments),
        }

    def next(self, **changes: Any) -> Manifest:
        """The next version: this one with ``changes`` (say which ``operation`` wrote it)."""
        changes.setdefault("operation", None)
        return replace(self, version=self.version + 1, **changes)

    @cached_property
    def heads_blob(self) -> tuple[bytes, str] | None:
        """The heads side file's bytes and name (its SHA-256), if this version needs one
        (computed once per manifest: not a field, so neither compared nor copied by
        ``replace``)."""
        if len(self.heads) <= INLINE_HEADS:
            return None
        raw = bytes.fromhex("".join(self.heads))
        return raw, hashlib.sha256(raw).hexdigest()

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "format": self.format,
            "version": self.version,
            "encoding": self.encoding,
            "nodes": self.nodes,
            "fingerprint": self.fingerprint,
            "created": self.created,
        }
        if self.format >= 2:
            if self.operation is not None:
                doc["operation"] = self.operation
            doc["retention"] = self.retention
        if self.origin is not None:
            doc["origin"] = self.origin.to_json()
        doc["segments"] = [s.to_json() for s in self.segments]
        if (blob := self.heads_blob) is not None:
            doc["heads_file"] = {"sha256": blob[1], "count": len(self.heads)}
        else:
            doc["heads"] = list(self.heads)
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, where: Path) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") not in READABLE_FORMATS:
                raise ValueError(f"format {doc.get('format')!r}, this hyperframe reads {READABLE_FORMATS}")
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
                heads=_heads(doc, where),
                fingerprint=str(doc["fingerprint"]),
                created=float(doc.get("created", 0.0)),
                operation=None if doc.get("operation") is None else str(doc["operation"]),
                retention=float(doc.get("retention", RETENTION_SECONDS)),
                format=int(doc["format"]),
                origin=None if doc.get("origin") is None else Origin.from_json(doc["origin"]),
            )
            if not manifest.retention >= 0:
                raise ValueError(f"retention {manifest.retention!r} is not a number of seconds")
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


def _heads(doc: dict[str, Any], where: Path) -> tuple[str, ...]:
    """The heads a manifest lists, inline or in its side file (checked: name = SHA-256)."""
    if "heads_file" not in doc:
        return tuple(str(h) for h in doc["heads"])
    ref = doc["heads_file"]
    sha, count = str(ref["sha256"]), int(ref["count"])
    if not _SEGMENT_ID.fullmatch(sha) or not 0 <= count:
        raise ValueError(f"heads file reference {ref!r} is malformed")
    path = heads_path(where.parent.parent.parent, sha)  # where: <log>/_hyperframe/manifests/v<N>.json
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"its heads file {path.name} is missing") from None
    if len(raw) != KEY_BYTES * count or hashlib.sha256(raw).hexdigest() != sha:
        raise ValueError(f"its heads file {path.name} is damaged")
    text = raw.hex()
    return tuple(text[i : i + KEY_HEX] for i in range(0, len(text), KEY_HEX))


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
    blob = manifest.heads_blob
    if blob is not None:  # the heads first, durably: the manifest names them
        raw, sha = blob
        target = heads_path(log_dir, sha)
        if not (target.is_file() and file_sha256(target) == sha):  # else (re)write it
            target.parent.mkdir(exist_ok=True)
            publish_replace(write_temp(tmp_dir(log_dir), raw), target)
    temp = write_temp(tmp_dir(log_dir), manifest.to_bytes())
    return publish_exclusive(temp, manifest_path(log_dir, manifest.version))
