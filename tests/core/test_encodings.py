"""Value encodings: JSON byte-compatible with JavaScript's JSON.stringify, UTF-8 and binary."""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

import hyperframe
from hyperframe.encodings import ENCODINGS, get_encoding, js_stringify

NODE = shutil.which("node")


# --- JSON, byte for byte what JSON.stringify writes ----------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"msg": "hello"}, '{"msg":"hello"}'),
        ({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),  # no spaces
        ({"é": "ü 日本 🎉"}, '{"é":"ü 日本 🎉"}'),  # non-ASCII unescaped
        ({"z": 1, "a": 2, "m": 3}, '{"z":1,"a":2,"m":3}'),  # key order kept
        (1.0, "1"),
        (-2.0, "-2"),
        (100.0, "100"),
        (-0.0, "0"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (1e21, "1e+21"),
        (2.5e21, "2.5e+21"),
        (1e20, "100000000000000000000"),
        (1e16, "10000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (0.1, "0.1"),
        (float("nan"), "null"),
        (float("inf"), "null"),
        (float("-inf"), "null"),
        ({"a": {"b": [1.0, {"c": 1e21, "d": [float("nan")]}]}}, '{"a":{"b":[1,{"c":1e+21,"d":[null]}]}}'),
        ([True, False, None], "[true,false,null]"),
        ('a"b\\c\n\t\x00', '"a\\"b\\\\c\\n\\t\\u0000"'),
        ((1.0, 2), "[1,2]"),
        ({}, "{}"),
        ([], "[]"),
        ("", '""'),
    ],
)
def test_js_stringify_writes_what_javascript_writes(value: Any, expected: str) -> None:
    assert js_stringify(value) == expected


def test_number_like_text_inside_strings_is_left_alone() -> None:
    value = {"n": 1.0, "s": "1.0,1e-07,NaN,Infinity"}
    assert js_stringify(value) == '{"n":1,"s":"1.0,1e-07,NaN,Infinity"}'


def test_json_encoding_is_utf8_of_js_stringify() -> None:
    enc = get_encoding("json")
    assert enc.encode({"msg": "héllo", "n": 1.0}) == '{"msg":"héllo","n":1}'.encode()


def test_json_encoding_round_trips() -> None:
    enc = get_encoding("json")
    value = {"msg": "hello", "list": [1, 2.5, None, True], "nested": {"ü": "é"}}
    assert enc.decode(enc.encode(value)) == value


@pytest.mark.parametrize("bad", [{1, 2}, object(), b"bytes", {"when": 1j}])
def test_json_encoding_refuses_values_json_cannot_hold(bad: Any) -> None:
    with pytest.raises(hyperframe.EncodingError, match="JSON"):
        get_encoding("json").encode(bad)


def test_json_encoding_refuses_circular_values() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(hyperframe.EncodingError):
        get_encoding("json").encode(loop)


def test_json_text_from_the_command_line_is_parsed() -> None:
    assert get_encoding("json").parse_text('{"msg": "hello"}') == {"msg": "hello"}
    assert get_encoding("json").parse_text('"hello"') == "hello"


def test_bare_words_are_not_json_and_the_message_says_how_to_quote() -> None:
    with pytest.raises(hyperframe.EncodingError, match="quote strings"):
        get_encoding("json").parse_text("hello")


# --- UTF-8 and binary ----------------------------------------------------------------------


def test_utf8_encoding_stores_text_as_utf8() -> None:
    enc = get_encoding("utf-8")
    assert enc.encode("héllo") == "héllo".encode()
    assert enc.decode("héllo".encode()) == "héllo"
    assert enc.parse_text("héllo") == "héllo"


def test_utf8_encoding_accepts_utf8_bytes_as_they_are() -> None:
    assert get_encoding("utf-8").encode("é".encode()) == "é".encode()


@pytest.mark.parametrize("bad", [b"\x00\xff", b"ok\xff", "lone \ud800"])
def test_utf8_encoding_refuses_what_is_not_text_instead_of_storing_it_lossily(bad: Any) -> None:
    # issue 9: a utf-8 log used to store these and read them back with U+FFFD
    with pytest.raises(hyperframe.EncodingError, match="UTF-8"):
        get_encoding("utf-8").encode(bad)


@pytest.mark.parametrize("bad", [1, 1.5, None, {"a": 1}, ["a"]])
def test_utf8_encoding_refuses_non_text_and_points_at_json(bad: Any) -> None:
    with pytest.raises(hyperframe.EncodingError, match="encoding='json'"):
        get_encoding("utf-8").encode(bad)


def test_utf8_decoding_of_bad_bytes_is_an_encoding_error_not_a_silent_replacement() -> None:
    with pytest.raises(hyperframe.EncodingError, match="not UTF-8"):
        get_encoding("utf-8").decode(b"ok\xff")


def test_binary_encoding_keeps_bytes() -> None:
    enc = get_encoding("binary")
    data = bytes(range(256))
    assert enc.encode(data) == data
    assert enc.encode(bytearray(b"ab")) == b"ab"
    assert enc.encode(memoryview(b"cd")) == b"cd"
    assert enc.decode(data) == data
    assert enc.encode("é") == "é".encode()
    assert enc.parse_text("hi") == b"hi"


@pytest.mark.parametrize("bad", [1, None, {"a": 1}])
def test_binary_encoding_refuses_other_values(bad: Any) -> None:
    with pytest.raises(hyperframe.EncodingError, match="bytes"):
        get_encoding("binary").encode(bad)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        ("text", "utf-8"),
        ("json", "json"),
        ("JSON", "json"),
        ("bytes", "binary"),
        ("binary", "binary"),
    ],
)
def test_encoding_names_and_aliases(name: str, canonical: str) -> None:
    assert get_encoding(name).name == canonical


