"""Where the labelled images of an image folder are, and their classes: the three layouts.

* **mvtec** (MVTec-AD): ``<category>/{train,test}/<class>/*.png`` (``good`` = normal; detected by a
  ``good`` class or a ``ground_truth`` folder beside the splits), one asset per category
  and split (``bottle-train``, ``bottle-test``); ``ground_truth/<class>/<name>_mask.png`` masks are paired
  with their test images.
* **by_folder**: images in several folders; the class is the nearest folder that is not a plain container
  (``Imgs``, ``images``, ``JPEGImages`` …), so ``MT_Blowhole/Imgs/exp1.jpg`` is of class ``MT_Blowhole``.
* **by_name** (NEU surface defects): images in one folder, class = file-name prefix before the last ``_``
  (``crazing_12.jpg`` → ``crazing``).

Outside MVTec, masks beside the images are told apart and paired with them by
:mod:`omnimaint.adapters.image_masks`. Files that are neither images nor annotations are ignored (with a
note), and when images sit in subfolders, images directly in the source folder (a preview, a logo) are set
aside with a warning. The folder is walked with :func:`omnimaint.adapters.source_tree.walk_source` (links
followed once).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from omnimaint.adapters.image_masks import mask_name_suffix, pair_masks
from omnimaint.adapters.source_tree import SourceTree, walk_source
from omnimaint.errors import ConfigError, DatasetError

logger = logging.getLogger(__name__)

NORMAL_CLASSES: Final = frozenset({"good", "normal", "ok"})
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
ANNOTATION_SUFFIXES: Final = frozenset({".xml"})
CONTAINER_FOLDERS: Final = frozenset({"imgs", "img", "images", "image", "jpegimages", "pictures", "photos", "pics"})
"""Folder names that hold images without naming a class (the class is the folder above)."""
MVTEC_SPLITS: Final = ("train", "test")
MVTEC_MASKS: Final = "ground_truth"

Layout = Literal["by_name", "by_folder", "mvtec"]
ImageLayout = Literal["auto", "by_name", "by_folder", "mvtec"]
LAYOUTS: Final = ("auto", "by_name", "by_folder", "mvtec")


@dataclass(frozen=True)
class LabelledImage:
    """One source image and where it goes.

    Attributes:
        path: Source file.
        asset_id: Asset it belongs to.
        relative: Path under the asset's image root (kept under ``frames/<asset>/cam0/``).
        label: Class as published (``crazing``, ``good``, ``broken_large``).
        mask: Its defect mask, if one was found.
    """

    path: Path
    asset_id: str
    relative: Path
    label: str
    mask: Path | None = None

    @property
    def fault_type(self) -> str:
        return "normal" if self.label.lower() in NORMAL_CLASSES else self.label


@dataclass(frozen=True)
class ImageSurvey:
    """What an image folder holds, in the layout used.

    Attributes:
        layout: The layout used (given or detected).
        images: The labelled images, in deterministic order, with their masks.
        mask_conventions: How the masks were recognised (for the summary).
        ignored: Files that are neither images nor annotations, relative to the source.
        strays: Images set aside because they sit outside the layout (a top-level preview), relative.
        annotation_files: Pascal VOC files found, by file stem.
        external_links: Links followed out of the source folder: relative path → target.
    """

    layout: Layout
    images: list[LabelledImage]
    mask_conventions: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    strays: tuple[str, ...] = ()
    annotation_files: dict[str, Path] = field(default_factory=dict)
    external_links: dict[str, str] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        """The survey's counts, for the dataset's provenance and the CLI summary."""
        assets = sorted({image.asset_id for image in self.images})
        record: dict[str, Any] = {
            "layout": self.layout,
            "classes": len({image.label for image in self.images}),
            "images": len(self.images),
            "masks": sum(image.mask is not None for image in self.images),
            "mask_conventions": list(self.mask_conventions),
            "ignored_files": len(self.ignored),
            "ignored_examples": list(self.ignored[:3]),
            "stray_images": len(self.strays),
            "stray_examples": list(self.strays[:3]),
            "followed_links": self.external_links,
        }
        if self.layout == "mvtec":
            record["categories"] = len({asset.rpartition("-")[0] for asset in assets})
        return record


def natural_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``crazing_2`` before ``crazing_10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", path.as_posix()) if part
    )


def folder_name(src: Path) -> str:
    """The name of the source folder as the user sees it (``.`` and ``..`` resolved)."""
    name = src.absolute().name
    return src.resolve().name if name in ("", ".", "..") else name


def _of_kind(tree: SourceTree, suffixes: frozenset[str]) -> list[Path]:
    return [path for path in tree.files if path.suffix.lower() in suffixes]


def _is_mvtec_category(folder: Path) -> bool:
    """A ``train``/``test`` folder with a ``good`` class, or beside ``ground_truth`` (a segmentation set's
    ``train/images`` + ``train/masks`` is not MVTec)."""
    splits = [folder / split for split in MVTEC_SPLITS if (folder / split).is_dir()]
    return bool(splits) and ((folder / MVTEC_MASKS).is_dir() or any((split / "good").is_dir() for split in splits))


def _mvtec_categories(src: Path) -> list[Path]:
    if _is_mvtec_category(src):
        return [src]
    return sorted(c for c in src.iterdir() if c.is_dir() and not c.name.startswith(".") and _is_mvtec_category(c))


def _flat_layout(src: Path, images: Sequence[Path]) -> Layout:
    return "by_folder" if len({path.parent for path in images if path.parent != src}) > 1 else "by_name"


def detect_layout(src: Path) -> Layout:
    """Guess the layout: MVTec when ``train``/``test`` folders exist (in ``src`` or its children), by folder
    when images (masks aside) sit in several folders, else by name.

    Raises:
        DatasetError: if ``src`` is not a folder, or its masks cannot be paired.
    """
    tree = walk_source(src)
    if _mvtec_categories(src):
        return "mvtec"
    return _flat_layout(src, pair_masks(src, _of_kind(tree, IMAGE_SUFFIXES)).images)


def _class_from_name(path: Path) -> str:
    stem = path.stem
    if "_" not in stem or not stem.rsplit("_", 1)[0]:
        raise DatasetError(f"{path}: cannot take a class from the file name (expected '<class>_<n>', e.g. crazing_12)")
    return stem.rsplit("_", 1)[0]


def _class_from_folder(path: Path, relative: Path) -> str:
    folders = relative.parts[:-1]
    label = next((name for name in reversed(folders) if name.lower() not in CONTAINER_FOLDERS), None)
    if label is None:
        raise DatasetError(
            f"{path}: no class folder above it in the by-folder layout ({'/'.join(folders)!r} names a container, "
            "not a class); put the images in <class>/ folders, or use --layout by_name"
        )
    return label


def survey_images(src: Path, layout: ImageLayout = "auto", asset: str | None = None) -> ImageSurvey:
    """Find the labelled images (and their masks) under ``src`` in the given or detected layout.

    Raises:
        DatasetError: if ``src`` holds no images, a file name or folder does not give a class, two images
            would get the same frame path, or masks cannot be paired.
        ConfigError: for an unknown layout, or ``asset`` with the MVTec layout (its assets are named by
            category and split).
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown image layout {layout!r}; layouts are {', '.join(LAYOUTS)}")
    if not src.is_dir():
        raise DatasetError(f"{src}: not a folder of images")
    tree = walk_source(src)
    chosen: Layout
    if (layout == "auto" and _mvtec_categories(src)) or layout == "mvtec":
        if asset is not None:
            raise ConfigError(
                "--asset applies to the by_name and by_folder layouts; MVTec assets are <category>-<split>"
            )
        chosen, (images, strays) = "mvtec", _mvtec_images(src, tree)
        conventions: tuple[str, ...] = (
            (f"{MVTEC_MASKS}/<class>/<name>_mask.png",) if any(i.mask for i in images) else ()
        )
    else:
        pairing = pair_masks(src, _of_kind(tree, IMAGE_SUFFIXES))
        nested = [path for path in pairing.images if path.parent != src]
        stray_paths = [path for path in pairing.images if path.parent == src] if nested else []
        kept = nested or list(pairing.images)
        chosen = _flat_layout(src, kept) if layout == "auto" else layout
        images = [_flat_image(src, path, chosen, asset or folder_name(src), pairing.masks.get(path)) for path in kept]
        images.sort(key=lambda image: natural_key(image.path.relative_to(src)))
        _refuse_clashes(images)
        strays = [path.relative_to(src).as_posix() for path in stray_paths]
        conventions = pairing.conventions if any(image.mask for image in images) else ()
    if not images:
        raise DatasetError(f"{src}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in layout {chosen!r}")
    if strays:
        logger.warning(
            "%s: %d images outside the %s layout set aside: %s", src, len(strays), chosen, ", ".join(strays[:5])
        )
    known = IMAGE_SUFFIXES | ANNOTATION_SUFFIXES
    ignored = tuple(tree.relative(path).as_posix() for path in tree.files if path.suffix.lower() not in known)
    if ignored:
        logger.info("%s: ignored %d files that are not images: %s", src, len(ignored), ", ".join(ignored[:10]))
    annotations = {path.stem: path for path in _of_kind(tree, ANNOTATION_SUFFIXES)}
    return ImageSurvey(chosen, images, conventions, ignored, tuple(strays), annotations, tree.external_links)


