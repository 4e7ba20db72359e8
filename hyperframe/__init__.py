"""hyperframe: a hyperlog-compatible Merkle DAG log on Parquet, for notebooks.

>>> import hyperframe, tempfile
>>> log = hyperframe.open(tempfile.mkdtemp() + "/log.db")
>>> log.add("hello").key
'8c7efb22472592f561a7a7647f8c5ee93134880b4ca0c92889a61848cd5c4602'

Heavy dependencies (pandas, networkx, matplotlib, ipywidgets) load only when used.
"""

from __future__ import annotations

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
    UnknownLinkError,
    UsageError,
)
from .keys import node_key
from .log import Log, open
from .node import Node

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Load replication and notebook helpers on first use, keeping `import hyperframe` light."""
    if name in ("replicate", "diff", "Diff", "ReplicationReport"):
        from . import sync

        return getattr(sync, name)
    if name == "merge_widget":
        from .notebook.widget import merge_widget

        return merge_widget
    raise AttributeError(f"module 'hyperframe' has no attribute {name!r}")


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
    "UnknownLinkError",
    "UsageError",
    "__version__",
    "diff",
    "merge_widget",
    "node_key",
    "open",
    "replicate",
]
