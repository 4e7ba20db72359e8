"""``python -m hyperframe`` runs the command line."""

from .cli import entry

entry()
