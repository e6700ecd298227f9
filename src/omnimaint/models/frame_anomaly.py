"""The frame anomaly component of a bundle: PatchCore on each camera's newest frame of a window.

One frozen EfficientNet-Lite backbone and one PatchCore memory bank per camera (the patch features of the
newest frames of healthy training windows; :mod:`omnimaint.training.frame_anomaly` builds them). A window's
frame anomaly is, per camera, the PatchCore score of its newest frame divided by that camera's *reference* (the
``quantile`` of the scores of healthy validation frames), so that 1 reads "as unusual as the healthy frames'
99th percentile" on every camera; the window's value is the largest over its cameras. The anomaly maps
(per pixel, at the frame's size) localise what is unusual.

Pure torch and NumPy: no file, path or optimiser (the bundle's files are :mod:`omnimaint.inference.frame_anomaly`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnimaint.models.efficientnet_lite import VARIANTS, EfficientNetLite
from omnimaint.models.patchcore import PatchCoreModel

BACKBONE_PREFIX = "backbone."
BANK_PREFIX = "memory_bank."
"""Names in the component's safetensors: ``backbone.<parameter>`` and ``memory_bank.<camera index>``."""


class FrameAnomalySettings(BaseModel):
    """What a fitted frame anomaly component is (``frame_anomaly.json`` of a bundle).

    Attributes:
        method: ``patchcore``.
        backbone: EfficientNet-Lite variant (its weights are in the component's safetensors).
        input_size: Side frames are resized to before the backbone (the patch map is ``input_size / 8``).
        stages: Backbone stages whose maps are the patch features.
        patch_size: Neighbourhood each stage map is averaged over.
        neighbours: Memory-bank neighbours of the image-score reweighting (1: plain maximum).
        sigma: Gaussian smoothing of the maps, in pixels of the backbone's input.
        image_score: ``max`` (the worst patch, reweighted) or ``mean`` (mean patch distance).
        cameras: The bundle's cameras, in the vocabulary's order.
        frames: Per camera, the healthy training frames its memory bank was built from (0: no bank).
        reference: Per camera, the score that a frame anomaly of 1 stands for (``None``: no bank).
        quantile: The quantile of the healthy calibration frames' scores that ``reference`` is.
        calibration: Whose scores ``reference`` comes from: healthy ``validation`` frames, or the healthy
            ``training`` frames when validation had none (then lower than it should be: those frames are in
            the bank).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["patchcore"] = "patchcore"
    backbone: str = "efficientnet-lite0"
    input_size: int = Field(default=224, ge=32)
    stages: tuple[int, ...] = (3, 5)
    patch_size: int = Field(default=3, ge=1)
    neighbours: int = Field(default=9, ge=1)
    sigma: float = Field(default=4.0, ge=0, allow_inf_nan=False)
    image_score: Literal["max", "mean"] = "max"
    cameras: tuple[str, ...] = ()
    frames: tuple[Annotated[int, Field(ge=0)], ...] = ()
    reference: tuple[Annotated[float, Field(gt=0, allow_inf_nan=False)] | None, ...] = ()
    quantile: float = Field(default=0.99, gt=0, le=1)
    calibration: Literal["validation", "training"] = "validation"

    @model_validator(mode="after")
    def _consistent(self) -> FrameAnomalySettings:
        if self.backbone not in VARIANTS:
            raise ValueError(f"backbone {self.backbone!r} is not an EfficientNet-Lite variant ({', '.join(VARIANTS)})")
        if not self.stages or any(not 1 <= s <= 7 for s in self.stages):
            raise ValueError(f"stages {list(self.stages)} must be backbone stages 1 to 7")
        if not len(self.cameras) == len(self.frames) == len(self.reference):
            raise ValueError("cameras, frames and reference need one entry per camera")
        for camera, count, reference in zip(self.cameras, self.frames, self.reference, strict=True):
            if (count > 0) != (reference is not None):
                raise ValueError(f"camera {camera!r}: a memory bank needs a reference score and the reverse")
        return self


@dataclass(frozen=True)
class FrameAnomalyScores:
    """Frame anomaly of a batch of windows.

    Attributes:
        raw: (B, Cam) PatchCore score of each camera's newest frame (NaN: no frame, or no bank for the camera).
        normalised: (B, Cam) ``raw`` divided by the camera's reference.
        window: (B,) the largest normalised score of the window's cameras (NaN: none).
        maps: (B, Cam, S, S) anomaly per pixel of those frames, in raw units (NaN where ``raw`` is), when asked for.
        slots: (B, Cam) frame slot of each camera's newest frame (-1: none).
    """

    raw: np.ndarray
    normalised: np.ndarray
    window: np.ndarray
    slots: np.ndarray
    maps: np.ndarray | None = None


def frame_images(frames: np.ndarray, input_size: int) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 frames as the backbone's RGB input ``(N, 3, input_size, input_size)`` in ``[0, 1]``."""
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, S, S)
    if images.shape[-1] != input_size:
        images = F.interpolate(images, size=(input_size, input_size), mode="bilinear", antialias=True)
    return images


