"""Import a hyperlog LevelDB directory (hyperlog 4.12.1's layout) into a hyperframe log.

Every node is read in hyperlog's change order (``!changes!`` keys sort in that order),
looked up under ``!nodes!``, and checked like a node from any peer before one atomic
commit. The source is never written: LevelDB (through plyvel) writes to a directory when it
opens it, so it opens a copy in a temporary directory.

Example (``log.db`` written by JavaScript hyperlog)::

    hyperframe.import_hyperlog("log.db", "log2.db")  # -> how many nodes were new
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import NotALogError, ProtocolError, UsageError
from ..log import LogLike, as_log
from . import wire
from .arrivals import Arrivals

__all__ = ["import_hyperlog"]

#: a node blob or key larger than this in the source is damage, not data
MAX_RECORD = wire.MAX_FRAME


def import_hyperlog(source: str | os.PathLike[str], target: LogLike, *, encoding: str = "json") -> int:
    """Copy every node of the hyperlog LevelDB at ``source`` into ``target``; return how
    many were new (a second import moves only what the first did not).

    Keys, links, values, identities and signatures travel unchanged and every key is
    re-hashed; each node keeps its hyperlog (log id, seq). ``source`` is only read. A
    target that does not exist yet is created with ``encoding`` (unless it is a ``Log``
    opened with an encoding of its own, which it keeps; json: hyperlog programs
    mostly use ``valueEncoding: 'json'``; a value it cannot decode is refused, so a binary
    hyperlog needs ``encoding="binary"``).
    """
    try:
        import plyvel
    except ImportError:
        raise UsageError("reading a hyperlog LevelDB needs plyvel: pip install 'hyperframe-log[hyperlog]'") from None
    src = Path(source)
    if not (src / "CURRENT").is_file():
        raise NotALogError(f"{src} is not a LevelDB directory (no CURRENT file); give the hyperlog's db path", path=src)
    log = as_log(target)
    replica = log.replica()
    if not log.read_only:
        replica.adopt_encoding(encoding)  # only if it is not on disk yet
    log_encoding = log.encoding
    with tempfile.TemporaryDirectory(prefix="hyperframe-import-") as tmp:
        copy = Path(tmp) / "db"
        shutil.copytree(src, copy, ignore=shutil.ignore_patterns("LOCK"))
        try:
            db = plyvel.DB(str(copy), create_if_missing=False)
        except plyvel.Error as exc:
            raise NotALogError(f"{src} could not be read as a LevelDB ({exc})", path=src) from None
        arrivals = Arrivals.for_log(replica.has, log_encoding)
        try:
            with db.iterator(prefix=b"!nodes!") as nodes:
                blobs = dict(nodes)  # one sequential scan: far quicker than a look-up per change
            with db.iterator(prefix=b"!changes!", include_key=False) as changes:
                for key in changes:
                    blob = blobs.pop(b"!nodes!" + key, None)
                    if blob is None or len(blob) > MAX_RECORD:
                        raise ProtocolError(f"{src}: change entry for node {key[:80]!r} has no readable node")
                    arrivals.add(wire.parse("Node", blob))
            if blobs:
                raise ProtocolError(f"{src}: {len(blobs)} node(s) have no change entry; is it a hyperlog database?")
            tables = arrivals.tables()
        finally:
            arrivals.close()
            db.close()
    return replica.commit(tables) if tables else 0
