"""``keygen``, and the ``--sign KEYFILE`` / ``--trust FILE`` options other commands share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from ..node import Node

F = TypeVar("F", bound=Callable[..., object])

__all__ = ["COMMANDS", "sign_option", "trust_option", "trusted"]

sign_option = click.option(
    "--sign",
    "key_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="KEYFILE",
    help="Sign the node with this key (made by `hyperframe keygen`).",
)
trust_option = click.option(
    "--trust",
    "trust_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Accept only nodes signed by an identity listed in FILE (hex, one a line).",
)


def trusted(trust_file: Path | None) -> Callable[[Node], bool] | None:
    """The ``verify`` callable of a trust file, or None."""
    if trust_file is None:
        return None
    from ..signing import load_trust

    return load_trust(trust_file)


@click.command()
@click.argument("key_file", metavar="KEYFILE", type=click.Path(dir_okay=False, path_type=Path))
def keygen(key_file: Path) -> None:
    """Make a new Ed25519 key in KEYFILE (mode 0600) and print its identity.

    Put the identities of the people you trust, one a line, in a trust file for
    `verify --trust` and `replicate --trust`.

    Examples:

    \b
        hyperframe keygen ~/.hyperframe/me.key >> team.trust
        hyperframe add field.db "sighting" --sign ~/.hyperframe/me.key
        hyperframe verify field.db --trust team.trust
    """
    from ..signing import keypair

    signer = keypair()
    signer.save(key_file)
    click.echo(signer.identity.hex())


COMMANDS: list[click.Command] = [keygen]
