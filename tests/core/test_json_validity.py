"""The JSON validity check of received values: the fast scan refuses exactly what the
per-value check refuses (``json.loads`` of each value's bytes, within the depth limit)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperframe.encodings import MAX_DEPTH, _json_undecodable, _json_undecodable_each

ADVERSARIAL = [
    b'{"a": [1, 2]}',
    b"1,2",
    b"[3",
    b"4]",
    b"1",
    b"2",
    b"12",
    b"",
    b" ",
    b"\n",
    b" null\n",
    b"\t\r\n true \n",
    b'"abc',
    b'def"',
    b'"a\nb"',
    b'"a\\nb"',
    b"1.",
    b".5",
    b"1e",
    b"1e5",
    b"-",
    b"-0",
    b"01",
    b"NaN",
    b"-Infinity",
    b"Infin",
    b"ity",
    b"[1,",
    b"2]",
    b"{",
    b"}",
    b'{"a":1}{"b":2}',
    b'{"a":1} {"b":2}',
    b'{"a":1}\n{"b":2}',
    b"1 2",
    b"[1]]",
    b'"\xc3\xa9"',
    b'"\\ud800"',
    b'"\\ud83d\\ude00"',
    b"\xff",
    b'"\xed\xa0\x80"',  # a surrogate in UTF-8: json.loads(bytes) takes it (surrogatepass)
    b"\xef\xbb\xbf{}",  # a UTF-8 BOM: json.loads(bytes) strips it
    b"\xef\xbb\xbf",
    b'\x00"',  # NUL bytes: json.loads(bytes) guesses UTF-16/32
    b'"\x00a\x00"\x00',
    b"\x001\x00\x00",
    b'"a\x00"',
    "[1]".encode("utf-16-le"),
    "[1]".encode("utf-32"),
    b"[" * MAX_DEPTH + b"]" * MAX_DEPTH,
    b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    b'["[[[[' + b"[" * MAX_DEPTH + b'"]',
    b"1" * 5000,  # past Python's digit limit
    b"{" * 600,
    b'{"a":' * 300 + b"1" + b"}" * 300,
    b"true",
    b"tru",
    b"e",
    b'{"\xe2\x82\xac": "\xf0\x9f\x98\x80"}',
]


def check(values: list[bytes]) -> None:
    expected = _json_undecodable_each(values)
    assert _json_undecodable(pa.array(values, pa.binary())) == expected
    assert _json_undecodable(pa.array(values, pa.large_binary())) == expected
    half = len(values) // 2
    chunked = pa.chunked_array([pa.array(values[:half], pa.binary()), pa.array(values[half:], pa.binary())])
    assert _json_undecodable(chunked) == expected


def test_adversarial_values_in_every_order() -> None:
    check(ADVERSARIAL)
    check(ADVERSARIAL[::-1])
    for i in range(len(ADVERSARIAL)):  # each value beside each neighbour
        check(ADVERSARIAL[i:] + ADVERSARIAL[:i])


def test_values_that_join_into_valid_json_are_still_refused() -> None:
    assert _json_undecodable(pa.array([b"1,2", b"[3", b"4]"])) == [0, 1, 2]
    assert _json_undecodable(pa.array([b'"a', b'b"'])) == [0, 1]
    assert _json_undecodable(pa.array([b"[", b"1", b"]"])) == [0, 2]


def test_empty_and_sliced_arrays() -> None:
    assert _json_undecodable(pa.array([], pa.binary())) == []
    values = pa.array([b"x", b"1", b"[", b"2"], pa.binary())
    assert _json_undecodable(values.slice(1, 2)) == [1]
    assert _json_undecodable(pa.chunked_array([], pa.binary())) == []


FRAGMENTS = [b"1", b"0", b"-", b".", b"e", b"+", b",", b":", b"[", b"]", b"{", b"}", b'"', b"\\", b"a",
             b" ", b"\n", b"\t", b"\r", b"true", b"null", b"NaN", b"Infinity", b"\x00", b"\xef\xbb\xbf",
             b"\xc3\xa9", b"\xff", b"u", b"\\u00e9", b'"k":']  # fmt: skip

values_strategy = st.lists(
    st.one_of(
        st.lists(st.sampled_from(FRAGMENTS), max_size=8).map(b"".join),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
            max_leaves=8,
        ).map(lambda doc: json.dumps(doc, ensure_ascii=False, indent=None if hash(str(doc)) % 2 else 1).encode()),
        st.binary(max_size=6),
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(values_strategy)
def test_random_values_refused_exactly_as_one_at_a_time(values: list[bytes]) -> None:
    check(values)


@pytest.mark.parametrize("value", ADVERSARIAL)
def test_each_value_alone(value: bytes) -> None:
    check([value])
