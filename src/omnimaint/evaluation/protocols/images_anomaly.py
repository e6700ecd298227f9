"""Image anomaly detection trained on normal images only: image-level AUROC, and pixel-level AUROC where the
dataset holds defect masks.

* MVTec-AD style data (Bergmann et al., CVPR 2019; any folder with ``train/good`` normal images and a
  ``test/<class>`` folder, imported by the images adapter) with assets ``<category>-train`` and
  ``<category>-test``: train on the ``normal`` images of ``<category>-train``, test on all of
  ``<category>-test``; AUROC per category and their mean.
* Data with a ``normal`` class but no such assets: the stratified split of the image protocols; train on the
  normal training images, test on the whole test split.
* Data without a ``normal`` class (NEU has six defect classes and no defect-free image): the one-class-vs-rest
  protocol of the novelty-detection literature (Ruff et al., ICML 2018): each class in turn plays "normal";
  train on its images in the training split, test on the whole test split (that class = normal, every other
  class = anomaly); AUROC per class and their mean.

Pixel level (MVTec's second figure): where the test images have masks (the images adapter keeps them under
``annotations/masks/`` and lists them in ``annotations/images.json``) and the method gives anomaly maps, the
AUROC of every pixel of the test images, resized as the images are (nearest neighbour), against its mask; a
normal image's pixels are all normal, an anomalous image without a mask is left out of it.

Estimator interface, with ``X`` float32 ``(n, size, size)`` grey levels in ``[0, 1]``: ``fit(X)`` /
``score_samples(X)`` (scikit-learn convention: higher = more normal); optionally
``score_with_maps(X) -> (normality (n,), anomaly maps (n, size, size))`` for pixel-level evaluation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from omnimaint.adapters.images import SIDECAR
from omnimaint.data.blobs import IMAGE_FORMATS
from omnimaint.data.dataset import Dataset
from omnimaint.errors import DatasetError
from omnimaint.evaluation.metrics import auroc
from omnimaint.evaluation.protocols.base import MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.images import ImageConfig, LabelledImages, image_split, load_images
from omnimaint.evaluation.splits import stratified_split

logger = logging.getLogger(__name__)

NORMAL = "normal"


@dataclass(frozen=True)
class AnomalyTask:
    """One anomaly-detection task: fit on ``train`` (normal only), score ``test`` against ``is_anomaly``."""

    name: str
    train: LabelledImages
    test: LabelledImages
    is_anomaly: np.ndarray


def anomaly_tasks(images: LabelledImages, config: ImageConfig, seed: int) -> list[AnomalyTask]:
    """The tasks of the anomaly protocol (per MVTec category, or one per class as "normal")."""
    categories = sorted({a.removesuffix("-train") for a in images.asset_ids if a.endswith("-train")})
    tasks = []
    if categories and NORMAL in set(images.y.tolist()):
        for category in categories:
            train_rows = np.flatnonzero((images.asset_ids == f"{category}-train") & (images.y == NORMAL))
            test_rows = np.flatnonzero(images.asset_ids == f"{category}-test")
            if train_rows.size == 0 or test_rows.size == 0:
                logger.warning("category %s lacks normal training images or test images; skipped", category)
                continue
            test = images.take(test_rows)
            tasks.append(AnomalyTask(category, images.take(train_rows), test, test.y != NORMAL))
        return tasks
    split = image_split(images, config, seed)
    return _one_class_tasks(images.take(split.train), images.take(split.test))


def _one_class_tasks(train: LabelledImages, test: LabelledImages) -> list[AnomalyTask]:
    """``normal`` against the rest, or each class in turn against the others when there is no ``normal`` class."""
    classes = set(train.y.tolist()) | set(test.y.tolist())
    normal_classes = [NORMAL] if NORMAL in classes else sorted(classes)
    return [
        AnomalyTask(normal, train.take(np.flatnonzero(train.y == normal)), test, test.y != normal)
        for normal in normal_classes
    ]


def read_masks(dataset: Dataset, paths: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Defect masks of the frames at ``paths`` that have one, as bool ``(size, size)`` arrays (nearest-neighbour
    resized, as the images are resized), by frame path; empty when the dataset records no masks.

    Raises:
        DatasetError: if the mask list or a listed mask cannot be read.
    """
    sidecar = dataset.path / SIDECAR
    if not sidecar.is_file():
        return {}
    try:
        notes = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{sidecar}: unreadable image annotations ({exc})") from exc
    wanted = set(paths.tolist())
    masks: dict[str, np.ndarray] = {}
    for note in notes:
        if note.get("frame") not in wanted or not note.get("mask"):
            continue
        with Image.open(dataset.path / note["mask"], formats=IMAGE_FORMATS) as mask:
            grey = mask.convert("L").resize((size, size), Image.Resampling.NEAREST)
        masks[note["frame"]] = np.asarray(grey) > 0
    return masks


