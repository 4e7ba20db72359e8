"""A log directory on disk: its manifests, its segment files, commits, compaction, vacuum.

Layout (see :mod:`hyperframe.store.layout` and docs/FORMAT.md)::

    log.db/
      seg-<id>.parquet                    exactly the live segments: a plain Parquet dataset
      _hyperframe/lock                    the writers' lock
      _hyperframe/manifests/v<N>.json     numbered manifests (versions); the highest is current
      _hyperframe/retired/…               segment files that only older versions list
      _hyperframe/tmp/…                   temporaries

After every publish the writer moves the files the new version no longer lists out of the
top level (:meth:`LogStore.tidy`); versions stay readable for the log's retention after a
newer one replaced them, and :meth:`LogStore.vacuum` removes them and their files later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import CorruptLogError, LogError, NotALogError, StorageError, UsageError
from . import layout, origin, segments
from . import manifest as mf
from .durable import TMP_SUFFIX
from .lock import WriteLock
from .manifest import Manifest, SegmentInfo
from .origin import Origin

if TYPE_CHECKING:
    import pyarrow as pa

#: automatic compaction starts when a log has more segments than this
AUTO_COMPACT_SEGMENTS = 16
#: segments with fewer rows than this are merged by automatic compaction
SMALL_SEGMENT_ROWS = 65_536
#: every this many versions, versions older than the log's retention and the files only
#: they listed (and leftovers of crashed writers) are deleted; `compact`, `repair` and
#: `vacuum` always do it
GC_EVERY = 16
#: a read that finds a segment compacted away starts again on the newest state this often
READ_ATTEMPTS = 4

T = TypeVar("T")


class SegmentGone(Exception):
    """A segment was compacted away while a reader was looking at an older manifest.

    Internal to the store: :meth:`LogStore.read_state` turns it into a retry on the newest
    state, so no caller ever sees it.
    """


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn the file system's refusals (disk full, permissions, ...) into a :class:`StorageError`.

    Every write publishes with put-if-absent last, so whatever failed left the old state.
    """
    try:
        yield
    except OSError as exc:
        raise StorageError(
            f"writing to {path} failed ({exc.strerror or exc}); nothing was committed and the log is as it was. "
            "Free some space or fix the permissions, then try again",
            path=path,
        ) from None


