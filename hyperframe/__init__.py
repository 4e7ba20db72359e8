"""hyperframe: a hyperlog-compatible Merkle DAG log on Parquet, for notebooks.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp() + "/log.db")
>>> log.add("hello").key
'8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602'

Heavy dependencies (pandas, networkx, matplotlib, ipywidgets) load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    AmbiguousKeyError,
    CorruptLogError,
    EncodingError,
    HyperframeError,
    IncompatiblePeerError,
    KeyLookupError,
    LockTimeoutError,
    LogError,
    MissingDependencyError,
    NodeNotFoundError,
    NotALogError,
    PeerTimeoutError,
    ProtocolError,
    ReadOnlyLogError,
    RejectedNodeError,
    ReplicationError,
    StorageError,
    UnknownLinkError,
    UsageError,
)
from .keys import node_key
from .log import Log, LogLike, Snapshot, open
from .node import Node

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and IDEs
    from .hyperlog.leveldb import import_hyperlog
    from .notebook.widget import merge_widget
    from .sync import Diff, ReplicationReport, diff, replicate

__version__ = "0.1.0"

#: names loaded on first use (so `import hyperframe` stays light), and their modules
_LAZY = {
    "replicate": "sync",
    "diff": "sync",
    "Diff": "sync",
    "ReplicationReport": "sync",
    "merge_widget": "notebook.widget",
    "import_hyperlog": "hyperlog.leveldb",
}


def __getattr__(name: str) -> object:
    """Load replication and notebook helpers on first use, keeping `import hyperframe` light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hyperframe' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AmbiguousKeyError",
    "CorruptLogError",
    "Diff",
    "EncodingError",
    "HyperframeError",
    "IncompatiblePeerError",
    "KeyLookupError",
    "LockTimeoutError",
    "Log",
    "LogError",
    "LogLike",
    "MissingDependencyError",
    "Node",
    "NodeNotFoundError",
    "NotALogError",
    "PeerTimeoutError",
    "ProtocolError",
    "ReadOnlyLogError",
    "RejectedNodeError",
    "ReplicationError",
    "ReplicationReport",
    "Snapshot",
    "StorageError",
    "UnknownLinkError",
    "UsageError",
    "__version__",
    "diff",
    "import_hyperlog",
    "merge_widget",
    "node_key",
    "open",
    "replicate",
]
