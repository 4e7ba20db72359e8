"""Notebook-facing methods of :class:`hyperframe.Log` (DataFrames, display, plots)."""

from __future__ import annotations


class NotebookMixin:
    """Mixed into :class:`hyperframe.Log`; every heavy import happens inside a method."""
