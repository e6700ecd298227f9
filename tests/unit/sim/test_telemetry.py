"""Telemetry: baselines follow the operating regime, sensors drop out, physics of the slow channels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.sim import PlantConfig, simulate, telemetry_channels
from omnimaint.sim.telemetry import belt_speed, ramp, thermal_lag

HEALTHY = PlantConfig(
    n_assets=3, days=21, seed=2, fault_rate_scale=0.0, frame_period_s=86400.0, waveform_period_s=86400.0, workers=1
)


@pytest.fixture(scope="module")
def healthy_plant(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return simulate(HEALTHY, tmp_path_factory.mktemp("sim") / "healthy")


def _wide(dataset: Dataset, asset_id: str) -> pd.DataFrame:
    telemetry = dataset.table("telemetry")
    rows = telemetry[telemetry["asset_id"] == asset_id]
    return rows.pivot_table(index="ts", columns="channel", values="value")


def test_healthy_plant_has_no_failures_and_no_fault_work_orders(healthy_plant: Dataset) -> None:
    assert healthy_plant.table("failures").empty
    maintenance = healthy_plant.table("maintenance")
    assert set(maintenance["kind"]) <= {"preventive", "inspection"}
    assert not maintenance.empty


def test_baselines_shift_with_the_load_regime_without_any_fault(healthy_plant: Dataset) -> None:
    for asset_id in healthy_plant.asset_ids:
        wide = _wide(healthy_plant, asset_id).dropna(subset=["load", "motor_current", "bearing_temp", "speed"])
        running = wide[wide["speed"] > 100]
        high, low = running[running["load"] > 70], running[running["load"] < 40]
        assert len(high) > 30 and len(low) > 30, asset_id
        assert high["motor_current"].mean() > 1.3 * low["motor_current"].mean(), asset_id
        assert high["bearing_temp"].mean() > low["bearing_temp"].mean() + 3.0, asset_id
        stopped = wide[wide["speed"] < 1]
        if len(stopped) > 10:
            assert stopped["bearing_temp"].median() < running["bearing_temp"].median() - 5.0, asset_id


def test_pump_flow_and_pressure_follow_speed(healthy_plant: Dataset) -> None:
    wide = _wide(healthy_plant, "P001").dropna()
    running = wide[wide["speed"] > 100]
    assert running["speed"].std() > 100  # the drive follows demand: speed is a regime variable for pumps
    assert np.corrcoef(running["speed"], running["discharge_pressure"])[0, 1] > 0.6
    assert np.corrcoef(running["speed"], running["flow"])[0, 1] > 0.4  # flow also follows the valves (load)


def test_vibration_rms_follows_speed(healthy_plant: Dataset) -> None:
    for asset_id in healthy_plant.asset_ids:
        wide = _wide(healthy_plant, asset_id).dropna(subset=["speed", "vibration_rms"])
        assert (
            wide[wide["speed"] > 100]["vibration_rms"].median() > 5 * wide[wide["speed"] < 1]["vibration_rms"].median()
        )


def test_fixed_limits_raise_false_alarms_on_healthy_machines(healthy_plant: Dataset) -> None:
    events = healthy_plant.table("events")
    alarms = events[events["severity"].isin(["warning", "alarm"])]
    assert len(alarms) > 5
    assert {"AL-COMM-LOSS", "WN-SENSOR-RANGE"} & set(alarms["code"])


def test_sensors_drop_out_for_stretches(healthy_plant: Dataset) -> None:
    telemetry = healthy_plant.table("telemetry")
    ticks = int(HEALTHY.days * 86400 / HEALTHY.telemetry_period_s)
    expected = sum(len(telemetry_channels(t)) for t in healthy_plant.table("assets")["asset_type"]) * ticks
    assert 0.9 * expected < len(telemetry) < expected
    gaps = []
    for _, rows in telemetry.groupby(["asset_id", "channel"]):
        steps = rows["ts"].sort_values().diff().dt.total_seconds().dropna()
        gaps.append(steps.max())
    assert max(gaps) >= 3 * HEALTHY.telemetry_period_s


def test_without_dropouts_every_tick_is_present(tmp_path: Path) -> None:
    config = replace(HEALTHY, n_assets=2, days=2, dropout_scale=0.0)
    dataset = simulate(config, tmp_path / "full")
    telemetry = dataset.table("telemetry")
    ticks = int(config.days * 86400 / config.telemetry_period_s)
    assert len(telemetry) == ticks * (
        len(telemetry_channels("centrifugal_pump")) + len(telemetry_channels("cnc_spindle"))
    )


def test_thermal_lag_settles_to_a_step_with_its_time_constant() -> None:
    target = np.r_[np.zeros(5), np.full(120, 10.0)]
    lagged = thermal_lag(target, period_s=60.0, tau_s=600.0)
    assert lagged[4] == 0.0
    assert lagged[5 + 10] == pytest.approx(10 * (1 - np.exp(-11 / 10)), rel=0.02)
    assert lagged[-1] == pytest.approx(10.0, abs=0.01)


def test_late_symptoms_ramp_and_belt_slip_lowers_belt_speed() -> None:
    severity = np.array([0.0, 0.5, 0.7, 0.85, 1.0])
    assert list(ramp(severity, 0.7)) == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0])
    speeds = belt_speed(np.full(3, 1480.0), np.full(3, 0.8), np.array([0.0, 0.5, 1.0]))
    assert speeds[0] > speeds[1] > speeds[2]
    assert speeds[0] == pytest.approx(1480 / 60 / 20 * np.pi * 0.4 * (1 - 0.004 - 0.0048))
    assert 1 - speeds[2] / speeds[0] > 0.05
