"""Value encodings: how a log turns Python values into the bytes that are hashed and stored.

A log's encoding is fixed when it is created:

- ``"utf-8"`` (the default): values are ``str``;
- ``"json"``: any JSON value, encoded exactly as JavaScript's ``JSON.stringify`` would
  (no spaces, non-ASCII kept, key order kept), so keys match hyperlog's;
- ``"binary"``: values are ``bytes``.

>>> get_encoding("json").encode({"msg": "hello", "n": 1.0})
b'{"msg":"hello","n":1}'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .errors import EncodingError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

#: the deepest nesting of arrays and objects a JSON value may have (hyperlog's peers,
#: JavaScript engines, hold far less than a recursion limit; 512 is plenty for records)
MAX_DEPTH = 512

__all__ = ["ENCODINGS", "MAX_DEPTH", "Encoding", "get_encoding", "js_stringify"]


@dataclass(frozen=True)
class Encoding:
    """A named pair of functions between Python values and bytes."""

    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    #: how the CLI turns a command-line argument into a value
    parse_text: Callable[[str], Any]
    #: rows of a stored ``value`` column that do not decode (what a peer must never bring in)
    undecodable_rows: Callable[[pa.Array | pa.ChunkedArray], list[int]]
    #: many values at once: what ``encode`` gives each, or the error it raises first
    encode_many: Callable[[Sequence[Any]], list[bytes]] | None = None

    def encode_batch(self, values: Sequence[Any]) -> list[bytes]:
        """Encode many values (``encode_many`` if there is one, else one by one).

        >>> get_encoding("json").encode_batch([1.0, {"b": 1, "a": [2]}])
        [b'1', b'{"b":1,"a":[2]}']
        """
        if self.encode_many is None:
            return [self.encode(value) for value in values]
        return self.encode_many(values)


# --- JSON, byte-compatible with JavaScript's JSON.stringify -------------------------------

# Python differs from JavaScript for integral floats ("1.0" vs "1"), exponents ("1e-07"
# vs "1e-7", "1e+16" vs "10000000000000000"), non-finite numbers (JS writes null),
# integers past 2**53 (JS only has doubles: 2**63 is "9223372036854776000") and object
# keys that look like array indices (JS writes those first, in numeric order). The fast C
# encoder is right for everything else, so it runs first and the exact encoder below runs
# only when its output holds such a token (a match inside a string is harmless: the exact
# encoder gives the same bytes there).
_NEEDS_EXACT = re.compile(r'\.0(?=[,\]}]|$)|\de[-+]|Infinity|NaN|\d{16}|[{,]"(?:0|[1-9]\d{0,9})":')
_INDEX_KEY = re.compile(r"0|[1-9]\d{0,9}")
_fast_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True).encode


def _js_number(x: float) -> str:
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    digits_repr = repr(abs(x))
    mantissa, _, exp_text = digits_repr.partition("e")
    exponent = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # position of the decimal point relative to the start of `digits`
    point = (
        len(int_part.lstrip("0")) + exponent
        if int_part.strip("0")
        else exponent - (len(frac_part) - len(frac_part.lstrip("0")))
    )
    digits = digits.rstrip("0") or "0"
    sign = "-" if x < 0 else ""
    n = point  # JS: value = 0.digits * 10**n
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        body = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))
    return sign + body


def _exact_stringify(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return _fast_dumps(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 2**53 else _js_number(float(value))
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, dict):
        items = [(_key_text(k), v) for k, v in value.items()]
        index = sorted(
            ((k, v) for k, v in items if _INDEX_KEY.fullmatch(k) and int(k) < 2**32 - 1), key=lambda kv: int(kv[0])
        )
        named = [(k, v) for k, v in items if not (_INDEX_KEY.fullmatch(k) and int(k) < 2**32 - 1)]
        return "{" + ",".join(_fast_dumps(k) + ":" + _exact_stringify(v) for k, v in index + named) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_exact_stringify(v) for v in value) + "]"
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key_text(key: Any) -> str:
    """An object key as Python's json module writes it (str, number, bool or None)."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return str(_fast_dumps(key)).strip('"')
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def js_stringify(value: Any) -> str:
    """Encode ``value`` as JavaScript's ``JSON.stringify`` would.

    >>> js_stringify({"a": [1.0, 1e-7, 2.5e21, float("nan")], "é": "ü", "2": 0})
    '{"2":0,"a":[1,1e-7,2.5e+21,null],"é":"ü"}'
    """
    text = _fast_dumps(value)
    if _NEEDS_EXACT.search(text):
        text = _exact_stringify(value)
    return text


