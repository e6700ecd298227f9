"""The ``omnimaint`` command line: one command, one library call.

Every command has ``--help``. Errors that omnimaint raises on purpose (:class:`OmnimaintError`) are
printed as a one-line reason on stderr with exit code 1; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from omnimaint.errors import OmnimaintError

app = typer.Typer(
    name="omnimaint",
    help="Multimodal equipment-health monitoring and fault early warning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn an :class:`OmnimaintError` into a one-line reason and exit code 1."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except OmnimaintError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from exc

    return wrapper


@app.callback()
def _configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


DatasetArg = Annotated[Path, typer.Argument(help="Dataset folder (holds dataset.json).", show_default=False)]


@app.command()
@reports_errors
def validate(
    dataset: DatasetArg,
    checksums: Annotated[bool, typer.Option(help="Also verify each table file's SHA-256.")] = True,
) -> None:
    """Check a dataset against the canonical data model; exit 1 naming the file, column, row and problem."""
    from omnimaint.data.dataset import validate_dataset

    with console.status(f"validating {dataset}"):
        opened = validate_dataset(dataset, checksums=checksums)
    rows = ", ".join(f"{name}: {info.rows}" for name, info in opened.manifest.tables.items())
    console.print(f"[green]ok[/] {dataset} ({rows})")


@app.command()
@reports_errors
def inspect(dataset: DatasetArg) -> None:
    """Show assets, time range, per-modality counts and label counts as tables."""
    from omnimaint.data.dataset import Dataset
    from omnimaint.data.inspection import summarize
    from omnimaint.data.schema import MODALITY_TABLES

    with console.status(f"reading {dataset}"):
        summary = summarize(Dataset(dataset))
    console.print(
        f"[bold]{summary.name}[/]: {len(summary.assets)} assets "
        f"({', '.join(f'{n} {t}' for t, n in sorted(summary.asset_types.items()))}), "
        f"{summary.first} → {summary.last}"
    )
    per_asset = Table("asset", "type", "first", "last", *MODALITY_TABLES, "failures", title="assets")
    for asset in summary.assets:
        per_asset.add_row(
            asset.asset_id,
            asset.asset_type,
            f"{asset.first:%Y-%m-%d %H:%M}" if asset.first is not None else "-",
            f"{asset.last:%Y-%m-%d %H:%M}" if asset.last is not None else "-",
            *(f"{asset.rows[name]:,}" for name in MODALITY_TABLES),
            str(asset.failures),
        )
    console.print(per_asset)
    totals = Table("table", "rows", title="rows per table")
    for name, count in summary.rows.items():
        totals.add_row(name, f"{count:,}")
    console.print(totals)
    labels = Table("label", "value", "count", title="labels and work orders")
    for fault, count in sorted(summary.failures_by_fault.items()):
        labels.add_row("fault_type", fault, str(count))
    for component, count in sorted(summary.failures_by_component.items()):
        labels.add_row("component", component, str(count))
    for kind, count in sorted(summary.maintenance_by_kind.items()):
        labels.add_row("work order", kind, str(count))
    console.print(labels)
    if summary.channels:
        console.print(f"telemetry channels: {', '.join(summary.channels)}")


def main() -> None:
    """Entry point of the ``omnimaint`` console script."""
    app()


if __name__ == "__main__":
    main()
