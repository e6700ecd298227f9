"""Dataset commands: ``validate`` and ``inspect``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from omnimaint.cli.app import DatasetArg
from omnimaint.cli.output import console, print_table, reports_errors

commands = typer.Typer()


@commands.command()
@reports_errors
def validate(
    dataset: DatasetArg,
    checksums: Annotated[bool, typer.Option(help="Also verify each table file's SHA-256.")] = True,
) -> None:
    """Check a dataset against the canonical data model; exit 1 naming the file, column, row and problem."""
    from omnimaint.data.dataset import validate_dataset

    # Text, not markup: a folder named '[/x]' or ':x:' is printed as it is.
    with console.status(Text(f"validating {dataset}")):
        opened = validate_dataset(dataset, checksums=checksums)
    rows = ", ".join(f"{name}: {info.rows}" for name, info in opened.manifest.tables.items())
    console.print(Text.assemble(("ok", "green"), f" {dataset} ({rows})"))


@commands.command()
@reports_errors
def inspect(dataset: DatasetArg) -> None:
    """Show assets, time range, per-modality counts and label counts as tables."""
    from omnimaint.data.dataset import Dataset
    from omnimaint.data.inspection import summarize
    from omnimaint.data.schema import MODALITY_TABLES

    with console.status(Text(f"reading {dataset}")):
        summary = summarize(Dataset(dataset))
    types = ", ".join(f"{n} {t}" for t, n in sorted(summary.asset_types.items()))
    span = f"{summary.first} → {summary.last}"
    console.print(Text.assemble((summary.name, "bold"), f": {len(summary.assets)} assets ({types}), {span}"))
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
    print_table(per_asset)
    totals = Table("table", "rows", title="rows per table")
    for name, count in summary.rows.items():
        totals.add_row(name, f"{count:,}")
    print_table(totals)
    labels = Table("label", "value", "count", title="labels and work orders")
    for fault, count in sorted(summary.failures_by_fault.items()):
        labels.add_row("fault_type", fault, str(count))
    for component, count in sorted(summary.failures_by_component.items()):
        labels.add_row("component", component, str(count))
    for kind, count in sorted(summary.maintenance_by_kind.items()):
        labels.add_row("work order", kind, str(count))
    print_table(labels)
    if summary.channels:
        console.print(f"telemetry channels: {', '.join(summary.channels)}")
