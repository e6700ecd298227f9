"""Every command and subcommand of the CLI explains itself: ``--help`` exits 0 and names each argument and option."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from omnimaint.adapters import list_adapters
from omnimaint.cli import app

runner = CliRunner()


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under ``command`` (itself included) with the words that call it."""
    yield path, command
    if isinstance(command, TyperGroup):
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from _walk(command.get_command(context, name), (*path, name))


COMMANDS = dict(_walk(get_command(app)))


def _named(word: str, text: str) -> bool:
    """Whether ``text`` holds ``word`` as a whole token (``--set`` is not named by ``--settings``)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, flags=re.IGNORECASE) is not None


def test_the_walk_reaches_every_subcommand() -> None:
    assert {("validate",), ("bench",), ("train",), ("verify",), ("import",), ("import", "formats")} <= set(COMMANDS)
    assert {("import", name) for name in list_adapters()} <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=lambda path: " ".join(("omnimaint", *path)))
def test_help_names_every_argument_option_and_subcommand(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert _named(" ".join(("omnimaint", *path)), usage), usage
    for param in command.params:
        assert param.help, f"{param.name} of {' '.join(path)} has no help"
        if param.param_type_name == "argument":
            assert _named(param.name, usage), (param.name, usage)
        for flag in (*param.opts, *param.secondary_opts) if param.param_type_name == "option" else ():
            assert _named(flag, result.output), (flag, result.output)
    if isinstance(command, TyperGroup):
        for name in command.list_commands(typer.Context(command)):
            assert _named(name, result.output), (name, result.output)
