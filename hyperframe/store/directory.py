"""A log directory on disk: its manifests, its segment files, its commits and compaction.

Layout (see docs/FORMAT.md)::

    log.db/
      seg-<id>.parquet              immutable segments (readable as a plain Parquet dataset)
      _hyperframe/lock              the writers' lock
      _hyperframe/manifests/v<N>.json  numbered manifests; the highest is current
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import CorruptLogError, LogError, NotALogError, StorageError
from . import manifest as mf
from . import segments
from .durable import TMP_SUFFIX
from .lock import WriteLock
from .manifest import Manifest, SegmentInfo

if TYPE_CHECKING:
    import pyarrow as pa

#: automatic compaction starts when a log has more segments than this
AUTO_COMPACT_SEGMENTS = 16
#: segments with fewer rows than this are merged by automatic compaction
SMALL_SEGMENT_ROWS = 65_536
#: every this many commits, files no manifest needs any more (expired retired segments,
#: leftovers of crashed writers) are deleted; `compact` and `repair` always do it
GC_EVERY = 16
#: a read that finds a segment compacted away starts again on the newest state this often
READ_ATTEMPTS = 4

T = TypeVar("T")


def _still_retired(manifest: Manifest) -> tuple[tuple[str, float], ...]:
    """Retired files whose time is not up yet."""
    now = time.time()
    return tuple(r for r in manifest.retired if r[1] > now)


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
    """Reads and commits the state of one log directory."""

    def __init__(self, path: Path, *, lock_timeout: float = 60.0) -> None:
        self.path = path
        self.meta = path / mf.META_DIR
        self.lock_timeout = lock_timeout
        self._cached: tuple[tuple[int, int, int], Manifest] | None = None  # (version, mtime, size)

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
        """The current manifest; parsed again only when a newer one has been published."""
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

    def newest_version(self) -> int:
        """The highest manifest number on disk, readable or not (-1 for none)."""
        versions = mf.manifest_versions(self.path)
        return versions[-1] if versions else -1

    def read_state(self, read: Callable[[Manifest | None], T]) -> T:
        """``read(newest state)``, started again on a newer state when a compaction removed a
        file it needed; the one read retry of hyperframe."""
        for _ in range(READ_ATTEMPTS):
            try:
                return read(self.latest())
            except SegmentGone:
                continue
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
        manifest = Manifest(version=0, encoding=encoding, created=time.time())
        self._publish(manifest)
        return manifest

    def commit(
        self,
        current: Manifest,
        tables: Sequence[pa.Table],
        *,
        heads: tuple[str, ...],
        keep: Sequence[tuple[SegmentInfo, pa.Table]] | None = None,
    ) -> Manifest:
        """Write ``tables`` as new segments after ``current``'s (lock held) and publish.

        With ``keep`` (a rebuild), the new state lists exactly those existing segments,
        then the new ones; ``current`` then only gives the number and the encoding.
        """
        infos = [segments.write(self.path, t, current.encoding) for t in tables if t.num_rows]
        if keep is None:
            listed = current.segments
            fingerprint = current.fingerprint
            retired = _still_retired(current)
        else:
            listed = tuple(info for info, _ in keep)
            fingerprint = "0" * 64
            retired = ()
            for _, table in keep:
                fingerprint = segments.fingerprint(table.column("key"), fingerprint)
        for table in tables:
            fingerprint = segments.fingerprint(table.column("key"), fingerprint)
        manifest = current.next(
            segments=listed + tuple(infos),
            heads=heads,
            fingerprint=fingerprint,
            created=time.time(),
            retired=retired,
        )
        self._publish(manifest)
        return manifest

    def replace_segments(
        self, current: Manifest, first: int, last: int, table: pa.Table, retain_seconds: float = mf.RETAIN_SECONDS
    ) -> Manifest:
        """Replace segments ``first..last-1`` by one segment holding the same rows (lock held).

        The replaced files are *retired*: they stay on disk for ``retain_seconds`` so that
        readers and replications that started from an older manifest can finish.
        """
        info = segments.write(self.path, table, current.encoding)
        until = time.time() + retain_seconds
        replaced = tuple(
            (s.file, until) for s in current.segments[first:last] if s.file != info.file and retain_seconds > 0
        )
        manifest = current.next(
            segments=current.segments[:first] + (info,) + current.segments[last:],
            created=time.time(),
            retired=_still_retired(current) + replaced if retain_seconds > 0 else (),
        )
        self._publish(manifest)
        return manifest

    def _publish(self, manifest: Manifest) -> None:
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
        mf.prune_old(self.path)
        if manifest.version % GC_EVERY == 0:  # now and then, delete what no manifest needs any more
            self._delete_unlisted(manifest)

    def compact(self, current: Manifest, *, everything: bool, retain_seconds: float = mf.RETAIN_SECONDS) -> Manifest:
        """Merge segments, keeping change order (lock held).

        ``everything`` merges the whole log into one segment; otherwise only the trailing
        run of small segments is merged, once the log has too many segments.
        """
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
        table = self.read_tables(segs[first:])
        return self.replace_segments(current, first, len(segs), table, retain_seconds)

    def read_tables(self, infos: Sequence[SegmentInfo], columns: list[str] | None = None) -> pa.Table:
        import pyarrow as pa

        tables = [self.read_segment(info, columns) for info in infos]
        if not tables:
            return segments.schema().empty_table()
        return pa.concat_tables(tables).combine_chunks()

    def read_segment(self, info: SegmentInfo, columns: list[str] | None = None) -> pa.Table:
        try:
            return segments.read(self.path, info, columns)
        except FileNotFoundError:
            latest = self.latest()
            if latest is not None and info in latest.segments:
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

    def referenced(self, current: Manifest | None, *, retired: bool = True) -> set[str]:
        """Segment files listed by the current manifest, retired but not yet due (unless
        ``retired`` is False), or listed by a retained older manifest."""
        live = {s.file for s in current.segments} if current else set()
        if current is not None and retired:
            live.update(file for file, _ in _still_retired(current))
        for version in mf.manifest_versions(self.path):
            if current is not None and version == current.version:
                continue
            try:
                live.update(s.file for s in mf.read_manifest(self.path, version).segments)
            except (CorruptLogError, FileNotFoundError):
                continue
        return live

    def orphans(self, current: Manifest | None, *, retired: bool = True) -> list[Path]:
        """Files a dead writer left behind: segments no manifest lists, and temporary files.

        Segments replaced by a compaction are not orphans while they are retired (5 minutes)
        or a retained older manifest lists them: a reader or a replication may still be
        reading them.
        """
        live = self.referenced(current, retired=retired)
        found = [p for p in self.path.glob("seg-*.parquet") if p.name not in live]
        found += list(self.path.glob(f".*{TMP_SUFFIX}"))
        found += list((self.meta / mf.MANIFEST_DIR).glob(f".*{TMP_SUFFIX}"))
        return sorted(found)

    def remove_orphans(self, current: Manifest | None, *, now: bool = False) -> list[Path]:
        """Delete every file nothing references any more (see :meth:`orphans`).

        Call with the lock held, so no writer is between writing a segment and publishing.
        ``now`` also drops every older manifest and every retired segment at once.
        """
        mf.prune_old(self.path, 1 if now else mf.KEEP_OLD)
        return self._delete_unlisted(current, retired=not now)

    def _delete_unlisted(self, current: Manifest | None, *, retired: bool = True) -> list[Path]:
        gone = self.orphans(current, retired=retired)
        for p in gone:
            p.unlink(missing_ok=True)
        return gone
