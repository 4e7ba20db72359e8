"""A log as an Arrow table or a pandas DataFrame: one row per node.

Columns, in order:

- ``key``: the node's hex key;
- ``links``: the hex keys it links (a list);
- ``change``: its 1-based position in the log's order;
- ``depth``: its generation: 0 for a root, else one more than its deepest link;
- ``is_head``: True if nothing links to it yet;
- the value: ``value`` decoded by the log's encoding (``str`` for utf-8, ``bytes`` for
  binary); for a JSON log, the fields of object values as columns (nested keys dotted,
  ``bill.length_mm``), or with ``expand=False`` the JSON text in ``value``.

Everything is vectorized over Arrow buffers: no Python object per node is made until
pandas asks for one.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
>>> a = log.add({"species": "Adelie", "bill": {"length_mm": 39.1}})
>>> b = log.add({"species": "Gentoo", "bill": {"length_mm": 46.5}}, links=[a.key])
>>> table = log.to_arrow()
>>> table.column_names
['key', 'links', 'change', 'depth', 'is_head', 'species', 'bill.length_mm']
>>> table.column("depth").to_pylist(), table.column("is_head").to_pylist()
([0, 1], [False, True])
>>> log.to_arrow(expand=False).column("value").to_pylist()[1]
'{"species":"Gentoo","bill":{"length_mm":46.5}}'
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import EncodingError, UsageError
from .keys import KEY_BYTES, KEY_HEX
from .progress import progress_bar
from .store import segments

if TYPE_CHECKING:
    from concurrent.futures import Future

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from .log import Log

__all__ = [
    "CORE_COLUMNS",
    "Selection",
    "build_table",
    "depths",
    "expand_json",
    "hex_keys",
    "hex_links",
    "table_to_pandas",
]

#: the columns every frame starts with
CORE_COLUMNS = ("key", "links", "change", "depth", "is_head")
#: show a progress bar by default from this many nodes on
PROGRESS_FROM = 200_000


# --- keys and links ---------------------------------------------------------------------


def hex_keys(keys: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Hex strings of 32-byte keys, built in one pass over the key buffer.

    >>> import pyarrow as pa
    >>> hex_keys(pa.array([bytes(31) + b"\\xff"], pa.binary(32))).to_pylist()[0][-4:]
    '00ff'
    """
    import numpy as np
    import pyarrow as pa

    if isinstance(keys, pa.ChunkedArray):
        return pa.chunked_array([hex_keys(c) for c in keys.chunks], type=pa.string())
    if keys.null_count:
        raise UsageError("a key column cannot hold nulls")
    n = len(keys)
    data = binascii.hexlify(segments.key_buffer(keys))
    if KEY_HEX * n < 2**31:
        small = np.arange(0, KEY_HEX * (n + 1), KEY_HEX, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(small), pa.py_buffer(data))
    large = np.arange(0, KEY_HEX * (n + 1), KEY_HEX, dtype=np.int64)
    big = pa.LargeStringArray.from_buffers(n, pa.py_buffer(large), pa.py_buffer(data))
    return big.cast(pa.string()) if n < 2**24 else big


