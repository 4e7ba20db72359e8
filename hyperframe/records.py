"""Records in, nodes out: the rows of a DataFrame, an Arrow table or a list of dicts as
:meth:`hyperframe.Log.batch` documents (what :meth:`hyperframe.Log.extend` writes).

Each row becomes one JSON object of its columns; a ``links`` column, if any, says what the
row links (a hex key, a list of them, or null/empty for nothing) and is not part of the
value. With ``chain=True`` every row links the heads as they stand when it is added, so
the first row links the log's heads and each later row the one before it.

>>> record_docs([{"species": "Adelie", "links": None}, {"species": "Gentoo"}])
[{'value': {'species': 'Adelie'}, 'links': []}, {'value': {'species': 'Gentoo'}, 'links': []}]
>>> [d["links"] for d in record_docs([{"n": 1}, {"n": 2}], chain=True)]
[None, None]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import UsageError

if TYPE_CHECKING:
    import pyarrow as pa

LINKS_COLUMN = "links"


def record_docs(records: Any, *, chain: bool = False) -> list[dict[str, Any]]:
    """``records`` (DataFrame, Arrow table, Arrow stream object, or dicts) as batch docs."""
    rows = _rows(records)
    docs: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise UsageError(f"record {i} is a {type(row).__name__}, not a dict (a row of named fields)")
        value = {str(k): v for k, v in row.items() if k != LINKS_COLUMN}
        links = row.get(LINKS_COLUMN)
        if chain:
            if links:
                raise UsageError(
                    f"record {i} has links, and chain=True links every row to the one before: use one or the other"
                )
            docs.append({"value": value, "links": None})
        else:
            docs.append({"value": value, "links": [] if links is None or links == "" else links})
    return docs


def _rows(records: Any) -> list[Any]:
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(records, pd.DataFrame):
        import pyarrow as pa

        return _arrow_rows(pa.Table.from_pandas(records, preserve_index=False))
    if hasattr(records, "__arrow_c_stream__") or type(records).__module__.startswith("pyarrow"):
        import pyarrow as pa

        try:
            return _arrow_rows(pa.table(records))
        except (TypeError, pa.ArrowInvalid) as exc:
            raise UsageError(f"records of type {type(records).__name__} cannot be read as a table ({exc})") from None
    if isinstance(records, (str, bytes, Mapping)) or not isinstance(records, Iterable):
        raise UsageError(
            f"records must be a pandas DataFrame, an Arrow table or a list of dicts, not {type(records).__name__}"
        )
    return list(records)


def _arrow_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as Python dicts; dates and times become ISO text, decimals floats (JSON has neither)."""
    import pyarrow as pa

    for at, field in enumerate(table.schema):
        kind = field.type
        if pa.types.is_temporal(kind):
            table = table.set_column(at, field.name, table.column(at).cast(pa.string()))
        elif pa.types.is_decimal(kind):
            table = table.set_column(at, field.name, table.column(at).cast(pa.float64()))
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows
