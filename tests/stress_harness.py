"""The stress harness (the ``benchmarks.stress`` package), for the reliability tests.

The CI tests and the full stress run (``python -m benchmarks.stress``) share its code. The
repository root is on ``sys.path`` under pytest (``pythonpath`` in pyproject.toml), so this
is a normal import; the tests do ``from stress_harness import stress``.
"""

from __future__ import annotations

from benchmarks import stress

__all__ = ["stress"]
