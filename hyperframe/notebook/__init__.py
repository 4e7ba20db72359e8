"""Notebook bits: DataFrames, rich display, the causal-graph plot and the merge widget.

Nothing here is imported by ``import hyperframe``; :class:`hyperframe.Log` reaches these
modules through :class:`~hyperframe.notebook.mixin.NotebookMixin`, one method at a time.

- :mod:`.frames`: ``to_arrow`` / ``to_pandas`` (key, links, change, depth, is_head, value);
- :mod:`.display`: HTML for a log and for a :class:`hyperframe.Diff`, never raising;
- :mod:`.plot`: the layered DAG drawing, diff colouring, ``save_graph`` for the CLI;
- :mod:`.widget`: ``merge_widget(a, b)``, stock ipywidgets;
- :mod:`.progress`: ``tqdm.auto`` bars, silenceable, and a replication progress callback;
- :mod:`._optional`: ``require(module)``: a missing optional package names the extra.

The optional packages (matplotlib, ipywidgets, tqdm) come with
``pip install "hyperframe[notebook]"``.
"""
