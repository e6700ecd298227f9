"""How the command line speaks: a command's result on stdout, everything else on stderr, one line per refusal.

- An :class:`OmnimaintError` becomes ``error: <message>`` and exit code 1; a bad flag (a usage error) one
  ``error:`` line naming the command and exit code 2; Ctrl-C one ``interrupted`` line and exit code 130.
  Anything else is a bug and keeps its traceback.
- User data (paths, column names, asset ids) is printed as it is: the consoles interpret no Rich markup
  and no emoji codes, so ``[/x]`` or ``:x:`` in a file name neither crashes the printer nor turns into ❌.
- Logging goes to stderr at the level chosen with ``-v``; Python warnings join it as one line each.
  Libraries that explain themselves to their own developers (onnxruntime's quantisation advice) are kept
  to ``-vv``, and Lightning's advertisements dropped.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TextIO, TypeVar

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from omnimaint.errors import OmnimaintError
from omnimaint.notes import NOTE
from omnimaint.progress import progress_shown

if TYPE_CHECKING:
    from omnimaint.data.dataset import Dataset

console = Console(markup=False, emoji=False, soft_wrap=True)
err_console = Console(stderr=True, markup=False, emoji=False, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command ended by Ctrl-C

# The exceptions of the click that typer runs on (its own private copy from typer 0.24 on).
_click_exceptions = importlib.import_module(typer.BadParameter.__module__)

_QUIET_LIBRARIES = ("onnxruntime",)
_ADVERTISEMENT = "💡 Tip:"


def print_table(table: Table) -> None:
    """Print a table on stdout: fitted to a terminal's width, but at its full width into a file or pipe,
    where a cut cell (``2024…``) would be lost for good."""
    if console.is_terminal:
        console.print(table, soft_wrap=False)
        return
    full = Measurement.get(console, console.options.update_width(1 << 16), table).maximum
    Console(markup=False, emoji=False, width=max(console.width, full)).print(table)


def print_dataset_written(out: Path, dataset: Dataset, seconds: float) -> None:
    """Print ``ok <folder> (<rows per table>) in <seconds> s`` for a dataset a command wrote."""
    rows = ", ".join(f"{table}: {info.rows:,}" for table, info in dataset.manifest.tables.items())
    console.print(Text.assemble(("ok", "green"), f" {out} ({rows}) in {seconds:.1f} s"))


def refuse(message: str) -> None:
    """Print ``error: <message>`` on stderr as one line, whatever the message holds."""
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    err_console.print(Text.assemble(("error:", "bold red"), " ", one_line), soft_wrap=True, highlight=False)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """The edge of every command: an :class:`OmnimaintError` becomes one ``error:`` line and exit code 1,
    Ctrl-C one ``interrupted`` line and exit code 130; the command's ``progress`` flag, when it has one,
    shows or hides every progress bar drawn while it runs."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with progress_shown(bool(kwargs.get("progress", True))):
                return command(*args, **kwargs)
        except OmnimaintError as exc:
            refuse(str(exc))
            raise typer.Exit(code=1) from exc
        except KeyboardInterrupt:
            # A terminal echoes ^C without a newline; start a line of our own after it.
            err_console.print(Text("\ninterrupted" if err_console.is_terminal else "interrupted", style="yellow"))
            raise typer.Exit(code=EXIT_INTERRUPTED) from None

    return wrapper


class OneLineUsageErrors(TyperGroup):
    """The app's command group: a usage error (a flag value of the wrong type, a missing option, an unknown
    command) is one ``error:`` line naming the command, like every other refusal, with click's exit code 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except getattr(_click_exceptions, "NoArgsIsHelpError", ()) as exc:
            sys.exit(exc.exit_code)  # the help is printed already
        except _click_exceptions.ClickException as exc:
            context = getattr(exc, "ctx", None)
            where = f"{context.command_path}: " if context is not None else ""
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            refuse(f"{where}{exc.format_message()}{hint}")
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def configure_logging(verbosity: int) -> None:
    """Log to stderr: notes and warnings by default, progress details with ``verbosity`` 1, everything with 2.

    Replaces the handler an earlier call installed (tests run many commands in one process, each with
    its own stderr), leaves other handlers alone, and routes Python warnings through the same handler.
    """
    level = (NOTE, logging.INFO)[verbosity] if verbosity < 2 else logging.DEBUG
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setLevel(level)  # Lightning sets INFO on its own loggers when imported
    handler.setFormatter(_VerboseFormatter() if verbosity else _PlainFormatter())
    handler.addFilter(_LibraryChatter(level))
    root.addHandler(handler)
    root.setLevel(level)
    warnings.showwarning = _log_warning


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time: a progress display redirects it to print log
    lines above its bars, and a test runner swaps it per command."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        del value


class _PlainFormatter(logging.Formatter):
    """``warning: <message>`` (or ``note:``), in the style of the ``error:`` line."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


class _VerboseFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")


class _LibraryChatter(logging.Filter):
    """Keeps what onnxruntime logs or warns (from their loggers or their files) to DEBUG
    runs, and drops Lightning's advertisements at every level."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level
        self.roots = tuple(str(root) for root in map(_package_dir, _QUIET_LIBRARIES) if root is not None)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("lightning") and str(record.msg).startswith(_ADVERTISEMENT):
            return False
        quiet = record.name.split(".")[0] in _QUIET_LIBRARIES or record.pathname.startswith(self.roots)
        return not quiet or self.level <= logging.DEBUG


def _package_dir(name: str) -> Path | None:
    """Folder of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(name)
    locations = spec.submodule_search_locations if spec is not None else None
    return Path(locations[0]) if locations else None


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A Python warning as one log record on ``py.warnings``, carrying the file that raised it."""
    if file is not None:
        file.write(warnings.formatwarning(message, category, filename, lineno, line))
        return
    logger = logging.getLogger("py.warnings")
    if logger.isEnabledFor(logging.WARNING):
        args = (category.__name__, message)
        logger.handle(logger.makeRecord(logger.name, logging.WARNING, filename, lineno, "%s: %s", args, None))


def print_metrics(metrics: dict[str, float], title: str) -> None:
    """A protocol's metrics as a table titled ``title``."""
    from omnimaint.evaluation.bench import format_metric

    table = Table("metric", "value", title=Text(title), min_width=len(title) + 4)  # the title on one line
    for name, value in metrics.items():
        table.add_row(Text(name), format_metric(value))
    print_table(table)