@pytest.mark.parametrize("bad", ["latin-1", "", None, 3])
def test_unknown_encoding_names_list_the_known_ones(bad: Any) -> None:
    with pytest.raises(hyperframe.UsageError, match="utf-8, json, binary"):
        get_encoding(bad)


def test_the_three_encodings_exist() -> None:
    assert set(ENCODINGS) == {"utf-8", "json", "binary"}


def test_encoding_error_is_a_usage_error_and_a_value_error() -> None:
    assert issubclass(hyperframe.EncodingError, hyperframe.UsageError)
    assert issubclass(hyperframe.EncodingError, ValueError)


# --- through a log ----------------------------------------------------------------------


def test_json_log_stores_and_returns_structured_values(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "j.db", encoding="json")
    node = log.add({"msg": "hello", "n": [1.0, 2.5]})
    assert node.value == {"msg": "hello", "n": [1, 2.5]}
    assert hyperframe.open(tmp_path / "j.db").get(node.key).value == {"msg": "hello", "n": [1, 2.5]}


def test_binary_log_stores_and_returns_bytes(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "b.db", encoding="binary")
    data = b"\x00\xff\x10 not text"
    node = log.add(data)
    assert hyperframe.open(tmp_path / "b.db").get(node.key).value == data
    assert node.key == hyperframe.node_key(data, [])


def test_a_value_the_encoding_refuses_writes_nothing(tmp_path: Path) -> None:
    log = hyperframe.open(tmp_path / "t.db")
    with pytest.raises(hyperframe.EncodingError):
        log.add(42)
    assert not (tmp_path / "t.db").exists()


# --- against the real JavaScript ----------------------------------------------------------


def _node_stringify(script: str, payload: str) -> list[str]:
    assert NODE is not None
    proc = subprocess.run([NODE, "-e", script], input=payload, capture_output=True, text=True, timeout=60, check=True)
    result: list[str] = json.loads(proc.stdout)
    return result


