"""Controller events: precursors of electrical faults, language of the log, lockouts around work orders."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.sim import AssetHistory, PlantConfig, simulate
from omnimaint.sim.event_codes import EVENT_CODES, FAILURE_CODES
from tests.unit.sim.conftest import FAULTY, PLANT, seconds

CJK = re.compile(r"[\u4e00-\u9fff]")
CHINESE = PlantConfig(
    n_assets=3, days=20, seed=4, lang="zh", fault_rate_scale=4.0, frame_period_s=86400.0, waveform_period_s=86400.0
)


@pytest.fixture(scope="module")
def chinese_plant(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return simulate(CHINESE, tmp_path_factory.mktemp("sim") / "zh")


def test_electrical_faults_raise_the_trip_and_leakage_rate_before_failure(
    faulty_plant: Dataset, faulty_truth: dict[str, AssetHistory]
) -> None:
    events = faulty_plant.table("events")
    precursors = events[events["code"].isin(["AL-OVERCURRENT", "WN-GND-FAULT"])]
    horizon = FAULTY.days * 86400
    late_count, late_days, quiet_count, quiet_days = 0, 0.0, 0, 0.0
    for asset_id, history in faulty_truth.items():
        t = seconds(precursors[precursors["asset_id"] == asset_id]["ts"], FAULTY)
        grid = np.arange(0.0, horizon, 3600.0)
        severity = history.severity("electrical_fault", grid)
        quiet = severity == 0
        quiet_days += quiet.sum() / 24
        quiet_count += int((history.severity("electrical_fault", t) == 0).sum())
        for episode in history.episodes:
            if (
                episode.mode == "electrical_fault"
                and episode.outcome == "failure"
                and 3 * 86400 < episode.end_s < horizon
            ):
                window = (t > episode.end_s - 3 * 86400) & (t < episode.end_s)
                late_count += int(window.sum())
                late_days += 3.0
    assert late_days > 0, "the faulty plant should contain an electrical failure"
    late_rate, quiet_rate = late_count / late_days, quiet_count / quiet_days
    assert late_rate > 1.0
    assert late_rate > 10 * quiet_rate


def test_failures_raise_their_trip_and_work_orders_lock_out(plant: Dataset) -> None:
    events = plant.table("events")
    for failure in plant.table("failures").itertuples():
        trip = events[(events["asset_id"] == failure.asset_id) & (events["ts"] == failure.ts)]
        assert FAILURE_CODES[failure.fault_type] in set(trip["code"])
        assert EVENT_CODES[FAILURE_CODES[failure.fault_type]].severity == "critical"
    maintenance = plant.table("maintenance")
    stopping = maintenance[maintenance["kind"] != "inspection"]
    lockouts = events[events["code"] == "MT-LOCKOUT"]
    for order in stopping.itertuples():
        near = lockouts[
            (lockouts["asset_id"] == order.asset_id)
            & ((lockouts["ts"] - order.ts_open).abs() < pd.Timedelta(minutes=2))
        ]
        assert len(near) == 1


def test_no_events_while_the_controller_is_isolated(plant: Dataset) -> None:
    events = plant.table("events")
    repairs = plant.table("maintenance").query("kind == 'corrective' and ts_close == ts_close")
    for repair in repairs.itertuples():
        inside = events[
            (events["asset_id"] == repair.asset_id)
            & (events["ts"] > repair.ts_open + pd.Timedelta(minutes=1))
            & (events["ts"] < repair.ts_close)
        ]
        assert inside.empty


def test_chinese_plant_writes_chinese_events_and_work_orders(chinese_plant: Dataset) -> None:
    events = chinese_plant.table("events")
    assert events["message"].map(lambda m: bool(CJK.search(m))).all()
    maintenance = chinese_plant.table("maintenance")
    assert maintenance["problem"].map(lambda m: bool(CJK.search(m))).all()
    assert maintenance["action"].map(lambda m: bool(CJK.search(m))).mean() > 0.8  # "OK" is Chinese shop-floor too
    corrective = maintenance[maintenance["kind"] == "corrective"]
    assert not corrective.empty
    for field in ("problem", "cause", "action"):
        assert corrective[field].map(lambda m: bool(CJK.search(m))).all(), field


def test_english_plant_writes_english(plant: Dataset) -> None:
    assert not plant.table("events")["message"].map(lambda m: bool(CJK.search(m))).any()
    assert not plant.table("maintenance")["action"].map(lambda m: bool(CJK.search(m))).any()
    assert PLANT.lang == "en"
