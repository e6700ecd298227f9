"""The multimodal model on single-modality protocol arrays: RUL windows, vibration segments, grey images.

Each estimator builds the :class:`ModelInputs` of one modality from arrays, supervises one head, and
leaves the training loop to :class:`omnimaint.training.estimators.OmniEstimator`:

- :class:`OmniRulRegressor`: telemetry windows ``(n, channels, steps)`` → the RUL head (a fraction of
  ``rul_cap``); constant channels dropped and the others z-scored with training statistics.
- :class:`OmniWaveformClassifier`: segments ``(n, channels, samples)`` → the fault-type head; each channel
  scaled by its training RMS.
- :class:`OmniImageClassifier`: grey images ``(n, size, size)`` in ``[0, 1]`` → the fault-type head through
  the frame encoder; each image contrast-normalised, standardised with training statistics and repeated on
  three channels; random flips and transposes (the dihedral group of the square) in training.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from omnimaint.data.windows import MODALITIES
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.training.data import LabelTensors
from omnimaint.training.estimators import InputSource, OmniEstimator, TensorSource, unknown_labels


def _array(X: Any, ndim: int, what: str) -> np.ndarray:
    array = np.asarray(X, dtype=np.float32)
    if array.ndim != ndim:
        raise ValueError(f"expected {what} as an array of {ndim} dimensions, got shape {array.shape}")
    return array


def _common(n: int, modality: str) -> dict[str, torch.Tensor]:
    """Asset type (all one type) and presence (only ``modality``) of ``n`` samples."""
    presence = torch.zeros(n, len(MODALITIES), dtype=torch.bool)
    presence[:, MODALITIES.index(modality)] = True
    return {"asset_type": torch.zeros(n, dtype=torch.long), "presence": presence}


def _targets_of(y: Any, n: int) -> np.ndarray:
    targets = np.asarray(y, dtype=np.float32).reshape(-1)
    if len(targets) != n:
        raise ValueError(f"got {len(targets)} targets for {n} windows")
    return targets


def contiguous_runs(X: np.ndarray) -> np.ndarray:
    """Run id of each window, where a run is a sequence of windows each one step later than the previous.

    The RUL protocols pass every window of an engine in order, so the runs are the engines: holding out
    runs holds out whole engines (neighbouring windows share all but one step and would leak).

    Args:
        X: Windows ``(n, channels, steps)`` in the order given.
    """
    if len(X) < 2:
        return np.zeros(len(X), dtype=np.int64)
    follows = np.all(np.isclose(X[1:, :, :-1], X[:-1, :, 1:]), axis=(1, 2))
    return np.concatenate([[0], np.cumsum(~follows)]).astype(np.int64)


def causal_ewma(windows: np.ndarray, alpha: float) -> np.ndarray:
    """Windows ``(n, channels, steps)`` smoothed along the steps by an exponential moving average.

    Step ``t`` becomes ``alpha · x_t + (1 − alpha) · s_{t−1}``, started at each window's first step: a
    step depends on earlier steps of its own window only. ``alpha = 1`` returns the windows unchanged.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"smoothing alpha must be in (0, 1], got {alpha}")
    smoothed = np.array(windows, dtype=np.float32)
    for t in range(1, smoothed.shape[2]):
        smoothed[:, :, t] = alpha * smoothed[:, :, t] + (1.0 - alpha) * smoothed[:, :, t - 1]
    return smoothed


