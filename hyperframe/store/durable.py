"""The one place where hyperframe makes bytes durable.

Every writer goes through these functions, so the crash-safety rules hold everywhere:

1. new bytes go to a temporary file in the same directory, which is flushed and fsynced;
2. the file is then moved into place with an atomic ``rename`` (segments) or an atomic
   ``link`` that fails if the name exists (manifests: put-if-absent, like Delta Lake);
3. the directory is fsynced so the new name survives a power cut.

A process that dies at any point leaves either the old state or the new one, plus at
worst a temporary or orphan file that readers ignore and ``compact``/``repair`` remove.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry table to disk (a no-op where the OS cannot)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_temp(directory: Path, data: bytes | memoryview) -> Path:
    """Write ``data`` to a new fsynced temporary file in ``directory`` and return its path."""
    with temp_file(directory) as (path, write):
        write(data)
    return path


@contextmanager
def temp_file(directory: Path) -> Iterator[tuple[Path, Callable[[bytes | memoryview], None]]]:
    """A new temporary file in ``directory`` and a function writing bytes to its end, for a
    file written a piece at a time (too big to hold in memory); fsynced and closed when the
    block ends, removed if it raises. Publish it with :func:`publish_replace`."""
    path = directory / f".{uuid.uuid4().hex}{TMP_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)

    def write(data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    try:
        yield path, write
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def publish_replace(temp: Path, target: Path) -> None:
    """Atomically move a temporary file onto ``target`` (for immutable, content-named files)."""
    os.replace(temp, target)
    fsync_dir(target.parent)


def publish_exclusive(temp: Path, target: Path) -> bool:
    """Atomically give ``temp`` the name ``target`` unless that name exists.

    Returns False (and removes ``temp``) if another writer published ``target`` first.
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        temp.unlink(missing_ok=True)
        return False
    temp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return True
