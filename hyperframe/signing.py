"""Signed nodes with Ed25519, batteries included: keys, signing, and who may write.

A node's signature is an Ed25519 signature of its 32 raw key bytes (the key already
covers its links and value); its identity is the signer's 32-byte public key. Pass what
:func:`keypair` or :func:`load_key` returns to :func:`hyperframe.open`, and a :func:`trust`
list as ``verify`` to accept only nodes signed by those identities::

    >>> import hyperframe, tempfile
    >>> from hyperframe import signing
    >>> me = signing.keypair()
    >>> team = signing.trust([me.identity])
    >>> log = hyperframe.open(tempfile.mkdtemp(), identity=me.identity, sign=me.sign, verify=team)
    >>> node = log.add("signed hello")
    >>> node.identity == me.identity and signing.valid(node)
    True

A key file holds the 32-byte private seed, hex, one line (``hyperframe keygen KEYFILE``,
mode 0600); a trust file holds one identity (hex public key) per line, ``#`` comments
allowed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from .node import Node

__all__ = ["Signer", "keypair", "load_key", "load_trust", "trust", "valid"]

IDENTITY_BYTES = 32
SIGNATURE_BYTES = 64


@dataclass(frozen=True)
class Signer:
    """A private key: ``identity`` (the public key) and ``sign(node) -> signature``."""

    seed: bytes  # the 32-byte private seed

    @property
    def identity(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return bytes(self._private().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, node: Node) -> bytes:
        """The signature of ``node``'s key."""
        return bytes(self._private().sign(bytes.fromhex(node.key)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the private seed to ``path`` (hex, mode 0600); refuses to overwrite."""
        target = Path(path)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise UsageError(f"{target} exists already; choose another path (a key is never overwritten)") from None
        with os.fdopen(fd, "w") as out:
            out.write(self.seed.hex() + "\n")
        return target

    def _private(self) -> Ed25519PrivateKey:
        return _private_key(self.seed)


@functools.lru_cache(maxsize=64)
def _private_key(seed: bytes) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


@functools.lru_cache(maxsize=4096)
def _public_key(identity: bytes) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(identity)


def keypair() -> Signer:
    """A new random Ed25519 key."""
    return Signer(os.urandom(32))


def load_key(path: str | os.PathLike[str]) -> Signer:
    """The key saved at ``path`` by :meth:`Signer.save` / ``hyperframe keygen``."""
    try:
        text = Path(path).read_text().strip()
        seed = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} is not a hyperframe key file ({exc}); make one with `hyperframe keygen`") from None
    if len(seed) != 32:
        raise UsageError(f"{path} does not hold a 32-byte Ed25519 seed; make one with `hyperframe keygen`")
    return Signer(seed)


def valid(node: Node) -> bool:
    """True if ``node`` carries an identity and a signature of its key by that identity."""
    from cryptography.exceptions import InvalidSignature

    identity, signature = node.identity, node.signature
    if identity is None or signature is None or len(identity) != IDENTITY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        _public_key(identity).verify(signature, bytes.fromhex(node.key))
    except (InvalidSignature, ValueError):
        return False
    return True


def trust(identities: Iterable[bytes | str]) -> Callable[[Node], bool]:
    """A ``verify`` that accepts only nodes validly signed by one of ``identities``
    (raw 32-byte public keys or their hex)."""
    allowed = {bytes.fromhex(i) if isinstance(i, str) else bytes(i) for i in identities}

    def verify(node: Node) -> bool:
        return node.identity in allowed and valid(node)

    return verify


def load_trust(path: str | os.PathLike[str]) -> Callable[[Node], bool]:
    """:func:`trust` of the identities listed in a trust file (hex, one a line, ``#`` comments)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read the trust file {path} ({exc.strerror})") from None
    identities = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            identity = bytes.fromhex(text)
        except ValueError:
            identity = b""
        if len(identity) != IDENTITY_BYTES:
            raise UsageError(f"{path}:{number}: {text[:70]!r} is not an identity (64 hex characters)")
        identities.append(identity)
    return trust(identities)