def _json_encode(value: Any) -> bytes:
    try:
        text = _fast_dumps(value)  # js_stringify, inlined: this runs once per value of a batch
        if _NEEDS_EXACT.search(text):
            text = _exact_stringify(value)
    except RecursionError:
        raise EncodingError(_too_deep()) from None
    except OverflowError:
        raise EncodingError(
            "this log stores JSON, and the value holds a number JavaScript cannot hold "
            "(beyond about 1.8e308); store it as a string"
        ) from None
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"this log stores JSON, and the value cannot be encoded: {exc}") from None
    if not _shallow(text):
        raise EncodingError(_too_deep())
    return text.encode("utf-8")


#: batches smaller than this are encoded value by value (the whole-batch scan costs NumPy);
#: larger ones in pieces of at most _WHOLE_PIECE values (the scan's arrays stay small)
_WHOLE_BATCH = 64
_WHOLE_PIECE = 8192


def _json_encode_many(values: Sequence[Any]) -> list[bytes]:
    """What :func:`_json_encode` gives for each value (and the error it raises first)."""
    if len(values) < _WHOLE_BATCH:
        return [_json_encode(value) for value in values]
    from ._json_batch import encode_whole

    out: list[bytes] = []
    for start in range(0, len(values), _WHOLE_PIECE):
        piece = values[start : start + _WHOLE_PIECE]
        encoded = encode_whole(piece)
        out += [_json_encode(value) for value in piece] if encoded is None else encoded
    return out


def _too_deep() -> str:
    return f"this log stores JSON, and the value is nested more than {MAX_DEPTH} levels deep; flatten it"


def _shallow(text: str | bytes) -> bool:
    """True if arrays and objects nest at most :data:`MAX_DEPTH` deep (brackets in strings
    do not count). Counting brackets first keeps the common case at C speed."""
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= MAX_DEPTH:
            return True
        text = text.encode("utf-8")
    elif text.count(b"[") + text.count(b"{") <= MAX_DEPTH:
        return True
    depth = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def _json_decode(data: bytes) -> Any:
    try:
        if _shallow(data):
            if data[:1] < b"\x80" and b"\x00" not in data[:4]:  # json.loads(bytes) would pick UTF-8
                return _decode_text(data.decode("utf-8", "surrogatepass"))
            return json.loads(data)  # it guesses UTF-16/32 or strips a BOM
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise EncodingError(f"a stored value is not valid JSON ({exc}); run `hyperframe verify` on the log") from None
    raise EncodingError(f"a stored JSON value is nested more than {MAX_DEPTH} levels deep")


#: ``json.loads`` of a ``str`` (what it does with bytes once it knows they are UTF-8)
_decode_text = json.JSONDecoder().decode


