"""Memory that does not grow with a segment's or a frame's size (issue 9, cases 4 and 6).

Found by the lying-peer campaign: a peer that never reads a log whose one segment is
40 MiB made the sender read the whole file into memory (and copy every frame once more
when queueing it), and a peer sending 30 MiB nodes had each one held up to four times
(read in pieces and joined, two more frames read ahead, the values copied to Python for
their key check, the spill written through a Python file). Python's own allocations are
measured with ``tracemalloc``; what the reader of a stream holds, by what it has read.
"""

from __future__ import annotations

import io
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np

import hyperframe
from hyperframe.keys import node_key_bytes
from hyperframe.store import segments
from hyperframe.sync.framing import HEADER, PREAMBLE, Channel, Kind
from hyperframe.sync.nodes import Incoming, encode_frames
from hyperframe.sync.session import Session

MIB = 1024 * 1024


def _one_big_segment(path: Path, mib: int) -> hyperframe.Log:
    log = hyperframe.open(path, encoding="binary")
    log.batch([{"value": os.urandom(MIB)} for _ in range(mib)])  # one batch: one segment, one row group
    return log


def _peak(run: object) -> int:
    """The most bytes Python held at once while ``run()`` ran (beyond what it held before)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        run()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_a_sender_never_holds_a_whole_segment_file_in_memory(tmp_path: Path) -> None:
    log = _one_big_segment(tmp_path / "big.db", 24)
    replica = log.replica()
    (info,) = replica.state().segments
    session = Session(replica, Channel(io.BytesIO(), io.BytesIO(), timeout=1))
    sizes: list[int] = []

    def send_all() -> None:
        for payload in session._frames_to_send([info], None):  # every frame made, then dropped
            sizes.append(len(payload))

    peak = _peak(send_all)
    session.channel.close()
    assert sum(sizes) > 24 * MIB and len(sizes) >= 3
    # before: the file's 24 MiB as one bytes object, with two frames besides; now the frame
    # being made and the one before it (8 MiB each)
    assert peak < 20 * MIB, f"the sender held {peak / MIB:.1f} MiB at once for a 24 MiB segment"
    # and some of its rows only: a mask over the cached ids, the values of the rows wanted
    wanted = replica.ids([info])[::5]
    rows = [len(payload) for payload in session._frames_to_send([info], wanted)]
    assert sum(rows) < 8 * MIB and session.report.sent == 24 + len(wanted)


def test_a_segment_read_in_pieces_is_checked_against_its_manifest(tmp_path: Path) -> None:
    from hyperframe.store import stream

    log = hyperframe.open(tmp_path / "log.db")
    log.batch([{"value": f"v{i}"} for i in range(50)])
    (info,) = log.replica().state().segments
    whole = segments.read(log.path, info)
    pieces = list(stream.pieces(log.path, info, max_bytes=64))
    assert len(pieces) > 1 and sum(p.num_rows for p in pieces) == 50
    assert all(p.schema.equals(whole.schema) for p in pieces)
    path = log.path / info.file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    try:
        next(stream.pieces(log.path, info))
        raise AssertionError("a damaged file was parsed")
    except segments.DamagedSegment:
        pass
    replica = hyperframe.open(log.path).replica()
    try:
        list(replica.pieces(info))
        raise AssertionError("a damaged file was served")
    except hyperframe.HyperframeError as exc:
        assert info.file in str(exc)


def test_queueing_a_big_frame_for_sending_does_not_copy_it() -> None:
    channel = Channel(io.BytesIO(), io.BytesIO(), timeout=1)
    payload = os.urandom(16 * MIB)
    try:
        peak = _peak(lambda: channel.send(Kind.NODES, payload))
    finally:
        channel.close()
    assert peak < MIB, f"send copied {peak / MIB:.1f} MiB"


def _settled(channel: Channel, stream_: io.BytesIO) -> int:
    """How far the channel's reader has read once it stops reading (it waits for room)."""
    last, since = -1, time.monotonic()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        now = stream_.tell()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 0.5:
            break
        time.sleep(0.05)
    return last


def test_big_frames_are_read_ahead_one_at_a_time() -> None:
    size = 17 * MIB
    frames = b"".join(HEADER.pack(Kind.NODES, 0, 1, size) + bytes([i]) * size for i in range(4))
    source = io.BytesIO(PREAMBLE + frames)
    del frames
    channel = Channel(source, io.BytesIO(), timeout=5)
    try:
        # before: two frames queued and a third read while it waited for room (51 MiB)
        assert _settled(channel, source) < 2 * size, "more than one big frame was read ahead"
        first = channel.receive(Kind.NODES)
        assert first.payload[:1] == b"\0" and len(first.payload) == size
        # while the session holds it (until it asks for the next), no other is read
        assert _settled(channel, source) < 2 * size
        del first
        for i in range(1, 4):
            assert channel.receive(Kind.NODES).payload[:1] == bytes([i])
    finally:
        channel.close()


def test_a_fat_received_node_is_not_copied_while_it_is_checked_and_spilled(tmp_path: Path) -> None:
    value = os.urandom(20 * MIB)
    key = node_key_bytes(value, [])
    (payload,) = encode_frames(segments.make_table([key], [[]], [value]), 0, False)
    del value
    incoming = Incoming(local_has=lambda keys: set(), max_rows=1)
    try:
        # before: its value copied to Python bytes for the key check, and again for the spill
        peak = _peak(lambda: incoming.add(payload))
        assert incoming.spill is not None and incoming.received == 1
        assert peak < 4 * MIB, f"checking and spilling a 20 MiB node held {peak / MIB:.1f} MiB more"
        (table,) = incoming.tables()
        assert table.column("key")[0].as_py() == key
    finally:
        incoming.close()


def test_the_key_check_without_copies_finds_the_rows_a_node_by_node_check_finds() -> None:
    from hyperframe.store.segments import mismatched_rows

    rng = np.random.default_rng(3)
    values = [rng.bytes(int(n)) for n in rng.integers(0, 50, 40)]
    values[12] = rng.bytes(100_000)  # hashed in place, not in one call
    links = [[node_key_bytes(values[j], []) for j in range(i % 3)] for i in range(40)]
    keys = [node_key_bytes(v, ls) for v, ls in zip(values, links, strict=True)]
    keys[7] = bytes(32)
    keys[31] = keys[30]
    table = segments.make_table(keys, links, values)
    by_node = [i for i, (v, ls, k) in enumerate(zip(values, links, keys, strict=True)) if node_key_bytes(v, ls) != k]
    assert mismatched_rows(table) == by_node == [7, 31]
    assert mismatched_rows(table.slice(5, 10)) == [2]
    chunked = segments.make_table(keys[:20], links[:20], values[:20])
    import pyarrow as pa

    both = pa.concat_tables([chunked, table.slice(20)])
    assert mismatched_rows(both) == [7, 31]
