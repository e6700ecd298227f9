"""Where an artefact may be written, and the two ways of writing one: staged and swapped into place, or
claimed in place.

The rule, checked before any work and again when a staged folder is swapped in: a target may be absent
or an empty folder; an artefact of the same kind is replaced only when asked (``overwrite``) or, for
folders that later commands continue, continued (``reuse``); anything else (a file, a symbolic link, a
folder without an omnimaint manifest, another kind of artefact) is refused with one line saying what is
there and what to do. Nothing omnimaint did not write is ever deleted or written over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from omnimaint.atomic.kinds import MARKER_FILE, Kind, describe, write_marker
from omnimaint.atomic.staging import claim_sibling, forget, release, tidy
from omnimaint.errors import OmnimaintError


class OutputError(OmnimaintError):
    """An output path holds something that omnimaint may not write over, or cannot be created."""


def _absolute(target: Path) -> Path:
    """``target`` made absolute without following links (a link at the target itself stays visible)."""
    absolute = Path(os.path.abspath(target))  # noqa: PTH100 (resolve() would follow the link)
    if not absolute.name:
        raise OutputError(f"{target}: is the root of the file system; choose a folder inside it")
    return absolute


def _refusal(shown: Path, what: str, kind: Kind, overwrite: bool) -> OutputError:
    if overwrite:
        return OutputError(
            f"{shown}: is {what}, not {kind.noun}; omnimaint replaces only {kind.noun} that it wrote "
            "(choose another --out, or move it away yourself)"
        )
    return OutputError(
        f"{shown}: already exists ({what}, not {kind.noun}); choose another --out, or move it away yourself"
    )


def _inspect(absolute: Path, shown: Path, kind: Kind, overwrite: bool) -> Literal["nothing", "empty", "same"]:
    """What is at ``absolute``: nothing, an empty folder, or an artefact of ``kind``; anything else raises."""
    if not os.path.lexists(absolute):
        ancestor = absolute.parent
        while not os.path.lexists(ancestor):
            ancestor = ancestor.parent
        if ancestor.is_symlink() and ancestor.is_dir():
            return "nothing"
        if not ancestor.is_dir():
            raise OutputError(f"{shown}: cannot be created, {ancestor} is {describe(ancestor)}, not a folder")
        return "nothing"
    if absolute.is_symlink():
        raise OutputError(
            f"{shown}: is a symbolic link (to {absolute.readlink()}); omnimaint writes {kind.noun} only to a "
            "real folder, never through a link (give the folder's own path, or remove the link)"
        )
    if not absolute.is_dir():
        raise _refusal(shown, describe(absolute), kind, overwrite)
    if kind.holds(absolute):
        return "same"
    try:
        empty = not any(absolute.iterdir())
    except OSError as exc:
        raise OutputError(f"{shown}: cannot be read ({exc.strerror})") from exc
    if empty:
        return "empty"
    raise _refusal(shown, describe(absolute), kind, overwrite)


def _holds_only_marker(folder: Path) -> bool:
    return [p.name for p in folder.iterdir()] == [MARKER_FILE]


def check_target(target: Path, kind: Kind, *, overwrite: bool = False, reuse: bool = False) -> bool:
    """Check, before any work, that an artefact of ``kind`` may be written at ``target``.

    Abandoned staging folders of ``target`` are removed first (see :mod:`omnimaint.atomic.staging`).
    An empty folder counts as nothing there (so does a folder holding only this kind's marker: a command
    that claimed it stopped before writing anything).

    Args:
        target: Where the artefact will appear.
        kind: What will be written there.
        overwrite: Replace an artefact of ``kind`` that is there.
        reuse: Continue an artefact of ``kind`` that is there (folders that grow: runs resumed,
            benchmark results, experiments).

    Returns:
        Whether an artefact of ``kind`` is there (to be replaced or continued).

    Raises:
        OutputError: if something else is there, or an artefact of ``kind`` is there and neither
            ``overwrite`` nor ``reuse`` is set.
    """
    absolute = _absolute(target)
    tidy(absolute)
    found = _inspect(absolute, target, kind, overwrite)
    if found == "same" and not (overwrite or reuse) and not _holds_only_marker(absolute):
        raise OutputError(f"{target}: already exists ({kind.noun}; {kind.advice})")
    return found == "same"


def _remove_in_two_steps(absolute: Path, shown: Path) -> None:
    """Rename the folder aside, then delete it: a crash in between leaves it to be put back, not half gone."""
    aside = claim_sibling(absolute, "old")
    try:
        absolute.rename(aside)
    except OSError as exc:
        release(aside)
        raise OutputError(f"{shown}: cannot be replaced ({exc.strerror})") from exc
    release(aside)


def claim_folder(target: Path, kind: Kind, *, overwrite: bool = False, reuse: bool = False) -> Path:
    """Make ``target`` a folder of ``kind`` that a command writes into as it runs (runs, benchmark results,
    experiments, the demo): created with its marker, started afresh (``overwrite``) or continued
    (``reuse``; a folder of ``kind`` from before markers existed gets its marker then).

    Returns:
        ``target``.

    Raises:
        OutputError: as :func:`check_target`, or when the folder cannot be created.
    """
    absolute = _absolute(target)
    if check_target(target, kind, overwrite=overwrite, reuse=reuse) and overwrite:
        _remove_in_two_steps(absolute, target)
    try:
        absolute.mkdir(parents=True, exist_ok=True)
        if not (absolute / MARKER_FILE).is_file():
            write_marker(absolute, kind)
    except OSError as exc:
        raise OutputError(f"{target}: cannot create the folder ({exc.strerror})") from exc
    return target


def discard(target: Path, kind: Kind) -> None:
    """Remove the artefact of ``kind`` at ``target`` (nothing or an empty folder there: nothing to do).

    Raises:
        OutputError: if something other than an artefact of ``kind`` is there.
    """
    if check_target(target, kind, overwrite=True):
        _remove_in_two_steps(_absolute(target), target)


def new_staging(target: Path) -> Path:
    """Create the hidden sibling folder in which ``target``'s content is built; see :func:`swap_into_place`."""
    absolute = _absolute(target)
    staging = claim_sibling(absolute, "partial")
    try:
        absolute.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        release(staging)
        raise OutputError(f"{target}: cannot create a folder beside it to write in ({exc.strerror})") from exc
    return staging


