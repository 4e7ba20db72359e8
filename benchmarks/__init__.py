"""hyperframe's benchmarks and the reliability stress run (``python -m benchmarks.stress``)."""
