"""Optional dependencies of the notebook layer: imported on use, with a helpful error.

The notebook extra (``pip install "hyperframe[notebook]"``) brings matplotlib, ipywidgets
and tqdm. The core never imports them; a notebook call that needs one asks for it here:

>>> require("math").pi > 3
True
>>> try:
...     require("no_such_module_hyperframe")
... except ImportError as exc:
...     print(exc)
no_such_module_hyperframe is needed for this; install it with: pip install "hyperframe[notebook]"
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["MissingDependencyError", "available", "require"]


def require(module: str, extra: str = "notebook") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f'{top} is needed for this; install it with: pip install "hyperframe[{extra}]"',
            module=top,
            extra=extra,
        ) from exc


def available(module: str) -> bool:
    """True if ``module`` imports (used to pick a fallback quietly, e.g. no progress bar)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