def _json_parse_text(text: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EncodingError(
            f"this log stores JSON and {text[:80]!r} is not JSON ({exc.msg}); "
            'quote strings, e.g. \'"hello"\' or \'{"msg": "hello"}\''
        ) from None
    except RecursionError:
        raise EncodingError(_too_deep()) from None
    except ValueError as exc:  # e.g. an integer literal past Python's digit limit
        raise EncodingError(f"this log stores JSON, and the value cannot be read: {exc}") from None
    return value


def _json_undecodable(values: pa.Array | pa.ChunkedArray) -> list[int]:
    """Rows :func:`_json_decode` refuses, with one scan per value and nothing else per value.

    The values of a chunk are decoded as one string, each followed by a newline, and
    the C scanner of :mod:`json` parses each value from its own offset: a row is valid
    when a value starts there (after whitespace) and ends before the row's end with only
    whitespace after it. Every JSON value ends at a token the scanner cannot read past
    (a newline ends a number or a literal; a string cannot hold a raw newline), so a
    row's parse never reaches into the next one, and a row is never judged by joining
    it to its neighbours. Rows where ``json.loads(bytes)`` does more than that go
    through the per-value check instead: nulls, a NUL byte or a UTF-8 BOM (it then
    guesses UTF-16/32 or strips the BOM), more than :data:`MAX_DEPTH` brackets; so does
    a chunk that is not valid UTF-8 as a whole (``json.loads`` lets surrogates through).

    >>> import pyarrow as pa
    >>> _json_undecodable(pa.array([b'{"a": [1, 2]}', b"1,2", b"[3", b"4]", b" null\\n"]))
    [1, 2, 3]
    """
    import pyarrow as pa

    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    bad: list[int] = []
    done = 0
    for chunk in chunks:
        bad.extend(done + row for row in _json_undecodable_chunk(chunk))
        done += len(chunk)
    return bad


def _json_undecodable_chunk(values: pa.Array) -> list[int]:
    import json.scanner

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    if n == 0:
        return []
    if values.null_count:  # never from a log (values are not null): the careful path
        return _json_undecodable_each(values.to_pylist())
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = values.cast(pa.large_binary())
    try:
        text = values.cast(pa.large_string())  # validates UTF-8 in C
    except pa.ArrowInvalid:
        return _json_undecodable_each(values.to_pylist())
    # no Arrow scalars and no pa.array(list) below: either would import pandas (~0.5 s a process)
    _, offsets, data = text.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64, count=n + 1, offset=8 * text.offset)
    body = np.frombuffer(data, dtype=np.uint8)[int(bounds[0]) : int(bounds[n])] if data else np.zeros(0, np.uint8)
    raw = np.insert(body, (bounds[1:] - bounds[0]).astype(np.intp), 10).tobytes()  # each value, then "\n"
    # rows json.loads(bytes) treats otherwise go one at a time: a UTF-8 BOM, a NUL byte, and
    # more than MAX_DEPTH brackets (only a value longer than that can have them)
    special = _mask(pc.starts_with(values, "\ufeff"))
    if b"\x00" in raw:
        special |= _mask(pc.match_substring(values, "\x00"))
    long = np.flatnonzero(np.diff(bounds) > MAX_DEPTH)
    if len(long):
        some = values.take(pa.Array.from_buffers(pa.int64(), len(long), [None, pa.py_buffer(long.astype(np.int64))]))
        brackets = _counts(pc.count_substring(some, "[")) + _counts(pc.count_substring(some, "{"))
        special[long[brackets > MAX_DEPTH]] = True
    odd = np.flatnonzero(special).tolist()
    lengths = _counts(pc.utf8_length(text))
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths + 1, out=starts[1:])
    source = raw.decode("utf-8")
    # the C scanner where there is one (typeshed types make_scanner as a class of its own)
    scan = cast("Callable[[str, int], tuple[Any, int]]", json.scanner.make_scanner(cast(Any, json.JSONDecoder())))
    space = _JSON_SPACE
    skip = set(odd)
    bad = []
    for row, (start, stop) in enumerate(zip(starts[:-1].tolist(), (starts[1:] - 1).tolist())):
        try:
            end = scan(source, start)[1]  # no value at `start`: whitespace first, or none
        except StopIteration:
            at = space(source, start).end()
            if at >= stop:
                end = stop + 1  # no value in the row at all
            else:
                try:
                    end = scan(source, at)[1]
                except (StopIteration, ValueError, RecursionError):
                    end = stop + 1
        except (ValueError, RecursionError):
            end = stop + 1
        if end != stop and (end > stop or space(source, end).end() < stop) and row not in skip:
            bad.append(row)
    if odd:
        refused = _json_undecodable_each([values[i].as_py() for i in odd])
        bad = sorted(bad + [odd[i] for i in refused])
    return bad


