"""Benchmark commands: ``bench`` (a protocol on a dataset with a method) and ``tune`` (on validation data)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text
from typer.core import TyperArgument, TyperCommand, TyperOption

from omnimaint.atomic import BENCH, check_target, claim_folder
from omnimaint.cli.output import console, print_metrics, reports_errors

commands = typer.Typer()


class _BenchCommand(TyperCommand):
    """``bench``, whose help lists the protocols of the registry (imported only when the help is shown)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click types of the typer-vendored click
        from omnimaint.evaluation.protocols import list_protocols, subset_protocols

        for param in self.params:
            if isinstance(param, TyperArgument) and param.name == "protocol":
                param.help = f"One of: {', '.join(list_protocols())}."
            elif isinstance(param, TyperOption) and param.name == "subset":
                param.help = (
                    f"Subset to evaluate, for {', '.join(subset_protocols())} (C-MAPSS FD001, FD002 …; the "
                    "training load of cwru-cross-load, 0HP …); default: the dataset's first, named in the output "
                    "(cwru-cross-load: every load, the figure their mean)."
                )
        super().format_help(ctx, formatter)


@commands.command(cls=_BenchCommand)
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
        record = run_bench(protocol, dataset, method, seed, subset, out=out)
    path = write_record(record, out)
    title = " · ".join([protocol, method, record.dataset_name, *([f"subset {record.subset}"] if record.subset else [])])
    print_metrics(record.metrics, title)
    for note in record.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{record.wall_time_s:.1f} s; wrote {path} and {out / 'results.md'}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@commands.command()
@reports_errors
def tune(
    protocol: Annotated[str, typer.Argument(help="A protocol with a validation split, e.g. cmapss-long.")],
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
    split_seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the validation split of the training data (default: 0; for omnimodel, the --seed).",
            show_default=False,
        ),
    ] = None,
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
    print_metrics(record.metrics, f"{protocol} · {method} · validation · split seed {record.split_seed}")
    console.print(f"{record.wall_time_s:.1f} s; appended to {path}")
