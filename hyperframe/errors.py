"""The exceptions hyperframe raises.

Every error is a :class:`HyperframeError`, so ``except hyperframe.HyperframeError``
catches them all. Messages say what was wrong and what to do next::

    HyperframeError
    ├── UsageError              bad arguments: an empty value, a wrong encoding name, ...
    │   └── EncodingError       a value the log's encoding cannot hold
    ├── MissingDependencyError  a notebook call needs an optional package (also an ImportError)
    ├── LogError                about one log directory (``.path``)
    │   ├── NotALogError        the directory is not a hyperframe log
    │   ├── CorruptLogError     a manifest or segment is damaged (``.file``)
    │   ├── ReadOnlyLogError    the log was opened read-only (e.g. after damage)
    │   ├── LockTimeoutError    another writer held the log too long
    │   └── StorageError        the disk refused a read or write (full, permissions, ...)
    ├── KeyLookupError          about one key (``.key``)
    │   ├── UnknownLinkError    a link names a node the log does not hold
    │   ├── NodeNotFoundError   no node has that key or prefix
    │   └── AmbiguousKeyError   a prefix matches more than one node
    └── ReplicationError        replication could not finish
        ├── ProtocolError       the peer sent something malformed, oversized or unexpected
        ├── IncompatiblePeerError  versions or encodings differ
        ├── PeerTimeoutError    the peer went silent
        └── RejectedNodeError   a received node failed verification (``.key``)
"""

from __future__ import annotations

import os

__all__ = [
    "AmbiguousKeyError",
    "CorruptLogError",
    "EncodingError",
    "HyperframeError",
    "IncompatiblePeerError",
    "KeyLookupError",
    "LockTimeoutError",
    "LogError",
    "MissingDependencyError",
    "NodeNotFoundError",
    "NotALogError",
    "PeerTimeoutError",
    "ProtocolError",
    "ReadOnlyLogError",
    "RejectedNodeError",
    "ReplicationError",
    "StorageError",
    "UnknownLinkError",
    "UsageError",
]


class HyperframeError(Exception):
    """Root of every error hyperframe raises."""


class UsageError(HyperframeError, ValueError):
    """Raised when an argument is not acceptable (an empty key, an unknown encoding, ...)."""


class EncodingError(UsageError):
    """Raised when a value cannot be encoded or decoded by the log's encoding."""


class MissingDependencyError(HyperframeError, ImportError):
    """Raised when a notebook feature needs an optional package that is not installed.

    ``.module`` names the missing package and ``.extra`` the extra that installs it.
    """

    def __init__(self, message: str, *, module: str, extra: str) -> None:
        super().__init__(message)
        self.module = module
        self.extra = extra


class LogError(HyperframeError):
    """Raised for a problem with one log directory; ``.path`` names it."""

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)


class NotALogError(LogError):
    """Raised when a directory exists but is not a hyperframe log."""


class CorruptLogError(LogError):
    """Raised when a manifest or segment file is damaged; ``.file`` names it."""

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        file: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.file = file


class ReadOnlyLogError(LogError):
    """Raised when writing to a log that was opened read-only."""


class LockTimeoutError(LogError):
    """Raised when another process held the log's write lock for too long."""


class StorageError(LogError, OSError):
    """Raised when the file system refuses a read or write (disk full, permissions, ...);
    a failed write leaves the log as it was. Also an ``OSError``."""


class KeyLookupError(HyperframeError, KeyError):
    """Raised for a problem with one key; ``.key`` holds it."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownLinkError(KeyLookupError):
    """Raised when a node links to a key the log does not hold."""


class NodeNotFoundError(KeyLookupError):
    """Raised when no node has the given key or prefix."""


class AmbiguousKeyError(KeyLookupError):
    """Raised when a key prefix matches more than one node."""


class ReplicationError(HyperframeError):
    """Raised when replication could not finish; nothing from the failed transfer is kept."""


class ProtocolError(ReplicationError):
    """Raised when the peer sends a malformed, oversized or unexpected message."""


class IncompatiblePeerError(ReplicationError):
    """Raised when the peer speaks another protocol version or uses another encoding."""


class PeerTimeoutError(ReplicationError):
    """Raised when the peer sends nothing for longer than the timeout."""


class RejectedNodeError(ReplicationError):
    """Raised when a received node fails verification; ``.key`` holds its claimed key."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        #: the receiving log's ``reject`` callbacks have been told already
        self.reported = False
