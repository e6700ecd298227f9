"""A labelled sensor CSV as a user brings it: a few telemetry channels at one rate, failure rows, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from omnimaint.data import ChannelInfo, Dataset, Manifest, write_dataset

START = pd.Timestamp("2024-03-01T00:00:00Z")
ONE_MINUTE = pd.Timedelta(minutes=1)


def write_sensor_dataset(
    folder: Path,
    *,
    assets: int = 1,
    days: float = 3,
    period: pd.Timedelta = ONE_MINUTE,
    failures_at_hours: tuple[float, ...] = (),
    channels: tuple[str, ...] = ("temperature", "vibration"),
    asset_type: str = "machine",
    seed: int = 0,
) -> Dataset:
    """One row per reading and channel for ``assets`` machines over ``days``; each machine fails at the given
    hours (its readings drift up over the 12 hours before each failure)."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(START, START + pd.Timedelta(days=days), freq=period, inclusive="left")
    hours = (stamps - START) / pd.Timedelta(hours=1)
    ids = [f"M{i + 1}" for i in range(assets)]
    rows = []
    for asset in ids:
        drift = np.zeros(len(stamps))
        for failure in failures_at_hours:
            before = failure - hours.to_numpy()
            drift += np.where((before > 0) & (before <= 12), (12 - before) / 12, 0.0)
        for c, channel in enumerate(channels):
            values = 20.0 + 5 * c + 3 * drift + rng.normal(0, 0.3, len(stamps))
            rows.append(pd.DataFrame({"asset_id": asset, "ts": stamps, "channel": channel, "value": values}))
    failures = pd.DataFrame(
        {
            "asset_id": [a for a in ids for _ in failures_at_hours],
            "ts": [START + pd.Timedelta(hours=h) for _ in ids for h in failures_at_hours],
            "component": "machine",
            "fault_type": "failure",
        }
    )
    manifest = Manifest(
        schema_version=1,
        name="sensor-csv",
        channels=tuple(
            ChannelInfo(name=c, kind="telemetry", sampling_rate_hz=1 / period.total_seconds()) for c in channels
        ),
        components={asset_type: ("machine",)},
        fault_types=("failure",),
    )
    tables = {
        "assets": pd.DataFrame({"asset_id": ids, "asset_type": asset_type}),
        "telemetry": pd.concat(rows, ignore_index=True),
    }
    if len(failures):  # an absent table is written empty, with its schema
        tables["failures"] = failures
    return write_dataset(folder, manifest, tables)


SMALL_MODEL = {
    "model.d_model": 16,
    "model.heads": 2,
    "model.telemetry.patch": 8,
    "model.fusion.layers": 1,
    "optim.batch_size": 32,
    "optim.max_epochs": 1,
    "optim.limit_train_batches": 2,
    "progress": False,
}
"""A small model and a few batches: no window settings, so the window is proposed from the data."""


def train_sensor_bundle(dataset: Path, out: Path, **overrides: object) -> Path:
    """Train a small bundle on a sensor dataset with nothing but the model size configured."""
    from omnimaint.training.config import load_config
    from omnimaint.training.run import train

    bundle = train(load_config(None, {**SMALL_MODEL, "data.dataset": str(dataset), "out": str(out), **overrides}))
    assert bundle is not None
    return bundle
