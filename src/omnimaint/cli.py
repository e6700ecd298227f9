"""The ``omnimaint`` command line: one command, one library call.

Every command has ``--help``. Errors that omnimaint raises on purpose (:class:`OmnimaintError`) are
printed as a one-line reason on stderr with exit code 1, Ctrl-C as one ``interrupted`` line with exit
code 130; anything else is a bug and keeps its traceback (:mod:`omnimaint.cli_output`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperOption

from omnimaint.atomic import BENCH, DATASET, check_target, claim_folder
from omnimaint.cli_output import (
    OneLineUsageErrors,
    configure_logging,
    console,
    err_console,
    print_table,
    reports_errors,
)

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


@app.command()
@reports_errors
def validate(
    dataset: DatasetArg,
    checksums: Annotated[bool, typer.Option(help="Also verify each table file's SHA-256.")] = True,
) -> None:
    """Check a dataset against the canonical data model; exit 1 naming the file, column, row and problem."""
    from rich.text import Text

    from omnimaint.data.dataset import validate_dataset

    # Text, not markup: a folder named '[/x]' or ':x:' is printed as it is.
    with console.status(Text(f"validating {dataset}")):
        opened = validate_dataset(dataset, checksums=checksums)
    rows = ", ".join(f"{name}: {info.rows}" for name, info in opened.manifest.tables.items())
    console.print(Text.assemble(("ok", "green"), f" {dataset} ({rows})"))


@app.command()
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


class _BenchCommand(TyperCommand):
    """``bench``, whose help lists the protocols of the registry (imported only when the help is shown)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click types of the typer-vendored click
        from omnimaint.evaluation.protocols import list_protocols, subset_protocols

        for param in self.params:
            if isinstance(param, TyperArgument) and param.name == "protocol":
                param.help = f"One of: {', '.join(list_protocols())}."
            elif isinstance(param, TyperOption) and param.name == "subset":
                param.help = (
                    f"Subset to evaluate, for {', '.join(subset_protocols())} (C-MAPSS FD001, FD002 …); "
                    "default: the dataset's first, named in the output."
                )
        super().format_help(ctx, formatter)


