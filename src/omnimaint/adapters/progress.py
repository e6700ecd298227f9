"""Progress display for long conversions (a rich bar on stderr, shown only on a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def progress_bar(description: str, total: float | None, *, enabled: bool = True) -> Iterator[Callable[[float], None]]:
    """Show a progress bar while the block runs; yield a function that advances it.

    Args:
        description: What is being done (``"telemetry"``).
        total: Units of work (records, files), or ``None`` when unknown.
        enabled: Show the bar at all (it is never shown when stderr is not a terminal, e.g. in CI logs).

    Yields:
        ``advance(n)``: record ``n`` more units done.
    """
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(amount: float = 1) -> None:
            progress.advance(task, amount)

        yield advance
