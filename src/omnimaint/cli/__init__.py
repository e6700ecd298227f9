"""The ``omnimaint`` command line: one command, one library call.

Owns the commands: each parses its flags, calls one library function and prints the result. Every
command has ``--help``. Errors that omnimaint raises on purpose (:class:`~omnimaint.errors.OmnimaintError`)
are printed as a one-line reason on stderr with exit code 1, Ctrl-C as one ``interrupted`` line with exit
code 130; anything else is a bug and keeps its traceback (:mod:`omnimaint.cli.output`).

Each module holds the commands of one subsystem on a Typer of its own; this package adds them to the
app of :mod:`omnimaint.cli.app` in the order ``omnimaint --help`` lists them. Commands import the
subsystem they drive when they run, so that ``--help`` stays fast; no business logic lives here.
"""

from omnimaint.cli import bench, bundle, cases, data, diagnose, imports, keys, model, service, simulate
from omnimaint.cli.app import app

for _commands in (
    data.commands,
    bench.commands,
    simulate.commands,
    model.commands,
    diagnose.commands,
    bundle.commands,
    service.commands,
):
    app.add_typer(_commands)
app.add_typer(imports.import_app, name="import")
app.add_typer(cases.cases_app, name="cases")
app.add_typer(keys.keys_app, name="keys")


def main() -> None:
    """Entry point of the ``omnimaint`` console script."""
    app()


__all__ = ["app", "main"]
