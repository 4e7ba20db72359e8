"""hyperlog 4.12.1's messages: varint-framed protobuf (proto2), one type byte first.

The schema is declared here once, as data, and built into message classes by the
``protobuf`` runtime (no generated code, no ``protoc``). Every frame from a peer is checked
against :data:`MAX_FRAME` before its body is read, and every parsed message is checked for
its required fields (proto2) and for sizes before anything is kept.

>>> from hyperframe.hyperlog import wire
>>> wire.encode(wire.HAVE, wire.message("Log", log="abc", seq=3)).hex()
'08010a036162631003'
"""

from __future__ import annotations

from functools import cache
from typing import IO, TYPE_CHECKING, Any

from ..errors import ProtocolError

if TYPE_CHECKING:
    from google.protobuf.message import Message

__all__ = [
    "HANDSHAKE", "HAVE", "WANT", "NODE", "SENT_HEADS", "SENT_WANTS", "MAX_FRAME",
    "message", "encode", "parse", "read_frame", "varint",
]  # fmt: skip

#: message types (the first byte of a frame body)
HANDSHAKE, HAVE, WANT, NODE, SENT_HEADS, SENT_WANTS = range(6)
TYPE_NAMES = {0: "handshake", 1: "have", 2: "want", 3: "node", 4: "sentHeads", 5: "sentWants"}
#: the largest frame accepted from a peer (a node's value plus its links fit many times over)
MAX_FRAME = 32 * 1024 * 1024

_OPTIONAL, _REQUIRED, _REPEATED = 1, 2, 3
_UINT32, _STRING, _BYTES, _BOOL = 13, 9, 12, 8
#: name -> (field name, number, type, label[, default]) in field-number order
SCHEMA: dict[str, list[tuple[Any, ...]]] = {
    "Handshake": [
        ("version", 1, _UINT32, _REQUIRED),
        ("mode", 2, _STRING, _OPTIONAL, "sync"),
        ("metadata", 3, _BYTES, _OPTIONAL),
        ("live", 4, _BOOL, _OPTIONAL),
    ],
    "Log": [("log", 1, _STRING, _REQUIRED), ("seq", 2, _UINT32, _REQUIRED)],
    "Node": [
        ("change", 1, _UINT32, _REQUIRED),
        ("key", 2, _STRING, _REQUIRED),
        ("log", 3, _STRING, _REQUIRED),
        ("seq", 4, _UINT32, _OPTIONAL),
        ("value", 5, _BYTES, _REQUIRED),
        ("links", 6, _STRING, _REPEATED),
        ("identity", 7, _BYTES, _OPTIONAL),
        ("signature", 8, _BYTES, _OPTIONAL),
    ],
}
#: which message each frame type carries (None: an empty body)
BODIES: dict[int, str | None] = {
    HANDSHAKE: "Handshake", HAVE: "Log", WANT: "Log", NODE: "Node", SENT_HEADS: None, SENT_WANTS: None,
}  # fmt: skip


@cache
def _classes() -> dict[str, type[Message]]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(name="hyperframe_hyperlog.proto", package="hyperframe_hyperlog")
    proto.syntax = "proto2"
    for name, fields in SCHEMA.items():
        message_type = proto.message_type.add(name=name)
        for spec in fields:
            field = message_type.field.add(name=spec[0], number=spec[1], type=spec[2], label=spec[3])
            if len(spec) > 4:
                field.default_value = spec[4]
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"hyperframe_hyperlog.{name}"))
        for name in SCHEMA
    }


def message(name: str, **fields: Any) -> Message:
    """A new ``name`` message (``"Handshake"``, ``"Log"``, ``"Node"``)."""
    return _classes()[name](**fields)


def varint(n: int) -> bytes:
    """``n`` as an unsigned LEB128 varint."""
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode(kind: int, body: Message | None = None) -> bytes:
    """One whole frame: varint length, type byte, protobuf body."""
    payload = bytes([kind]) + (b"" if body is None else body.SerializeToString())
    return varint(len(payload)) + payload


def parse(name: str, data: bytes) -> Any:
    """Parse a ``name`` message from a peer or a file; malformed bytes are a ``ProtocolError``."""
    from google.protobuf.message import DecodeError

    msg = _classes()[name]()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ProtocolError(f"the hyperlog peer sent a malformed {name} message ({exc})") from None
    if not msg.IsInitialized():
        missing = ", ".join(msg.FindInitializationErrors())
        raise ProtocolError(f"the hyperlog peer sent a {name} message without its required field(s) {missing}")
    return msg


def read_frame(stream: IO[bytes], limit: int = MAX_FRAME) -> bytes | None:
    """The next frame body from ``stream`` (None at a clean end of stream).

    The length is checked against ``limit`` before the body is read, so a peer cannot make
    this side allocate more than one frame's worth.
    """
    length = shift = 0
    for count in range(10):
        byte = stream.read(1)
        if not byte:
            if count == 0:
                return None
            raise ProtocolError("the hyperlog peer closed the connection in the middle of a frame length")
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    else:
        raise ProtocolError("the hyperlog peer sent a frame length longer than 10 bytes")
    if length > limit:
        raise ProtocolError(f"the hyperlog peer announced a {length}-byte frame, over the {limit}-byte limit; refused")
    if length == 0:
        raise ProtocolError("the hyperlog peer sent an empty frame (no message type)")
    parts, remaining = [], length
    while remaining:
        # all that is missing at once: a buffered stream fills one bytes object of that size
        # (reading in pieces and joining them held every big frame twice); the length is checked
        chunk = stream.read(remaining)
        if not chunk:
            raise ProtocolError(f"the hyperlog peer closed the connection in the middle of a {length}-byte frame")
        parts.append(chunk)
        remaining -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)
