"""The files under a source folder, as the folder importers (``cwru``, ``images``) see them.

Symbolic links are followed, to folders and to files, including links that leave the folder: a data folder
assembled from links (``cwru/12k_DE -> /mnt/nas/cwru/12k_DE``) is how users combine data kept on shared
storage, and the user chose the folder. What keeps the walk finite and honest:

- each real folder is read once, so a second link to a folder already read, or a link to a folder that
  contains the source folder (``..``, ``~``, ``/``: a loop, or the whole disk), is skipped with a warning;
  two links to one file give one file;
- a dangling link is an error naming it and its target (an unmounted share is missing data, not nothing);
- only regular files are listed (a link to a device or a pipe is skipped), and hidden entries
  (``.DS_Store``, the ``._name.jpg`` resource forks macOS writes on shared drives, ``.git``) are set aside.

Paths are given as seen under the source folder (through the links), so asset ids and relative paths keep
the names the user sees; links that leave the folder are listed with their targets for the provenance.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceTree:
    """What a walk of a source folder found.

    Attributes:
        root: The source folder as given.
        files: Regular files, as paths under ``root``, sorted by relative path.
        hidden: Hidden entries set aside (files and folders), relative to ``root``.
        external_links: Links that lead out of ``root``: relative path → resolved target.
        skipped: Links not followed (a folder or file already read, or a folder containing ``root``),
            relative to ``root``.
    """

    root: Path
    files: tuple[Path, ...]
    hidden: tuple[Path, ...] = ()
    external_links: dict[str, str] = field(default_factory=dict)
    skipped: tuple[Path, ...] = ()

    def relative(self, path: Path) -> Path:
        """``path`` relative to the source folder."""
        return path.relative_to(self.root)


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def walk_source(root: Path) -> SourceTree:
    """List the regular files under ``root``, following symbolic links once each (see the module docstring).

    Raises:
        DatasetError: if ``root`` is not a folder, a folder cannot be read, or a link under it is dangling.
    """
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    real_root = root.resolve()
    seen_folders: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    files: list[Path] = []
    hidden: list[Path] = []
    skipped: list[Path] = []
    external: dict[str, str] = {}
    pending = [root]
    while pending:
        folder = pending.pop()
        identity = _identity(folder.stat())
        if identity in seen_folders:
            logger.warning("%s: the same folder as one already read (through a link); not read twice", folder)
            skipped.append(folder.relative_to(root))
            external.pop(folder.relative_to(root).as_posix(), None)
            continue
        seen_folders.add(identity)
        subfolders: list[Path] = []
        for entry in _entries(folder):
            path = folder / entry.name
            relative = path.relative_to(root)
            if entry.name.startswith("."):
                hidden.append(relative)
                continue
            if entry.is_symlink():
                target = Path(os.path.realpath(path))
                if not target.exists():
                    raise DatasetError(
                        f"{path}: a symbolic link to {path.readlink()}, which does not exist (unmounted drive, or "
                        "moved data?); restore the target or remove the link"
                    )
                if not target.is_relative_to(real_root):
                    if entry.is_dir() and real_root.is_relative_to(target):
                        logger.warning("%s: a link to %s, which contains the source folder; not followed", path, target)
                        skipped.append(relative)
                        continue
                    external[relative.as_posix()] = str(target)
            if entry.is_dir():
                subfolders.append(path)
            elif entry.is_file():
                file_identity = _identity(entry.stat())
                if file_identity in seen_files:
                    logger.warning("%s: the same file as one already listed (through a link); taken once", path)
                    skipped.append(relative)
                    external.pop(relative.as_posix(), None)
                    continue
                seen_files.add(file_identity)
                files.append(path)
            else:
                logger.warning("%s: not a regular file or folder (device, pipe or socket); skipped", path)
                skipped.append(relative)
        pending.extend(reversed(subfolders))  # depth first, in name order
    if external:
        logger.info("followed links out of %s: %s", root, ", ".join(f"{k} -> {v}" for k, v in external.items()))
    return SourceTree(
        root=root,
        files=tuple(sorted(files, key=lambda p: p.relative_to(root).as_posix())),
        hidden=tuple(hidden),
        external_links=external,
        skipped=tuple(skipped),
    )


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as listing:
            return sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from exc
