"""Hidden sibling folders of a target: ``.NAME.partial-…`` (being written) and ``.NAME.old-…`` (a replaced
folder, set aside until its successor is in place).

Each name carries its writer, ``.NAME.partial-HOST-PID-TOKEN``, so that the next command on the same
target can tell the folders of killed writers (removed) from those of live ones (left alone). Folders
named by another host are left alone (its processes cannot be seen from here); names from omnimaint
versions that did not record the writer (``.NAME.partial-<8 hex>``) count as abandoned. When an
interrupted swap left the target missing and its set-aside folder behind, that folder is put back.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import socket
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

State = Literal["partial", "old"]

HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:40] or "localhost"
_WRITER = re.compile(r"(?P<host>.+)-(?P<pid>\d{1,10})-[0-9a-f]{8}")
_LEGACY = re.compile(r"[0-9a-f]{8}")
_owned: set[Path] = set()
"""Sibling folders this process is writing: a dead writer's pid may since have become this process's."""


def claim_sibling(target: Path, state: State) -> Path:
    """A new sibling name of ``target`` (absolute) owned by this process; the caller creates it."""
    path = target.parent / f".{target.name}.{state}-{HOST}-{os.getpid()}-{secrets.token_hex(4)}"
    _owned.add(path)
    return path


def release(path: Path) -> None:
    """Remove ``path`` (a sibling this process claimed), if it is still there, and forget it."""
    shutil.rmtree(path, ignore_errors=True)
    _owned.discard(path)


def forget(path: Path) -> None:
    """Stop owning ``path`` without removing it (renamed into place, or left for :func:`tidy` to put back)."""
    _owned.discard(path)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host; a zombie (killed, not yet reaped) does not."""
    if pid <= 0:
        return False
    if os.name != "posix":
        return True  # no safe liveness probe here: never guess a live writer's folder away
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal test said it exists
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _abandoned(path: Path, writer: str) -> bool:
    match = _WRITER.fullmatch(writer)
    if match is None:
        return _LEGACY.fullmatch(writer) is not None
    if path in _owned or match["host"] != HOST:
        return False
    pid = int(match["pid"])
    return pid == os.getpid() or not process_alive(pid)


def tidy(target: Path) -> None:
    """Remove the abandoned ``.NAME.partial-*`` and ``.NAME.old-*`` folders of ``target`` (absolute); if
    ``target`` is missing, first put back the newest abandoned ``.NAME.old-*`` (an interrupted replacement)."""
    prefix = f".{target.name}."
    try:
        siblings = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    set_aside: list[Path] = []
    for path in siblings:
        state, _, writer = path.name[len(prefix) :].partition("-")
        if state not in ("partial", "old") or path.is_symlink() or not path.is_dir() or not _abandoned(path, writer):
            continue
        if state == "partial":
            logger.info("removing %s, left by an interrupted write", path)
            shutil.rmtree(path, ignore_errors=True)
        else:
            set_aside.append(path)
    if set_aside and not os.path.lexists(target):
        newest = max(set_aside, key=lambda p: p.stat().st_mtime)
        try:
            newest.rename(target)
            set_aside.remove(newest)
            logger.warning("%s: put back the folder that an interrupted replacement set aside", target)
        except OSError as exc:
            logger.warning("%s: cannot put back %s (%s); leaving it", target, newest, exc.strerror)
            return
    for path in set_aside:
        logger.info("removing %s, left by an interrupted replacement", path)
        shutil.rmtree(path, ignore_errors=True)
