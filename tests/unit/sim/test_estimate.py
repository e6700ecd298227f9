"""The size and time announced before a simulation: counts and bytes close to what a run writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimaint.sim import PlantConfig, simulate
from omnimaint.sim.estimate import estimate


def test_the_estimate_matches_a_real_run(tmp_path: Path) -> None:
    config = PlantConfig(n_assets=6, days=10, frame_size=32, telemetry_period_s=1200, workers=1)
    expected = estimate(config)
    dataset = simulate(config, tmp_path / "plant")
    rows = {name: info.rows for name, info in dataset.manifest.tables.items()}
    assert rows["telemetry"] == pytest.approx(expected.telemetry_rows, rel=0.1)
    assert rows["frames"] == pytest.approx(expected.frames, rel=0.15)
    assert rows["waveforms"] == pytest.approx(expected.bursts, rel=0.3)  # bursts only while machines run
    written = sum(p.stat().st_size for p in (tmp_path / "plant").rglob("*") if p.is_file())
    assert written == pytest.approx(expected.bytes, rel=0.3)


def test_only_large_runs_are_announced() -> None:
    readme = PlantConfig(n_assets=50, days=90)  # the README's example
    assert estimate(readme).large
    assert estimate(readme).describe(readme).startswith("simulating 50 machines × 90 days: ~4.4 M telemetry rows")
    assert "GB" in estimate(readme).describe(readme)
    assert not estimate(PlantConfig()).large


def test_more_workers_take_less_time_up_to_the_cores() -> None:
    config = PlantConfig(n_assets=50, days=90, workers=8)
    on = {cpus: estimate(config, cpus=cpus).seconds for cpus in (2, 8, 16)}
    assert on[2] > on[8] == on[16]  # eight workers use eight cores at most