@app.command(cls=_BenchCommand)
@reports_errors
def bench(
    protocol: Annotated[str, typer.Argument(help="A registered protocol.", show_default=False)],
    dataset: Annotated[Path, typer.Option("--dataset", help="Canonical dataset folder.", show_default=False)],
    method: Annotated[str, typer.Option("--method", help="Method registered for the protocol.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for the JSON record and results.md.")] = Path(
        "bench-output"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the split and the method.")] = 0,
    subset: Annotated[
        str | None, typer.Option(help="Subset to evaluate, for protocols with subsets.", show_default=False)
    ] = None,
) -> None:
    """Run a benchmark protocol on a dataset with a method; write JSON and append a row to results.md."""
    import omnimaint.training.methods  # noqa: F401 (registers omnimodel with the protocols)
    from omnimaint.evaluation.bench import run_bench, write_record

    check_target(out, BENCH, reuse=True)  # a new or earlier results folder, before the protocol runs
    with console.status(Text(f"{protocol} / {method} on {dataset}")):
        record = run_bench(protocol, dataset, method, seed, subset)
    path = write_record(record, out)
    title = " · ".join([protocol, method, record.dataset_name, *([f"subset {record.subset}"] if record.subset else [])])
    _print_metrics(record.metrics, title)
    for note in record.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{record.wall_time_s:.1f} s; wrote {path} and {out / 'results.md'}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _print_metrics(metrics: dict[str, float], title: str) -> None:
    from omnimaint.evaluation.bench import format_metric

    table = Table("metric", "value", title=Text(title), min_width=len(title) + 4)  # the title on one line
    for name, value in metrics.items():
        table.add_row(Text(name), format_metric(value))
    print_table(table)


@app.command()
@reports_errors
def tune(
    protocol: Annotated[str, typer.Argument(help="cmapss, cmapss-long or images.")],
    dataset: Annotated[Path, typer.Option("--dataset", help="Canonical dataset folder.", show_default=False)],
    method: Annotated[str, typer.Option("--method", help="Method registered for the protocol.", show_default=False)],
    setting: Annotated[
        list[str] | None,
        typer.Option("--set", help="A setting of the method's estimator, key=value (repeatable), e.g. patch=3."),
    ] = None,
    protocol_setting: Annotated[
        list[str] | None,
        typer.Option(
            "--protocol-set", help="A setting of the protocol, key=value (repeatable), e.g. window=50 for cmapss."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the method (and of the protocol's test split).")] = 0,
    split_seed: Annotated[int, typer.Option(help="Seed of the validation split of the training data.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Folder of tuning.jsonl (one JSON line per run).")] = Path(
        "bench-output"
    ),
) -> None:
    """Score a method, with changed settings, on validation data carved from the training data (never the test)."""
    import omnimaint.training.methods  # noqa: F401 (registers omnimodel with the protocols)
    from omnimaint.evaluation.tuning import append_record, parse_settings, run_tuning

    check_target(out, BENCH, reuse=True)  # tuning.jsonl goes beside the benchmark records
    settings = parse_settings(setting or [])
    protocol_settings = parse_settings(protocol_setting or [])
    described = f"{protocol} {protocol_settings} / {method} {settings} on validation data of {dataset}"
    with console.status(Text(described)):
        record = run_tuning(protocol, dataset, method, settings, seed, split_seed, protocol_settings)
    path = append_record(record, claim_folder(out, BENCH, reuse=True))
    _print_metrics(record.metrics, f"{protocol} · {method} · validation · split seed {split_seed}")
    console.print(f"{record.wall_time_s:.1f} s; appended to {path}")


import_app = typer.Typer(
    name="import",
    help="Convert a source format (public dataset, customer files, video) into a canonical dataset.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

ImportSource = Annotated[Path, typer.Argument(help="Source folder or file (see `omnimaint import formats`).")]
ImportOut = Annotated[Path, typer.Option("--out", help="Dataset folder to create.", show_default=False)]
ImportOverwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")]


def _run_import(name: str, src: Path, out: Path, overwrite: bool, **options: object) -> None:
    import time

    from omnimaint.adapters import get_adapter

    check_target(out, DATASET, overwrite=overwrite)  # before reading the source, which may take minutes
    started = time.perf_counter()
    dataset = get_adapter(name).convert(src, out, overwrite=overwrite, **options)
    rows = ", ".join(f"{table}: {info.rows:,}" for table, info in dataset.manifest.tables.items())
    console.print(Text.assemble(("ok", "green"), f" {out} ({rows}) in {time.perf_counter() - started:.1f} s"))


@import_app.command("formats")
def import_formats() -> None:
    """List the source formats and what SRC must be for each."""
    from omnimaint.adapters import ADAPTERS

    table = Table("format", "SRC", "what", title="source formats")
    for adapter in ADAPTERS.values():
        table.add_row(adapter.name, adapter.source, adapter.summary)
    console.print(table)


@import_app.command("azure")
@reports_errors
def import_azure(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone the files' local datetimes are in (default: they are UTC).")
    ] = None,
    encoding: Annotated[
        str, typer.Option(help="Text encoding of the CSV files (utf-8-sig reads UTF-8 with or without a BOM).")
    ] = "utf-8-sig",
) -> None:
    """Azure Predictive Maintenance sample data: a folder holding PdM_*.csv."""
    _run_import("azure", src, out, overwrite, timezone=timezone, encoding=encoding)


@import_app.command("cmapss")
@reports_errors
def import_cmapss(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    subsets: Annotated[
        str | None, typer.Option(help="Comma-separated subsets, e.g. FD001,FD003 (default: all).")
    ] = None,
) -> None:
    """NASA C-MAPSS: a folder holding train_/test_/RUL_FD00x.txt (plain or .gz)."""
    chosen = [name.strip() for name in subsets.split(",") if name.strip()] if subsets else None
    _run_import("cmapss", src, out, overwrite, subsets=chosen)


@import_app.command("cwru")
@reports_errors
def import_cwru(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    rate: Annotated[
        float | None, typer.Option(help="Sampling rate in Hz for every file (default: from folders).")
    ] = None,
) -> None:
    """CWRU bearing data: a folder (or a rate folder such as 12k_DE) searched for class-named .mat files."""
    from omnimaint.adapters.cwru import summarize_import
    from omnimaint.data.manifest import read_manifest

    _run_import("cwru", src, out, overwrite, rate=rate)
    console.print(summarize_import(read_manifest(out).provenance), markup=False, highlight=False, soft_wrap=True)


@import_app.command("images")
@reports_errors
def import_images(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    layout: Annotated[str, typer.Option(help="auto, by_name (NEU), by_folder or mvtec.")] = "auto",
    asset: Annotated[str | None, typer.Option(help="Asset id (by_name/by_folder; default: folder name).")] = None,
) -> None:
    """Labelled image folders: NEU-DET (class from file name), MVTec-AD, or class folders; masks paired."""
    from omnimaint.adapters.images import summarize_import
    from omnimaint.data.manifest import read_manifest

    _run_import("images", src, out, overwrite, layout=layout, asset=asset)
    for line in summarize_import(read_manifest(out).provenance):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@import_app.command("video")
@reports_errors
def import_video(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    fps: Annotated[float, typer.Option(help="Frames per second to keep.")] = 1.0,
    start: Annotated[
        str | None, typer.Option(help="ISO time with offset of the first frame (default: creation_time tag).")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="Asset id (default: file stem).")] = None,
    asset_type: Annotated[str, typer.Option(help="Asset type.")] = "machine",
    camera: Annotated[str, typer.Option(help="Camera name.")] = "cam0",
) -> None:
    """A video file sampled into PNG frames (needs the `video` extra)."""
    _run_import("video", src, out, overwrite, fps=fps, start=start, asset=asset, asset_type=asset_type, camera=camera)


@import_app.command("maintnet")
@reports_errors
def import_maintnet(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text encoding of both CSV files (default: UTF-8, else latin-1; annotations latin-1)."),
    ] = None,
) -> None:
    """MaintNet logbook: a folder holding problems_actions.csv (and optionally annotated_problems.csv)."""
    _run_import("maintnet", src, out, overwrite, encoding=encoding)


@import_app.command("generic")
@reports_errors
def import_generic(
    src: ImportSource,
    out: ImportOut,
    overwrite: ImportOverwrite = False,
    allow_root: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-root",
            metavar="DIR",
            help="A folder besides the mapping's own that its files may come from (repeatable); others are refused.",
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of every CSV source (overrides each source's csv.encoding).")
    ] = None,
) -> None:
    """Customer CSV/Parquet files: SRC is a YAML mapping file (see docs/adapters.md)."""
    _run_import("generic", src, out, overwrite, allow_roots=tuple(allow_root or ()), encoding=encoding)


@app.command()
@reports_errors
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to create.", show_default=False)],
    assets: Annotated[int, typer.Option("--assets", help="Machines: pumps, spindles and conveyors in turn.")] = 12,
    days: Annotated[float, typer.Option(help="Length of the simulated period, in days.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Root seed: the same seed gives the same dataset.")] = 0,
    lang: Annotated[str, typer.Option(help="Language of event messages and work orders: en or zh.")] = "en",
    telemetry_period: Annotated[float, typer.Option(help="Seconds between telemetry readings.")] = 600.0,
    waveform_period: Annotated[float, typer.Option(help="Seconds between vibration bursts.")] = 3600.0,
    frame_period: Annotated[float, typer.Option(help="Seconds between camera frames.")] = 3600.0,
    frame_size: Annotated[int, typer.Option(help="Frame width and height in pixels.")] = 64,
    workers: Annotated[int, typer.Option(help="Worker processes (the output does not depend on it).")] = 2,
    fault_rate_scale: Annotated[
        float, typer.Option(help="Multiplies every fault-onset hazard (more failures in a short history).")
    ] = 1.0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Simulate a plant (telemetry, vibration, camera, events, work orders) into a canonical dataset.

    A run expected to take 30 s or more, or to write 1 GB or more, is announced first (on stderr).
    """
    import time

    from omnimaint.errors import ConfigError
    from omnimaint.sim import PlantConfig
    from omnimaint.sim import simulate as simulate_plant
    from omnimaint.sim.config import Language
    from omnimaint.sim.estimate import estimate

    languages: dict[str, Language] = {"en": "en", "zh": "zh"}
    if lang not in languages:
        raise ConfigError(f"--lang must be 'en' or 'zh', got {lang!r}")
    config = PlantConfig(
        n_assets=assets,
        days=days,
        seed=seed,
        lang=languages[lang],
        telemetry_period_s=telemetry_period,
        waveform_period_s=waveform_period,
        frame_period_s=frame_period,
        frame_size=frame_size,
        workers=workers,
        fault_rate_scale=fault_rate_scale,
    )
    check_target(out, DATASET, overwrite=overwrite)  # before simulating, which may take minutes
    expected = estimate(config)
    if expected.large:
        err_console.print(expected.describe(config), soft_wrap=True, highlight=False)
    started = time.perf_counter()
    dataset = simulate_plant(config, out, overwrite=overwrite, progress=progress)
    rows = ", ".join(f"{table}: {info.rows:,}" for table, info in dataset.manifest.tables.items())
    console.print(Text.assemble(("ok", "green"), f" {out} ({rows}) in {time.perf_counter() - started:.1f} s"))


def main() -> None:
    """Entry point of the ``omnimaint`` console script."""
    app()


# Model commands, then bundle-signing commands, register themselves on `app` (kept in their own modules
# to keep this one short; imported in the order `--help` lists them).
from omnimaint import cli_model  # noqa: E402, I001
from omnimaint import cli_bundle  # noqa: E402

__all__ = ["app", "cli_bundle", "cli_model", "main"]
