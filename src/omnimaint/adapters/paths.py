"""Which files an importer may read, and safe names for the files it writes.

A mapping file is data that may come from someone else: the files it names (sources, frame images) are
read only inside the mapping's folder, or folders the user allows, after ``..`` and symlinks are resolved
(:class:`SourceRoots`). Names read from sources (asset ids, cameras, file names) become blob paths only
through :func:`omnimaint.adapters.sources.path_segment`, so that no name leads a write out of the dataset.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from omnimaint.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class SourceRoots:
    """The folders a mapping's files may be read from: the mapping file's folder, plus any the user allows.

    A path (relative to ``base``, or absolute) is accepted only if it lies in a root after ``..`` and every
    symlink are resolved, so neither ``../../etc/passwd`` nor a link in the folder leads out. A refused path
    is never opened, so an error cannot tell whether it exists or echo what it holds.

    Attributes:
        base: Folder relative paths start from (the mapping file's folder, as given).
        roots: Resolved folders paths must stay in; the first is ``base``.
    """

    base: Path
    roots: tuple[Path, ...]

    @classmethod
    def of_mapping(cls, mapping_file: Path, allowed: Sequence[Path] = ()) -> SourceRoots:
        """The roots of ``mapping_file``: its folder, plus ``allowed`` folders (``--allow-root``).

        Raises:
            ConfigError: if an allowed root is not a folder.
        """
        base = mapping_file.parent
        roots = [Path(os.path.realpath(base))]
        for folder in allowed:
            if not folder.is_dir():
                raise ConfigError(f"--allow-root {folder}: not a folder")
            roots.append(Path(os.path.realpath(folder)))
        return cls(base, tuple(roots))

    def describe(self) -> str:
        """``"the mapping's folder /x"`` (and the allowed roots)."""
        extra = f" or the allowed roots {[str(r) for r in self.roots[1:]]}" if len(self.roots) > 1 else ""
        return f"the mapping's folder {self.roots[0]}{extra}"

    def resolve(self, written: str, where: str) -> Path:
        """The real path of a regular file named in the mapping (or in a source row).

        Args:
            written: The path as written (relative to ``base``, or absolute).
            where: What named it, for errors (``"m.yaml: field 'sources.0.file'"``, or a file/line/column).

        Returns:
            The path with ``..`` and symlinks resolved: read the file through it.

        Raises:
            DatasetError: if the path is empty, holds a NUL byte, leads outside every root, or does not name a
                regular file.
        """
        shown = shown_path(written)
        if not written.strip():
            raise DatasetError(f"{where}: empty path")
        if "\x00" in written:
            raise DatasetError(f"{where}: path {shown} holds a NUL byte")
        candidate = Path(written)
        real = Path(os.path.realpath(candidate if candidate.is_absolute() else self.base / candidate))
        if not any(real.is_relative_to(root) for root in self.roots):
            raise DatasetError(
                f"{where}: path {shown} leads outside {self.describe()} once '..' and symlinks are resolved, "
                "so it is not read; move the file there or allow its folder with --allow-root DIR"
            )
        try:
            mode = real.stat().st_mode
        except FileNotFoundError:
            raise DatasetError(f"{where}: file {shown} not found (relative paths start at {self.base})") from None
        except OSError as exc:
            raise DatasetError(f"{where}: file {shown} cannot be opened ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise DatasetError(f"{where}: {shown} is not a regular file")
        return real


def shown_path(written: str, limit: int = 120) -> str:
    """A path as written, quoted and escaped for a one-line message (cut after ``limit`` characters)."""
    if len(written) <= limit:
        return repr(written)
    return f"{written[:limit]!r}… ({len(written):,} characters)"
