"""Fixtures shared by the benchmarks."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_service_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny test bundle trained on a small simulated plant (3 asset types, 10 days): what the service and
    dashboard benchmarks serve. Trained once per run."""
    from omnimaint.sim import PlantConfig, simulate
    from omnimaint.training.run import train
    from tests.unit.training.tiny import tiny_config

    plant = tmp_path_factory.mktemp("service-bundle") / "plant"
    simulate(PlantConfig(n_assets=3, days=10, seed=3, fault_rate_scale=3.0, telemetry_period_s=1800, workers=1), plant)
    made = train(tiny_config(plant, tmp_path_factory.mktemp("service-bundle-run")))
    assert made is not None
    return made