def discard_staging(staging: Path) -> None:
    """Remove a staging folder from :func:`new_staging` (an aborted write)."""
    release(staging)


def swap_into_place(staging: Path, target: Path, kind: Kind, *, overwrite: bool = False) -> None:
    """Rename the finished ``staging`` folder to ``target``.

    ``target`` is checked again first (something may have appeared while ``staging`` was written). An
    artefact being replaced is renamed aside, the new folder renamed in, then the old one deleted, so a
    reader never sees a mix of both. On any refusal or failure ``staging`` is removed and ``target`` is
    as it was.

    Raises:
        OutputError: as :func:`check_target`, or if something appeared at ``target`` meanwhile.
    """
    absolute = _absolute(target)
    try:
        replaces = check_target(target, kind, overwrite=overwrite)
    except BaseException:
        release(staging)
        raise
    aside = claim_sibling(absolute, "old") if replaces else None
    if aside is not None:
        try:
            absolute.rename(aside)
        except OSError as exc:
            release(staging)
            forget(aside)
            raise OutputError(f"{target}: cannot be replaced ({exc.strerror})") from exc
    try:
        # rename(2) replaces nothing but an empty folder: a file or folder that appeared meanwhile is kept.
        staging.rename(absolute)
    except OSError as exc:
        release(staging)
        if aside is not None:
            forget(aside)
            if not os.path.lexists(absolute):
                aside.rename(absolute)
        raise OutputError(
            f"{target}: {describe(absolute)} appeared there while omnimaint was writing; nothing was replaced"
        ) from exc
    forget(staging)
    if aside is not None:
        release(aside)


@contextmanager
def staged_folder(target: Path, kind: Kind, *, overwrite: bool = False) -> Iterator[Path]:
    """Build ``target``'s content in a hidden sibling folder (yielded) and swap it into place on a clean
    exit; a folder of a marker kind gets its marker. On an exception nothing appears at ``target``.

    Raises:
        OutputError: as :func:`check_target` (before the body runs, and again at the swap).
    """
    check_target(target, kind, overwrite=overwrite)
    staging = new_staging(target)
    try:
        yield staging
        if kind.manifest == MARKER_FILE:
            write_marker(staging, kind)
    except BaseException:
        release(staging)
        raise
    swap_into_place(staging, target, kind, overwrite=overwrite)
