"""``python -m benchmarks.stress``: the whole stress run (see the package docstring)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
