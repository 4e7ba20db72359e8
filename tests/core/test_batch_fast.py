"""The whole-batch paths of ``log.batch``: values encoded in one call, Nodes built a field at
a time. Each is compared with the value-by-value path it stands in for (a generator of docs
takes that path), byte for byte: same keys, same stored columns, same errors."""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hyperframe
from hyperframe._json_batch import encode_whole
from hyperframe.encodings import MAX_DEPTH, get_encoding
from hyperframe.errors import EncodingError, UsageError
from hyperframe.node import Node, many_nodes
from hyperframe.rows import plain_values

JSON = get_encoding("json")

#: values where Python's and JavaScript's JSON differ, or where cutting the array could go wrong
ODD_VALUES: list[Any] = [
    1e21, 1e20, 2.5e21, -0.0, 0.0, 1.5, 1.0, -2.0, 100.0, 1e-7, 1.5e-7, 1e-6, 1e16, 1e300, 5e-324,
    0.1 + 0.2, 123456789012345.6, 2**53 - 1, 2**53, 2**53 + 1, -(2**63), 10**30, 12345678901234567,
    float("inf"), float("-inf"), float("nan"), 0, -1, True, False, None,
    "", "é", "ü 日本 🎉", "𝄞", "\u2028\u2029", "\x00\n\t\x1f", '"', "\\", '\\"', 'x\\\\"y', "a,b]", "}{", "1.0,",
    "1e+5", "NaN", "Infinity", "12345678901234567", "\\\\\\", '""', "\ud800",  # a lone surrogate: str, not UTF-8
    [], {}, [[[]]], [{}], {"": ""}, {"a": {"b": [1, {"c": "d,e"}]}}, (1, 2.0), [1.0, [2.0, {"x": 3.0}]],
    {"2": 0, "a": 1, "1": [1.0]}, {"10": 1, "9": 2}, {"01": 1, "0": 2}, {"4294967295": 1, "4294967294": 2},
    {"١": 1, "1١": 2}, {1: "a", 2.5: "b", None: "c", False: "d"}, {'a"b': 1, "c\\": "d\\"}, {"x:": "y,"},
    {"k": "1.0", "n": 1.0}, {"0": {"0": [0.0]}}, [float("nan"), {"e": "e+1"}], {"I": "N"},
]  # fmt: skip


def one_by_one(values: list[Any]) -> list[bytes]:
    return [JSON.encode(value) for value in values]