class LogStore:
    """Reads and commits the state of one log directory.

    ``version`` pins the store to that version (time travel): :meth:`latest` is always
    that manifest. Such a store is for reading only.
    """

    def __init__(self, path: Path, *, lock_timeout: float = 60.0, version: int | None = None) -> None:
        self.path = path
        self.meta = path / mf.META_DIR
        self.lock_timeout = lock_timeout
        self.version = version
        self._cached: tuple[tuple[int, int, int], Manifest] | None = None  # (version, mtime, size)
        self._parsed: dict[int, tuple[tuple[int, int], Manifest]] = {}  # version -> ((mtime, size), manifest)

    # --- reading ------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.meta.is_dir()

    def check_is_log(self) -> None:
        """Refuse a directory that holds other things but is not a hyperframe log.

        Judged from one listing of the directory: a writer creating the log at this moment
        makes ``_hyperframe/`` before anything else, so a listing that shows other files
        shows it too (no race between "no folder yet" and "not empty").
        """
        if self.path.exists() and not self.path.is_dir():
            raise NotALogError(f"{self.path} is a file, not a log directory; give a directory path", path=self.path)
        try:
            names = {p.name for p in self.path.iterdir()}
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"{self.path} cannot be listed ({exc.strerror})", path=self.path) from None
        if names and mf.META_DIR not in names:
            raise NotALogError(
                f"{self.path} is not a hyperframe log (no {mf.META_DIR}/ folder) and is not empty; "
                "give a new or empty directory, or the path of an existing log",
                path=self.path,
            )

    def latest(self) -> Manifest | None:
        """The current manifest (the pinned version's, for a pinned store); parsed again only
        when a newer one has been published."""
        if self.version is not None:
            return self._pinned(self.version)
        for _ in range(READ_ATTEMPTS):
            try:
                return self._latest()
            except FileNotFoundError:  # pruned between listing and reading: a newer one exists
                continue
            except OSError as exc:
                raise StorageError(f"the manifests of {self.path} cannot be read ({exc})", path=self.path) from None
        raise LogError(
            f"{self.path} changed {READ_ATTEMPTS} times while its newest manifest was being read; try again",
            path=self.path,
        )

    def _latest(self) -> Manifest | None:
        versions = mf.manifest_versions(self.path)
        if not versions:
            if self.exists() and next(self.path.glob("seg-*.parquet"), None) is not None:
                raise CorruptLogError(
                    f"{self.path} has segment files but no manifest in {mf.META_DIR}/{mf.MANIFEST_DIR} "
                    f"(deleted or lost); run `hyperframe repair {self.path}` to rebuild it from the segments",
                    path=self.path,
                    file=f"{mf.META_DIR}/{mf.MANIFEST_DIR}",
                )
            return None
        # a published manifest never changes; the stat only guards against damage meanwhile
        stat = mf.manifest_path(self.path, versions[-1]).stat()
        stamp = (versions[-1], stat.st_mtime_ns, stat.st_size)
        if self._cached is None or self._cached[0] != stamp:
            self._cached = (stamp, mf.read_manifest(self.path, versions[-1]))
        return self._cached[1]

    def _pinned(self, version: int) -> Manifest:
        try:
            return self.manifest(version)
        except FileNotFoundError:
            versions = mf.manifest_versions(self.path)
            kept = (
                "it has no versions"
                if not versions
                else f"only version {versions[0]} is kept"
                if len(versions) == 1
                else f"versions {versions[0]} to {versions[-1]} are kept"
            )
            raise LogError(
                f"{self.path} has no version {version} ({kept}; older ones are removed by `vacuum` once their "
                f"retention is over); `hyperframe history {self.path}` lists them",
                path=self.path,
            ) from None
        except OSError as exc:
            raise StorageError(f"manifest v{version} of {self.path} cannot be read ({exc})", path=self.path) from None

    def manifest(self, version: int) -> Manifest:
        """Manifest ``version`` (parsed once: a published manifest never changes).

        Raises ``FileNotFoundError`` if it is not on disk, ``CorruptLogError`` if damaged.
        """
        path = mf.manifest_path(self.path, version)
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._parsed.get(version)
        if cached is None or cached[0] != stamp:
            cached = (stamp, mf.read_manifest(self.path, version))
            self._parsed[version] = cached
        return cached[1]

    def history(self) -> list[Manifest]:
        """Every readable version on disk, newest first (up to the pinned one, if pinned)."""
        out: list[Manifest] = []
        for version in reversed(mf.manifest_versions(self.path)):
            if self.version is not None and version > self.version:
                continue
            try:
                out.append(self.manifest(version))
            except (CorruptLogError, FileNotFoundError):  # damaged (repair's business) or just vacuumed
                continue
        return out

    def newest_version(self) -> int:
        """The highest manifest number on disk, readable or not (-1 for none)."""
        versions = mf.manifest_versions(self.path)
        return versions[-1] if versions else -1

    def read_state(self, read: Callable[[Manifest | None], T]) -> T:
        """``read(newest state)``, started again on a newer state when a compaction removed a
        file it needed; the one read retry of hyperframe."""
        gone = ""
        for _ in range(READ_ATTEMPTS):
            try:
                return read(self.latest())
            except SegmentGone as exc:
                gone = str(exc)
                continue
        if self.version is not None:
            raise LogError(
                f"version {self.version} of {self.path} lists {gone}, which is no longer on disk (removed by "
                f"`hyperframe vacuum` or `compact --retain 0`); open a newer version "
                f"(`hyperframe history {self.path}` lists them)",
                path=self.path,
            )
        raise LogError(
            f"{self.path} was compacted {READ_ATTEMPTS} times while it was being read; read it again "
            "(a `compact --retain 0` running in a loop removes files before readers can finish)",
            path=self.path,
        )

    # --- writing ------------------------------------------------------------------------

    def lock(self) -> WriteLock:
        self._ensure_dirs()
        return WriteLock(self.meta / "lock", timeout=self.lock_timeout)

    def _ensure_dirs(self) -> None:
        self.check_is_log()
        (self.meta / mf.MANIFEST_DIR).mkdir(parents=True, exist_ok=True)

    def initialize(self, encoding: str) -> Manifest:
        """Create the log with an empty first manifest (call with the lock held)."""
        current = self.latest()
        if current is not None:
            return current
        manifest = Manifest(version=0, encoding=encoding, created=time.time(), operation="create")
        self._publish(manifest)
        return manifest

    def upgrade(self, current: Manifest) -> Manifest:
        """Rewrite an older log's segments in the current format and publish it (lock held).

        Nodes stored without an origin get this directory's log id and seqs in change
        order (:mod:`~hyperframe.store.origin`). Each segment keeps its id and so its file
        name; the older file moves to ``retired/``, where readers of older versions find it.
        """
        if current.format >= mf.FORMAT:
            return current
        owner = origin.own(current.origin, self.path)
        infos = []
        for info in current.segments:  # one segment in memory at a time
            (table,), owner = origin.assign([self.read_segment(info)], owner)
            infos.append(segments.write(self.path, table, current.encoding))
        manifest = current.next(
            segments=tuple(infos), format=mf.FORMAT, created=time.time(), operation="upgrade", origin=owner
        )
        self._publish(manifest, current)
        return manifest

    def set_retention(self, seconds: float, encoding: str) -> Manifest:
        """Publish the same state with another retention (takes the lock)."""
        if not seconds >= 0:
            raise UsageError(f"a retention is 0 or more seconds, not {seconds!r}")
        with writing(self.path), self.lock():
            current = self.latest() or self.initialize(encoding)
            manifest = current.next(retention=float(seconds), created=time.time(), operation="set retention")
            self._publish(manifest, current)
        return manifest

    def vacuum_now(self, retain_seconds: float | None) -> list[Path]:
        """Take the lock and :meth:`vacuum` (``None``: with the log's retention)."""
        if retain_seconds is not None and not retain_seconds >= 0:
            raise UsageError(f"retain_seconds must be 0 or more, not {retain_seconds!r}")
        if not self.exists():
            return []
        with writing(self.path), self.lock():
            current = self.latest()
            if current is None:
                return []
            return self.vacuum(current, current.retention if retain_seconds is None else retain_seconds)

    def commit(
        self,
        current: Manifest,
        tables: Sequence[pa.Table],
        *,
        heads: tuple[str, ...],
        keep: Sequence[tuple[SegmentInfo, pa.Table]] | None = None,
        operation: str = "batch",
        owner: Origin | None = None,
    ) -> Manifest:
        """Write ``tables`` as new segments after ``current``'s (lock held) and publish.

        With ``keep`` (a rebuild), the new state lists exactly those existing segments
        (each put back at the top level if it was retired, rewritten if it is format 1),
        then the new ones; ``current`` then only gives the number and the encoding.
        """
        infos = [segments.write(self.path, t, current.encoding) for t in tables if t.num_rows]
        if keep is None:
            listed = current.segments
            fingerprint = current.fingerprint
        else:
            listed = tuple(segments.write(self.path, table, current.encoding) for _, table in keep)
            fingerprint = "0" * 64
            for _, table in keep:
                fingerprint = segments.fingerprint(table.column("key"), fingerprint)
        for table in tables:
            fingerprint = segments.fingerprint(table.column("key"), fingerprint)
        manifest = current.next(
            segments=listed + tuple(infos),
            heads=heads,
            fingerprint=fingerprint,
            created=time.time(),
            format=mf.FORMAT,
            operation=operation,
            origin=owner or current.origin,
        )
        self._publish(manifest, None if keep is not None else current)
        return manifest

    def replace_segments(self, current: Manifest, first: int, last: int, operation: str = "compact") -> Manifest:
        """Replace segments ``first..last-1`` by one segment holding the same rows (lock held).

        The rows are streamed from the old files into the new one a row group at a time
        (:meth:`pieces`, :func:`segments.write_pieces`), so memory stays flat however big
        the log. The replaced files move to ``_hyperframe/retired/``, where readers and
        replications that started from an older version still find them, until ``vacuum``
        removes them. Heads, fingerprint, origins and format stay as they are: the nodes do
        (the log is in the current format: :meth:`compact` upgrades it first).
        """
        rows = (segments.as_read(table) for info in current.segments[first:last] for table in self.pieces(info))
        info = segments.write_pieces(self.path, rows, current.encoding)
        manifest = current.next(
            segments=current.segments[:first] + (info,) + current.segments[last:],
            created=time.time(),
            operation=operation,
        )
        self._publish(manifest, current)
        return manifest

    def _publish(self, manifest: Manifest, previous: Manifest | None = None) -> None:
        if manifest.version > mf.MAX_VERSION:
            raise LogError(
                f"{self.path} has used up its manifest numbers (the newest is v{manifest.version - 1}; "
                f"numbers have {mf.VERSION_DIGITS} digits); nothing was written. A manifest numbered like that "
                f"was not written by hyperframe: run `hyperframe repair {self.path}`, which sets it aside",
                path=self.path,
            )
        if not mf.publish(self.path, manifest):
            raise LogError(
                f"manifest v{manifest.version} of {self.path} was published by a writer that did not take "
                "the lock; nothing was committed, try again",
                path=self.path,
            )
        try:  # the commit is durable now: what follows only tidies, and the next writer retries it
            self.tidy(manifest, previous)
            if manifest.version % GC_EVERY == 0:  # now and then, delete what no version needs any more
                self.vacuum(manifest, manifest.retention, only_if_expired=True)
        except OSError:
            pass

    def tidy(self, manifest: Manifest, previous: Manifest | None = None) -> list[Path]:
        """Leave exactly ``manifest``'s segments at the top level (lock held, after publishing).

        Other segment files there (replaced by this version, or left by a writer that died
        before publishing) move to ``_hyperframe/retired/``; old-style temporaries go.
        ``previous`` (the version before) gives the checksums of the files it listed.
        """
        live = {s.file for s in manifest.segments}
        known = {s.file: s.sha256 for s in previous.segments} if previous is not None else {}
        moved = []
        for path in layout.live_files(self.path):
            if path.name not in live:
                moved.append(layout.retire(self.path, path, known.get(path.name)))
        for temp in self.path.glob(f".*{TMP_SUFFIX}"):  # written by hyperframe before format 2
            temp.unlink(missing_ok=True)
        return moved

    def vacuum(self, current: Manifest, retain_seconds: float, *, only_if_expired: bool = False) -> list[Path]:
        """Delete versions replaced more than ``retain_seconds`` ago and every file no
        remaining version lists (lock held); return what was deleted.

        A version is kept while its successor is younger than ``retain_seconds``, so a
        reader or a replication that started on it within that time can finish; the
        current version is always kept, and so is every version after a kept one.
        Leftovers of writers that died are deleted too. ``only_if_expired`` (the writers'
        periodic run) stops at once when no version is due, reading one manifest.
        """
        now = time.time()
        versions = [v for v in mf.manifest_versions(self.path) if v < current.version]
        removed: list[Path] = []
        due = 0
        for i, version in enumerate(versions):
            successor = versions[i + 1] if i + 1 < len(versions) else current.version
            if self._created(successor) + retain_seconds > now:
                break
            path = mf.manifest_path(self.path, version)
            path.unlink(missing_ok=True)
            self._parsed.pop(version, None)
            removed.append(path)
            due += 1
        if only_if_expired and not removed:
            return removed
        kept: list[Manifest] = [current]
        for version in versions[due:]:
            try:
                kept.append(self.manifest(version))
            except (CorruptLogError, FileNotFoundError):  # a damaged version lists nothing we can trust
                continue
        needed = {(s.file, s.sha256[: layout.SHA_DIGITS]) for m in kept for s in m.segments}
        live = {s.file for s in current.segments}
        for path in layout.live_files(self.path):
            if path.name in live:
                continue
            sha = layout.file_sha256(path)
            if (path.name, sha[: layout.SHA_DIGITS]) in needed:
                layout.retire(self.path, path, sha)
            else:
                path.unlink(missing_ok=True)
                removed.append(path)
        for path in layout.retired_files(self.path):
            if layout.retired_key(path.name) not in needed:
                path.unlink(missing_ok=True)
                removed.append(path)
        for path in self._unlisted_heads(kept):
            path.unlink(missing_ok=True)
            removed.append(path)
        for temp in self._temporaries():
            temp.unlink(missing_ok=True)
            removed.append(temp)
        return removed

    def _unlisted_heads(self, manifests: Sequence[Manifest]) -> list[Path]:
        """Heads side files none of ``manifests`` names."""
        named = {layout.heads_path(self.path, blob[1]) for m in manifests if (blob := m.heads_blob) is not None}
        return [p for p in layout.heads_files(self.path) if p not in named]

    def _created(self, version: int) -> float:
        """When a version was published (its file's time if it cannot be parsed)."""
        try:
            return self.manifest(version).created
        except CorruptLogError:
            return mf.manifest_path(self.path, version).stat().st_mtime
        except FileNotFoundError:
            return 0.0

    def _temporaries(self) -> list[Path]:
        found = list(self.path.glob(f".*{TMP_SUFFIX}"))
        found += list((self.meta / mf.MANIFEST_DIR).glob(f".*{TMP_SUFFIX}"))
        found += list((self.meta / layout.TMP_DIR).glob(f".*{TMP_SUFFIX}"))
        return found

    def compact(self, current: Manifest, *, everything: bool) -> Manifest:
        """Merge segments, keeping change order (lock held).

        An older-format log is upgraded to the current format (``manifest.FORMAT``) first,
        even if it has one segment. ``everything`` merges the whole log into one
        segment; otherwise only the trailing run of small segments is merged, once the log
        has too many segments.
        """
        if current.format < mf.FORMAT:  # older nodes get their origins before any rewrite
            current = self.upgrade(current)
        segs = current.segments
        if everything:
            first = 0
        else:
            if len(segs) <= AUTO_COMPACT_SEGMENTS:
                return current
            first = len(segs)
            while first > 0 and segs[first - 1].rows < SMALL_SEGMENT_ROWS:
                first -= 1
        if len(segs) - first < 2:
            return current
        return self.replace_segments(current, first, len(segs), operation="compact" if everything else "auto-compact")

    def read_segment(
        self, info: SegmentInfo, columns: list[str] | None = None, *, rows: tuple[int, int] | None = None
    ) -> pa.Table:
        """One segment (or some of its columns, or only rows ``a..b-1``), checked against
        ``info`` (:func:`segments.read`)."""
        with self._reading(info):
            return segments.read(self.path, info, columns, rows=rows)

    def pieces(self, info: SegmentInfo) -> Iterator[pa.Table]:
        """One segment's rows a row group at a time, checked against ``info``
        (:mod:`~hyperframe.store.stream`); errors as :meth:`read_segment` raises them."""
        from . import stream

        with self._reading(info):
            yield from stream.pieces(self.path, info)

    @contextmanager
    def _reading(self, info: SegmentInfo) -> Iterator[None]:
        """The one translation of a failed segment read: gone (compacted away: ``SegmentGone``,
        which readers retry) or missing/damaged (``CorruptLogError``)."""
        try:
            yield
        except FileNotFoundError:
            latest = self.latest()
            if self.version is None and latest is not None and info in latest.segments:
                raise CorruptLogError(
                    f"segment {info.file} of {self.path} is missing; run `hyperframe verify {self.path}` "
                    f"and `hyperframe repair {self.path}`, then replicate from a peer to recover its nodes",
                    path=self.path,
                    file=info.file,
                ) from None
            raise SegmentGone(info.file) from None
        except OSError as exc:
            raise CorruptLogError(
                f"segment {info.file} of {self.path} cannot be read ({exc}); run `hyperframe verify {self.path}`",
                path=self.path,
                file=info.file,
            ) from None
        except Exception as exc:  # pyarrow raises ArrowInvalid and friends for damaged files
            raise CorruptLogError(
                f"segment {info.file} of {self.path} is damaged ({type(exc).__name__}: {exc}); "
                f"run `hyperframe verify {self.path}`",
                path=self.path,
                file=info.file,
            ) from None

    def files(self, manifest: Manifest | None) -> list[Path]:
        """Where each segment ``manifest`` lists is now (top level, or retired), in order."""
        out = []
        for info in manifest.segments if manifest else ():
            places = layout.locations(self.path, info.file, info.sha256)
            out.append(next((p for p in places if p.is_file()), places[0]))
        return out

    def orphans(self, current: Manifest | None) -> list[Path]:
        """Files nothing needs: top-level segments the current version does not list,
        retired files no version on disk lists, and temporaries (all left by writers that
        died, or waiting for the next writer to tidy up)."""
        live = {s.file for s in current.segments} if current else set()
        listed: set[tuple[str, str]] = set()
        readable: list[Manifest] = []
        for version in mf.manifest_versions(self.path):
            try:
                readable.append(self.manifest(version))
            except (CorruptLogError, FileNotFoundError):
                continue
            listed.update((s.file, s.sha256[: layout.SHA_DIGITS]) for s in readable[-1].segments)
        found = [p for p in layout.live_files(self.path) if p.name not in live]
        found += self._unlisted_heads(readable)
        found += [p for p in layout.retired_files(self.path) if layout.retired_key(p.name) not in listed]
        found += self._temporaries()
        return sorted(found)
