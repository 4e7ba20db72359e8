"""Notebook bits: DataFrames, rich display, the causal-graph plot and the merge widget."""
