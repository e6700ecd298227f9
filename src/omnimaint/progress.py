"""Progress display for long phases: Rich bars on stderr, drawn only on a terminal and only while shown.

Library code reports a phase with :func:`progress_bar` (or :func:`track` over an iterable); whether anything
is drawn is decided at the edge, not by each caller: the command line's ``--progress/--no-progress`` flag
(:func:`progress_shown`) and stderr being a terminal (bars in a CI log or a pipe are noise). Nothing here
writes to stdout, which holds a command's result. Phases that run inside another one (scoring windows
inside an ablation) add a line to the display already on screen, since a terminal holds one live display.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

T = TypeVar("T")


class Advance(Protocol):
    """Record ``amount`` more units done, and optionally say what is being done now."""

    def __call__(self, amount: float = 1, *, description: str | None = None) -> None: ...


_shown: ContextVar[bool] = ContextVar("omnimaint_progress_shown", default=True)
_display: ContextVar[Progress | None] = ContextVar("omnimaint_progress_display", default=None)


@contextmanager
def progress_shown(shown: bool) -> Iterator[None]:
    """Show (or hide) every progress bar started while the block runs, in this thread or task."""
    token = _shown.set(shown)
    try:
        yield
    finally:
        _shown.reset(token)


def progress_drawn() -> bool:
    """Whether a bar started now would be drawn: progress is shown and stderr is a terminal."""
    return _shown.get() and Console(stderr=True).is_terminal


def _ignore(amount: float = 1, *, description: str | None = None) -> None:
    del amount, description


@contextmanager
def progress_bar(description: str, total: float | None, *, enabled: bool = True) -> Iterator[Advance]:
    """Show a bar while the block runs; yield a function that advances it.

    Args:
        description: What is being done (``"telemetry"``); shown as plain text, never as markup.
        total: Units of work (records, files, phases), or ``None`` when unknown.
        enabled: Show this bar at all (it is also hidden by :func:`progress_shown` and off a terminal).

    Yields:
        ``advance(n, description=None)``: record ``n`` more units done (and what is being done now).
    """
    if not (enabled and _shown.get()):
        yield _ignore
        return
    outer = _display.get()
    if outer is not None:
        task = outer.add_task(description, total=total)
        try:
            yield _advancer(outer, task)
        finally:
            outer.remove_task(task)
        return
    console = Console(stderr=True)
    if not console.is_terminal:
        yield _ignore
        return
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as display:
        token = _display.set(display)
        try:
            yield _advancer(display, display.add_task(description, total=total))
        finally:
            _display.reset(token)


def _advancer(display: Progress, task: TaskID) -> Advance:
    def advance(amount: float = 1, *, description: str | None = None) -> None:
        display.update(task, advance=amount, description=description)

    return advance


def track(items: Iterable[T], description: str, *, total: float | None = None, enabled: bool = True) -> Iterator[T]:
    """Yield ``items`` while a bar counts them (``total`` defaults to ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(description, total, enabled=enabled) as advance:
        for item in items:
            yield item
            advance(1)