def _refuse_clashes(images: list[LabelledImage]) -> None:
    clashes = pd.Series([(image.asset_id, image.relative) for image in images], dtype=object).duplicated().to_numpy()
    if clashes.any():
        twice = images[int(np.flatnonzero(clashes)[0])]
        raise DatasetError(
            f"{twice.path}: another image has the same name {twice.relative.name!r}; use --layout by_folder"
        )


def _flat_image(src: Path, path: Path, layout: Layout, asset_id: str, mask: Path | None) -> LabelledImage:
    relative = path.relative_to(src)
    if layout == "by_name":
        return LabelledImage(path, asset_id, Path(relative.name), _class_from_name(path), mask)
    if len(relative.parts) < 2:
        raise DatasetError(f"{path}: in the by-folder layout images sit in <class>/ folders under {src}")
    return LabelledImage(path, asset_id, relative, _class_from_folder(path, relative), mask)


def _mvtec_images(src: Path, tree: SourceTree) -> tuple[list[LabelledImage], list[str]]:
    """The MVTec images with their ground-truth masks, and the images outside any split or mask folder."""
    categories = _mvtec_categories(src)
    if not categories:
        raise DatasetError(f"{src}: not an MVTec-AD folder (no <category>/train or <category>/test folders)")
    images: list[LabelledImage] = []
    masks: dict[tuple[Path, str, str], Path] = {}  # (category, class, image name) → mask
    strays: list[str] = []
    for path in sorted(_of_kind(tree, IMAGE_SUFFIXES), key=natural_key):
        category = next((c for c in categories if path.is_relative_to(c)), None)
        parts = path.relative_to(category).parts if category is not None else ()
        if category is None or len(parts) < 2 or parts[0] not in (*MVTEC_SPLITS, MVTEC_MASKS):
            strays.append(path.relative_to(src).as_posix())
            continue
        if len(parts) < 3:
            raise DatasetError(f"{path}: MVTec images sit in {category / parts[0]}/<class>/ (e.g. good/000.png)")
        if parts[0] == MVTEC_MASKS:
            suffix = mask_name_suffix(path.stem) or ""
            masks[(category, parts[1], path.stem[: len(path.stem) - len(suffix)])] = path
            continue
        relative = Path(*parts[1:])
        images.append(LabelledImage(path, f"{category.name}-{parts[0]}", relative, parts[1]))
    paired: list[LabelledImage] = []
    for image in images:
        category = image.path.parents[len(image.relative.parts)]
        mask = masks.pop((category, image.label, image.path.stem), None)
        paired.append(LabelledImage(image.path, image.asset_id, image.relative, image.label, mask))
    if masks:
        (category, label, name), mask = next(iter(masks.items()))
        raise DatasetError(
            f"{mask}: a mask without an image (no {category.name}/test/{label}/{name}.*); "
            "add the image or remove the mask"
        )
    return paired, strays
