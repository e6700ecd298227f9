"""Labelled image folders (NEU-DET style or MVTec-AD style) → canonical dataset of frames with labelled states.

Two layouts are recognised:

* **by name** (NEU surface defects): images anywhere under the source, class = file-name prefix before the
  last ``_`` (``crazing_12.jpg`` → ``crazing``); one asset named after the source folder. Pascal VOC
  ``.xml`` annotations next to them (NEU's ``ANNOTATIONS/``) are kept as a JSON sidecar.
* **MVTec-AD**: ``<category>/{train,test}/<class>/*.png`` (``good`` = normal), one asset per category
  and split (``bottle-train``, ``bottle-test``); ``ground_truth/`` masks are copied and recorded in the sidecar.

A third, **by folder** (``<class>/*.jpg``), takes the class from the parent folder. Images are copied
byte for byte into ``frames/<asset>/cam0/``; each gets its own timestamp (``2000-01-01T00:00Z`` + i s in
natural path order) and a ``failures`` row (component ``surface``, fault type = class, ``normal`` for
good parts). See ``docs/adapters.md``.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from omnimaint.adapters.clock import synthetic_times
from omnimaint.adapters.progress import progress_bar
from omnimaint.data import CameraInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.errors import ConfigError, DatasetError

logger = logging.getLogger(__name__)

ASSET_TYPE: Final = "surface_inspection"
CAMERA: Final = "cam0"
COMPONENT: Final = "surface"
NORMAL_CLASSES: Final = frozenset({"good", "normal", "ok"})
IMAGE_SUFFIXES: Final = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
SIDECAR: Final = "annotations/images.json"
"""Sidecar (inside the dataset) with each frame's source file and, where published, boxes or mask."""
MVTEC_SPLITS: Final = ("train", "test")

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
        mask: MVTec ground-truth mask, if any.
    """

    path: Path
    asset_id: str
    relative: Path
    label: str
    mask: Path | None = None

    @property
    def fault_type(self) -> str:
        return "normal" if self.label.lower() in NORMAL_CLASSES else self.label


def natural_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``crazing_2`` before ``crazing_10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", path.as_posix()) if part
    )


def _images_under(folder: Path, skip: Iterable[Path] = ()) -> list[Path]:
    skipped = tuple(skip)
    return sorted(
        (
            p
            for p in folder.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not any(p.is_relative_to(s) for s in skipped)
        ),
        key=natural_key,
    )


def _class_from_name(path: Path) -> str:
    stem = path.stem
    if "_" not in stem or not stem.rsplit("_", 1)[0]:
        raise DatasetError(f"{path}: cannot take a class from the file name (expected '<class>_<n>', e.g. crazing_12)")
    return stem.rsplit("_", 1)[0]


def _is_mvtec_category(folder: Path) -> bool:
    return any((folder / split).is_dir() for split in MVTEC_SPLITS)


def detect_layout(src: Path) -> Literal["by_name", "by_folder", "mvtec"]:
    """Guess the layout: MVTec when ``train``/``test`` folders exist (in ``src`` or its children), by folder
    when images sit in several class folders, else by name."""
    if _is_mvtec_category(src) or any(_is_mvtec_category(child) for child in src.iterdir() if child.is_dir()):
        return "mvtec"
    parents = {path.parent for path in _images_under(src)}
    return "by_folder" if len(parents) > 1 else "by_name"


def _mvtec_images(src: Path) -> list[LabelledImage]:
    categories = [src] if _is_mvtec_category(src) else sorted(c for c in src.iterdir() if _is_mvtec_category(c))
    images: list[LabelledImage] = []
    for category in categories:
        for split in MVTEC_SPLITS:
            root = category / split
            if not root.is_dir():
                continue
            for path in _images_under(root):
                relative = path.relative_to(root)
                if len(relative.parts) < 2:
                    raise DatasetError(f"{path}: MVTec images sit in {root}/<class>/ (e.g. good/000.png)")
                label = relative.parts[0]
                mask = category / "ground_truth" / label / f"{path.stem}_mask.png"
                images.append(
                    LabelledImage(path, f"{category.name}-{split}", relative, label, mask if mask.is_file() else None)
                )
    return images


def collect_images(
    src: Path, layout: ImageLayout = "auto", asset: str | None = None
) -> tuple[Literal["by_name", "by_folder", "mvtec"], list[LabelledImage]]:
    """Find the labelled images under ``src`` in the given (or detected) layout, in deterministic order.

    Returns:
        The layout used and the images.

    Raises:
        DatasetError: if ``src`` holds no images, or a file name / folder does not give a class.
        ConfigError: if ``asset`` is given for the MVTec layout (its assets are named by category and split).
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown image layout {layout!r}; layouts are {list(LAYOUTS)}")
    if not src.is_dir():
        raise DatasetError(f"{src}: not a folder of images")
    chosen = detect_layout(src) if layout == "auto" else layout
    if chosen == "mvtec":
        if asset is not None:
            raise ConfigError(
                "--asset applies to the by-name and by-folder layouts; MVTec assets are <category>-<split>"
            )
        images = _mvtec_images(src)
    else:
        images = [_flat_image(src, path, chosen, asset or src.name) for path in _images_under(src)]
        clashes = pd.Series([image.relative for image in images], dtype=object).duplicated().to_numpy()
        if clashes.any():
            twice = images[int(np.flatnonzero(clashes)[0])]
            raise DatasetError(
                f"{twice.path}: another image has the same name {twice.relative.name!r}; use --layout by_folder"
            )
    if not images:
        raise DatasetError(f"{src}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in layout {chosen!r}")
    return chosen, images