class OmniRulRegressor(OmniEstimator):
    """Remaining useful life from telemetry windows, through a telemetry encoder.

    Args:
        rul_cap: Targets are divided by this (the RUL head predicts a fraction of it); predictions are
            clipped to ``[0, rul_cap]``.
        encoder: Registered telemetry encoder (``patch_transformer`` or ``temporal_conv``).
        patch: Steps per telemetry token.
        layers: Transformer layers of the telemetry encoder.
        conv_layers: Convolution blocks of ``temporal_conv``.
        kernel: Convolution kernel of ``temporal_conv``.
        min_target_correlation: Channels whose last value correlates less than this (in absolute value)
            with the training targets are dropped (0 keeps every non-constant channel).
        noise: Standard deviation of Gaussian noise added to the standardised training windows.
        smoothing: Weight ``alpha`` of the newest reading in a causal exponential moving average of each
            window (:func:`causal_ewma`; 1 keeps the raw readings), against sensor noise.
        **base: Arguments of :class:`OmniEstimator`.
    """

    def __init__(
        self,
        *,
        rul_cap: float = 125.0,
        encoder: str = "patch_transformer",
        patch: int = 2,
        layers: int = 3,
        conv_layers: int = 4,
        kernel: int = 3,
        min_target_correlation: float = 0.0,
        noise: float = 0.0,
        smoothing: float = 1.0,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.rul_cap = rul_cap
        self.encoder = encoder
        self.patch = patch
        self.layers = layers
        self.conv_layers = conv_layers
        self.kernel = kernel
        self.min_target_correlation = min_target_correlation
        self.noise = noise
        self.smoothing = smoothing

    def _windows(self, X: Any) -> np.ndarray:
        windows = _array(X, 3, "windows (n, channels, steps)")
        return windows if self.smoothing == 1.0 else causal_ewma(windows, self.smoothing)

    def _fit_inputs(self, X: Any, y: Any) -> InputSource:
        windows = self._windows(X)
        values = windows.transpose(0, 2, 1).reshape(-1, windows.shape[1]).astype(np.float64)
        mean, std = values.mean(axis=0), values.std(axis=0)
        varying = std > 1e-8 * np.maximum(1.0, np.abs(mean))
        self.correlation_ = np.zeros(len(std))
        target = _targets_of(y, len(windows)).astype(np.float64)
        if target.std() > 0:
            last = windows[:, varying, -1].astype(np.float64)
            centred = (last - last.mean(axis=0)) * (target - target.mean())[:, None]
            self.correlation_[varying] = centred.mean(axis=0) / (last.std(axis=0) * target.std())
        self.channels_ = varying & (np.abs(self.correlation_) >= self.min_target_correlation)
        if not self.channels_.any():
            raise ValueError("no channel varies and correlates with the targets; lower min_target_correlation")
        self.center_, self.scale_ = mean[self.channels_].astype(np.float32), std[self.channels_].astype(np.float32)
        self.steps_ = windows.shape[2]
        return self._scaled(windows)

    def _inputs(self, X: Any) -> InputSource:
        return self._scaled(self._windows(X))

    def _scaled(self, windows: np.ndarray) -> InputSource:
        scaled = (windows[:, self.channels_, :] - self.center_[:, None]) / self.scale_[:, None]
        telemetry = torch.from_numpy(np.ascontiguousarray(scaled.transpose(0, 2, 1)))  # (n, T, C)
        return TensorSource(
            ModelInputs(
                **_common(len(windows), "telemetry"),
                telemetry=telemetry,
                telemetry_mask=torch.ones(telemetry.shape, dtype=torch.bool),
            )
        )

    def _targets(self, y: Any, n: int) -> LabelTensors:
        rul = _targets_of(y, n)
        labels = unknown_labels(n)
        labels.rul_fraction = torch.from_numpy(rul / self.rul_cap)
        labels.rul_known = torch.ones(n)
        return labels

    def _architecture(self) -> ModelConfig:
        return self._base_config(
            modalities=("telemetry",),
            n_telemetry_channels=int(self.channels_.sum()),
            telemetry_steps=self.steps_,
            telemetry={
                "name": self.encoder,
                "patch": self.patch,
                "layers": self.layers,
                "conv_layers": self.conv_layers,
                "kernel": self.kernel,
            },
            fusion={"name": "late"},
        )

    def _groups(self, X: Any, y: Any) -> np.ndarray | None:
        return contiguous_runs(_array(X, 3, "windows (n, channels, steps)"))

    def _augment(self, inputs: ModelInputs, generator: torch.Generator) -> ModelInputs:
        if self.noise <= 0 or inputs.telemetry is None:
            return inputs
        jitter = torch.randn(inputs.telemetry.shape, generator=generator) * self.noise
        return replace(inputs, telemetry=inputs.telemetry + jitter)

    def predict(self, X: Any) -> np.ndarray:
        """RUL of each window (same unit as the training targets), mean over the trained models."""
        fraction = self._mean_over_models(X, lambda outputs: outputs.rul)
        return np.clip(fraction * self.rul_cap, 0.0, self.rul_cap)


class _FaultClassifier(OmniEstimator):
    """Shared by the classifiers: class names ↔ fault-type indices, probabilities averaged over models."""

    def _targets(self, y: Any, n: int) -> LabelTensors:
        names = np.asarray(y)
        if len(names) != n:
            raise ValueError(f"got {len(names)} labels for {n} samples")
        self.classes_, index = np.unique(names, return_inverse=True)
        labels = unknown_labels(n)
        labels.fault_type = torch.from_numpy(index.astype(np.int64))
        return labels

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))``, mean over the trained models."""
        return self._mean_over_models(X, lambda outputs: torch.softmax(outputs.fault_logits, dim=-1))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample."""
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


class OmniWaveformClassifier(_FaultClassifier):
    """Fault type from vibration segments, through the spectral-CNN waveform encoder.

    Args:
        n_fft: Frame length of the encoder's short-time spectrum.
        channels: Convolution channels of the encoder.
        **base: Arguments of :class:`OmniEstimator`.
    """

    def __init__(self, *, n_fft: int = 256, channels: int = 32, **base: Any) -> None:
        super().__init__(**base)
        self.n_fft = n_fft
        self.channels = channels

    def _fit_inputs(self, X: Any, y: Any) -> InputSource:
        segments = _array(X, 3, "segments (n, channels, samples)")
        self.rms_ = np.maximum(np.sqrt(np.mean(np.square(segments, dtype=np.float64), axis=(0, 2))), 1e-12)
        self.shape_ = segments.shape[1:]
        return self._inputs(segments)

    def _inputs(self, X: Any) -> InputSource:
        segments = _array(X, 3, "segments (n, channels, samples)")
        scaled = (segments / self.rms_[None, :, None]).astype(np.float32)
        n, channels = segments.shape[:2]
        return TensorSource(
            ModelInputs(
                **_common(n, "waveforms"),
                waveforms=torch.from_numpy(scaled[:, None]),  # (n, 1 burst, Cw, N)
                waveform_mask=torch.ones(n, 1, channels, dtype=torch.bool),
                waveform_age=torch.zeros(n, 1),
            )
        )

    def _architecture(self) -> ModelConfig:
        return self._base_config(
            modalities=("waveforms",),
            n_waveform_channels=int(self.shape_[0]),
            waveform_length=int(self.shape_[1]),
            n_fault_classes=len(self.classes_),
            waveform={"n_fft": self.n_fft, "channels": self.channels},
            fusion={"name": "late"},
        )