def newest_slots(frame_mask: np.ndarray) -> np.ndarray:
    """(B, Cam) slot of each camera's newest frame (slots run oldest first), -1 where the camera has none."""
    k = frame_mask.shape[1]
    last = k - 1 - np.argmax(frame_mask[:, ::-1, :], axis=1)  # (B, Cam)
    return np.where(frame_mask.any(axis=1), last, -1)


class FrameAnomalyDetector:
    """PatchCore per camera on one shared frozen backbone.

    Args:
        settings: What the component is.
        backbone: The EfficientNet-Lite (frozen, eval mode).
        banks: Memory bank ``(M, D)`` per camera index (cameras without one are not scored).
        batch_size: Frames per backbone pass.

    Raises:
        ValueError: if a bank is not of the backbone's feature width, or a camera outside the settings has one.
    """

    def __init__(
        self,
        settings: FrameAnomalySettings,
        backbone: EfficientNetLite,
        banks: dict[int, torch.Tensor],
        batch_size: int = 16,
    ) -> None:
        self.settings = settings
        self.backbone = backbone.eval().requires_grad_(False)
        self.batch_size = batch_size
        self.models: dict[int, PatchCoreModel] = {}
        for camera, bank in sorted(banks.items()):
            if not 0 <= camera < len(settings.cameras):
                raise ValueError(f"a memory bank for camera {camera}, but there are {len(settings.cameras)} cameras")
            model = self.patchcore()
            model.set_memory_bank(bank)
            self.models[camera] = model

    def patchcore(self) -> PatchCoreModel:
        """A PatchCore model on the shared backbone (with an empty memory bank)."""
        s = self.settings
        return PatchCoreModel(self.backbone, s.stages, s.patch_size, s.neighbours, s.sigma, s.image_score)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The backbone's tensors and each camera's memory bank, under plain names (for safetensors)."""
        tensors = {BACKBONE_PREFIX + name: t for name, t in self.backbone.state_dict().items()}
        return tensors | {f"{BANK_PREFIX}{camera}": m.memory_bank for camera, m in self.models.items()}

    @classmethod
    def from_state_dict(cls, settings: FrameAnomalySettings, tensors: dict[str, torch.Tensor]) -> FrameAnomalyDetector:
        """The detector of ``settings`` with the backbone and banks of ``tensors``.

        Raises:
            ValueError: naming the first tensor that is missing, unexpected, of another shape or not finite.
        """
        backbone = EfficientNetLite(settings.backbone)
        expected = {BACKBONE_PREFIX + n: tuple(t.shape) for n, t in backbone.state_dict().items()}
        width = sum(backbone.stage_channels[stage - 1] for stage in settings.stages)
        banked = [c for c, count in enumerate(settings.frames) if count > 0]
        for name, tensor in tensors.items():
            if not (tensor.is_floating_point() or name.endswith("num_batches_tracked")):
                raise ValueError(f"tensor {name!r} is of type {tensor.dtype}, not floating point")
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"tensor {name!r} holds NaN or infinite values")
        for name, shape in expected.items():
            if name not in tensors or tuple(tensors[name].shape) != shape:
                have = list(tensors[name].shape) if name in tensors else "missing"
                raise ValueError(f"tensor {name!r} is {have}, but {settings.backbone} needs {list(shape)}")
        banks = {}
        for camera in banked:
            bank = tensors.get(f"{BANK_PREFIX}{camera}")
            if bank is None or bank.dim() != 2 or bank.shape[1] != width or bank.shape[0] == 0:
                have = list(bank.shape) if bank is not None else "missing"
                raise ValueError(f"memory bank {BANK_PREFIX}{camera} is {have}, expected (patches, {width})")
            banks[camera] = bank
        unexpected = sorted(set(tensors) - set(expected) - {f"{BANK_PREFIX}{c}" for c in banked})
        if unexpected:
            raise ValueError(f"tensor {unexpected[0]!r} is not part of the frame anomaly component")
        backbone.load_state_dict({n.removeprefix(BACKBONE_PREFIX): t for n, t in tensors.items() if n in expected})
        return cls(settings, backbone, banks)

    def patch_features(self, frames: np.ndarray) -> torch.Tensor:
        """Patch features ``(N, D, h, w)`` of ``(N, S, S, 3)`` uint8 frames."""
        model = self.patchcore()
        parts = [
            model.patch_features(frame_images(frames[i : i + self.batch_size], self.settings.input_size))
            for i in range(0, len(frames), self.batch_size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, model.feature_dim, 0, 0)

    def score_frames(self, camera: int, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores ``(N,)`` and maps ``(N, S, S)`` (at the frames' size) of ``(N, S, S, 3)`` frames of ``camera``.

        Raises:
            KeyError: if the camera has no memory bank.
        """
        model = self.models[camera]
        size = frames.shape[1:3]
        scores, maps = [], []
        for start in range(0, len(frames), self.batch_size):
            score, heat = model(frame_images(frames[start : start + self.batch_size], self.settings.input_size))
            if heat.shape[-2:] != size:  # (b, I, I) at the input size, back to the frame's
                heat = F.interpolate(heat[:, None], size=size, mode="bilinear")[:, 0]
            scores.append(score.numpy())
            maps.append(heat.numpy())
        if not scores:
            return np.zeros(0), np.zeros((0, *size))
        return np.concatenate(scores).astype(np.float64), np.concatenate(maps).astype(np.float32)

    def score(self, frames: np.ndarray, frame_mask: np.ndarray, *, maps: bool = False) -> FrameAnomalyScores:
        """Frame anomaly of windows from their newest frame per camera.

        Args:
            frames: (B, K, Cam, S, S, 3) uint8 (``Batch.frames``).
            frame_mask: (B, K, Cam) bool.
            maps: Also return the anomaly maps.
        """
        n, _, cameras, size = frames.shape[0], frames.shape[1], frames.shape[2], frames.shape[3]
        slots = newest_slots(frame_mask)  # (B, Cam)
        raw = np.full((n, cameras), np.nan)
        heat = np.full((n, cameras, size, size), np.nan, dtype=np.float32) if maps else None
        for camera in self.models:
            rows = np.flatnonzero(slots[:, camera] >= 0)
            if rows.size == 0:
                continue
            scores, camera_maps = self.score_frames(camera, frames[rows, slots[rows, camera], camera])
            raw[rows, camera] = scores
            if heat is not None:
                heat[rows, camera] = camera_maps
        reference = np.array([r if r is not None else np.nan for r in self.settings.reference])  # (Cam,)
        normalised = raw / reference[None, :]
        window = np.full(n, np.nan)
        seen = ~np.isnan(normalised).all(axis=1)
        window[seen] = np.nanmax(normalised[seen], axis=1)
        return FrameAnomalyScores(raw=raw, normalised=normalised, window=window, slots=slots, maps=heat)
