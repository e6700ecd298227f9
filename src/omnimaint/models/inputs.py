"""Typed tensor containers the model reads and writes.

:class:`ModelInputs` is what the preprocessor makes of a :class:`omnimaint.data.Batch`: normalised
float tensors, masks as booleans, text as embeddings (pretrained text pathway) or token ids (domain
pathway). :class:`ModelOutputs` is what the heads produce. Both fix a flat tensor order
(:meth:`ModelInputs.flatten`) for ONNX export, where the graph sees positional inputs only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch

MODALITY_INPUTS: dict[str, tuple[str, ...]] = {
    "telemetry": ("telemetry", "telemetry_mask"),
    "waveforms": ("waveforms", "waveform_mask", "waveform_age"),
    "frames": ("frames", "frame_mask", "frame_age"),
    "events": ("event_codes", "event_severity", "event_age", "event_text", "event_text_mask", "event_mask"),
    "maintenance": (
        "maintenance_text",
        "maintenance_text_mask",
        "maintenance_component",
        "maintenance_kind",
        "maintenance_age",
        "maintenance_mask",
        "since_maintenance",
        "since_maintenance_known",
    ),
}
"""Tensor fields of each modality, in export order."""

COMMON_INPUTS = ("asset_type", "presence")


@dataclass
class ModelInputs:
    """Model-ready tensors for a batch (B samples). Fields of unused modalities are ``None``.

    Shapes: telemetry (B, L, C) float and mask bool; waveforms (B, K, Cw, N), mask (B, K, Cw), age (B, K)
    hours; frames (B, Kf, Cam, 3, S, S) normalised, mask (B, Kf, Cam), age (B, Kf); events: codes,
    severity (B, E) long, age (B, E), text (B, E, X) float embeddings or long token ids with
    ``event_text_mask`` (B, E) saying which events have a text, mask (B, E); maintenance: text
    (B, M, X), text mask (B, M), component and kind (B, M) long, age (B, M), mask (B, M), since
    (B, P) hours and known (B, P); asset_type (B,) long; presence (B, 5) bool.
    """

    asset_type: torch.Tensor
    presence: torch.Tensor
    telemetry: torch.Tensor | None = None
    telemetry_mask: torch.Tensor | None = None
    waveforms: torch.Tensor | None = None
    waveform_mask: torch.Tensor | None = None
    waveform_age: torch.Tensor | None = None
    frames: torch.Tensor | None = None
    frame_mask: torch.Tensor | None = None
    frame_age: torch.Tensor | None = None
    event_codes: torch.Tensor | None = None
    event_severity: torch.Tensor | None = None
    event_age: torch.Tensor | None = None
    event_text: torch.Tensor | None = None
    event_text_mask: torch.Tensor | None = None
    event_mask: torch.Tensor | None = None
    maintenance_text: torch.Tensor | None = None
    maintenance_text_mask: torch.Tensor | None = None
    maintenance_component: torch.Tensor | None = None
    maintenance_kind: torch.Tensor | None = None
    maintenance_age: torch.Tensor | None = None
    maintenance_mask: torch.Tensor | None = None
    since_maintenance: torch.Tensor | None = None
    since_maintenance_known: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return int(self.asset_type.shape[0])

    @staticmethod
    def field_names(modalities: tuple[str, ...]) -> tuple[str, ...]:
        """Tensor names in export order for a model reading ``modalities``."""
        names = list(COMMON_INPUTS)
        for modality in modalities:
            names += MODALITY_INPUTS[modality]
        return tuple(names)

    def flatten(self, modalities: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
        """The tensors in :meth:`field_names` order (for ONNX export and ONNX Runtime feeds)."""
        out = []
        for name in self.field_names(modalities):
            value = getattr(self, name)
            if value is None:
                raise ValueError(f"ModelInputs.{name} is required by a model reading {list(modalities)}")
            out.append(value)
        return tuple(out)

    @classmethod
    def unflatten(cls, modalities: tuple[str, ...], tensors: tuple[torch.Tensor, ...]) -> ModelInputs:
        return cls(**dict(zip(cls.field_names(modalities), tensors, strict=True)))

    def _map(self, function: Callable[[torch.Tensor], torch.Tensor]) -> ModelInputs:
        values: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = function(value) if value is not None else None
        return ModelInputs(**values)

    def to(self, device: torch.device | str) -> ModelInputs:
        return self._map(lambda t: t.to(device))

    def select(self, index: torch.Tensor) -> ModelInputs:
        """The samples at ``index`` (a long tensor of batch positions)."""
        return self._map(lambda t: t[index])


HEAD_OUTPUTS = ("failure_logits", "rul", "fault_logits", "health_logits", "anomaly_score", "modality_weights")


@dataclass
class ModelOutputs:
    """Raw head outputs for a batch.

    Attributes:
        failure_logits: (B, H, 1 + P) failure within horizon h of any component (index 0) and of each.
        rul: (B,) remaining useful life as a fraction of the RUL cap (>= 0).
        fault_logits: (B, F) next fault type (class 0 = none).
        health_logits: (B, 3) healthy / degrading / critical.
        anomaly_score: (B,) distance of the fused state from healthy training windows.
        modality_weights: (B, 5) how much each modality contributed to the fused state (0 when absent).
        embedding: (B, D) fused state (not exported).
    """

    failure_logits: torch.Tensor
    rul: torch.Tensor
    fault_logits: torch.Tensor
    health_logits: torch.Tensor
    anomaly_score: torch.Tensor
    modality_weights: torch.Tensor
    embedding: torch.Tensor

    def as_tuple(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, name) for name in HEAD_OUTPUTS)
