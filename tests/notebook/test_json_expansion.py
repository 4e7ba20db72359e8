"""JSON fields as columns: the parallel expansion gives exactly the table of the one-block
expansion it replaced (issue 13), on the bundled data and on random documents."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hyperframe
from hyperframe import frames
from hyperframe.errors import EncodingError

DATA = Path(__file__).resolve().parents[2] / "data"


def before(values: pa.ChunkedArray) -> pa.Table:
    """``frames.expand_json`` as it was before issue 13: one block, one thread.

    Two changes, both fixes: values that are not all objects go the Python way at once
    (before, Arrow's reader was tried on them too; it refuses every non-object line
    except ``null``, which it took for a row of nulls, so the value vanished, or crashed
    the process on when it came first); and so does a table Arrow built wrong (a list
    whose first items are two nulls: its offsets overran the items, and reading it
    failed or gave other rows' items).
    """
    n = len(values)
    if n == 0:
        return pa.table({})
    if not pc.all(pc.match_substring_regex(values, "^[ \\t\\n\\r]*{")).as_py():
        return frames._expand_json_python(values)
    joined = pc.binary_join_element_wise(values.combine_chunks(), pa.scalar(b"", pa.binary()), b"\n")
    _, offsets, data = joined.buffers()
    width = 8 if pa.types.is_large_binary(joined.type) else 4
    bounds = memoryview(offsets).cast("B")[joined.offset * width :]
    start = int.from_bytes(bounds[:width], "little")
    stop = int.from_bytes(bounds[n * width : (n + 1) * width], "little")
    try:
        table = pj.read_json(
            pa.BufferReader(data.slice(start, stop - start)),
            read_options=pj.ReadOptions(block_size=max(1 << 20, min(stop - start + 1, 1 << 30))),
        )
        table.validate()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        table = None
    if table is not None and table.num_rows == n:
        return frames._flatten(table)
    return frames._expand_json_python(values)


def outcome(fn: object, values: pa.ChunkedArray) -> object:
    try:
        table = fn(values)  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the same failure counts as the same outcome
        return (type(exc).__name__, str(exc))
    return (table.schema, table.to_pylist())


def same(values: list[bytes], chunks: int = 1) -> None:
    step = max(1, len(values) // chunks)
    parts = [pa.array(values[i : i + step], pa.binary()) for i in range(0, len(values), step)]
    column = pa.chunked_array(parts, pa.binary())
    expected = outcome(before, column)
    assert outcome(frames.expand_json, column) == expected
    for parts in (2, 3, 7):  # runs of rows parsed side by side
        assert outcome(lambda v, k=parts: frames.expand_json(v, parts=k), column) == expected


@pytest.mark.parametrize("name", ["biscoe-team", "dream-team"])
def test_bundled_data_expands_as_before(name: str) -> None:
    log = hyperframe.open(DATA / name)
    values = log.to_arrow(raw=True, progress=False).column("value")
    assert outcome(frames.expand_json, values) == outcome(before, values)
    for parts in (2, 5, 64):
        assert outcome(lambda v, k=parts: frames.expand_json(v, parts=k), values) == outcome(before, values)
    table = log.to_arrow(progress=False)
    assert "species" in table.column_names


def _text(doc: object, style: int) -> bytes:
    if style == 0:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if style == 1:
        return json.dumps(doc).encode()  # ASCII escapes for non-ASCII
    return json.dumps(doc, indent=2).encode()  # pretty-printed: newlines between tokens


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["é", "😀", "a\nb", "\u2028", ""])
)
keys = st.sampled_from(["a", "b", "c", "a.b", "bill", "value", "key", "x y", "é"])
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=10,
)
objects = st.dictionaries(keys, documents, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(objects, objects, documents), st.sampled_from([0, 0, 0, 1, 2])), max_size=25))
def test_random_documents_expand_as_before(docs: list[tuple[object, int]]) -> None:
    same([_text(doc, style) for doc, style in docs])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"i": st.integers(-(2**63), 2**63 - 1), "s": st.text(max_size=4)},
            optional={"f": st.floats(allow_nan=False, allow_infinity=False), "n": st.none(), "o": objects},
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 4),
)
def test_homogeneous_records_in_many_blocks(docs: list[dict[str, object]], chunks: int) -> None:
    same([_text(doc, 0) for doc in docs], chunks)


@pytest.mark.parametrize(
    "values",
    [
        [b'"text"', b"1", b"null", b"[1,2]"],
        [b" 2", b"true", b'"\\u00e9"'],
        [b"1", b"nope"],
        [b'"a"', b"[" * 600 + b"]" * 600, b"{"],
        [b'{"a":1}', b"oops"],
        [b'{"a":1}', b'{"a":"x"}'],
        [b'{"a":1}', b'{"a":2.5}', b'{"a":null}'],
        [b'{"a":{"b":1}}', b'{"a":2}'],
        [b'{"a":{}}', b'{"a":{"b":[]}}'],
        [b'{"big":18446744073709551616}', b'{"big":1}'],
        [b'{"a":1,\n"b":2}', b'{"a":3}'],
        [b'{"a":1}{"a":2}', b'{"a":3}'],
    ],
)
def test_edge_cases_expand_as_before(values: list[bytes]) -> None:
    same(values)
    same(values, chunks=2)


def test_a_log_of_plain_values_is_its_texts() -> None:
    values = pa.chunked_array([pa.array([b'"a"', b"2", b"[true]"])])
    table = frames.expand_json(values)
    assert table.to_pylist() == [{"value": '"a"'}, {"value": "2"}, {"value": "[true]"}]
    with pytest.raises(EncodingError, match="not valid JSON"):
        frames.expand_json(pa.chunked_array([pa.array([b'"a"', b"2", b"[true"])]))
