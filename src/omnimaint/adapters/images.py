"""Labelled image folders (NEU-DET, MVTec-AD, class folders) → canonical dataset of frames with labelled states.

The layouts, and how masks are told from images, are in :mod:`omnimaint.adapters.image_layouts` and
:mod:`omnimaint.adapters.image_masks`. Images are copied byte for byte into ``frames/<asset>/cam0/``; each
gets its own timestamp (``2000-01-01T00:00Z`` + i s in natural path order) and a ``failures`` row (component
``surface``, fault type = class, ``normal`` for good parts). Pascal VOC boxes (NEU's ``ANNOTATIONS/``,
matched by file name) and masks are recorded per frame in the sidecar ``annotations/images.json``; masks are
copied under ``annotations/masks/``, where pixel-level evaluation finds them. See ``docs/adapters.md``.
"""

from __future__ import annotations

import json
import logging
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from omnimaint.adapters.clock import synthetic_times
from omnimaint.adapters.image_layouts import (
    LAYOUTS,
    ImageLayout,
    ImageSurvey,
    LabelledImage,
    detect_layout,
    folder_name,
    survey_images,
)
from omnimaint.adapters.sources import path_segment
from omnimaint.data import CameraInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.errors import DatasetError
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)

ASSET_TYPE: Final = "surface_inspection"
CAMERA: Final = "cam0"
COMPONENT: Final = "surface"
SIDECAR: Final = "annotations/images.json"
"""Sidecar (inside the dataset) with each frame's source file and, where published, boxes or mask."""

__all__ = [
    "LAYOUTS",
    "SIDECAR",
    "ImageLayout",
    "ImageSurvey",
    "LabelledImage",
    "detect_layout",
    "import_images",
    "read_voc_boxes",
    "summarize_import",
    "survey_images",
]


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            image.verify()
            return image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
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
        for name in ("xmin", "ymin", "xmax", "ymax"):
            text = item.findtext(f"bndbox/{name}")
            try:
                box[name] = int(float(text or ""))
            except ValueError:
                raise DatasetError(f"{path}: object {number}: bndbox/{name} is {text!r}, not a number") from None
        boxes.append(box)
    width, height = root.findtext("size/width"), root.findtext("size/height")
    size = [int(width), int(height)] if width and height and width.isdigit() and height.isdigit() else None
    return {"size": size, "boxes": boxes}


def _asset_metadata(layout: str, asset_id: str, images: list[LabelledImage]) -> str:
    meta: dict[str, object] = {"layout": layout, "images": sum(image.asset_id == asset_id for image in images)}
    if layout == "mvtec":
        category, _, split = asset_id.rpartition("-")
        meta.update({"category": category, "split": split})
    return json.dumps(meta)


