"""Small simulated plants shared by the simulator tests (each generated once per session)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.sim import AssetHistory, PlantConfig, ground_truth, simulate

PLANT = PlantConfig(n_assets=6, days=30, seed=7, fault_rate_scale=3.0, workers=1)
"""A small plant with every fault mode at three times the normal rate."""

FAULTY = PlantConfig(
    n_assets=6,
    days=40,
    seed=11,
    fault_modes=("bearing_wear", "seal_leak", "electrical_fault", "imbalance_misalignment"),
    fault_rate_scale=8.0,
    inspection_period_days=365.0,
    pm_interval_scale=5.0,
    frame_period_s=2 * 3600.0,
    workers=1,
)
"""Faults that run to failure: frequent onsets, nobody inspecting, preventive tasks rare."""


@pytest.fixture(scope="session")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return simulate(PLANT, tmp_path_factory.mktemp("sim") / "plant")


@pytest.fixture(scope="session")
def faulty_plant(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return simulate(FAULTY, tmp_path_factory.mktemp("sim") / "faulty")


@pytest.fixture(scope="session")
def faulty_truth() -> dict[str, AssetHistory]:
    return ground_truth(FAULTY)


def seconds(ts: pd.Series, config: PlantConfig) -> np.ndarray:
    """Simulation seconds of UTC timestamps."""
    return np.asarray((ts - pd.Timestamp(config.start)).dt.total_seconds(), dtype=np.float64)


def rows_of(dataset: Dataset, table: str, asset_id: str) -> pd.DataFrame:
    """One asset's rows of a table."""
    frame = dataset.table(table)
    return frame[frame["asset_id"] == asset_id].reset_index(drop=True)


def project_root() -> Path:
    return Path(__file__).resolve().parents[3]
