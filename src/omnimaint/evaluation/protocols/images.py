"""Image protocols: surface-defect classification and image-level anomaly detection.

- **Classification** (:func:`run_image_classification`; NEU-DET, Song & Yan, Applied Surface Science
  2013): every labelled frame, a stratified split with a fixed seed (``test_fraction`` of each class
  held out), accuracy and macro-F1.
- **Anomaly detection** (normal images only; image- and pixel-level AUROC): in
  :mod:`omnimaint.evaluation.protocols.images_anomaly`, on the images this module reads.

Canonical form (see the images adapter): ``frames`` rows (camera ``cam0``, one image per ts) and a
``failures`` row at the same ``(asset_id, ts)`` whose ``fault_type`` is the image's class.

Estimator interface, with ``X`` float32 ``(n, size, size)`` grey levels in ``[0, 1]``: ``fit(X, y)`` /
``predict(X)``.

Bundle interface of the classification protocol (the multimodal model, :func:`image_inputs` and
:func:`score_image_bundle`): one anchor per labelled frame, at its ``(asset_id, ts)``; the test images are
those the estimators are tested on (the same stratified split, the same seed); a stratified
``validation_fraction`` of the other images is the bundle's validation split (early stopping, checkpoint
choice, and the validation figures a setting is chosen on), the rest its training split. The bundle's window
spec must cut one frame per anchor and label it with the image's class (``labels: states``); it reads the
frames as they are stored and prepares them its own way (the packaged config: ``configs/images.yaml``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from omnimaint.data.blobs import IMAGE_FORMATS
from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.metrics import accuracy, classification_scores
from omnimaint.evaluation.protocols.base import BundleTrainer, MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.running import fit_and_score, score_once
from omnimaint.evaluation.splits import IndexSplit, stratified_split

if TYPE_CHECKING:  # the predictor is handed in: scoring a bundle needs no torch import here
    from omnimaint.inference.predictor import FrameViews, Predictor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageConfig:
    """Settings of the image protocols.

    Attributes:
        image_size: Images are converted to grey levels and resized to ``image_size`` squared (for the
            estimators; a bundle reads frames as its window spec says).
        test_fraction: Fraction of each class held out (stratified split).
        validation_fraction: Fraction of each class of the training images held out for validation (tuning
            an estimator; a bundle's validation split).
    """

    image_size: int = 128
    test_fraction: float = 0.3
    validation_fraction: float = 0.2


@dataclass(frozen=True)
class LabelledImages:
    """Labelled frames of a dataset.

    Attributes:
        X: Grey levels in ``[0, 1]``, float32 ``(n, size, size)``.
        y: Class of each image.
        asset_ids: Asset of each image.
        paths: Frame path of each image (unique per image).
    """

    X: np.ndarray
    y: np.ndarray
    asset_ids: np.ndarray
    paths: np.ndarray

    def take(self, rows: np.ndarray) -> LabelledImages:
        """The images at the given positions."""
        return LabelledImages(self.X[rows], self.y[rows], self.asset_ids[rows], self.paths[rows])


def labelled_frames(dataset: Dataset) -> pd.DataFrame:
    """Frames joined with their label: columns asset_id, ts, path, label.

    Raises:
        ProtocolError: if the dataset has no frames, or no frame has a label.
    """
    frames = dataset.table("frames")
    if frames.empty:
        raise ProtocolError(f"{dataset.path}: no frames (is this an image dataset?)")
    labels = dataset.table("failures")[["asset_id", "ts", "fault_type"]].rename(columns={"fault_type": "label"})
    joined = frames.merge(labels, on=["asset_id", "ts"], how="inner")
    if joined.empty:
        raise ProtocolError(f"{dataset.path}: no frame has a label (a failures row at the frame's asset_id and ts)")
    if len(joined) < len(frames):
        logger.warning("%d of %d frames have no label and are ignored", len(frames) - len(joined), len(frames))
    return joined[["asset_id", "ts", "path", "label"]].reset_index(drop=True)


def load_images(dataset: Dataset, config: ImageConfig) -> LabelledImages:
    """Read every labelled frame as grey levels resized to the configured size."""
    frames = labelled_frames(dataset)
    size = (config.image_size, config.image_size)
    pixels = np.empty((len(frames), *size), dtype=np.float32)
    for row, path in enumerate(frames["path"]):
        with Image.open(dataset.frame_file(str(path)), formats=IMAGE_FORMATS) as image:
            grey = image.convert("L").resize(size, Image.Resampling.BILINEAR)
        pixels[row] = np.asarray(grey, dtype=np.float32) / 255.0
    return LabelledImages(
        pixels,
        frames["label"].astype(str).to_numpy(),
        frames["asset_id"].astype(str).to_numpy(),
        frames["path"].to_numpy(),
    )


def image_split(images: LabelledImages, config: ImageConfig, seed: int) -> IndexSplit:
    """Stratified split of the images by class."""
    return stratified_split(images.y, config.test_fraction, seed)


def run_image_classification(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, config: ImageConfig | None = None
) -> ProtocolResult:
    """Run the classification protocol.

    Returns:
        ``accuracy`` and ``macro_f1`` on the held-out images; per-class F1 and counts in details.
    """
    config = config or ImageConfig()
    images = load_images(dataset, config)
    split = image_split(images, config, seed)
    train, test = images.take(split.train), images.take(split.test)
    classes = sorted(set(images.y.tolist()))
    _, scores = fit_and_score(factory, seed, train, test, classes)
    details = {
        "config": asdict(config),
        "classes": classes,
        "n_train": len(train.y),
        "n_test": len(test.y),
        "test_per_class": dict(Counter(test.y.tolist())),
        "per_class_f1": scores.per_class_f1,
    }
    return ProtocolResult(metrics={"accuracy": scores.accuracy, "macro_f1": scores.macro_f1}, details=details)


def validate_image_classification(
    dataset: Dataset,
    factory: MethodFactory,
    seed: int = 0,
    split_seed: int = 0,
    config: ImageConfig | None = None,
) -> dict[str, float]:
    """Fit on part of the protocol's training images, score the rest, for tuning: no test image is used.

    Args:
        dataset: Canonical image dataset.
        factory: ``seed -> classifier``.
        seed: Seed of the protocol's train/test split (as :func:`run_image_classification`) and the estimator.
        split_seed: Seed of the stratified validation split of the training images.
        config: Protocol settings (``validation_fraction``: share of each class of the training images held out).

    Returns:
        ``val_accuracy`` and ``val_macro_f1``; for an estimator with a ``test_time_augment`` setting, also
        ``val_accuracy_tta`` and ``val_accuracy_plain`` from the same fit.
    """
    config = config or ImageConfig()
    images = load_images(dataset, config)
    train = images.take(image_split(images, config, seed).train)
    inner = stratified_split(train.y, config.validation_fraction, split_seed)
    fit, val = train.take(inner.train), train.take(inner.test)
    estimator, scores = fit_and_score(factory, seed, fit, val, sorted(set(images.y.tolist())))
    metrics = {"val_accuracy": scores.accuracy, "val_macro_f1": scores.macro_f1}
    if hasattr(estimator, "test_time_augment"):
        configured = bool(estimator.test_time_augment)
        accuracy = {configured: scores.accuracy}  # the other setting needs one more prediction, not two
        estimator.test_time_augment = not configured
        accuracy[not configured] = float(np.mean(np.asarray(estimator.predict(val.X)).astype(str) == val.y))
        estimator.test_time_augment = configured
        metrics |= {"val_accuracy_plain": accuracy[False], "val_accuracy_tta": accuracy[True]}
    return metrics


def _image_parts(
    dataset: Dataset, seed: int, config: ImageConfig, split_seed: int | None = None
) -> dict[str, tuple[ProtocolInputs, np.ndarray]]:
    """The ``train``, ``val`` and ``test`` anchors of the bundle interface, each with the class of its images; the
    validation images a stratified split of the training images by ``split_seed`` (default: ``seed``)."""
    frames = labelled_frames(dataset)
    labels = frames["label"].astype(str).to_numpy()
    split = stratified_split(labels, config.test_fraction, seed)  # as image_split: the estimators' test images
    inner = stratified_split(
        labels[split.train], config.validation_fraction, seed if split_seed is None else split_seed
    )
    rows = {"train": split.train[inner.train], "val": split.train[inner.test], "test": split.test}
    anchors = frames[["asset_id", "ts"]]
    return {
        part: (ProtocolInputs(dataset, anchors.iloc[at].reset_index(drop=True), part), labels[at])
        for part, at in rows.items()
    }


def image_inputs(dataset: Dataset, seed: int = 0, config: ImageConfig | None = None) -> dict[str, ProtocolInputs]:
    """What a bundle is trained (``train``), validated (``val``) and scored (``test``) on (module docstring)."""
    return {part: inputs for part, (inputs, _) in _image_parts(dataset, seed, config or ImageConfig()).items()}


def _bundle_classes(
    predictor: Predictor, inputs: ProtocolInputs, truth: np.ndarray, views: FrameViews | None
) -> np.ndarray:
    """The bundle's likeliest fault class of each anchor (``views``: test-time frame views; ``None``: the bundle's).

    Raises:
        ProtocolError: if the bundle does not know every class of the images.
    """
    known = predictor.bundle.preprocessor.vocab.fault_classes
    missing = sorted(set(truth.tolist()) - set(known))
    if missing:
        raise ProtocolError(f"{predictor.bundle.path}: the bundle knows no fault classes {missing} (it knows {known})")
    windows = predictor.windows(inputs.dataset, anchors=inputs.anchors)
    output = predictor.predict_windows(windows, progress=True, description=f"scoring {inputs.split}", frame_views=views)
    return np.asarray(known, dtype=object)[output.likely_fault].astype(str)


def _validation_accuracy(predictor: Predictor, val: tuple[ProtocolInputs, np.ndarray]) -> dict[str, float]:
    """Accuracy on the validation images with the bundle's test-time frame views (``val_accuracy``), and for a
    bundle that reads frames, without and with the eight views (``val_accuracy_plain``, ``val_accuracy_tta``):
    what the views setting may be chosen on."""
    inputs, truth = val
    figures = {"val_accuracy": accuracy(truth, _bundle_classes(predictor, inputs, truth, None))}
    if "frames" in predictor.modalities:
        other: FrameViews = "one" if predictor.frame_views == "dihedral" else "dihedral"  # the bundle's own: above
        by_views = {
            predictor.frame_views: figures["val_accuracy"],
            other: accuracy(truth, _bundle_classes(predictor, inputs, truth, other)),
        }
        figures |= {"val_accuracy_plain": by_views["one"], "val_accuracy_tta": by_views["dihedral"]}
    return figures


def score_image_bundle(
    dataset: Dataset, predictor: Predictor, seed: int = 0, config: ImageConfig | None = None
) -> ProtocolResult:
    """Score a bundle trained on :func:`image_inputs` on the test images, as :func:`run_image_classification`
    scores an estimator.

    Returns:
        ``accuracy`` and ``macro_f1`` on the held-out images; per-class F1, counts, the test-time frame views
        used and the validation accuracy with and without them in details.

    Raises:
        ProtocolError: if the bundle does not know every class of the images.
    """
    config = config or ImageConfig()
    parts = _image_parts(dataset, seed, config)
    test, truth = parts["test"]
    classes = sorted(set(np.concatenate([labels for _, labels in parts.values()]).tolist()))
    scores = classification_scores(truth, _bundle_classes(predictor, test, truth, None), classes)
    details = {
        "config": asdict(config),
        "classes": classes,
        "n_train": len(parts["train"][0]),
        "n_val": len(parts["val"][0]),
        "n_test": len(test),
        "test_per_class": dict(Counter(truth.tolist())),
        "per_class_f1": scores.per_class_f1,
        "frame_views": predictor.frame_views,
        **_validation_accuracy(predictor, parts["val"]),
    }
    return ProtocolResult(metrics={"accuracy": scores.accuracy, "macro_f1": scores.macro_f1}, details=details)


def validate_image_bundle(
    dataset: Dataset, trainer: BundleTrainer, seed: int = 0, split_seed: int = 0, config: ImageConfig | None = None
) -> dict[str, float]:
    """Train a bundle on :func:`image_inputs` (its validation images those of ``split_seed``) and score its
    validation images only, for tuning (no test image is scored): ``val_accuracy`` and, for a bundle that reads
    frames, ``val_accuracy_plain`` and ``val_accuracy_tta`` (without and with the eight test-time frame views, from
    the same bundle)."""
    config = config or ImageConfig()
    parts = _image_parts(dataset, seed, config, split_seed)
    inputs = {part: part_inputs for part, (part_inputs, _) in parts.items() if part != "test"}
    figures = score_once(
        trainer, inputs, lambda predictor: ProtocolResult(_validation_accuracy(predictor, parts["val"]))
    )
    return figures.metrics
