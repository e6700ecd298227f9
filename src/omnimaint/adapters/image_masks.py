"""Telling defect masks from images in an image folder, and pairing each mask with its image.

Published defect sets put pixel masks next to their images in a few ways; a file is a mask when

- its name ends in ``_mask``, ``_gt`` or ``_label`` (any case, any image suffix): ``0001_mask.png``,
  KolektorSDD2's ``10000_GT.png``, DAGM's ``0001_label.PNG``;
- it lies in a folder named ``masks``, ``mask``, ``ground_truth``, ``groundtruth``, ``gt``, ``labels`` or
  ``label`` (``train/masks/7.png`` for ``train/images/7.jpg``; DAGM's ``Train/Label/``);
- it is a lossless, single-channel, two-valued image (``.png``, ``.bmp``, ``.tif``) with the same name as a
  JPEG beside it (the magnetic-tile set's ``Imgs/exp1_num_4727.jpg`` + ``exp1_num_4727.png``). A
  grey-level image of that name that is not two-valued stays an image, with a warning.

A mask's image has its name without the mask suffix and lies in the mask's folder, else (for a mask in a
mask folder) in that folder's parent or in a sibling of it (``images/`` beside ``masks/``), the nearest
first. A mask without an image, a mask that fits two images, and an image with two masks are errors naming
the files: evaluating pixels against the wrong mask is worse than not evaluating them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image, UnidentifiedImageError

from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)

MASK_NAME_SUFFIXES: Final = ("_mask", "_gt", "_label")
MASK_FOLDERS: Final = frozenset({"masks", "mask", "ground_truth", "groundtruth", "gt", "labels", "label"})
LOSSLESS_SUFFIXES: Final = frozenset({".png", ".bmp", ".tif", ".tiff"})
JPEG_SUFFIXES: Final = frozenset({".jpg", ".jpeg"})
_SINGLE_CHANNEL_MODES: Final = frozenset({"1", "L", "P", "I", "I;16"})


@dataclass(frozen=True)
class MaskPairing:
    """Images and masks of a folder, paired.

    Attributes:
        images: The files that are images (not masks), in the given order.
        masks: Image → its mask, for the images that have one.
        conventions: How the masks were recognised, for the import summary (``<name>_mask.png``,
            ``masks/ folder``, ``<name>.png beside <name>.jpg``).
    """

    images: tuple[Path, ...]
    masks: dict[Path, Path]
    conventions: tuple[str, ...]


def mask_name_suffix(stem: str) -> str | None:
    """The mask suffix a file stem ends with (``_mask``, ``_gt``, ``_label``, any case), or ``None``."""
    lowered = stem.lower()
    for suffix in MASK_NAME_SUFFIXES:
        if lowered.endswith(suffix) and len(stem) > len(suffix):
            return stem[-len(suffix) :]
    return None


def _mask_folder_index(relative: Path) -> int | None:
    """Position of the nearest mask folder among the folders of ``relative``, or ``None``."""
    folders = relative.parts[:-1]
    for index in range(len(folders) - 1, -1, -1):
        if folders[index].lower() in MASK_FOLDERS:
            return index
    return None


def is_two_valued(path: Path) -> bool:
    """Whether an image is single-channel with at most two distinct values (a binary mask).

    Raises:
        DatasetError: if the file is not a readable image.
    """
    try:
        with Image.open(path) as image:
            if image.mode not in _SINGLE_CHANNEL_MODES:
                return False
            return np.unique(np.asarray(image)).size <= 2
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from exc


def _beside_a_jpeg(path: Path, stems: dict[tuple[Path, str], list[Path]]) -> Path | None:
    """The JPEG with the same name in the same folder, if ``path`` is a lossless file that could be its mask."""
    if path.suffix.lower() not in LOSSLESS_SUFFIXES:
        return None
    jpegs = [p for p in stems[(path.parent, path.stem)] if p.suffix.lower() in JPEG_SUFFIXES]
    return jpegs[0] if jpegs else None


def pair_masks(root: Path, files: Sequence[Path]) -> MaskPairing:
    """Separate the masks from the images among ``files`` (image files under ``root``) and pair them.

    Raises:
        DatasetError: naming the files, for a mask without an image, a mask that fits two images, an image
            with two masks, or a file that cannot be read while checking whether it is a mask.
    """
    stems: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    for path in files:
        stems[(path.parent, path.stem)].append(path)
    masks: dict[Path, tuple[str, str]] = {}  # mask → (image stem it belongs to, convention)
    beside: dict[Path, Path] = {}
    for path in files:
        relative = path.relative_to(root)
        suffix = mask_name_suffix(path.stem)
        folder = _mask_folder_index(relative)
        key = path.stem[: -len(suffix)] if suffix else path.stem
        if folder is not None:
            masks[path] = (key, f"{relative.parts[folder].lower()}/ folder")
        elif suffix is not None:
            masks[path] = (key, f"<name>{suffix.lower()}{path.suffix.lower()}")
        elif (jpeg := _beside_a_jpeg(path, stems)) is not None:
            if is_two_valued(path):
                masks[path] = (key, f"<name>{path.suffix.lower()} beside <name>{jpeg.suffix.lower()}")
                beside[path] = jpeg
            else:
                logger.warning(
                    "%s: has the name of %s beside it but is not a two-valued mask; imported as an image", path, jpeg
                )
    images = tuple(path for path in files if path not in masks)
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for image in images:
        by_stem[image.stem].append(image)
    paired: dict[Path, Path] = {}
    for mask, (key, _) in masks.items():
        image = beside.get(mask) or _image_of(root, mask, key, by_stem[key])
        if image in paired:
            raise DatasetError(f"{image}: two masks, {paired[image]} and {mask}; keep one mask per image")
        paired[image] = mask
    conventions = tuple(sorted({convention for _, convention in masks.values()}))
    return MaskPairing(images=images, masks=paired, conventions=conventions)


def _image_of(root: Path, mask: Path, name: str, candidates: list[Path]) -> Path:
    """The image a mask belongs to among the images of the same name, nearest place first."""
    relative = mask.relative_to(root)
    folder = _mask_folder_index(relative)
    places: list[list[Path]] = [[c for c in candidates if c.parent == mask.parent]]
    if folder is not None:
        before, after = relative.parts[:folder], relative.parts[folder + 1 : -1]
        places.append([c for c in candidates if c.parent.relative_to(root).parts == (*before, *after)])
        places.append(
            [
                c
                for c in candidates
                if len(parts := c.parent.relative_to(root).parts) == len(relative.parts) - 1
                and parts[:folder] == before
                and parts[folder + 1 :] == after
                and parts[folder].lower() not in MASK_FOLDERS
            ]
        )
    for found in places:
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DatasetError(
                f"{mask}: a mask that fits {len(found)} images ({found[0]}, {found[1]}); keep one image of that name"
            )
    where = "beside it" if folder is None else f"beside it, above its '{relative.parts[folder]}' folder or beside that"
    raise DatasetError(f"{mask}: a mask without an image (no image {name}.* {where}); add the image or remove the mask")