def hex_links(links: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A links column (32-byte items) to ``list<string>`` of hex keys, sharing the offsets."""
    import pyarrow as pa

    if isinstance(links, pa.ChunkedArray):
        chunks = [hex_links(c) for c in links.chunks]
        return pa.chunked_array(chunks, type=pa.list_(pa.string()))
    return pa.ListArray.from_arrays(links.offsets, hex_keys(segments.as_keys(links.values)))


# --- depth ------------------------------------------------------------------------------


def link_positions(keys: pa.Array, flat_links: pa.Array) -> np.ndarray:
    """0-based row of each link among ``keys`` (-1 if absent), via a hash of the first word.

    A log only holds links to nodes it holds, so when the first 8 bytes of the keys are
    unique a match on them is a match on the whole key; otherwise (never seen in practice)
    the whole keys are compared.
    """
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc

    if len(flat_links) == 0:
        return np.zeros(0, dtype=np.int64)
    index = pd.Index(segments.node_ids(keys))
    if index.is_unique:
        found = np.asarray(index.get_indexer(segments.node_ids(flat_links)), dtype=np.int64)
        if (found >= 0).all():
            return found
    slow = pc.index_in(flat_links, value_set=keys).fill_null(-1)
    return np.asarray(slow.to_numpy(zero_copy_only=False), dtype=np.int64)


def depths(counts: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Generation of every node: 0 for a root, else 1 + the deepest of its links.

    ``counts[i]`` is how many links row ``i`` has and ``parents`` their rows, flattened in
    row order; every link points to an earlier row (a log's invariant; a link with row -1,
    unknown, is ignored). Vectorized: runs where each row links just the row before are
    collapsed, single-link chains are resolved by pointer jumping, and only rows with two
    or more links (merges) are visited one by one, in order.

    >>> import numpy as np
    >>> # 0 <- 1 <- 2, 0 <- 3, and 4 merges 2 and 3
    >>> depths(np.array([0, 1, 1, 1, 2]), np.array([0, 1, 0, 2, 3])).tolist()
    [0, 1, 2, 1, 3]
    """
    import numpy as np

    n = len(counts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    parents = np.asarray(parents, dtype=np.int64)
    if len(parents) and (parents < 0).any():  # unknown links: drop them
        owner = np.repeat(np.arange(n), counts)
        keep = parents >= 0
        parents, counts = parents[keep], np.bincount(owner[keep], minlength=n).astype(np.int64)
    rows = np.arange(n, dtype=np.int64)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    single = counts == 1
    up = np.full(n, -1, dtype=np.int64)
    up[single] = parents[starts[:-1][single]]

    # 1. collapse runs in which each row links only the row before it
    cont = single & (up == rows - 1)
    run_first = np.maximum.accumulate(np.where(cont, 0, rows))
    offset = rows - run_first
    run_of = np.cumsum(~cont) - 1  # run id of each row
    firsts = np.flatnonzero(~cont)  # first row of each run
    r = len(firsts)

    # 2. pointer jumping over runs whose first row has one link
    first_single = single[firsts]
    jump = np.arange(r, dtype=np.int64)
    weight = np.zeros(r, dtype=np.int64)
    p = up[firsts[first_single]]
    jump[first_single] = run_of[p]
    weight[first_single] = offset[p] + 1
    while True:
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        weight = weight + weight[jump]
        jump = nxt

    # 3. merges, in order: their links resolve to anchors (roots or earlier merges)
    run_depth = np.zeros(r, dtype=np.int64)  # valid for anchors
    merges = np.flatnonzero(counts[firsts] >= 2)
    if len(merges):
        m_rows = firsts[merges]
        m_counts = counts[m_rows]
        before = np.cumsum(m_counts) - m_counts  # where each merge's links start in `take`
        take = np.repeat(starts[m_rows] - before, m_counts) + np.arange(int(m_counts.sum()))
        link_rows = parents[take]
        link_runs = run_of[link_rows]
        anchor = jump[link_runs].tolist()
        extra = (weight[link_runs] + offset[link_rows]).tolist()
        bounds = np.concatenate([[0], np.cumsum(m_counts)]).tolist()
        found = run_depth.tolist()
        for k, run in enumerate(merges.tolist()):
            best = 0
            for j in range(bounds[k], bounds[k + 1]):
                d = found[anchor[j]] + extra[j]
                best = max(best, d)
            found[run] = best + 1
        run_depth = np.asarray(found, dtype=np.int64)

    run_depth = run_depth[jump] + weight
    return np.asarray(run_depth[run_of] + offset, dtype=np.int64)


# --- values -----------------------------------------------------------------------------


def _as_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Binary values as UTF-8 strings (zero-copy when valid, replacement chars otherwise)."""
    import pyarrow as pa

    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.chunked_array(
            [
                pa.array([v.decode("utf-8", errors="replace") for v in c.to_pylist()], pa.string())
                for c in values.chunks
            ],
            type=pa.string(),
        )


def _flatten(table: pa.Table) -> pa.Table:
    import pyarrow as pa

    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    return table


def expand_json(values: pa.ChunkedArray, *, parts: int | None = None) -> pa.Table:
    """JSON texts to a table: fields of objects as columns (nested dotted), others in ``value``.

    Fast path: the values are joined into newline-delimited JSON and parsed by Arrow's
    JSON reader, cut into ``parts`` runs of rows (by default one per core above a few
    MB) parsed side by side, each as one block. When every run comes out with the same
    schema the runs are stacked: the table one block of all the values would give. If
    they differ, all the values are parsed as one block. If the reader cannot type them
    (a field holding numbers in one row and text in another, a value spread over lines),
    each value is parsed in Python instead and a column whose types still clash is kept
    as JSON text. Values that are not objects go the Python way too (Arrow's reader takes
    a ``null`` line for a row of nulls, and crashes when it comes first), and so do
    tables Arrow builds wrong (lists starting with two nulls); when no value is an object
    the table is the texts alone, at C speed.

    >>> import pyarrow as pa
    >>> v = pa.chunked_array([pa.array([b'{"a":1,"b":{"c":"x"}}', b'{"a":2.5}'])])
    >>> expand_json(v).to_pylist()
    [{'a': 1.0, 'b.c': 'x'}, {'a': 2.5, 'b.c': None}]
    >>> expand_json(pa.chunked_array([pa.array([b'{"a":1}', b'"text"'])])).to_pylist()
    [{'a': 1.0, 'value': None}, {'a': None, 'value': '"text"'}]
    """
    import os

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    if n == 0:
        return pa.table({})
    objects = _objects(values)
    if not objects:
        return _json_texts(values)
    if objects < n:  # Arrow takes a null value for a row of nulls (or crashes on it)
        return _expand_json_python(values)
    joined = pc.binary_join_element_wise(values.combine_chunks(), pa.scalar(b"", pa.binary()), b"\n")
    _, offsets, data = joined.buffers()
    width = np.int64 if pa.types.is_large_binary(joined.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width, count=n + 1, offset=joined.offset * np.dtype(width).itemsize)
    if parts is None:
        parts = (os.cpu_count() or 1) if bounds[n] - bounds[0] >= PARALLEL_JSON_BYTES else 1
    parts = max(1, min(parts, n))
    cuts = [int(bounds[n * i // parts]) for i in range(parts + 1)]
    table = None
    if parts > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(parts) as pool:
            runs = list(pool.map(lambda i: _read_json(data, cuts[i], cuts[i + 1]), range(parts)))
        whole = [run for run in runs if run is not None and run.num_columns]  # 0 columns: row count lost
        if len(whole) == parts and all(run.schema.equals(whole[0].schema) for run in whole):
            table = pa.concat_tables(whole)
    if table is None:
        table = _read_json(data, cuts[0], cuts[-1])
    if table is not None and table.num_rows == n:
        return _flatten(table)
    return _expand_json_python(values)


#: from this many bytes of JSON on, the reader runs on every core
PARALLEL_JSON_BYTES = 4 << 20


def _read_json(data: pa.Buffer, start: int, stop: int) -> pa.Table | None:
    """Arrow's reading of the JSON lines in ``data[start:stop]``, as one block; None if it fails."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(
            pa.BufferReader(data.slice(start, stop - start)),
            read_options=pj.ReadOptions(block_size=max(1 << 20, min(stop - start + 1, 1 << 30))),
        )
        table.validate()  # Arrow 26 miscounts a list's leading nulls ([null, null]): offsets overrun
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table


def _objects(values: pa.ChunkedArray) -> int:
    """How many values are JSON objects (their first byte past whitespace is ``{``)."""
    import pyarrow.compute as pc

    braces = int(pc.sum(pc.starts_with(values, "{")).as_py() or 0)
    if braces == len(values):
        return braces
    return int(pc.sum(pc.match_substring_regex(values, "^[ \t\n\r]*{")).as_py() or 0)


def _json_texts(values: pa.ChunkedArray) -> pa.Table:
    """:func:`_expand_json_python`'s table when no value is an object: the texts, checked."""
    import pyarrow as pa

    from .encodings import get_encoding

    bad = get_encoding("json").undecodable_rows(values)
    if bad:  # json.loads refuses a subset of these (not the deep ones): raise as it would
        _expand_json_python(values.take(pa.array(bad, pa.int64())))
    texts = values.combine_chunks().cast(pa.string())
    return pa.table({"value": texts})


def _expand_json_python(values: pa.ChunkedArray) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    try:
        docs = [json.loads(v) for v in values.to_pylist()]
    except (ValueError, RecursionError) as exc:  # a value written before values were checked
        raise EncodingError(
            f"a stored value is not valid JSON ({str(exc)[:120]}); run `hyperframe verify` on the log"
        ) from None
    objects = [d if isinstance(d, dict) else {} for d in docs]
    frame = pd.json_normalize(objects) if any(objects) else pd.DataFrame(index=range(len(docs)))
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        col = frame[name]
        try:
            columns[str(name)] = pa.array(col, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):  # e.g. [2**64]
            columns[str(name)] = pa.array(
                [None if _missing(x) else json.dumps(x, ensure_ascii=False) for x in col], pa.string()
            )
    if not all(isinstance(d, dict) for d in docs):
        texts = values.cast(pa.string()).to_pylist()
        columns["value"] = pa.array([None if isinstance(d, dict) else t for d, t in zip(docs, texts)], pa.string())
    return pa.table(columns) if columns else pa.table({"value": pa.nulls(len(docs), pa.string())})


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


# --- the table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which rows and how values look: the arguments of :meth:`hyperframe.Log.to_arrow`."""

    since: int | None = None
    until: int | None = None
    ancestors_of: str | None = None
    descendants_of: str | None = None
    expand: bool | None = None
    raw: bool = False
    #: only these output columns, in this order (None: all)
    columns: Sequence[str] | None = None
    #: a ``pyarrow.compute`` expression over the output columns: keep rows where it holds
    filter: pc.Expression | None = None


def build_table(log: Log, selection: Selection, *, progress: bool | None = None) -> pa.Table:
    """The log as a ``pyarrow.Table`` with one row per node; see the module docstring.

    With ``selection.columns`` only those columns are built (and only the stored columns
    they need are read); ``selection.filter`` keeps the rows where the expression holds. A
    filter naming a column that ``columns`` leaves out builds every column, then selects.
    """
    import pyarrow as pa

    if isinstance(selection.columns, str):
        raise UsageError(f"columns must be a list of column names, like [{selection.columns!r}], not a string")
    table = _build(log, selection, None if selection.columns is None else tuple(selection.columns), progress)
    if selection.filter is None:
        return table
    errors = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError)
    try:
        return table.filter(selection.filter)
    except errors as exc:
        if selection.columns is None or "No match for FieldRef" not in str(exc):
            raise UsageError(
                f"the filter cannot be applied ({exc}); columns are {', '.join(table.column_names)}"
            ) from None
    whole = _build(log, selection, None, progress)
    try:
        return whole.filter(selection.filter).select(list(selection.columns))
    except errors as exc:
        raise UsageError(f"the filter cannot be applied ({exc}); columns are {', '.join(whole.column_names)}") from None


