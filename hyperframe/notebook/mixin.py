"""Notebook-facing methods of :class:`hyperframe.Log` (DataFrames, display, plots).

Each method is a thin door into a module of :mod:`hyperframe.notebook`; every heavy
import (pyarrow, pandas, matplotlib) happens inside the method that needs it.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp(), encoding="json")
>>> _ = log.add({"species": "Adelie", "flipper_length_mm": 181})
>>> log.to_pandas()[["change", "depth", "is_head", "species"]].to_dict("records")
[{'change': 1, 'depth': 0, 'is_head': True, 'species': 'Adelie'}]
>>> import pyarrow as pa
>>> pa.table(log).num_rows
1
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds
    from matplotlib.figure import Figure

    from ..encodings import Encoding
    from ..store.manifest import Manifest


class NotebookMixin:
    """Mixed into :class:`hyperframe.Log`; every heavy import happens inside a method."""

    if TYPE_CHECKING:
        path: Path

        @property
        def manifest(self) -> Manifest | None: ...

        @property
        def encoding(self) -> Encoding: ...

    def to_arrow(
        self,
        *,
        since: int | None = None,
        until: int | None = None,
        ancestors_of: str | None = None,
        descendants_of: str | None = None,
        expand: bool | None = None,
        raw: bool = False,
        progress: bool | None = None,
    ) -> pa.Table:
        """The log as a ``pyarrow.Table``, one row per node.

        Columns: ``key``, ``links`` (hex), ``change``, ``depth`` (generation from the
        roots), ``is_head``, then the value: decoded into ``value``, or for a JSON log
        its fields as columns (nested keys dotted).

        Args:
            since, until: keep changes with ``since < change <= until``.
            ancestors_of: keep this node (key or unique prefix) and its whole history.
            descendants_of: keep this node and everything built on it.
            expand: JSON logs only: False keeps the JSON text in ``value``.
            raw: keep ``value`` as the stored bytes (no decoding, no expansion).
            progress: show a progress bar (default: for 200,000 nodes or more).
        """
        from .frames import to_arrow

        return to_arrow(
            self,  # type: ignore[arg-type]
            since=since,
            until=until,
            ancestors_of=ancestors_of,
            descendants_of=descendants_of,
            expand=expand,
            raw=raw,
            progress=progress,
        )

    def to_pandas(self, **options: Any) -> pd.DataFrame:
        """The log as a pandas DataFrame: the options of :meth:`to_arrow`, plus any
        keyword of ``pyarrow.Table.to_pandas`` (e.g. ``types_mapper=pd.ArrowDtype``).

        Without JSON expansion values stay text: ``df.value.map(json.loads)`` parses them.
        """
        from .frames import to_pandas

        return to_pandas(self, **options)  # type: ignore[arg-type]

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """The Arrow PyCapsule stream of :meth:`to_arrow`'s table.

        So ``pyarrow.table(log)``, ``polars.DataFrame(log)`` and DuckDB read a log directly.
        """
        return self.to_arrow(progress=False).__arrow_c_stream__(requested_schema)

    def dataset(self) -> ds.Dataset:
        """The live segment files (as the manifest lists them, in change order) as a
        ``pyarrow.dataset``: raw columns key, links, value, for lazy scans and filters.

        A compaction may remove these files later: take a fresh dataset after writes.
        """
        import pyarrow.dataset as ds

        from ..store import segments

        manifest = self.manifest
        files = [str(self.path / s.file) for s in manifest.segments] if manifest else []
        return ds.dataset(files, schema=segments.schema(), format="parquet")

    def _repr_html_(self) -> str:
        """A rich summary for notebooks: nodes, heads, segments, encoding, a preview.

        Never raises: if the log cannot be read, a plain escaped message is shown instead.
        """
        from .display import safe_html

        return safe_html(self)

    def plot(self, **options: Any) -> Figure:
        """Draw the causal graph; see :func:`hyperframe.notebook.plot.plot` for the options
        (``label="species"``, ``other=log_b``, ``max_nodes=...``). Returns the figure."""
        from .plot import plot

        return plot(self, **options)  # type: ignore[arg-type]
