"""Single output files (a diagnosis, its card, a heat map): the same rule as for folders, for one file.

A target file may be absent; one that is there is replaced only with ``overwrite`` and only when it is what
the command writes (the caller's ``recognise`` says so: a card by its generator tag, a JSON diagnosis by its
fields); a folder, a symbolic link or anyone else's file is refused with one line saying what is there and
what to do. The bytes are written to a hidden sibling and renamed over the target, so that a reader never
sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from omnimaint.atomic.kinds import describe
from omnimaint.atomic.targets import OutputError


def check_file(target: Path, noun: str, recognise: Callable[[Path], bool], *, overwrite: bool = False) -> None:
    """Refuse ``target`` unless it is absent, or (with ``overwrite``) ``noun`` that omnimaint wrote.

    Args:
        target: The file to be written.
        noun: What the command writes there, for messages ("a diagnosis card").
        recognise: Whether an existing regular file is one the command wrote.
        overwrite: Replace such a file.

    Raises:
        OutputError: if the target is anything else, or its folder cannot hold it.
    """
    if not os.path.lexists(target):
        parent = target.parent if str(target.parent) else Path()
        if os.path.lexists(parent) and not parent.is_dir():
            raise OutputError(f"{target}: cannot be created, {parent} is {describe(parent)}, not a folder")
        return
    if target.is_symlink():
        raise OutputError(
            f"{target}: is a symbolic link; omnimaint writes {noun} only to a real file (remove the link)"
        )
    if not target.is_file():
        raise OutputError(f"{target}: already exists ({describe(target)}); choose another path for {noun}")
    if not overwrite:
        raise OutputError(
            f"{target}: already exists; use --overwrite to replace {noun} omnimaint wrote, or choose another path"
        )
    if not recognise(target):
        raise OutputError(
            f"{target}: is not {noun} omnimaint wrote; omnimaint replaces only its own (choose another path, or move "
            "it away yourself)"
        )


def write_file(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole: into a hidden sibling, then renamed over it (its folder is created)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(staging).replace(target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def head(target: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of ``target`` (empty when it cannot be read)."""
    try:
        with target.open("rb") as file:
            return file.read(size)
    except OSError:
        return b""
