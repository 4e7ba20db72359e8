"""Part 4's stream generators: random bytes, random frames, hostile HELLOs, mutated transcripts.

:func:`generate_stream` draws one hostile stream from a seeded ``random.Random``; the same
seed gives the same bytes, so a failing stream can be made again from its number alone.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from typing import Any

from hyperframe.sync.framing import PREAMBLE, Kind
from hyperframe.sync.session import VERSION

from .wire import KINDS, FuzzBase, frame_bytes, join_frames, split_frames


def _random_payload(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 7, 8, 16, 48, 100, 1000, rng.randrange(5000)]))


def _hello_doc(rng: random.Random) -> dict[str, Any]:
    packed = b"".join(struct.pack("<8sI", rng.randbytes(8), rng.randrange(100)) for _ in range(rng.randrange(4)))
    return {
        "protocol": "hyperframe-replicate",
        "version": VERSION,
        "nonce": rng.choice(["0" * 32, "f" * 32, rng.randbytes(16).hex()]),
        "mode": rng.choice(["sync", "push", "pull"]),
        "encoding": rng.choice(["utf-8", "utf-8", "json", "binary"]),
        "fixed": rng.random() < 0.8,
        "nodes": rng.choice([0, 1, 30, 31, 1000, 10**9]),
        "fingerprint": rng.randbytes(32).hex(),
        "heads": rng.choice([0, 1, 10**12]),
        "segments": base64.b64encode(packed).decode(),
    }


_HOSTILE_VALUES: list[Any] = [
    None,
    -1,
    0,
    2**70,
    -(2**63),
    1.5,
    float("nan"),
    "",
    "x",
    "../../etc/passwd",
    [],
    {},
    True,
    "A" * 10_000,
    ["seg-../../x.parquet"],
    {"file": "../evil"},
]


def mutate_hello(payload: bytes, rng: random.Random) -> bytes:
    try:
        doc = json.loads(payload)
    except ValueError:
        doc = _hello_doc(rng)
    for _ in range(rng.randrange(1, 4)):
        field_ = rng.choice(list(doc) + ["extra"])
        roll = rng.random()
        if roll < 0.2:
            doc.pop(field_, None)
        elif roll < 0.4 and field_ == "segments":
            paths = b"".join(p.ljust(12, b"\0")[:12] for p in (b"../../etc/pw", b"/tmp/evil.pq", b"seg-..\\x.pq"))
            doc["segments"] = rng.choice(
                [
                    base64.b64encode(paths).decode(),
                    "!!notbase64!!",
                    base64.b64encode(rng.randbytes(rng.randrange(40))).decode(),
                ]
            )
        else:
            value = rng.choice(_HOSTILE_VALUES)
            doc[field_] = value
    try:
        return json.dumps(doc, allow_nan=True).encode()
    except (TypeError, ValueError):
        return b"{}"


def mutate_nodes(payload: bytes, rng: random.Random) -> bytes:
    data = bytearray(payload)
    if not data:
        return rng.randbytes(50)
    for _ in range(rng.randrange(1, 4)):
        if not data:  # a deletion took everything
            break
        roll = rng.random()
        i = rng.randrange(len(data))
        if roll < 0.6:
            data[i] ^= 1 << rng.randrange(8)
        elif roll < 0.8:
            del data[i : i + rng.randrange(1, 64)]
        else:
            data[i:i] = rng.randbytes(rng.randrange(1, 64))
    return bytes(data)


def mutate_stream(transcript: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One to three structural or byte-level mutations of a real transcript."""
    frames = split_frames(transcript)
    names = []
    for _ in range(rng.randrange(1, 4)):
        op = rng.choice(
            [
                "flip",
                "truncate",
                "insert",
                "delete",
                "drop",
                "dup",
                "swap",
                "kind",
                "payload",
                "payload_flip",
                "length",
                "huge",
                "hello",
                "nodes",
                "nodes_dup",
                "extra",
                "clock",
                "flags",
            ]
        )
        names.append(op)
        if op in ("flip", "truncate", "insert", "delete"):
            data = bytearray(join_frames(frames))
            i = rng.randrange(len(data))
            if op == "flip":
                data[i] ^= 1 << rng.randrange(8)
            elif op == "truncate":
                del data[i:]
            elif op == "insert":
                data[i:i] = rng.randbytes(rng.randrange(1, 40))
            else:
                del data[i : i + rng.randrange(1, 200)]
            return "+".join(names), bytes(data)  # byte-level: the frame structure is gone
        if not frames:
            frames.append((Kind.HELLO, 0, 1, json.dumps(_hello_doc(rng)).encode()))
        j = rng.randrange(len(frames))
        kind, flags, clock, payload = frames[j]
        if op == "drop":
            del frames[j]
        elif op == "dup":
            frames.insert(j, frames[j])
        elif op == "swap":
            k = rng.randrange(len(frames))
            frames[j], frames[k] = frames[k], frames[j]
        elif op == "kind":
            frames[j] = (rng.choice(KINDS + [0, 0x7F, rng.randrange(256)]), flags, clock, payload)
        elif op == "payload":
            frames[j] = (kind, flags, clock, _random_payload(rng))
        elif op == "payload_flip":
            frames[j] = (kind, flags, clock, mutate_nodes(payload, rng))
        elif op in ("length", "huge"):
            lie = (
                rng.choice([0, 1, len(payload) + 1, len(payload) * 2 + 9])
                if op == "length"
                else rng.choice([2**32 - 1, 2**31, 64 * 2**20 + 1, 64 * 2**20, rng.randrange(2**32)])
            )
            head = join_frames(frames[:j])
            tail = join_frames(frames[j + 1 :])[len(PREAMBLE) :]
            return "+".join(names), head + frame_bytes(kind, payload, clock, flags, length=lie) + tail
        elif op == "hello":
            hellos = [i for i, f in enumerate(frames) if f[0] == Kind.HELLO] or [j]
            j = rng.choice(hellos)
            frames[j] = (Kind.HELLO, frames[j][1], frames[j][2], mutate_hello(frames[j][3], rng))
        elif op == "nodes":
            nodes = [i for i, f in enumerate(frames) if f[0] == Kind.NODES] or [j]
            j = rng.choice(nodes)
            frames[j] = (frames[j][0], frames[j][1], frames[j][2], mutate_nodes(frames[j][3], rng))
        elif op == "nodes_dup":  # the same nodes twice, in a row or later
            nodes = [i for i, f in enumerate(frames) if f[0] == Kind.NODES]
            if nodes:
                j = rng.choice(nodes)
                frames.insert(rng.randrange(j + 1, len(frames) + 1), frames[j])
        elif op == "extra":
            frames.insert(
                rng.randrange(len(frames) + 1), (rng.choice(KINDS), 0, rng.randrange(5), _random_payload(rng))
            )
        elif op == "clock":
            frames[j] = (kind, flags, rng.choice([0, 0xFFFF, rng.randrange(0x10000)]), payload)
        else:
            frames[j] = (kind, rng.randrange(256), clock, payload)
    return "+".join(names), join_frames(frames)