def _flat_image(src: Path, path: Path, layout: Literal["by_name", "by_folder"], asset_id: str) -> LabelledImage:
    relative = path.relative_to(src)
    if layout == "by_name":
        return LabelledImage(path, asset_id, Path(relative.name), _class_from_name(path))
    if len(relative.parts) < 2:
        raise DatasetError(f"{path}: in the by-folder layout images sit in <class>/ folders under {src}")
    return LabelledImage(path, asset_id, relative, relative.parts[-2])


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DatasetError(f"{path}: not a readable image ({exc})") from exc


def read_voc_boxes(path: Path) -> dict[str, object]:
    """Boxes of a Pascal VOC annotation, in the pixel frame of the image size the file declares.

    Returns:
        ``{"size": [width, height] or None, "boxes": [{"label", "xmin", "ymin", "xmax", "ymax"}, ...]}``.

    Raises:
        DatasetError: naming the file (and line/column for XML syntax errors) or the box field at fault.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise DatasetError(f"{path}: line {line}, column {column + 1}: malformed XML ({exc})") from exc
    boxes: list[dict[str, object]] = []
    for number, item in enumerate(root.iter("object"), start=1):
        box: dict[str, object] = {"label": (item.findtext("name") or "").strip()}
        for field in ("xmin", "ymin", "xmax", "ymax"):
            text = item.findtext(f"bndbox/{field}")
            try:
                box[field] = int(float(text or ""))
            except ValueError:
                raise DatasetError(f"{path}: object {number}: bndbox/{field} is {text!r}, not a number") from None
        boxes.append(box)
    width, height = root.findtext("size/width"), root.findtext("size/height")
    size = [int(width), int(height)] if width and height and width.isdigit() and height.isdigit() else None
    return {"size": size, "boxes": boxes}


def _voc_annotations(src: Path) -> dict[str, Path]:
    return {path.stem: path for path in sorted(src.rglob("*.xml"))}


def _asset_metadata(layout: str, asset_id: str, images: list[LabelledImage]) -> str:
    meta: dict[str, object] = {"layout": layout, "images": sum(image.asset_id == asset_id for image in images)}
    if layout == "mvtec":
        category, _, split = asset_id.rpartition("-")
        meta.update({"category": category, "split": split})
    return json.dumps(meta)


def import_images(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    layout: ImageLayout = "auto",
    asset: str | None = None,
    show_progress: bool = True,
) -> Dataset:
    """Convert a labelled image folder into a canonical dataset at ``out``.

    Args:
        src: The image folder (NEU-DET root, an MVTec-AD root or category, or ``<class>/`` folders).
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        layout: ``auto`` (detect), ``by_name``, ``by_folder`` or ``mvtec``.
        asset: Asset id for the by-name/by-folder layouts (default: the source folder's name).
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if there are no images, a class cannot be read, or an image or annotation is unreadable.
        ConfigError: if ``asset`` is given for the MVTec layout.
    """
    chosen, images = collect_images(src, layout, asset)
    annotations = _voc_annotations(src)
    asset_ids = sorted({image.asset_id for image in images})
    faults = {image.fault_type for image in images}
    with progress_bar("images", 2 * len(images), enabled=show_progress) as advance:
        sizes: dict[Path, tuple[int, int]] = {}
        for image in images:  # read every header first: a broken image stops the import before anything is written
            sizes[image.path] = _image_size(image.path)
            advance(1)
        distinct = set(sizes.values())
        width, height = next(iter(distinct)) if len(distinct) == 1 else (None, None)
        manifest = Manifest(
            schema_version=SCHEMA_VERSION,
            name=src.name,
            cameras=(CameraInfo(name=CAMERA, width=width, height=height, asset_types=(ASSET_TYPE,)),),
            components={ASSET_TYPE: (COMPONENT,)},
            fault_types=(("normal",) if "normal" in faults else ()) + tuple(sorted(faults - {"normal"})),
            provenance=describe_provenance(
                source=f"labelled image folder {src.name}", adapter="images", source_path=str(src), layout=chosen
            ),
        )
        with DatasetWriter(out, manifest, overwrite=overwrite) as writer:
            writer.append(
                "assets",
                pd.DataFrame(
                    {
                        "asset_id": asset_ids,
                        "asset_type": ASSET_TYPE,
                        "metadata": [_asset_metadata(chosen, asset_id, images) for asset_id in asset_ids],
                    }
                ),
            )
            frames: list[dict[str, object]] = []
            sidecar: list[dict[str, object]] = []
            for asset_id in asset_ids:
                members = [image for image in images if image.asset_id == asset_id]
                for image, ts in zip(members, synthetic_times(np.arange(len(members)), "s"), strict=True):
                    frame_path = f"frames/{asset_id}/{CAMERA}/{image.relative.as_posix()}"
                    shutil.copyfile(image.path, writer.blob_path(frame_path))
                    frames.append(
                        {
                            "asset_id": asset_id,
                            "ts": ts,
                            "camera": CAMERA,
                            "path": frame_path,
                            "fault": image.fault_type,
                        }
                    )
                    sidecar.append(_annotation(src, image, frame_path, sizes[image.path], annotations, writer))
                    advance(1)
            writer.blob_path(SIDECAR).write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
            table = pd.DataFrame(frames)
            writer.append("frames", table[["asset_id", "ts", "camera", "path"]])
            failures = table[["asset_id", "ts"]].assign(component=COMPONENT, fault_type=table["fault"])
            writer.append("failures", failures)
            dataset = writer.commit()
    logger.info("converted %d images from %s into %d assets (%s layout)", len(images), src, len(asset_ids), chosen)
    return dataset


def _annotation(
    src: Path,
    image: LabelledImage,
    frame_path: str,
    size: tuple[int, int],
    annotations: dict[str, Path],
    writer: DatasetWriter,
) -> dict[str, object]:
    note: dict[str, object] = {
        "frame": frame_path,
        "source_file": image.path.relative_to(src).as_posix(),
        "class": image.label,
        "image_size": list(size),
    }
    if image.path.stem in annotations:
        voc = read_voc_boxes(annotations[image.path.stem])
        note["boxes"] = voc["boxes"]
        # Boxes are in the pixel frame the annotation declares, which may differ from a resized copy's.
        note["boxes_image_size"] = voc["size"]
    if image.mask is not None:
        mask_path = f"annotations/masks/{image.asset_id}/{image.relative.as_posix()}"
        shutil.copyfile(image.mask, writer.blob_path(mask_path))
        note["mask"] = mask_path
    return note