def generator(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The same docs as an iterator: ``log.batch`` then checks and encodes them one at a time."""
    yield from docs


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# --- the whole-batch JSON encoder -------------------------------------------------------------


def test_odd_values_encode_as_one_by_one() -> None:
    values = [v for v in ODD_VALUES if v != "\ud800"] * 3  # enough for the whole-batch path
    whole = encode_whole(values)
    assert whole is not None
    assert whole == one_by_one(values)
    assert JSON.encode_batch(values) == one_by_one(values)


@pytest.mark.parametrize("value", [v for v in ODD_VALUES if v != "\ud800"], ids=repr)
def test_each_odd_value_among_plain_ones(value: Any) -> None:
    values = [{"i": i, "msg": f"hello {i}"} for i in range(40)] + [value] + [f"x{i}" for i in range(40)]
    assert encode_whole(values) == one_by_one(values)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
            max_leaves=12,
        ),
        min_size=64,
        max_size=120,
    )
)
def test_random_values_encode_as_one_by_one(values: list[Any]) -> None:
    try:
        expected = one_by_one(values)
    except (EncodingError, UnicodeEncodeError) as exc:  # e.g. a lone surrogate in a text
        with pytest.raises(type(exc)):
            JSON.encode_batch(values)
        return
    assert encode_whole(values) == expected
    assert JSON.encode_batch(values) == expected


def test_a_big_batch_encodes_as_one_by_one_and_fails_at_the_same_value() -> None:
    # big enough to be scanned in several pieces; odd values land in every piece
    odd = [v for v in ODD_VALUES if v != "\ud800"]
    values = [odd[i % len(odd)] if i % 7 == 0 else {"i": i, "msg": f"hello {i}"} for i in range(30_000)]
    assert JSON.encode_batch(values) == one_by_one(values)
    late = values[:25_000] + [float("nan"), {"deep": nested(MAX_DEPTH + 1)}] + values[:100]
    with pytest.raises(EncodingError) as one:
        one_by_one(late)
    with pytest.raises(EncodingError) as whole:
        JSON.encode_batch(late)
    assert str(whole.value) == str(one.value)


def test_depth_limit_is_the_value_by_value_one() -> None:
    fill = list(range(70))
    deepest = fill + [nested(MAX_DEPTH)]
    assert encode_whole(deepest) == one_by_one(deepest)
    too_deep = fill + [nested(MAX_DEPTH + 1)]
    assert encode_whole(too_deep) is None  # left to the value-by-value path, which refuses it
    with pytest.raises(EncodingError, match="nested more than 512"):
        JSON.encode_batch(too_deep)
    text_only = fill + ["[" * (MAX_DEPTH + 5)]  # brackets in a string are not nesting
    assert encode_whole(text_only) == one_by_one(text_only)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (object(), "cannot be encoded"),
        ({(1, 2): "tuple key"}, "cannot be encoded"),
        (10**400, "JavaScript cannot hold"),  # past the float range
        ("\ud800", None),  # a lone surrogate: UnicodeEncodeError, as one by one
    ],
    ids=["object", "tuple-key", "huge-int", "surrogate"],
)
def test_an_unencodable_value_raises_what_one_by_one_raises(bad: Any, error: str | None) -> None:
    values: list[Any] = [*range(50), bad, *range(50)]
    with pytest.raises(Exception) as one:
        one_by_one(values)
    with pytest.raises(type(one.value)) as whole:
        JSON.encode_batch(values)
    assert str(whole.value) == str(one.value)
    if error:
        assert error in str(one.value)


def test_a_circular_value_raises_what_one_by_one_raises() -> None:
    loop: list[Any] = []
    loop.append(loop)
    values = [*range(70), loop]
    with pytest.raises(EncodingError) as one:
        one_by_one(values)
    with pytest.raises(EncodingError) as whole:
        JSON.encode_batch(values)
    assert str(whole.value) == str(one.value)


def test_utf8_batch_encoding_matches_one_by_one() -> None:
    utf8 = get_encoding("utf-8")
    values: list[Any] = ["a", "é", "", "日本", b"raw bytes", bytearray(b"x")] * 20
    assert utf8.encode_batch(values) == [utf8.encode(v) for v in values]
    with pytest.raises(EncodingError, match="lone surrogate"):
        utf8.encode_batch(["fine"] * 70 + ["\udc80"])


# --- which docs take the whole-batch path ---------------------------------------------------


def test_plain_values_accepts_only_docs_that_link_nothing() -> None:
    assert plain_values([{"value": 1}, {"value": [2], "links": []}, {"value": None, "links": ()}]) == [1, [2], None]
    for odd in (
        {"value": 1, "links": None},  # links the heads
        {"value": 1, "links": ["ab" * 32]},
        {"value": 1, "identity": b"k"},
        {"value": 1, "links": "", "x": 2},
        {"links": []},
        {"valu": 1},
        ("value", 1),
    ):
        assert plain_values([{"value": 0}, odd]) is None, odd


# --- log.batch through both paths -------------------------------------------------------------


def stored_columns(log: hyperframe.Log) -> dict[str, list[Any]]:
    table = pq.read_table(log.files())
    return {name: table.column(name).to_pylist() for name in ("key", "links", "value", "seq")}


def batch_both_ways(tmp_path: Path, docs: list[dict[str, Any]], encoding: str = "json") -> tuple[Any, Any]:
    fast = hyperframe.open(tmp_path / "fast.db", encoding=encoding)
    slow = hyperframe.open(tmp_path / "slow.db", encoding=encoding)
    return (fast, fast.batch(docs)), (slow, slow.batch(generator(docs)))


def test_batch_stores_the_same_bytes_as_the_doc_by_doc_path(tmp_path: Path) -> None:
    values = [v for v in ODD_VALUES if v != "\ud800" and not (isinstance(v, float) and math.isnan(v))]
    docs = [{"value": v} for v in values * 2] + [{"value": {"i": i}, "links": []} for i in range(100)]
    (fast, fast_nodes), (slow, slow_nodes) = batch_both_ways(tmp_path, docs)
    assert fast_nodes == slow_nodes
    assert [n.key for n in fast_nodes] == [n.key for n in slow_nodes]
    assert stored_columns(fast) == stored_columns(slow)
    assert fast.heads() == slow.heads()


def test_duplicates_and_stored_values_get_the_same_change_numbers(tmp_path: Path) -> None:
    docs = [{"value": {"n": i % 50}} for i in range(150)]  # each value three times
    (fast, fast_nodes), (slow, slow_nodes) = batch_both_ways(tmp_path, docs)
    assert fast_nodes == slow_nodes
    assert sorted({n.change for n in fast_nodes}) == list(range(1, 51))
    again = [{"value": {"n": i}} for i in range(25, 125)]  # half stored already
    assert fast.batch(again) == slow.batch(generator(again))
    assert len(fast) == len(slow) == 125
    assert stored_columns(fast) == stored_columns(slow)


def test_utf8_and_binary_batches_match_the_doc_by_doc_path(tmp_path: Path) -> None:
    for encoding, values in (("utf-8", ["a", "é", b"bytes", "", "𝄞"] * 30), ("binary", [b"\x00\xff", "text"] * 40)):
        docs = [{"value": v, "links": []} if i % 2 else {"value": v} for i, v in enumerate(values)]
        (fast, fast_nodes), (slow, slow_nodes) = batch_both_ways(tmp_path / encoding, docs, encoding)
        assert fast_nodes == slow_nodes
        assert stored_columns(fast) == stored_columns(slow)


def test_a_bad_value_fails_the_batch_as_before_and_writes_nothing(tmp_path: Path) -> None:
    docs: list[dict[str, Any]] = [{"value": i} for i in range(80)] + [{"value": nested(MAX_DEPTH + 1)}]
    fast = hyperframe.open(tmp_path / "fast.db", encoding="json")
    slow = hyperframe.open(tmp_path / "slow.db", encoding="json")
    with pytest.raises(EncodingError) as one:
        slow.batch(generator(docs))
    with pytest.raises(EncodingError) as whole:
        fast.batch(docs)
    assert str(whole.value) == str(one.value)
    assert len(fast) == 0 and not (tmp_path / "fast.db").exists()
    with pytest.raises(UsageError, match="batch item 80 must be a dict"):
        fast.batch([{"value": i} for i in range(80)] + [("value", 1)])  # type: ignore[list-item]


def test_events_see_the_same_nodes(tmp_path: Path) -> None:
    docs = [{"value": {"i": i}} for i in range(100)]
    seen: dict[str, list[Node]] = {"fast": [], "slow": []}
    (fast, _), (slow, _) = (
        (hyperframe.open(tmp_path / f"{name}.db", encoding="json"), None) for name in ("fast", "slow")
    )
    fast.on("add", seen["fast"].append)
    slow.on("add", seen["slow"].append)
    assert fast.batch(docs) == slow.batch(generator(docs))
    assert seen["fast"] == seen["slow"] and len(seen["fast"]) == 100


# --- many Nodes at once --------------------------------------------------------------------


def test_many_nodes_are_the_nodes_init_builds() -> None:
    keys = [f"{i:064x}" for i in range(5)]
    links = [(), ("ab" * 32,), (), ("cd" * 32, "ef" * 32), ()]
    values: list[Any] = ["a", {"b": 1}, None, b"x", 2.5]
    identities = [None, b"id", None, None, b"id2"]
    signatures = [None, b"sig", None, None, None]
    built = many_nodes(keys, links, values, range(1, 6), identities, signatures)
    expected = [Node(*fields) for fields in zip(keys, links, values, range(1, 6), identities, signatures)]
    assert built == expected
    assert [repr(n) for n in built] == [repr(n) for n in expected]
    assert [hash(n) for n in built[:1]] == [hash(n) for n in expected[:1]]
    plain = many_nodes(keys, [()] * 5, values, [0] * 5)
    assert plain == [Node(k, (), v, 0) for k, v in zip(keys, values)]
    with pytest.raises(AttributeError):  # still frozen
        built[0].key = "x"  # type: ignore[misc]


def test_many_nodes_leaves_the_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    many_nodes(["k"], [()], [1], [1])
    assert gc.isenabled()
    gc.disable()
    try:
        many_nodes(["k"], [()], [1], [1])
        assert not gc.isenabled()
    finally:
        gc.enable()
