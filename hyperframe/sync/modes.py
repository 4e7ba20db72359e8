"""The replication modes, in a module that imports nothing heavy.

``sync`` sends both ways, ``push`` only sends, ``pull`` only receives. The protocol
(:mod:`hyperframe.sync.session`) and the command line both read them from here.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["MODES", "OPPOSITE", "Mode"]

Mode = Literal["sync", "push", "pull"]
MODES: tuple[Mode, ...] = get_args(Mode)

#: the mode the other side takes when this side replicates in a mode
OPPOSITE: dict[Mode, Mode] = {"sync": "sync", "push": "pull", "pull": "push"}
