"""Decoding camera frames from the dataset's blob folder, with a bounded in-memory cache.

A frame is read only from inside the dataset folder (after following symbolic links) and only as one of
the raster formats of :data:`omnimaint.data.blobs.IMAGE_FORMATS`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from omnimaint.data.blobs import IMAGE_ERRORS, IMAGE_FORMATS, BlobFolder
from omnimaint.data.validation import one_line
from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)


class FrameStore:
    """Loads frames as ``(size, size, 3)`` uint8 RGB arrays, caching up to ``cache_bytes`` of them.

    Args:
        root: Dataset folder that frame paths are relative to.
        size: Side of the square the frames are resized to when they differ.
        cache_bytes: Decoded frames kept in memory (0 disables the cache).
    """

    def __init__(self, root: Path, size: int, cache_bytes: int = 1 << 30) -> None:
        self.root = root
        self._folder = BlobFolder(root)
        self.size = size
        self.cache_bytes = cache_bytes
        self._cache: dict[str, np.ndarray] = {}
        self._cached_bytes = 0

    def load(self, relative_path: str) -> np.ndarray:
        """The frame at ``relative_path`` as a ``(size, size, 3)`` uint8 array.

        Raises:
            DatasetError: if the path leads outside the dataset folder, or the file is missing or is not a
                readable image.
        """
        cached = self._cache.get(relative_path)
        if cached is not None:
            return cached
        path = self._folder.locate(relative_path)
        if path is None:
            raise DatasetError(f"{self.root}: frame path {relative_path!r} leads outside the dataset folder")
        try:
            with Image.open(path, formats=IMAGE_FORMATS) as image:
                rgb = image.convert("RGB")
                if rgb.size != (self.size, self.size):
                    rgb = rgb.resize((self.size, self.size), Image.Resampling.BILINEAR)
                pixels = np.asarray(rgb, dtype=np.uint8)
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: frame file is missing") from exc
        except IMAGE_ERRORS as exc:
            raise DatasetError(f"{path}: not a readable image ({one_line(exc)})") from exc
        if self._cached_bytes + pixels.nbytes <= self.cache_bytes:
            self._cache[relative_path] = pixels
            self._cached_bytes += pixels.nbytes
        return pixels
