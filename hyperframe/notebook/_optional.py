"""Optional dependencies of the notebook layer: imported on use, with a helpful error.

The notebook extra (``pip install "hyperframe[notebook]"``) brings matplotlib, ipywidgets
and tqdm. The core never imports them; a notebook call that needs one asks for it here:

>>> require("math").pi > 3
True
>>> require("no_such_module_hyperframe")
Traceback (most recent call last):
...
hyperframe.notebook._optional.MissingDependencyError: no_such_module_hyperframe is needed for this; install it with: pip install "hyperframe[notebook]"
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import HyperframeError

__all__ = ["MissingDependencyError", "available", "require"]


class MissingDependencyError(HyperframeError, ImportError):
    """Raised when a notebook feature needs an optional package that is not installed.

    ``.module`` names the missing package and ``.extra`` the extra that installs it.
    """

    def __init__(self, message: str, *, module: str, extra: str) -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra


def require(module: str, extra: str = "notebook") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{top} is needed for this; install it with: pip install \"hyperframe[{extra}]\"",
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