def _pixel_truth(task: AnomalyTask, masks: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the test images whose pixels have a known truth, and that truth ``(rows, size, size)``."""
    known = [row for row, path in enumerate(task.test.paths) if not task.is_anomaly[row] or path in masks]
    truth = np.zeros((len(known), size, size), dtype=bool)
    for index, row in enumerate(known):
        if task.is_anomaly[row]:
            truth[index] = masks[task.test.paths[row]]
    return np.asarray(known, dtype=np.int64), truth


def _score_task(
    task: AnomalyTask, factory: MethodFactory, seed: int, masks: dict[str, np.ndarray], size: int
) -> tuple[float, float | None]:
    """Image AUROC of a task, and its pixel AUROC when its anomalous test images have masks and the method maps."""
    detector = factory(seed)
    detector.fit(task.train.X)
    rows, truth = _pixel_truth(task, masks, size)
    maps_known = bool(truth.any()) and hasattr(detector, "score_with_maps")
    if maps_known:
        normality, maps = detector.score_with_maps(task.test.X)
    else:
        normality = detector.score_samples(task.test.X)
    image = auroc(task.is_anomaly, -np.asarray(normality, dtype=np.float64))
    pixel = auroc(truth.ravel(), np.asarray(maps)[rows].ravel()) if maps_known else None
    return image, pixel


def run_image_anomaly(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, config: ImageConfig | None = None
) -> ProtocolResult:
    """Run the anomaly protocol.

    Returns:
        ``auroc`` (mean over tasks) and, where masks exist and the method gives maps, ``pixel_auroc`` (mean over
        the tasks with masks); each task's figures in details.
    """
    config = config or ImageConfig()
    images = load_images(dataset, config)
    masks = read_masks(dataset, images.paths, config.image_size)
    per_task: dict[str, float] = {}
    per_task_pixel: dict[str, float] = {}
    for task in anomaly_tasks(images, config, seed):
        if task.is_anomaly.all() or not task.is_anomaly.any():
            logger.warning("task %s has a single class in its test set; skipped", task.name)
            continue
        per_task[task.name], pixel = _score_task(task, factory, seed, masks, config.image_size)
        if pixel is not None:
            per_task_pixel[task.name] = pixel
    if not per_task:
        raise ProtocolError(f"{dataset.path}: no anomaly task has both normal and anomalous test images")
    metrics = {"auroc": float(np.mean(list(per_task.values())))}
    if per_task_pixel:
        metrics["pixel_auroc"] = float(np.mean(list(per_task_pixel.values())))
    details = {
        "config": asdict(config),
        "auroc_per_task": per_task,
        "pixel_auroc_per_task": per_task_pixel,
        "masks": len(masks),
    }
    return ProtocolResult(metrics=metrics, details=details)


def validate_image_anomaly(
    dataset: Dataset,
    factory: MethodFactory,
    seed: int = 0,
    split_seed: int = 0,
    config: ImageConfig | None = None,
) -> dict[str, float]:
    """The one-class tasks on the protocol's training images only, for tuning: no test image is scored.

    A stratified ``validation_fraction`` of the training images (seeded by ``split_seed``) is held out; each task
    fits on its normal class among the rest and scores the held-out images. For MVTec-style data, the held-out
    share of the ``<category>-train`` good images are the normal validation images, and there are no anomalous
    ones: such data cannot be tuned this way.

    Returns:
        ``val_auroc`` (mean over tasks) and ``val_auroc_<task>`` for each task.

    Raises:
        ProtocolError: if no task has both normal and anomalous validation images.
    """
    config = config or ImageConfig()
    images = load_images(dataset, config)
    train = images.take(image_split(images, config, seed).train)
    inner = stratified_split(train.y, config.validation_fraction, split_seed)
    figures: dict[str, float] = {}
    for task in _one_class_tasks(train.take(inner.train), train.take(inner.test)):
        if task.is_anomaly.all() or not task.is_anomaly.any() or len(task.train.y) == 0:
            continue
        detector = factory(seed).fit(task.train.X)
        normality = np.asarray(detector.score_samples(task.test.X), dtype=np.float64)
        figures[f"val_auroc_{task.name}"] = auroc(task.is_anomaly, -normality)
    if not figures:
        raise ProtocolError(f"{dataset.path}: no validation task has both normal and anomalous images")
    return {"val_auroc": float(np.mean(list(figures.values()))), **figures}
