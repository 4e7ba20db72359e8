"""Notebook bits: rich display, the causal-graph plot and the merge widget.

Nothing here is imported by ``import hyperframe`` or ``import hyperframe.log``; these
modules import :class:`hyperframe.Log` only for type checking, and ``Log.plot`` /
``Log._repr_html_`` import them inside the method. Data interchange (``to_arrow``,
``to_pandas``, ``dataset``) is the log's own business: :mod:`hyperframe.frames`.

- :mod:`.display`: HTML for a log and for a :class:`hyperframe.Diff`, never raising;
- :mod:`.plot`: the layered DAG drawing, diff colouring, ``save_graph`` for the CLI;
- :mod:`.widget`: ``merge_widget(a, b)``, stock ipywidgets.

The optional packages (matplotlib, ipywidgets, tqdm) come with the ``notebook`` extra.
"""
