"""The ``import`` command group: one subcommand per registered adapter, and ``import formats``.

A subcommand is built from its adapter's description (:class:`omnimaint.adapters.Adapter`): ``SRC``,
``--out`` and ``--overwrite`` for every format, then the adapter's own options, whose defaults are its
converter's. The adapters are imported (with pandas and scipy) only when the ``import`` group is used.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from types import GenericAlias
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from omnimaint.atomic import DATASET, check_target
from omnimaint.cli.output import console, print_dataset_written, reports_errors

if TYPE_CHECKING:
    from omnimaint.adapters import Adapter, AdapterOption

ImportSource = Annotated[Path, typer.Argument(help="Source folder or file (see `omnimaint import formats`).")]
ImportOut = Annotated[Path, typer.Option("--out", help="Dataset folder to create.", show_default=False)]
ImportOverwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")]


class _AdapterCommands(TyperGroup):
    """The ``import`` group, which adds a subcommand per registered adapter when it is first used."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self._adapters_added = False

    def list_commands(self, ctx: Any) -> list[str]:  # click types of the typer-vendored click
        self._add_adapters()
        return super().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        self._add_adapters()
        return super().get_command(ctx, cmd_name)

    def _add_adapters(self) -> None:
        if self._adapters_added:
            return
        from omnimaint.adapters import ADAPTERS

        self._adapters_added = True
        for name, adapter in ADAPTERS.items():
            self.add_command(adapter_command(adapter), name)


import_app = typer.Typer(
    name="import",
    help="Convert a source format (public dataset, customer files, video) into a canonical dataset.",
    cls=_AdapterCommands,
    no_args_is_help=True,
)


@import_app.command("formats")
def import_formats() -> None:
    """List the source formats and what SRC must be for each."""
    from omnimaint.adapters import ADAPTERS

    table = Table("format", "SRC", "what", title="source formats")
    for name, adapter in ADAPTERS.items():
        table.add_row(name, adapter.source, adapter.summary)
    console.print(table)


def adapter_command(adapter: Adapter) -> Any:
    """The click command ``omnimaint import <adapter.name>``.

    Its parameters are declared as a function signature, which Typer turns into arguments and options
    exactly as it does for a written-out command.
    """
    defaults = inspect.signature(adapter.convert).parameters

    @reports_errors
    def run(src: Path, out: Path, overwrite: bool, **given: Any) -> None:
        check_target(out, DATASET, overwrite=overwrite)  # before reading the source, which may take minutes
        options = {option.keyword: _converter_value(option, given[option.keyword]) for option in adapter.options}
        started = time.perf_counter()
        dataset = adapter.convert(src, out, overwrite=overwrite, **options)
        print_dataset_written(out, dataset, time.perf_counter() - started)
        if adapter.describe_import is not None:
            for line in adapter.describe_import(dataset.manifest.provenance):
                console.print(line, markup=False, highlight=False, soft_wrap=True)

    common = [
        _parameter("src", ImportSource, inspect.Parameter.empty),
        _parameter("out", ImportOut, inspect.Parameter.empty),
        _parameter("overwrite", ImportOverwrite, False),
    ]
    own = [_option_parameter(option, defaults[option.keyword].default) for option in adapter.options]
    run.__signature__ = inspect.Signature([*common, *own])  # type: ignore[attr-defined]
    single = typer.Typer(add_completion=False)
    single.command(adapter.name, help=adapter.help)(run)
    return typer.main.get_command(single)


def _parameter(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _option_parameter(option: AdapterOption, default: Any) -> inspect.Parameter:
    """The option as Typer reads it from a signature: ``keyword: Annotated[type, typer.Option(...)] = default``."""
    value_type: Any = GenericAlias(list, option.type) if option.repeatable else option.type  # list[option.type]
    if option.repeatable:
        default = None  # none given: the converter gets an empty tuple
    if default is None:
        value_type = value_type | None
    flag = typer.Option(option.option, help=option.help, metavar=option.metavar)
    return _parameter(option.keyword, Annotated[value_type, flag], default)


def _converter_value(option: AdapterOption, given: Any) -> Any:
    value = tuple(given or ()) if option.repeatable else given
    return option.parse(value) if option.parse is not None else value
