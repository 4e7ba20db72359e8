"""Durations on the command line: ``--retain 7d`` (``compact``, ``vacuum``)."""

from __future__ import annotations

import re
from typing import Any

import click

__all__ = ["DURATION", "Duration", "parse_duration"]

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"0"``, ``"90"``, ``"90s"``, ``"30m"``, ``"12h"``, ``"7d"`` or ``"2w"``.

    >>> parse_duration("7d"), parse_duration("0"), parse_duration("1.5h")
    (604800.0, 0.0, 5400.0)
    """
    match = _DURATION.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: give a number with s, m, h, d or w (0, 3600, 12h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


class Duration(click.ParamType):  # type: ignore[type-arg]
    """A click parameter: a duration such as ``7d``, in seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