def _build(log: Log, selection: Selection, wanted: tuple[str, ...] | None, progress: bool | None) -> pa.Table:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    want = set(CORE_COLUMNS) if wanted is None else set(wanted)
    need_depth = "depth" in want
    raw = [
        name
        for name, needed in (
            ("key", bool(want & {"key", "is_head", "depth"})),
            ("links", bool(want & {"links", "depth"})),
            ("value", wanted is None or bool(want - set(CORE_COLUMNS))),
        )
        if needed
    ] or ["key"]  # at least one column, for the row count
    manifest = log.manifest
    total = manifest.nodes if manifest else 0
    encoding = log.encoding.name
    show = total >= PROGRESS_FROM if progress is None else bool(progress)
    with progress_bar(
        total, enabled=show, desc=f"loading {log.path.name}", unit="node", strict=progress is True
    ) as bar:
        done = [0]

        def loaded(rows: int) -> None:
            done[0] = min(total, done[0] + rows)
            bar.n = done[0]
            bar.refresh()

        state = log.snapshot(raw, on_rows=loaded)
        table = state.table
        heads = list(state.heads)
        total = table.num_rows
        key_col = table.column("key").combine_chunks() if total and "key" in raw else pa.array([], pa.binary(KEY_BYTES))
        rows = _select_rows(log, total, selection)
        parsing = _start_expanding(table.column("value"), rows, encoding, selection) if "value" in raw else None
        depth = np.zeros(total, dtype=np.int64)
        if need_depth and total:
            bar.set_postfix_str("depth")
            link_col = table.column("links")
            counts = pc.list_value_length(link_col).to_numpy()
            depth = depths(counts, link_positions(key_col, segments.flat_links(link_col)))

        if isinstance(rows, slice):
            start, stop = rows.start, rows.stop
            table = table.slice(start, stop - start)
            key_col = key_col.slice(start, stop - start) if "key" in raw else key_col
            depth = depth[start:stop]
            change = np.arange(start + 1, stop + 1, dtype=np.int64)
        else:
            table = table.take(pa.array(rows))
            key_col = key_col.take(pa.array(rows)) if "key" in raw else key_col
            depth = depth[rows]
            change = rows + 1

        bar.set_postfix_str("keys")
        columns: dict[str, Any] = {}
        if "key" in raw:
            keys_hex = hex_keys(key_col)
            columns["key"] = keys_hex
            columns["is_head"] = (
                pc.is_in(keys_hex, value_set=pa.array(heads, pa.string()))
                if heads
                else pa.array(np.zeros(len(change), dtype=bool))
            )
        if "links" in want:
            columns["links"] = hex_links(table.column("links"))
        columns["change"] = pa.array(change, pa.int64())
        columns["depth"] = pa.array(depth, pa.int64())
        if "value" in raw:
            bar.set_postfix_str("values")
            _add_values(columns, table.column("value"), encoding, selection, parsing)
        bar.set_postfix_str("")
    order = [c for c in CORE_COLUMNS if c in columns] + [c for c in columns if c not in CORE_COLUMNS]
    if wanted is None:
        return pa.table({name: columns[name] for name in order})
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise UsageError(
            f"{log.path} has no column {missing[0]!r}; its columns are {', '.join(order)} "
            "(JSON fields appear as columns, nested ones dotted: bill.length_mm)"
        )
    return pa.table({name: columns[name] for name in wanted})


