"""Bundle trust commands: ``keygen``, ``sign``, ``verify`` (Ed25519 signatures for edge deployment).

The signing key stays where bundles are made; gateways get the public key and load bundles with
``--public-key`` (``evaluate``, ``verify``) or ``Predictor.from_bundle(..., public_key=...)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from omnimaint.cli.app import BundleArg
from omnimaint.cli.output import console, reports_errors
from omnimaint.errors import ConfigError

commands = typer.Typer()


@commands.command()
@reports_errors
def keygen(
    name: Annotated[Path, typer.Argument(help="Key files to create: NAME.key (private) and NAME.pub (public).")],
) -> None:
    """Create an Ed25519 key pair that signs model bundles (not an API key of the service)."""
    from omnimaint.inference.signing import generate_key_pair

    if name.suffix in (".key", ".pub"):
        raise ConfigError(f"{name}: give the name without .key or .pub; both files are made from it")
    pair = generate_key_pair(name.with_name(name.name + ".key"), name.with_name(name.name + ".pub"))
    console.print(
        Text.assemble(
            ("ok", "green"),
            f" key {pair.key_id}: private {pair.private_key} (keep it where bundles are made, readable by you only),"
            f" public {pair.public_key} (give it to the gateways)",
        )
    )


@commands.command()
@reports_errors
def sign(
    bundle: BundleArg,
    key: Annotated[Path, typer.Option("--key", "-k", help="Private key (NAME.key from omnimaint keygen).")],
) -> None:
    """Verify a bundle completely and sign its bundle.json (which holds every file's checksum)."""
    from omnimaint.inference.signing import sign_bundle

    signer = sign_bundle(bundle, key)
    console.print(Text.assemble(("signed", "green"), f" {bundle} with key {signer}"))


@commands.command()
@reports_errors
def verify(
    bundle: BundleArg,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Also require a signature by this key (NAME.pub).")
    ] = None,
) -> None:
    """Check a bundle: every file against its checksum, its parts against each other, and its signature."""
    from omnimaint.inference.bundle import Bundle

    loaded = Bundle.load(bundle, public_key=public_key)
    signed = f", signed by the key in {public_key}" if public_key is not None else " (signature not checked)"
    console.print(Text.assemble(("ok", "green"), f" {bundle}: {len(loaded.files)} files verified{signed}"))
