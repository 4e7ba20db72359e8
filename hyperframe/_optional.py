"""Optional dependencies of the notebook layer: imported on use, with a helpful error.

The notebook extra (``pip install -e ".[notebook]"`` from a checkout of this project) brings
matplotlib, ipywidgets and tqdm. The core never imports them; a notebook call that needs one
asks for it here:

>>> require("math").pi > 3
True
>>> try:
...     require("no_such_module_hyperframe")
... except ImportError as exc:
...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
no_such_module_hyperframe is needed for this; install the notebook extra of hyperframe-log:
pip install -e ".[notebook]" from a checkout of this project (not "pip install hyperframe":
on PyPI that is an unrelated HTTP/2 library)

The distribution is called ``hyperframe-log`` (:data:`DISTRIBUTION`); the import package is
``hyperframe``. PyPI's ``hyperframe`` is h2's HTTP/2 framing library: the two cannot be
installed in the same environment.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["DISTRIBUTION", "MissingDependencyError", "available", "install_hint", "require"]

DISTRIBUTION = "hyperframe-log"
"""This project's name as a distribution (pyproject.toml); the import package is ``hyperframe``."""


def install_hint(extra: str = "notebook") -> str:
    """How to install one of this project's extras (from a checkout: it is not on PyPI)."""
    return (
        f'install the {extra} extra of {DISTRIBUTION}: pip install -e ".[{extra}]" from a checkout of this '
        'project (not "pip install hyperframe": on PyPI that is an unrelated HTTP/2 library)'
    )


def require(module: str, extra: str = "notebook") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{top} is needed for this; {install_hint(extra)}",
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
