"""Fitting the frame anomaly component (``frame_anomaly.method: patchcore``) after fine-tuning.

Normal frames only, training split only: the newest frame of each camera in the *healthy* training windows
(failure labels: health state ``healthy``; labelled states: a state named ``normal`` or ``none``), at most
``max_frames`` per camera spread evenly over those windows, duplicates (one frame read by several windows)
dropped. Their patch features, thinned by greedy coreset, are the camera's memory bank. Each camera's reference
score is the ``quantile`` of the scores of the healthy validation windows' newest frames (frames the bank has
not seen), or of the training frames when validation has none, with a warning.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

import numpy as np
import torch

from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.errors import ConfigError
from omnimaint.models.frame_anomaly import FrameAnomalyDetector, FrameAnomalySettings, newest_slots
from omnimaint.models.patchcore import greedy_coreset
from omnimaint.models.pretrained import pretrained_efficientnet_lite
from omnimaint.progress import track
from omnimaint.training.config import FrameAnomalyConfig

logger = logging.getLogger(__name__)

NORMAL_STATES = ("none", "normal")
"""Labelled states whose windows are healthy."""

_BATCH = 32


def healthy_windows(windows: WindowedDataset, labels: Literal["failures", "states"]) -> np.ndarray:
    """Indices of the windows whose labels say healthy: health state 0, or a normal labelled state."""
    if labels == "states":
        names = np.asarray(windows.vocab.fault_classes, dtype=object)
        fault = windows.labels.fault_type
        normal = np.zeros(len(fault), dtype=bool)
        known = fault >= 0
        normal[known] = np.isin(names[fault[known]], NORMAL_STATES)
        return np.flatnonzero(normal)
    return np.flatnonzero(windows.labels.health_state == 0)


def healthy_frames(
    windows: WindowedDataset, labels: Literal["failures", "states"], limit: int, what: str
) -> list[np.ndarray]:
    """Per camera, the distinct newest frames ``(n, S, S, 3)`` of up to ``limit`` healthy windows (evenly spread)."""
    cameras = len(windows.vocab.cameras)
    chosen = healthy_windows(windows, labels)
    if chosen.size > limit:
        chosen = chosen[np.unique(np.linspace(0, chosen.size - 1, limit).round().astype(np.int64))]
    kept: list[dict[str, np.ndarray]] = [{} for _ in range(cameras)]
    starts = range(0, chosen.size, _BATCH)
    for start in track(starts, f"reading healthy {what} frames", total=len(starts)):
        batch = windows.batch(chosen[start : start + _BATCH])
        if batch.frames is None or batch.frame_mask is None:
            break
        slots = newest_slots(batch.frame_mask & batch.present("frames")[:, None, None])  # (b, Cam)
        for camera in range(cameras):
            for row in np.flatnonzero(slots[:, camera] >= 0):
                frame = batch.frames[row, slots[row, camera], camera]
                kept[camera].setdefault(hashlib.sha256(frame.tobytes()).hexdigest(), frame)
    size = windows.spec.frames.size if windows.spec.frames is not None else 1
    return [np.stack(list(k.values())) if k else np.zeros((0, size, size, 3), np.uint8) for k in kept]


def fit_frame_anomaly(
    config: FrameAnomalyConfig,
    train: WindowedDataset,
    val: WindowedDataset | None,
    labels: Literal["failures", "states"],
    seed: int,
) -> FrameAnomalyDetector:
    """Build each camera's memory bank from healthy training frames and calibrate it on healthy validation frames.

    Raises:
        ConfigError: if the windows read no frames, or no healthy training window has one.
    """
    if train.spec.frames is None:
        raise ConfigError("frame_anomaly.method is patchcore, but the window spec reads no frames (data.window.frames)")
    cameras = train.vocab.cameras
    backbone = pretrained_efficientnet_lite(config.backbone)
    frames = healthy_frames(train, labels, config.max_frames, "training")
    if not any(len(f) for f in frames):
        raise ConfigError(
            "frame_anomaly: no healthy training window has a camera frame, so there is nothing normal to build a "
            "PatchCore memory bank from (set frame_anomaly.method: none, or train on data with healthy frames)"
        )
    base = FrameAnomalySettings(
        backbone=backbone.variant,
        input_size=config.input_size,
        stages=config.stages,
        neighbours=config.neighbours,
        sigma=config.sigma,
        image_score=config.image_score,
        cameras=cameras,
        frames=tuple(len(f) for f in frames),
        reference=tuple(1.0 if len(f) else None for f in frames),
        quantile=config.quantile,
    )
    generator = torch.Generator().manual_seed(seed)
    unfitted = FrameAnomalyDetector(base, backbone, {})
    banks = {}
    with torch.inference_mode():
        for camera, camera_frames in enumerate(frames):
            if not len(camera_frames):
                continue
            patches = unfitted.patch_features(camera_frames).permute(0, 2, 3, 1).flatten(0, 2)  # (n·h·w, D)
            size = max(1, round(config.coreset_ratio * len(patches)))
            kept = greedy_coreset(patches, size, generator) if size < len(patches) else torch.arange(len(patches))
            banks[camera] = patches[kept].clone()
            logger.info(
                "frame anomaly, camera %s: memory bank of %d of %d patches of %d healthy frames",
                cameras[camera],
                len(kept),
                len(patches),
                len(camera_frames),
            )
    fitted = FrameAnomalyDetector(base, backbone, banks)
    reference, calibration = _calibrate(fitted, frames, val, labels, config)
    settings = base.model_copy(update={"reference": reference, "calibration": calibration})
    return FrameAnomalyDetector(FrameAnomalySettings.model_validate(settings.model_dump()), backbone, banks)


def _calibrate(
    detector: FrameAnomalyDetector,
    training_frames: list[np.ndarray],
    val: WindowedDataset | None,
    labels: Literal["failures", "states"],
    config: FrameAnomalyConfig,
) -> tuple[tuple[float | None, ...], Literal["validation", "training"]]:
    """Per camera, the ``quantile`` of the healthy calibration frames' raw scores, and whose frames they were."""
    held_out = healthy_frames(val, labels, config.max_frames, "validation") if val is not None else []
    banked = list(detector.models)
    use_validation = bool(held_out) and all(len(held_out[c]) for c in banked)
    if not use_validation:
        logger.warning(
            "frame anomaly: not every camera has healthy validation frames; its scores are calibrated on the healthy "
            "training frames, which are in the memory bank, so frame anomaly runs high"
        )
    source = held_out if use_validation else training_frames
    reference: list[float | None] = [None] * len(training_frames)
    with torch.inference_mode():
        for camera in banked:
            scores, _ = detector.score_frames(camera, source[camera])
            value = float(np.quantile(scores, config.quantile))
            # A bank that holds every patch of the frames it is asked about scores them all 0.
            reference[camera] = value if value > 0 else float(np.finfo(np.float32).eps)
    return tuple(reference), "validation" if use_validation else "training"