def _mask(flags: pa.Array) -> np.ndarray:
    """A BooleanArray without nulls as a NumPy bool array (from its bitmap)."""
    import numpy as np

    bits = np.unpackbits(np.frombuffer(flags.buffers()[1], dtype=np.uint8), bitorder="little")
    return bits[flags.offset : flags.offset + len(flags)].astype(bool)


def _counts(numbers: pa.Array) -> np.ndarray:
    """An integer array without nulls as NumPy int64 (from its buffer)."""
    import numpy as np

    width = numbers.type.bit_width // 8
    raw = np.frombuffer(numbers.buffers()[1], dtype=f"<i{width}")
    return raw[numbers.offset : numbers.offset + len(numbers)].astype(np.int64)


#: JSON's whitespace, as :mod:`json` skips it around a value (always matches)
_JSON_SPACE = cast("Callable[[str, int], re.Match[str]]", re.compile(r"[ \t\n\r]*").match)


def _json_undecodable_each(values: Sequence[bytes]) -> list[int]:
    """The rows :func:`_json_decode` refuses, one value at a time."""
    bad = []
    for row, data in enumerate(values):
        try:
            _json_decode(data)
        except EncodingError:
            bad.append(row)
    return bad


# --- UTF-8 text and raw bytes -------------------------------------------------------------


def _utf8_encode(value: Any) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodingError(
                "this log stores UTF-8 text, and the value holds a lone surrogate (not text); "
                "store bytes in a binary log"
            ) from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"this log stores UTF-8 text, and these bytes are not UTF-8 ({exc.reason} at byte {exc.start}); "
                "store bytes in a log created with encoding='binary'"
            ) from None
        return data
    raise EncodingError(
        f"this log stores UTF-8 text, so a value must be str, not {type(value).__name__}; "
        "open the log with encoding='json' to store other values"
    )


def _utf8_encode_many(values: Sequence[Any]) -> list[bytes]:
    """:func:`_utf8_encode` of each value; plain ``str`` values without the per-value call."""
    if all(type(value) is str for value in values):
        try:
            return [value.encode("utf-8") for value in values]
        except UnicodeEncodeError:
            pass  # a lone surrogate: the one-by-one path says so
    return [_utf8_encode(value) for value in values]


def _utf8_decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"a stored value is not UTF-8 ({exc.reason} at byte {exc.start}); run `hyperframe verify` on the log"
        ) from None


def _utf8_undecodable(values: pa.Array | pa.ChunkedArray) -> list[int]:
    import pyarrow as pa

    try:
        values.cast(pa.string())  # validates UTF-8 in C
        return []
    except pa.ArrowInvalid:
        pass
    bad = []
    for row, data in enumerate(values.to_pylist()):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(row)
    return bad


def _nothing_undecodable(values: pa.Array | pa.ChunkedArray) -> list[int]:
    return []


def _binary_encode(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise EncodingError(f"this log stores bytes, so a value must be bytes, not {type(value).__name__}")


def _identity(data: bytes) -> bytes:
    return data


def _text_to_bytes(text: str) -> bytes:
    return text.encode("utf-8")


ENCODINGS: dict[str, Encoding] = {
    "utf-8": Encoding("utf-8", _utf8_encode, _utf8_decode, str, _utf8_undecodable, _utf8_encode_many),
    "json": Encoding("json", _json_encode, _json_decode, _json_parse_text, _json_undecodable, _json_encode_many),
    "binary": Encoding("binary", _binary_encode, _identity, _text_to_bytes, _nothing_undecodable),
}
_ALIASES = {"utf8": "utf-8", "text": "utf-8", "bytes": "binary"}


def get_encoding(name: str) -> Encoding:
    """Look up an encoding by name (``"utf-8"``, ``"json"`` or ``"binary"``)."""
    key = _ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
    try:
        return ENCODINGS[key]
    except (KeyError, TypeError):
        raise UsageError(f"unknown encoding {name!r}: use one of {', '.join(ENCODINGS)}") from None
