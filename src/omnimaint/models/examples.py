"""Random but well-formed model inputs for a config: for shape tests and for tracing an ONNX export."""

from __future__ import annotations

import torch

from omnimaint.data.schema import MAINTENANCE_KINDS, SEVERITIES
from omnimaint.data.windows import MODALITIES, WindowSpec
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs


def example_inputs(
    config: ModelConfig,
    batch_size: int = 2,
    *,
    bursts: int = 2,
    frames: int = 2,
    events: int = 6,
    orders: int = 3,
    seed: int = 0,
) -> ModelInputs:
    """A batch with every input of ``config.modalities`` filled with random values and random masks.

    Args:
        config: The architecture whose inputs to make.
        batch_size: Samples.
        bursts: Waveform burst slots.
        frames: Frame slots.
        events: Event slots.
        orders: Work-order slots.
        seed: Seed of the values.
    """
    g = torch.Generator().manual_seed(seed)
    b = batch_size

    def mask(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g) > 0.3

    def text(n: int) -> torch.Tensor:
        if config.text.name == "pretrained":
            return torch.randn(b, n, config.text.embedding_dim, generator=g)
        ids = torch.randint(1, config.text.vocab_size, (b, n, config.text.max_tokens), generator=g)
        keep = torch.arange(config.text.max_tokens) < torch.randint(1, config.text.max_tokens, (b, n, 1), generator=g)
        return ids * keep

    fields: dict[str, torch.Tensor] = {
        "asset_type": torch.randint(0, max(config.n_asset_types, 1), (b,), generator=g),
        "presence": torch.ones(b, len(MODALITIES), dtype=torch.bool),
    }
    if "telemetry" in config.modalities:
        steps, channels = config.telemetry_steps, config.n_telemetry_channels
        fields |= {
            "telemetry": torch.randn(b, steps, channels, generator=g),
            "telemetry_mask": mask(b, steps, channels),
        }
    if "waveforms" in config.modalities:
        fields |= {
            "waveforms": torch.randn(b, bursts, config.n_waveform_channels, config.waveform_length, generator=g),
            "waveform_mask": mask(b, bursts, config.n_waveform_channels),
            "waveform_age": torch.rand(b, bursts, generator=g) * 10,
        }
    if "frames" in config.modalities:
        size = config.frame_size
        fields |= {
            "frames": torch.randn(b, frames, config.n_cameras, 3, size, size, generator=g),
            "frame_mask": mask(b, frames, config.n_cameras),
            "frame_age": torch.rand(b, frames, generator=g) * 10,
        }
    if "events" in config.modalities:
        fields |= {
            "event_codes": torch.randint(0, config.n_event_codes, (b, events), generator=g),
            "event_severity": torch.randint(0, len(SEVERITIES) + 1, (b, events), generator=g),
            "event_age": torch.rand(b, events, generator=g) * 48,
            "event_text": text(events),
            "event_text_mask": mask(b, events),
            "event_mask": mask(b, events),
        }
    if "maintenance" in config.modalities:
        parts = max(config.n_components, 1)
        fields |= {
            "maintenance_text": text(orders),
            "maintenance_text_mask": mask(b, orders),
            "maintenance_component": torch.randint(0, config.n_components + 1, (b, orders), generator=g),
            "maintenance_kind": torch.randint(0, len(MAINTENANCE_KINDS) + 1, (b, orders), generator=g),
            "maintenance_age": torch.rand(b, orders, generator=g) * 1000,
            "maintenance_mask": mask(b, orders),
            "since_maintenance": torch.rand(b, parts, generator=g) * 5000,
            "since_maintenance_known": mask(b, parts),
        }
    return ModelInputs(**fields)


def example_config(**overrides: object) -> ModelConfig:
    """A tiny config reading every modality (for tests)."""
    base: dict[str, object] = {
        "modalities": MODALITIES,
        "d_model": 32,
        "heads": 2,
        "n_telemetry_channels": 3,
        "n_waveform_channels": 1,
        "n_cameras": 1,
        "n_event_codes": 7,
        "n_components": 2,
        "n_fault_classes": 3,
        "n_asset_types": 2,
        "n_horizons": 2,
        "telemetry_steps": 12,
        "waveform_length": 256,
        "frame_size": 32,
        "waveform": {"n_fft": 64, "channels": 8},
        "vision": {"width": 8, "grid": 2},
    }
    base.update(overrides)
    return ModelConfig.model_validate(base)


def example_inputs_for_spec(config: ModelConfig, spec: WindowSpec, batch_size: int = 2, seed: int = 0) -> ModelInputs:
    """Random inputs shaped exactly as windows of ``spec`` are (for tracing an export)."""
    return example_inputs(
        config,
        batch_size,
        bursts=spec.waveforms.max_bursts if spec.waveforms is not None else 1,
        frames=spec.frames.max_frames if spec.frames is not None else 1,
        events=spec.events.max_events if spec.events is not None else 1,
        orders=spec.maintenance.max_orders if spec.maintenance is not None else 1,
        seed=seed,
    )
