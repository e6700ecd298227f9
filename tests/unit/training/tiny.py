"""A tiny training configuration (small windows, a small model, a few batches) for fast end-to-end tests."""

from __future__ import annotations

from pathlib import Path

from omnimaint.training.config import TrainConfig, load_config

TINY = {
    "data.window": {
        "telemetry": {"lookback": "PT12H", "step": "PT30M"},
        "waveforms": {"lookback": "PT6H", "max_bursts": 1, "length": 1024},
        "frames": {"lookback": "PT6H", "max_frames": 1, "size": 32},
        "events": {"lookback": "PT48H", "max_events": 8},
        "maintenance": {"lookback": "P60D", "max_orders": 2},
        "stride": "PT6H",
        "horizons": ["P1D", "P3D"],
        "rul_cap": "P7D",
        "degraded_within": "P5D",
    },
    "model.d_model": 32,
    "model.heads": 2,
    "model.telemetry.patch": 4,
    "model.waveform.n_fft": 128,
    "model.waveform.channels": 8,
    "model.vision.width": 8,
    "model.vision.grid": 2,
    "model.fusion.layers": 1,
    "optim.batch_size": 16,
    "optim.max_epochs": 1,
    "optim.limit_train_batches": 4,
    "progress": False,
}


def tiny_config(dataset: Path, out: Path, **overrides: object) -> TrainConfig:
    return load_config(None, {**TINY, "data.dataset": str(dataset), "out": str(out), **overrides})
