"""The command line's one Typer app and the arguments its commands share.

Command modules import from here and from :mod:`omnimaint.cli.output`, never from the package, which
assembles them; so the package imports every command module and none imports it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omnimaint.cli.output import OneLineUsageErrors, configure_logging

app = typer.Typer(
    name="omnimaint",
    help="Multimodal equipment-health monitoring and fault early warning.",
    cls=OneLineUsageErrors,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _configure(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log progress details (-vv: debug details too).")
    ] = 0,
) -> None:
    configure_logging(verbose)


DatasetArg = Annotated[Path, typer.Argument(help="Dataset folder (holds dataset.json).", show_default=False)]
BundleArg = Annotated[Path, typer.Argument(help="Bundle folder.", show_default=False)]
