"""Check a log from its bytes up: manifest, files, checksums, keys, links, heads.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp())
>>> _ = log.add("hello")
>>> verify_log(log.path).ok
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .encodings import get_encoding
from .errors import CorruptLogError
from .keys import KEY_BYTES
from .node import Node
from .store import keyset, segments
from .store import manifest as mf
from .store.directory import LogStore

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


def _hex(raw: bytes, row: int) -> str:
    """Row ``row``'s key, of concatenated keys ``raw``, in hex."""
    return raw[KEY_BYTES * row : KEY_BYTES * row + KEY_BYTES].hex()


def _misplaced(file: str, raw: bytes, offsets: np.ndarray, flat: bytes, seen: keyset.KeySet) -> list[Problem]:
    """A segment's keys stored twice and links not stored before their node (``seen``: the
    keys of the segments before it; this one's are added)."""
    import numpy as np

    twice, absent = keyset.out_of_order(keyset.as_keys(raw), offsets, keyset.as_keys(flat), seen)
    link_row = np.repeat(np.arange(len(twice)), np.diff(offsets))
    problems = []
    for row in sorted(set(np.flatnonzero(twice).tolist()) | set(link_row[absent].tolist())):
        if twice[row]:
            problems.append(Problem(file, f"row {row}: key {_hex(raw, row)} is stored twice"))
        for j in range(int(offsets[row]), int(offsets[row + 1])):
            if absent[j]:
                problems.append(Problem(file, f"row {row}: link {_hex(flat, j)} is not stored before the node"))
    seen.add(keyset.as_keys(raw)[~twice])
    return problems


def _untrusted(table: pa.Table, keys: list[bytes], file: str, trust: Callable[[Node], bool]) -> list[Problem]:
    """Rows that are unsigned, or whose signature ``trust`` does not accept."""
    identities = table.column("identity").to_pylist()
    signatures = table.column("signature").to_pylist()
    problems = []
    for row, (key, identity, signature) in enumerate(zip(keys, identities, signatures)):
        if identity is None or signature is None:
            problems.append(Problem(file, f"row {row}: node {key.hex()} is unsigned"))
            continue
        node = Node(key.hex(), (), None, 0, identity, signature)
        try:
            believed = bool(trust(node))
        except Exception:  # a trust function that raises believes nothing
            believed = False
        if not believed:
            why = f"invalid or untrusted signature by {identity.hex()[:16]}"
            problems.append(Problem(file, f"row {row}: node {key.hex()}: {why}"))
    return problems


@dataclass
class Problem:
    """One thing wrong with a log: which file, and what."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


@dataclass
class VerifyReport:
    """What :func:`verify_log` found. ``ok`` is False when any error was found."""

    path: str
    nodes: int = 0
    segments: int = 0
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.ok:
            extra = f", {len(self.warnings)} warning(s)" if self.warnings else ""
            return f"ok: {self.nodes} nodes in {self.segments} segments verified{extra}"
        return f"{len(self.errors)} problem(s) in {self.path}: " + "; ".join(map(str, self.errors[:5]))


def verify_log(
    path: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    trust: Callable[[Node], bool] | None = None,
) -> VerifyReport:
    """Verify every byte the log's current manifest refers to; never raises for damage.

    ``progress(done, total)`` is called before each segment and at the end (nodes checked).
    ``trust`` (e.g. :func:`hyperframe.signing.load_trust`) also checks every node's
    signature: an unsigned node, or one whose signature ``trust`` does not accept, is an error.
    """
    store = LogStore(Path(path))
    report = VerifyReport(str(path))
    try:
        store.check_is_log()
    except CorruptLogError as exc:  # pragma: no cover - check_is_log raises NotALogError
        report.errors.append(Problem(str(path), str(exc)))
        return report
    versions = mf.manifest_versions(store.path)
    if not versions:
        strays = sorted(p.name for p in store.path.glob("seg-*.parquet")) if store.exists() else []
        if strays:  # without segments this is a log whose first commit never happened: empty, fine
            report.errors.append(
                Problem(
                    f"{mf.META_DIR}/{mf.MANIFEST_DIR}",
                    f"no manifest, but {len(strays)} segment file(s) ({strays[0]}, ...); "
                    f"`hyperframe repair {store.path}` rebuilds it",
                )
            )
        return report
    try:
        manifest = mf.read_manifest(store.path, versions[-1])
    except CorruptLogError as exc:
        report.errors.append(Problem(exc.file or "manifest", str(exc)))
        return report
    report.segments = len(manifest.segments)
    undecodable = get_encoding(manifest.encoding).undecodable_rows
    if manifest.version + 2 > mf.MAX_VERSION:
        report.errors.append(
            Problem(
                mf.manifest_path(store.path, manifest.version).name,
                f"numbered so high that no commit can follow it (hyperframe never writes those); "
                f"`hyperframe repair {store.path}` sets it aside",
            )
        )

    seen = keyset.KeySet()
    every_key: list[bytes] = []
    every_link: list[bytes] = []
    fingerprint = "0" * 64
    checked = 0
    for info in manifest.segments:
        if progress is not None:
            progress(checked, manifest.nodes)
        checked += info.rows
        if not (store.path / info.file).is_file():
            report.errors.append(Problem(info.file, "missing: the manifest lists it but the file is gone"))
            continue
        try:
            table = store.read_segment(info)  # checks size and SHA-256 against the manifest first
        except CorruptLogError as exc:
            report.errors.append(Problem(info.file, str(exc)))
            continue
        if not table.schema.equals(segments.schema()):
            report.errors.append(Problem(info.file, "unexpected columns: not a hyperframe segment"))
            continue
        if table.num_rows != info.rows or segments.segment_id(table.column("key")) != info.id:
            report.errors.append(Problem(info.file, "its keys do not match the id the manifest records"))
            continue
        fingerprint = segments.fingerprint(table.column("key"), fingerprint)
        raw = segments.key_bytes(table.column("key"))
        for row in segments.mismatched_rows(table):
            report.errors.append(Problem(info.file, f"row {row}: key {_hex(raw, row)} does not match its content"))
        for row in undecodable(table.column("value")):
            report.errors.append(
                Problem(info.file, f"row {row}: the value of {_hex(raw, row)} does not decode as {manifest.encoding}")
            )
        if trust is not None:
            report.errors += _untrusted(table, segments.split_keys(raw), info.file, trust)
        offsets, flat = segments.link_offsets(table)
        report.errors += _misplaced(info.file, raw, offsets, flat, seen)
        every_key.append(raw)
        every_link.append(flat)
        report.nodes += table.num_rows

    if progress is not None:
        progress(checked, manifest.nodes)
    if not report.errors:
        stored, linked = keyset.as_keys(b"".join(every_key)), keyset.as_keys(b"".join(every_link))
        heads = keyset.sorted_hex(stored[~keyset.isin(stored, linked)])
        if heads != manifest.heads:
            report.errors.append(
                Problem(mf.manifest_path(store.path, manifest.version).name, "recorded heads are wrong")
            )
        if fingerprint != manifest.fingerprint:
            report.errors.append(
                Problem(mf.manifest_path(store.path, manifest.version).name, "recorded fingerprint is wrong")
            )
    for orphan in store.orphans(manifest):
        report.warnings.append(
            Problem(
                str(orphan.relative_to(store.path)),
                "orphan left by an interrupted write (ignored; `hyperframe compact` removes it)",
            )
        )
    return report