def generate_stream(rng: random.Random, base: FuzzBase) -> tuple[str, bytes]:
    """A hostile stream: random bytes, random frames, a real HELLO plus junk, or a mutated transcript."""
    roll = rng.random()
    if roll < 0.05:
        return "random-bytes", rng.randbytes(rng.randrange(200))
    if roll < 0.10:
        return "preamble+random", PREAMBLE + rng.randbytes(rng.randrange(300))
    if roll < 0.25:
        frames = [
            (rng.choice(KINDS + [rng.randrange(256)]), 0, rng.randrange(6), _random_payload(rng))
            for _ in range(rng.randrange(1, 6))
        ]
        return "random-frames", join_frames(frames)
    if roll < 0.40:
        frames = [(Kind.HELLO, 0, 1, json.dumps(_hello_doc(rng)).encode())]
        frames += [
            (rng.choice(KINDS), 0, rng.randrange(1, 6), _random_payload(rng)) for _ in range(rng.randrange(0, 5))
        ]
        return "hello+random", join_frames(frames)
    transcript = rng.choice(base.transcripts)
    if roll < 0.50:
        cut = rng.randrange(len(transcript.stream))
        return f"truncated/{transcript.name}", transcript.stream[:cut]
    if roll < 0.53:
        return f"replay/{transcript.name}", transcript.stream
    name, stream = mutate_stream(transcript.stream, rng)
    return f"{name}/{transcript.name}", stream
