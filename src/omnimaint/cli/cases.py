"""The ``cases`` command group: build a bundle's case base from a plant's work orders, search it in any
language, and measure its suggestions on held-out machines (:mod:`omnimaint.diagnosis.case_store`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from omnimaint.cli.app import BundleArg, DatasetArg
from omnimaint.cli.output import console, print_table, reports_errors
from omnimaint.errors import ConfigError

if TYPE_CHECKING:
    from omnimaint.diagnosis.case_store import CaseSearch

cases_app = typer.Typer(
    name="cases",
    help="Build, search and measure a bundle's case base of past work orders.",
    no_args_is_help=True,
)

FORMATS = ("text", "json")


@cases_app.command()
@reports_errors
def build(
    bundle: BundleArg,
    dataset: DatasetArg,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write a new bundle here instead of adding to BUNDLE in place.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="With --out, replace a bundle already there.")] = False,
    states: Annotated[
        bool, typer.Option(help="Also store the model's fused state before each failure (for live warnings).")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Build the case base of DATASET's corrective work orders and store it in the bundle."""
    from omnimaint.diagnosis.case_store import build_cases

    written, case_base = build_cases(bundle, dataset, out=out, overwrite=overwrite, states=states, progress=progress)
    console.print(
        Text.assemble(
            ("ok", "green"),
            f" {written}: {len(case_base)} cases, {len(case_base.actions)} distinct actions, "
            f"{case_base.n_states} with a fused state",
        )
    )


@cases_app.command()
@reports_errors
def search(
    bundle: BundleArg,
    text: Annotated[str, typer.Argument(help="A problem description, in any language.", show_default=False)],
    k: Annotated[int, typer.Option("-k", help="Similar cases to show.")] = 5,
    output_format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="Require a signature of the bundle by this key (NAME.pub).")
    ] = None,
) -> None:
    """Find the past work orders most similar to TEXT and the actions that fixed them."""
    from omnimaint.diagnosis.case_store import search_cases

    if output_format not in FORMATS:
        raise ConfigError(f"--format must be text or json, not {output_format!r}")
    found = search_cases(bundle, text, k, public_key=public_key)
    if output_format == "json":
        console.print(json.dumps(found.to_dict(), ensure_ascii=False, indent=2), markup=False, highlight=False)
        return
    _print_search(found)


def _print_search(found: CaseSearch) -> None:
    cases = Table(title="similar cases", title_justify="left")
    for column in ("#", "case", "asset", "component", "fault", "problem", "action", "outcome"):
        cases.add_column(column)
    for match in found.matches:
        c = match.case
        cells = [str(match.rank + 1), c.case_id, c.asset_id, c.component, c.fault_type, c.problem, c.action, c.outcome]
        cases.add_row(*(Text(value or "-") for value in cells))
    print_table(cases)
    actions = Table(title="suggested actions", title_justify="left")
    for column in ("#", "action", "cases", "held", "cases that did it"):
        actions.add_column(column)
    for rank, s in enumerate(found.suggestions[:5], start=1):
        rate = "-" if s.success_rate is None else f"{s.held} of {s.held + s.failed_again}"
        actions.add_row(
            *(Text(value) for value in (str(rank), s.action, str(len(s.case_ids)), rate, ", ".join(s.case_ids)))
        )
    print_table(actions)


@cases_app.command()
@reports_errors
def evaluate(
    bundle: BundleArg,
    dataset: DatasetArg,
    voters: Annotated[int, typer.Option(help="Similar cases whose actions are ranked.")] = 20,
    states: Annotated[bool, typer.Option(help="Also measure the search by fused state.")] = True,
    split_seed: Annotated[int, typer.Option(help="Seed of the asset split (as omnimaint train's).")] = 0,
) -> None:
    """Measure how often the top suggested action matches the true fix, on the held-out machines of DATASET."""
    from omnimaint.diagnosis.case_evaluation import evaluate_suggestions

    scores = evaluate_suggestions(bundle, dataset, voters=voters, states=states, seed=split_seed)
    table = Table(title=f"top suggestion = true fix ({scores.n_queries} held-out failures, {scores.n_cases} cases)")
    table.add_column("search")
    table.add_column("match rate")
    rows = {"text": scores.text, "fused state": scores.state, "most frequent action": scores.majority}
    for name, value in rows.items():
        table.add_row(Text(name), Text("-" if value is None else f"{value:.3f}"))
    print_table(table)
    console.print(Text(f"held-out assets: {', '.join(scores.test_assets)}"))