def _read_sizes(images: list[LabelledImage], advance: Callable[[int], None]) -> dict[Path, tuple[int, int]]:
    """Every image's and mask's size from its header; a mask must have its image's size."""
    sizes: dict[Path, tuple[int, int]] = {}
    for image in images:
        sizes[image.path] = _image_size(image.path)
        if image.mask is not None:
            sizes[image.mask] = _image_size(image.mask)
            if sizes[image.mask] != sizes[image.path]:
                (mw, mh), (iw, ih) = sizes[image.mask], sizes[image.path]
                raise DatasetError(
                    f"{image.mask}: a mask of {mw}×{mh} pixels for {image.path.name}, which is {iw}×{ih}; "
                    "a mask must have its image's size"
                )
        advance(1)
    return sizes


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
        The written dataset, opened. Its provenance holds the layout and the counts of the survey
        (:meth:`ImageSurvey.provenance`).

    Raises:
        DatasetError: if there are no images, a class cannot be read, an image, mask or annotation is
            unreadable, or a mask has no image or another size than its image.
        ConfigError: for an unknown layout, or ``asset`` with the MVTec layout.
    """
    survey = survey_images(src, layout, asset)
    images = survey.images
    asset_ids = sorted({image.asset_id for image in images})
    faults = {image.fault_type for image in images}
    with progress_bar("images", 2 * len(images), enabled=show_progress) as advance:
        sizes = _read_sizes(images, advance)  # every header first: a broken file stops the import before writing
        distinct = {sizes[image.path] for image in images}
        width, height = next(iter(distinct)) if len(distinct) == 1 else (None, None)
        manifest = Manifest(
            schema_version=SCHEMA_VERSION,
            name=folder_name(src),
            cameras=(CameraInfo(name=CAMERA, width=width, height=height, asset_types=(ASSET_TYPE,)),),
            components={ASSET_TYPE: (COMPONENT,)},
            fault_types=(("normal",) if "normal" in faults else ()) + tuple(sorted(faults - {"normal"})),
            provenance=describe_provenance(
                source=f"labelled image folder {folder_name(src)}",
                adapter="images",
                source_path=str(src),
                **survey.provenance(),
            ),
        )
        with DatasetWriter(out, manifest, overwrite=overwrite) as writer:
            writer.append(
                "assets",
                pd.DataFrame(
                    {
                        "asset_id": asset_ids,
                        "asset_type": ASSET_TYPE,
                        "metadata": [_asset_metadata(survey.layout, asset_id, images) for asset_id in asset_ids],
                    }
                ),
            )
            frames: list[dict[str, object]] = []
            sidecar: list[dict[str, object]] = []
            for asset_id in asset_ids:
                members = [image for image in images if image.asset_id == asset_id]
                for image, ts in zip(members, synthetic_times(np.arange(len(members)), "s"), strict=True):
                    frame_path = f"frames/{path_segment(asset_id)}/{CAMERA}/{image.relative.as_posix()}"
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
                    sidecar.append(
                        _annotation(src, image, frame_path, sizes[image.path], survey.annotation_files, writer)
                    )
                    advance(1)
            writer.blob_path(SIDECAR).write_text(json.dumps(sidecar, indent=1) + "\n", encoding="utf-8")
            table = pd.DataFrame(frames)
            writer.append("frames", table[["asset_id", "ts", "camera", "path"]])
            failures = table[["asset_id", "ts"]].assign(component=COMPONENT, fault_type=table["fault"])
            writer.append("failures", failures)
            dataset = writer.commit()
    logger.info(
        "converted %d images from %s into %d assets (%s layout)", len(images), src, len(asset_ids), survey.layout
    )
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
        # The mask keeps its own encoding; named after the frame so that frame → mask needs no lookup table.
        relative = image.relative.with_name(f"{image.relative.stem}_mask{image.mask.suffix.lower()}")
        mask_path = f"annotations/masks/{path_segment(image.asset_id)}/{relative.as_posix()}"
        shutil.copyfile(image.mask, writer.blob_path(mask_path))
        note["mask"] = mask_path
        note["mask_source_file"] = image.mask.relative_to(src).as_posix()
    return note


def summarize_import(provenance: dict[str, Any]) -> list[str]:
    """Lines saying what an image import found, from its dataset's provenance (the CLI prints them).

    Example: ``layout: mvtec (1 categories, 2 classes, 6 images, 1 masks: ground_truth/<class>/<name>_mask.png)``.
    """
    counts = [f"{provenance['categories']:,} categories"] if "categories" in provenance else []
    counts += [f"{provenance.get('classes', 0):,} classes", f"{provenance.get('images', 0):,} images"]
    masks = provenance.get("masks", 0)
    conventions = provenance.get("mask_conventions", [])
    counts.append(f"{masks:,} masks" + (f": {', '.join(conventions)}" if masks and conventions else ""))
    lines = [f"layout: {provenance.get('layout', '?')} ({', '.join(counts)})"]
    for key, examples, what in (
        ("stray_images", "stray_examples", "set aside: {:,} images outside the layout"),
        ("ignored_files", "ignored_examples", "ignored: {:,} files that are not images"),
    ):
        count = provenance.get(key, 0)
        if count:
            shown = ", ".join(provenance.get(examples, [])) + (" …" if count > 3 else "")
            lines.append(f"{what.format(count)} ({shown})")
    if provenance.get("followed_links"):
        count = len(provenance["followed_links"])
        lines.append(f"followed {count} link{'s' if count != 1 else ''} out of the source folder")
    return lines