def dihedral_views(images: np.ndarray) -> list[np.ndarray]:
    """The eight flips and transposes (the dihedral group of the square) of images ``(n, size, size)``."""
    rotations = [np.rot90(images, k, axes=(1, 2)) for k in range(4)]
    return [np.ascontiguousarray(view) for rotated in rotations for view in (rotated, rotated[:, :, ::-1])]


class OmniImageClassifier(_FaultClassifier):
    """Image class from grey images, through the frame CNN.

    Args:
        image_size: Images are resized to this side (``None`` keeps the given size).
        width: Base width of the frame CNN.
        grid: Tokens per side of each frame.
        augment: Random flips and transposes of training images.
        test_time_augment: Average the predicted probabilities over the eight flips and transposes of each
            image (eight times the prediction cost; the classes of surface textures do not depend on them).
        contrast_normalise: Standardise each image by its own mean and standard deviation first (surface
            textures carry the class; brightness varies with lighting from image to image).
        **base: Arguments of :class:`OmniEstimator`.
    """

    def __init__(
        self,
        *,
        image_size: int | None = None,
        width: int = 32,
        grid: int = 2,
        augment: bool = True,
        test_time_augment: bool = False,
        contrast_normalise: bool = True,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.image_size = image_size
        self.width = width
        self.grid = grid
        self.augment = augment
        self.test_time_augment = test_time_augment
        self.contrast_normalise = contrast_normalise

    def _grey(self, X: Any) -> torch.Tensor:
        images = torch.from_numpy(_array(X, 3, "grey images (n, size, size)")).unsqueeze(1)  # (n, 1, S, S)
        if self.image_size is not None and images.shape[-1] != self.image_size:
            side = (self.image_size, self.image_size)
            images = F.interpolate(images, size=side, mode="bilinear", antialias=True, align_corners=False)
        if self.contrast_normalise:
            mean = images.mean(dim=(-2, -1), keepdim=True)
            images = (images - mean) / images.std(dim=(-2, -1), keepdim=True).clamp(min=1e-3)
        return images

    def _fit_inputs(self, X: Any, y: Any) -> InputSource:
        grey = self._grey(X)
        self.mean_ = float(grey.mean())
        self.std_ = max(float(grey.std()), 1e-3)
        self.size_ = int(grey.shape[-1])
        return self._frames(grey)

    def _inputs(self, X: Any) -> InputSource:
        return self._frames(self._grey(X))

    def _frames(self, grey: torch.Tensor) -> InputSource:
        n = grey.shape[0]
        normalised = ((grey - self.mean_) / self.std_)[:, None, None]  # (n, 1 frame, 1 camera, 1, S, S)
        return TensorSource(
            ModelInputs(
                **_common(n, "frames"),
                frames=normalised.expand(-1, -1, -1, 3, -1, -1),  # grey on the three colour channels
                frame_mask=torch.ones(n, 1, 1, dtype=torch.bool),
                frame_age=torch.zeros(n, 1),
            )
        )

    def _augment(self, inputs: ModelInputs, generator: torch.Generator) -> ModelInputs:
        if not self.augment or inputs.frames is None:
            return inputs
        frames = inputs.frames
        flips = torch.rand(3, frames.shape[0], generator=generator) < 0.5  # (3, B): h-flip, v-flip, transpose
        frames = torch.where(flips[0].view(-1, 1, 1, 1, 1, 1), frames.flip(-1), frames)
        frames = torch.where(flips[1].view(-1, 1, 1, 1, 1, 1), frames.flip(-2), frames)
        frames = torch.where(flips[2].view(-1, 1, 1, 1, 1, 1), frames.transpose(-1, -2), frames)
        return replace(inputs, frames=frames.contiguous())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))``; with ``test_time_augment``, also the mean over views."""
        if not self.test_time_augment:
            return super().predict_proba(X)
        plain = super().predict_proba
        return np.mean([plain(view) for view in dihedral_views(_array(X, 3, "grey images (n, size, size)"))], axis=0)

    def _architecture(self) -> ModelConfig:
        return self._base_config(
            modalities=("frames",),
            n_cameras=1,
            frame_size=self.size_,
            n_fault_classes=len(self.classes_),
            vision={"width": self.width, "grid": self.grid},
            fusion={"name": "late"},
        )
