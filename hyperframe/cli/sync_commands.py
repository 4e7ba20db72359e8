"""Commands that move nodes between logs: sync, replicate, pipe."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
