"""The one write path: every change to a log's nodes is committed here.

``batch`` (and so ``add``/``append``), nodes received by replication, ``merge`` and
``repair`` all call :func:`commit`, which holds the writers' lock and then:

1. takes the newest state (or, for a log not on disk yet, an empty one, and creates the
   log only if there is something to write); a format-1 log is upgraded first;
2. brings the key index up to that state;
3. asks the caller's ``stage`` for the change, given that state (this is where links are
   checked against what the log holds, under the lock, so no other writer can interfere);
4. drops rows the log holds already, works out the new heads, writes the new segments and
   publishes the next manifest (put-if-absent), recording ``operation``;
5. merges small trailing segments once there are many (auto-compaction).

After each publish the top level holds exactly the new version's segments (see
:meth:`~hyperframe.store.directory.LogStore.tidy`).

A rebuild (``repair``) starts from an empty state numbered after every manifest on disk
and lists exactly the segments ``stage`` keeps, so a damaged newest manifest is never read.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp())
>>> [n.change for n in log.batch([{"value": "a"}, {"value": "b"}])]
[1, 2]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import LogError, UsageError
from . import keyset, origin, segments
from . import manifest as mf
from .directory import LogStore, writing
from .keyindex import KeyIndex
from .manifest import Manifest, SegmentInfo
from .origin import Origin

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Change:
    """What a ``stage`` function wants committed.

    ``tables`` are new rows in change order (every link stored or earlier). For a rebuild,
    ``keep`` lists the existing segments the new state keeps, each with its table, in
    order before ``tables``.
    """

    tables: Sequence[pa.Table] = ()
    keep: Sequence[tuple[SegmentInfo, pa.Table]] = ()
    #: called with the rows that are really new, under the lock, just before they are
    #: written (for a log not on disk yet: before the log is created, so a refusal leaves
    #: no empty log behind); raising refuses the commit (nothing is written): events,
    #: ``process=``, trust checks
    before_write: Callable[[list[pa.Table]], None] | None = None


@dataclass
class Committed:
    """The state after a commit, and the rows that were new."""

    manifest: Manifest | None
    tables: list[pa.Table] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(t.num_rows for t in self.tables)


Stage = Callable[[Manifest, KeyIndex], "Change | None"]


def commit(
    store: LogStore,
    index: KeyIndex,
    *,
    encoding: str,
    stage: Stage,
    rebuild: bool = False,
    operation: str = "batch",
) -> Committed:
    """Commit what ``stage(state, index)`` returns, under the lock; see the module docs.

    ``stage`` may raise to refuse the change: nothing is written (and a log that did not
    exist is not created). ``operation`` names the change in the log's history.
    """
    try:
        with writing(store.path):
            return _commit(store, index, encoding=encoding, stage=stage, rebuild=rebuild, operation=operation)
    except _Vetoed as vetoed:  # the caller's own exception (a callback said no), not the disk's
        raise vetoed.error from None


def _commit(
    store: LogStore, index: KeyIndex, *, encoding: str, stage: Stage, rebuild: bool, operation: str
) -> Committed:
    staged: Change | None = None
    approved = False  # `before_write` said yes to `staged` already
    if not rebuild and store.latest() is None:
        # nothing on disk yet: refuse bad input before creating anything
        index.refresh(None)
        staged = stage(_empty(encoding), index)
        if staged is None or not any(t.num_rows for t in staged.tables):
            return Committed(None)
        if staged.before_write is not None:  # a refusal, too, leaves no new empty log behind
            _before_write(staged, [t for t in staged.tables if t.num_rows])
            approved = True
    with store.lock():
        if rebuild:
            index.refresh(None)
            staged = stage(_empty(encoding), index)
            if staged is None:
                return Committed(None)
            current = Manifest(
                version=store.newest_version(), encoding=encoding, created=time.time(), retention=_retention(store)
            )
        else:
            current = store.latest() or store.initialize(encoding)
            if current.encoding != encoding:  # another handle created the log meanwhile
                raise UsageError(
                    f"{store.path} was created meanwhile with {current.encoding} values, not "
                    f"{encoding}; nothing was written. Open it again and try anew"
                )
            index.refresh(current)
            if staged is None or len(index):
                staged = stage(current, index)  # the pre-check above stands only while the log is empty
                approved = False
            if staged is None:
                return Committed(current)
            if current.format < mf.FORMAT and any(t.num_rows for t in staged.tables):
                current = store.upgrade(current)  # same segment ids: the index and `staged` still hold
        if current.version + 2 > mf.MAX_VERSION:  # this commit and an automatic compaction must fit
            raise LogError(
                f"{store.path} has used up its manifest numbers (v{current.version}); nothing was written. "
                f"A manifest numbered like that was not written by hyperframe: run `hyperframe repair {store.path}`",
                path=store.path,
            )
        tables = [t for t in (drop_known(index, t) for t in staged.tables) if t.num_rows]
        owner = origin.own(_origin(store) if rebuild else current.origin, store.path)
        keep = staged.keep
        if rebuild:  # kept rows written before origins were kept get theirs, in change order
            kept, owner = origin.assign([t for _, t in keep], owner)
            keep = [(info, t) for (info, _), t in zip(keep, kept, strict=True)]
        tables, owner = origin.assign(tables, owner)
        if tables and not approved:
            _before_write(staged, tables)
        if rebuild:
            everything = [t for _, t in keep] + tables
            current = store.commit(
                current, tables, heads=next_heads((), everything), keep=keep, operation=operation, owner=owner
            )
        elif tables:
            current = store.commit(
                current, tables, heads=next_heads(current.heads, tables), operation=operation, owner=owner
            )
            current = store.compact(current, everything=False)
        index.refresh(current)
    return Committed(current, tables)


def _before_write(staged: Change, tables: list[pa.Table]) -> None:
    """Let ``staged.before_write`` see (and refuse) the tables about to be written."""
    if staged.before_write is not None:
        try:
            staged.before_write(tables)
        except BaseException as exc:
            raise _Vetoed(exc) from exc


class _Vetoed(Exception):
    """Carries an exception raised by ``before_write`` past :func:`writing`."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _retention(store: LogStore) -> float:
    """The retention a rebuild keeps: the newest readable version's (else the default)."""
    for version in store.history():
        return version.retention
    return mf.RETENTION_SECONDS


def _origin(store: LogStore) -> Origin | None:
    """The origin a rebuild keeps: the newest readable version's."""
    for version in store.history():
        return version.origin
    return None


def _empty(encoding: str) -> Manifest:
    return Manifest(version=-1, encoding=encoding)


def drop_known(index: KeyIndex, table: pa.Table) -> pa.Table:
    """``table`` without the rows whose keys the log holds already (order kept)."""
    if not len(index) or not table.num_rows:
        return table
    incoming = segments.split_keys(segments.key_bytes(table.column("key")))
    known = index.present(incoming)
    if not known:
        return table
    import pyarrow.compute as pc

    return table.filter(pc.invert(pc.is_in(table.column("key"), value_set=segments.binary32(sorted(known)))))


def next_heads(old: Sequence[str], tables: Sequence[pa.Table]) -> tuple[str, ...]:
    """Heads after appending ``tables``: old heads and new keys that nothing new links, sorted."""
    raw = b"".join(segments.key_bytes(table.column("key")) for table in tables)
    if not raw:
        return tuple(old)
    keys = keyset.as_keys(raw + bytes.fromhex("".join(old)))
    linked = keyset.as_keys(b"".join(segments.link_offsets(table)[1] for table in tables))
    return keyset.sorted_hex(keys[~keyset.isin(keys, linked)] if len(linked) else keys)
