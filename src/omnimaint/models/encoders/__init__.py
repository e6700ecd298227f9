"""Modality encoders; importing this package registers them (see :mod:`omnimaint.models.registry`).

Every encoder: ``forward(x: ModelInputs, mask: (B,) bool) -> tokens (B, T, D), token_mask (B, T)``,
where ``mask`` hides the whole modality for a sample (absent, or dropped in training).
"""

from omnimaint.models.encoders import events, maintenance, telemetry, text, vision, waveform

__all__ = ["events", "maintenance", "telemetry", "text", "vision", "waveform"]
