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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import EncodingError, UsageError

__all__ = ["ENCODINGS", "Encoding", "get_encoding", "js_stringify"]


@dataclass(frozen=True)
class Encoding:
    """A named pair of functions between Python values and bytes."""

    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    #: how the CLI turns a command-line argument into a value
    parse_text: Callable[[str], Any]


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
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"this log stores JSON, and the value cannot be encoded: {exc}") from None


def _json_decode(data: bytes) -> Any:
    return json.loads(data)


def _json_parse_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EncodingError(
            f"this log stores JSON and {text!r} is not JSON ({exc.msg}); "
            'quote strings, e.g. \'"hello"\' or \'{"msg": "hello"}\''
        ) from None


# --- UTF-8 text and raw bytes -------------------------------------------------------------


def _utf8_encode(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise EncodingError(
        f"this log stores UTF-8 text, so a value must be str, not {type(value).__name__}; "
        "open the log with encoding='json' to store other values"
    )


def _utf8_decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


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
    "utf-8": Encoding("utf-8", _utf8_encode, _utf8_decode, str),
    "json": Encoding("json", _json_encode, _json_decode, _json_parse_text),
    "binary": Encoding("binary", _binary_encode, _identity, _text_to_bytes),
}
_ALIASES = {"utf8": "utf-8", "text": "utf-8", "bytes": "binary"}


def get_encoding(name: str) -> Encoding:
    """Look up an encoding by name (``"utf-8"``, ``"json"`` or ``"binary"``)."""
    key = _ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
    try:
        return ENCODINGS[key]
    except (KeyError, TypeError):
        raise UsageError(f"unknown encoding {name!r}: use one of {', '.join(ENCODINGS)}") from None
