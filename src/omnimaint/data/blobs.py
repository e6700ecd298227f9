"""Files of a dataset folder: kept inside it, and blobs that are recognisable images.

Every file omnimaint reads from a dataset (``dataset.json``, the table files, the frame blobs named by
``frames.path``) is located after following every symbolic link and refused when it lands outside the
dataset folder: a dataset never makes omnimaint read ``/etc/passwd``. Frames are opened only as the
raster formats of :data:`IMAGE_FORMATS` (Pillow is told which), so a blob never reaches a decoder that
runs an external program (EPS) or parses an exotic container.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Final

from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS: Final = ("BMP", "GIF", "JPEG", "PNG", "PPM", "TIFF", "WEBP")
"""Pillow formats a frame blob may have (camera frames, image datasets, sampled video)."""

IMAGE_ERRORS: Final = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
)
"""What Pillow raises on a file that is not a well-formed image (its plugins are not uniform)."""


def is_plain_relative(relative: str) -> bool:
    """Whether ``relative`` is a non-empty relative path without ``..`` (a blob path as a writer records it)."""
    if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
        return False
    return ".." not in relative.split("/")


def is_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (after links); ``False`` also for names the OS refuses (too long)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, after following every symbolic link, lies inside the folder ``root``."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(root))


class BlobFolder:
    """Locates blob paths of one dataset folder, refusing any that leads outside it.

    Resolving a path follows every symbolic link on the way (a linked file, a linked ``frames/A``
    folder); the resolution of parent folders is cached, so checking 100,000 frames costs one system
    call per frame (plus one per parent folder).

    Args:
        root: The dataset folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        # Plain strings, not Path objects: this runs once per frame, and pathlib costs ~3x as much.
        self._prefix = os.path.join(self.root, "")  # noqa: PTH118
        self._parents: dict[str, str] = {}

    def locate(self, relative: str) -> Path | None:
        """Where the blob at ``relative`` really is, or ``None`` when it is not a plain relative path or
        leads outside the folder. The file need not exist."""
        if not is_plain_relative(relative):
            return None
        parent, name = os.path.split(relative)
        real_parent = self._parents.get(parent)
        if real_parent is None:
            real_parent = os.path.realpath(os.path.join(self.root, parent))  # noqa: PTH118
            self._parents[parent] = real_parent
        target = os.path.join(real_parent, name)  # noqa: PTH118
        if os.path.islink(target):  # noqa: PTH114 - False also for names the OS refuses
            target = os.path.realpath(target)
        return Path(target) if target.startswith(self._prefix) else None


def image_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a readable image, or ``None`` when its header is.

    Reads the header only (Pillow's lazy open: format and size, no pixels), so that checking every frame
    of a large dataset stays cheap; a file cut short after its header is found when it is decoded.
    """
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as image:
            width, height = image.size
    except UnidentifiedImageError:
        return f"no {', '.join(IMAGE_FORMATS[:-1])} or {IMAGE_FORMATS[-1]} header"
    except Image.DecompressionBombError:
        return "declares more pixels than any camera frame (a decompression bomb?)"
    except IMAGE_ERRORS as exc:
        return f"unreadable image header ({' '.join(str(exc).split())})"
    if width <= 0 or height <= 0:
        return f"the image has no pixels ({width}x{height})"
    return None