def _expands(encoding: str, selection: Selection) -> bool:
    """True if the values become a JSON log's fields (see the module docs)."""
    return not selection.raw and encoding == "json" and (selection.expand is None or bool(selection.expand))


def _start_expanding(
    values: pa.ChunkedArray, rows: np.ndarray | slice, encoding: str, selection: Selection
) -> Future[pa.Table] | None:
    """Parse the selected JSON values on a thread of their own, while keys and depths are
    worked out (Arrow's reader lets go of the GIL); None if they are not expanded."""
    import pyarrow as pa

    if not _expands(encoding, selection):
        return None
    from concurrent.futures import ThreadPoolExecutor

    chosen = (
        values.slice(rows.start, rows.stop - rows.start) if isinstance(rows, slice) else values.take(pa.array(rows))
    )
    pool = ThreadPoolExecutor(1, thread_name_prefix="hyperframe-json")
    try:
        return pool.submit(expand_json, chosen)
    finally:
        pool.shutdown(wait=False)


def _add_values(
    columns: dict[str, Any],
    values: pa.ChunkedArray,
    encoding: str,
    selection: Selection,
    parsing: Future[pa.Table] | None = None,
) -> None:
    """The value column(s): bytes, text, or a JSON log's fields (``parsing``: the fields,
    being parsed already by :func:`_start_expanding`)."""
    if selection.raw or encoding == "binary":
        columns["value"] = values
    elif _expands(encoding, selection):
        fields = parsing.result() if parsing is not None else expand_json(values)
        for name, col in zip(fields.column_names, fields.columns):
            columns[f"value.{name}" if name in CORE_COLUMNS else name] = col
    else:  # utf-8 text, or JSON text
        columns["value"] = _as_text(values)


