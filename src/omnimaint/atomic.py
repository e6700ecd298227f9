"""Folders that appear whole or not at all: write into a hidden sibling, then rename into place."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from omnimaint.errors import OmnimaintError


def staging_path(target: Path) -> Path:
    """A hidden sibling of ``target`` to build it in (same file system, so the final rename is atomic)."""
    return target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"


def swap_into_place(staging: Path, target: Path, *, overwrite: bool) -> None:
    """Rename ``staging`` to ``target``; an existing ``target`` is replaced only with ``overwrite``.

    The old folder is first renamed aside, then removed, so a reader never sees a mix of both.
    """
    if not target.exists():
        staging.rename(target)
        return
    if not overwrite:
        shutil.rmtree(staging, ignore_errors=True)
        raise OmnimaintError(f"{target}: already exists (use --overwrite, or overwrite=True, to replace it)")
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
