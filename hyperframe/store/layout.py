"""Where each file of a log lives: the top level is the table, everything else is hidden.

::

    log.db/
      seg-<id>.parquet                      exactly the live segments (the current manifest's)
      _hyperframe/lock                      the writers' lock
      _hyperframe/manifests/v<N>.json       numbered manifests; the highest is current
      _hyperframe/retired/seg-<id>.<sha>.retired   segment files older versions still list
      _hyperframe/tmp/.<uuid>.tmp           temporaries of a write under way (or of a dead writer)

Parquet readers skip names starting with ``_`` or ``.`` (Hadoop's rule, followed by
pyarrow, pandas, Spark and DuckDB's ``DIR/*.parquet``), and a retired file does not end in
``.parquet``, so readers that list a directory recursively (Dask) skip it too. A retired
file is named by its segment id *and* its bytes' SHA-256 (16 hex digits), so a format-1
file and the format-2 file that replaced it under the same segment name never collide.

A reader holding an older manifest looks for a segment at the top level first, then in
``retired/`` (:func:`locations`); whichever copy has the bytes the manifest recorded is read.

>>> from pathlib import Path
>>> retired_path(Path("log.db"), "seg-" + "ab" * 32 + ".parquet", "cd" * 32).name[-25:]
'.cdcdcdcdcdcdcdcd.retired'
>>> canonical_name("seg-" + "ab" * 32 + ".cdcdcdcdcdcdcdcd.retired") == "seg-" + "ab" * 32 + ".parquet"
True
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .durable import fsync_dir

META_DIR = "_hyperframe"
RETIRED_DIR = "retired"
TMP_DIR = "tmp"
#: a manifest's heads, when there are many: ``<sha256 of the bytes>.keys``, raw 32-byte keys
HEADS_DIR = "heads"
#: a heads side file's name: the SHA-256 of its bytes (hex), then this
HEADS_SUFFIX = ".keys"
#: hex digits of the bytes' SHA-256 in a retired file's name
SHA_DIGITS = 16
RETIRED_SUFFIX = ".retired"

_LIVE = re.compile(r"^seg-([0-9a-f]{64})\.parquet$")
_RETIRED = re.compile(r"^seg-([0-9a-f]{64})\.([0-9a-f]{16})\.retired$")


def tmp_dir(log_dir: Path) -> Path:
    """Where temporaries are written (created on first use by the writer holding the lock)."""
    path = log_dir / META_DIR / TMP_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def heads_dir(log_dir: Path) -> Path:
    return log_dir / META_DIR / HEADS_DIR


def heads_path(log_dir: Path, sha256: str) -> Path:
    """The heads side file whose bytes have this SHA-256 (hex)."""
    return heads_dir(log_dir) / f"{sha256}{HEADS_SUFFIX}"


def heads_files(log_dir: Path) -> list[Path]:
    """The heads side files under ``_hyperframe/heads/``, sorted."""
    folder = heads_dir(log_dir)
    return sorted(folder.glob(f"*{HEADS_SUFFIX}")) if folder.is_dir() else []


def retired_dir(log_dir: Path) -> Path:
    return log_dir / META_DIR / RETIRED_DIR


def retired_path(log_dir: Path, file: str, sha256: str) -> Path:
    """The retired copy of segment ``file`` whose bytes have this SHA-256."""
    return retired_dir(log_dir) / f"{file[: -len('.parquet')]}.{sha256[:SHA_DIGITS]}{RETIRED_SUFFIX}"


def locations(log_dir: Path, file: str, sha256: str) -> list[Path]:
    """Where a segment a manifest lists may be, in the order a reader looks."""
    top = log_dir / file
    return [top, retired_path(log_dir, file, sha256)] if sha256 else [top]


def canonical_name(name: str) -> str | None:
    """The segment file name (``seg-<id>.parquet``) of a live or retired file name, else None."""
    match = _LIVE.match(name) or _RETIRED.match(name)
    return f"seg-{match.group(1)}.parquet" if match else None


def retired_key(name: str) -> tuple[str, str] | None:
    """(segment file name, sha256 prefix) of a retired file name, else None."""
    match = _RETIRED.match(name)
    return (f"seg-{match.group(1)}.parquet", match.group(2)) if match else None


def live_files(log_dir: Path) -> list[Path]:
    """The segment files at the top level."""
    try:
        return sorted(p for p in log_dir.iterdir() if _LIVE.match(p.name))
    except FileNotFoundError:
        return []


def retired_files(log_dir: Path) -> list[Path]:
    """The segment files under ``_hyperframe/retired/``."""
    try:
        return sorted(p for p in retired_dir(log_dir).iterdir() if _RETIRED.match(p.name))
    except FileNotFoundError:
        return []


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def retire(log_dir: Path, path: Path, sha256: str | None = None, *, copy: bool = False) -> Path:
    """Move a top-level segment file into ``retired/`` (``copy``: hard-link it there, so the
    top-level name can be replaced next). ``sha256`` of its bytes, if known, saves reading it."""
    if sha256 is None:
        sha256 = file_sha256(path)
    target = retired_path(log_dir, path.name, sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        if not target.exists():
            os.link(path, target)
    else:
        os.replace(path, target)
    fsync_dir(target.parent)
    return target


def restore(log_dir: Path, retired: Path) -> Path:
    """Move a retired file back to its top-level name (a later version lists it again)."""
    name = canonical_name(retired.name)
    assert name is not None
    target = log_dir / name
    os.replace(retired, target)
    fsync_dir(log_dir)
    return target