def _select_rows(log: Log, total: int, selection: Selection) -> np.ndarray | slice:
    """The 0-based rows the filters keep: a slice for a change range, else an index array."""
    import networkx as nx
    import numpy as np

    lo = max(0, selection.since or 0)
    hi = total if selection.until is None else max(lo, min(total, selection.until - 1))  # before `until`
    if selection.ancestors_of is None and selection.descendants_of is None:
        return slice(lo, hi)
    keep: set[str] | None = None
    graph = log.graph
    for key, walk in ((selection.ancestors_of, nx.ancestors), (selection.descendants_of, nx.descendants)):
        if key is None:
            continue
        full = log.get(key).key
        found = set(walk(graph, full)) | {full}
        keep = found if keep is None else keep & found
    assert keep is not None
    changes = np.fromiter((graph.nodes[k]["change"] for k in keep), dtype=np.int64, count=len(keep))
    changes.sort()
    rows = changes - 1
    return rows[(rows >= lo) & (rows < hi)]


def table_to_pandas(table: pa.Table, options: dict[str, Any]) -> pd.DataFrame:
    """A frame table as pandas; ``options`` are ``Table.to_pandas`` keywords.

    List columns (``links``, and JSON arrays) are pandas ``ArrowDtype`` lists: each cell
    reads as a Python list, ``df.links.list.len()`` counts, ``df.explode("links")`` works,
    and no Python object is made per link until asked for. Integer fields missing in some
    rows are ``Int64`` rather than float. Passing ``types_mapper`` turns both off.
    """
    import pandas as pd
    import pyarrow as pa

    options = dict(options)
    mapped = "types_mapper" in options
    if not mapped:  # lists stay Arrow lists: no numpy array and Python str per link
        options["types_mapper"] = _arrow_lists
    frame = table.to_pandas(**options)
    if not mapped:  # whole numbers stay whole where some rows lack them
        for name, column in zip(table.column_names, table.columns):
            if name not in CORE_COLUMNS and pa.types.is_integer(column.type) and column.null_count:
                frame[name] = column.to_pandas(types_mapper={column.type: pd.Int64Dtype()}.get).array
    return frame


def _arrow_lists(t: pa.DataType) -> Any:
    import pandas as pd
    import pyarrow as pa

    return pd.ArrowDtype(t) if pa.types.is_list(t) or pa.types.is_large_list(t) else None
