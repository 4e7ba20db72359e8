"""Reading a stored JSON value gives what ``json.loads`` of its bytes gives, or refuses it."""

from __future__ import annotations

import json
import math
import random

import pytest

from hyperframe.encodings import get_encoding
from hyperframe.errors import EncodingError

ODD = [
    b'{"a":1}',
    b" [1,2] \n",
    b'"\\ud800"',  # a lone surrogate escape: Python reads it
    b'"\xed\xa0\x80"',  # an encoded surrogate: json.loads passes it through
    b'\xef\xbb\xbf{"a":1}',  # a UTF-8 BOM: json.loads strips it
    '{"a":"é"}'.encode("utf-16"),
    '{"a":1}'.encode("utf-16-le"),
    "[1]".encode("utf-32"),
    b"1 2",
    b"",
    b"\x00",
    b'"\xff"',
    b"NaN",
    b"1e400",
    b"-0",
]


def _outcome(read: object, data: bytes) -> tuple[str, str]:
    try:
        value = read(data)  # type: ignore[operator]
    except (EncodingError, ValueError):
        return ("refused", "")
    return ("read", "nan" if isinstance(value, float) and math.isnan(value) else repr(value))


@pytest.mark.parametrize("data", ODD)
def test_odd_bytes_read_like_json_loads(data: bytes) -> None:
    assert _outcome(get_encoding("json").decode, data) == _outcome(json.loads, data)


def test_random_bytes_read_like_json_loads() -> None:
    rng = random.Random(11)
    alphabet = b' {}[]"\\:,0123456789.eE-+tfnaulrsx\x00\x80\xc3\xa9\xef\xbb\xbf\xff\xfe'
    for _ in range(5000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert _outcome(get_encoding("json").decode, data) == _outcome(json.loads, data), data