def _tricky_floats() -> list[float]:
    rng = random.Random(2024)
    floats = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1 / 3,
        1e-7,
        1e-6,
        1.5e-7,
        1e21,
        1e20,
        1e16,
        2.0**53,
        2.0**53 + 2,
        123456789012345680000.0,
        5e-324,
        1.7976931348623157e308,
        1e300,
        1e-300,
        0.000001234,
        float("nan"),
        float("inf"),
        float("-inf"),
    ]
    for _ in range(1500):  # any double at all, by bit pattern
        floats.append(struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0])
    for _ in range(1500):  # numbers around the thresholds where the notations switch
        floats.append(rng.uniform(-10, 10) * 10.0 ** rng.randint(-25, 25))
        floats.append(float(rng.randint(-(10**17), 10**17)))
        floats.append(round(rng.random(), rng.randint(0, 8)))
    return floats


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_numbers_match_node_json_stringify() -> None:
    floats = _tricky_floats()
    # Send the exact doubles as bit patterns, so NaN, infinities and -0 survive the trip.
    script = (
        "const hs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(hs.map(h => JSON.stringify(Buffer.from(h, 'hex').readDoubleLE(0)))));"
    )
    expected = _node_stringify(script, json.dumps([struct.pack("<d", x).hex() for x in floats]))
    mismatches = [(x, js_stringify(x), e) for x, e in zip(floats, expected) if js_stringify(x) != e]
    assert mismatches == []


TRICKY_VALUES: list[Any] = [
    {"msg": "hello"},
    {"z": 1, "a": 2, "é": 3, "": 5, "-1": 6, "01": 7},
    "é ü 日本 🎉",
    '\x00\x01\x1f\x7f\b\f\n\r\t"\\/',
    "\u2028\u2029</script>",
    "1.0, 1e-07, NaN",
    {"a": [1.0, 1e-7, 1e21, 1e16, -0.0, 2.5, {"b": None, "c": [True, False]}]},
    [[[]], {}, [{}], ""],
    {"deep": {"er": {"est": [0.1, 0.2, 0.30000000000000004]}}},
    9007199254740991,
    -9007199254740991,
    0,
]


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_structured_values_match_node_json_stringify() -> None:
    script = (
        "const vs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(vs.map(v => JSON.stringify(v))));"
    )
    expected = _node_stringify(script, json.dumps(TRICKY_VALUES, ensure_ascii=True))
    assert [js_stringify(v) for v in TRICKY_VALUES] == expected


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
@pytest.mark.parametrize("big", [2**53 + 1, 2**63, 10**21])
def test_integers_beyond_2_53_are_written_as_javascript_writes_that_number_or_refused(big: int) -> None:
    # JavaScript numbers are doubles: JSON text holding this integer means, to hyperlog,
    # the nearest double, and JSON.stringify writes that. Writing the exact Python
    # integer instead would give the node a key hyperlog never computes.
    (expected,) = _node_stringify(
        "const t = require('fs').readFileSync(0, 'utf8');"
        "process.stdout.write(JSON.stringify([JSON.stringify(JSON.parse(t))]));",
        str(big),
    )
    try:
        written = js_stringify(big)
    except (TypeError, ValueError):
        return  # refusing is fine too
    assert written == expected


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_integer_like_object_keys_come_first_as_in_javascript() -> None:
    # A JavaScript object lists array-index keys ("0", "10", ...) first, ascending, then
    # the other keys in insertion order; JSON.stringify writes them in that order. So the
    # JSON text '{"z":1,"10":2}' is stored by hyperlog as '{"10":2,"z":1}'.
    value = {"z": 1, "10": 2, "a": 3, "2": 4}
    (expected,) = _node_stringify(
        "const v = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify([JSON.stringify(v)]));",
        json.dumps(value),
    )
    assert expected == '{"2":4,"10":2,"z":1,"a":3}'
    assert js_stringify(value) == expected
