"""Where each node was created: hyperlog's (log id, seq), kept in two segment columns.

A hyperlog peer names every node by the *log* (a short id of the replica that created it)
and a *seq* (1, 2, 3, ... within that log, no gaps). hyperframe keeps the pair in the
``log`` and ``seq`` columns: a node received from elsewhere keeps the pair it arrived with,
and a node created here (or one that arrived without a pair, from an older hyperframe) gets
this directory's own log id and the next seq, when it is committed (under the lock).

This directory's own id lives in the manifest together with the highest seq given under it
and the *home* of the directory (its device and inode). A copy (``cp -r``, rsync, a restored
backup) has another home, so its first commit takes a fresh id: two copies never give the
same seq to different nodes under one id, which is what makes two copied hyperlogs diverge
silently. A fresh id is always safe; it only adds one more log to announce.

>>> import re
>>> bool(re.fullmatch(LOG_ID, new_log_id()))
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["LOG_ID", "MAX_SEQ", "Origin", "assign", "home_of", "new_log_id"]

#: what a log id may look like: hyperlog's are 25-character cuids; never ``!`` (its key separator)
LOG_ID = r"[A-Za-z0-9_.:-]{1,64}"
_LOG_ID = re.compile(LOG_ID)
#: seqs are uint32 on hyperlog's wire
MAX_SEQ = 2**32 - 1


@dataclass(frozen=True)
class Origin:
    """This directory's own hyperlog log id, the highest seq given under it, and its home."""

    log: str
    seq: int
    home: str

    def to_json(self) -> dict[str, object]:
        return {"log": self.log, "seq": self.seq, "home": self.home}

    @classmethod
    def from_json(cls, doc: object) -> Origin:
        """Parse the manifest's ``origin`` entry (``ValueError`` if it is malformed)."""
        if not isinstance(doc, dict):
            raise ValueError("origin is not an object")
        log, seq, home = doc.get("log"), doc.get("seq"), doc.get("home")
        if not isinstance(log, str) or not _LOG_ID.fullmatch(log):
            raise ValueError(f"origin log id {log!r} is not a log id")
        if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
            raise ValueError(f"origin seq {seq!r} is not a seq")
        if not isinstance(home, str) or len(home) > 64:
            raise ValueError("origin home is malformed")
        return cls(log, seq, home)


def new_log_id() -> str:
    """A fresh log id: 26 characters, lower-case letters and digits (like hyperlog's cuids)."""
    import secrets  # only when a log takes its id: `import hyperframe` stays light

    return "hf" + secrets.token_hex(12)


def home_of(path: Path) -> str:
    """The directory's identity on this machine: a copy of it has another."""
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


def own(current: Origin | None, path: Path) -> Origin:
    """The origin new nodes take in the directory at ``path``: ``current`` if it was made
    here, else a fresh log id starting at seq 0."""
    home = home_of(path)
    if current is not None and current.home == home:
        return current
    return Origin(new_log_id(), 0, home)


def assign(tables: list[pa.Table], origin: Origin) -> tuple[list[pa.Table], Origin]:
    """``tables`` with every row that has no log id given ``origin``'s log and the next
    seqs (in change order); the origin after them.

    A row that arrived under this origin's own log id with a seq above the highest given
    here moves the counter past it, so no seq is ever given twice under one id.
    """
    from .segments import counting_column, optional_column, repeated_column

    seq = origin.seq
    out = []
    for table in tables:
        n = table.num_rows
        logs = table.column("log")
        if not logs.null_count:  # all from elsewhere: only our own id's top seq matters
            import pyarrow as pa
            import pyarrow.compute as pc

            ours = pc.is_in(logs, value_set=optional_column([origin.log], pa.string()))
            if pc.any(ours).as_py():
                seq = max(seq, int(pc.max(pc.filter(table.column("seq"), ours)).as_py() or 0))
            out.append(table)
            continue
        fields = table.schema
        if logs.null_count == n:  # all made here: the common case
            if seq + n > MAX_SEQ:
                raise OverflowError(f"log id {origin.log} has used up its seqs")
            log_column, seq_column = repeated_column(origin.log, n), counting_column(seq + 1, n)
            seq += n
        else:  # some of each (nodes from an older hyperframe among others): rare, row by row
            mine, numbers = logs.to_pylist(), table.column("seq").to_pylist()
            seq = max([seq] + [s or 0 for lg, s in zip(mine, numbers, strict=True) if lg == origin.log])
            for row in [i for i, lg in enumerate(mine) if lg is None]:
                seq += 1
                mine[row], numbers[row] = origin.log, seq
            if seq > MAX_SEQ:
                raise OverflowError(f"log id {origin.log} has used up its seqs")
            log_column = optional_column(mine, logs.type)
            seq_column = optional_column(numbers, fields.field("seq").type)
        table = table.set_column(fields.get_field_index("log"), fields.field("log"), log_column)
        table = table.set_column(fields.get_field_index("seq"), fields.field("seq"), seq_column)
        out.append(table)
    return out, Origin(origin.log, seq, origin.home)
