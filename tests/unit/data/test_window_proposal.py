"""The window proposal: the default spec for the data it was made for, working specs for short or coarse
histories, counts that agree with the window builder, and messages that name the setting to change."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split, make_splits
from omnimaint.data.window_proposal import (
    DataTiming,
    census,
    check_windows,
    explain_no_windows,
    propose_window,
    scaled_spec,
    sets_durations,
)
from omnimaint.data.windows import MODALITIES, WindowSpec, micros
from omnimaint.errors import ConfigError
from omnimaint.training.config import load_config
from tests.unit.data.sensor import write_sensor_dataset
from tests.unit.data.tiny import write_tiny

DAY_US = micros(timedelta(days=1))


def _timing(
    days: float,
    *,
    assets: int = 5,
    period: timedelta | None = timedelta(minutes=10),
    failures_every_days: float | None = None,
) -> DataTiming:
    """Timing of ``assets`` machines observed for ``days`` from day 0, failing every ``failures_every_days``."""
    span = int(days * DAY_US)
    failures = (
        np.arange(1, int(days / failures_every_days) + 1, dtype=np.int64) * int(failures_every_days * DAY_US)
        if failures_every_days
        else np.zeros(0, dtype=np.int64)
    )
    return DataTiming(
        asset_ids=tuple(f"A{i}" for i in range(assets)),
        first_us=np.zeros(assets, dtype=np.int64),
        last_us=np.full(assets, span, dtype=np.int64),
        failures_us=tuple(failures[failures < span] for _ in range(assets)),
        modalities=frozenset(MODALITIES),
        telemetry_period=period,
        burst_period=timedelta(hours=1),
        frame_period=timedelta(hours=1),
    )


@pytest.mark.parametrize("days", [30, 90, 365])
def test_ten_minute_data_over_a_month_or_more_gets_the_default_spec(days: int) -> None:
    # The rule is anchored on the data the defaults were chosen for: every duration comes out unchanged.
    assert scaled_spec(_timing(days, assets=30, failures_every_days=20), WindowSpec()) == WindowSpec()


def test_one_minute_readings_over_three_days_get_short_horizons_and_a_fine_grid() -> None:
    timing = _timing(3, assets=1, period=timedelta(minutes=1), failures_every_days=1.2)
    spec = scaled_spec(timing, WindowSpec())
    assert spec.telemetry is not None
    # H = min(72 h, 3 d / 6 = 12 h, 1.2 d / 3 = 9.6 h) rounded down to 6 h; lookback H/3; 1-minute data.
    assert spec.horizons == (timedelta(hours=2), timedelta(hours=6))
    assert spec.telemetry.lookback == timedelta(hours=2) and spec.telemetry.step == timedelta(minutes=1)
    assert spec.degraded_within == timedelta(hours=12) and spec.rul_cap == timedelta(days=1)
    assert spec.stride <= timedelta(hours=6) / 12
    counts = census(timing, spec)
    assert counts.windows >= 500 and counts.positives > 0 and counts.failures == 2


def test_hourly_readings_over_a_year_keep_three_day_horizons_on_an_hourly_grid() -> None:
    spec = scaled_spec(_timing(365, period=timedelta(hours=1), failures_every_days=60), WindowSpec())
    assert spec.telemetry is not None
    assert spec.horizons == (timedelta(days=1), timedelta(days=3))
    assert spec.telemetry.step == timedelta(hours=1) and spec.telemetry.lookback == timedelta(hours=24)
    assert spec.stride == timedelta(hours=6)


def test_frequent_failures_shorten_the_horizon_so_positives_stay_a_minority() -> None:
    timing = _timing(90, failures_every_days=3)
    spec = scaled_spec(timing, WindowSpec())
    assert spec.horizons[-1] == timedelta(days=1)  # 3 d / 3
    counts = census(timing, spec)
    assert 0 < counts.positives < counts.windows / 2


def test_the_proposal_keeps_channels_and_slots_and_drops_modalities_without_data() -> None:
    timing = _timing(30)
    timing = DataTiming(**{**timing.__dict__, "modalities": frozenset({"telemetry", "events"})})
    base = WindowSpec.model_validate({"telemetry": {"channels": ["temp"]}, "events": {"max_events": 5}})
    spec = scaled_spec(timing, base)
    assert spec.enabled == ("telemetry", "events")
    assert spec.telemetry is not None and spec.telemetry.channels == ("temp",)
    assert spec.events is not None and spec.events.max_events == 5


def test_only_durations_count_as_window_settings() -> None:
    assert not sets_durations(load_config(None, {"data.dataset": "x"}).data.window)
    assert not sets_durations(WindowSpec().without("frames"))
    assert not sets_durations(
        load_config(None, {"data.dataset": "x", "data.window.telemetry.channels": ["a"]}).data.window
    )
    for key, value in (
        ("data.window.stride", "PT1H"),
        ("data.window.horizons", ["P1D"]),
        ("data.window.telemetry.step", "PT1H"),
        ("data.window.events.lookback", "PT1H"),
    ):
        assert sets_durations(load_config(None, {"data.dataset": "x", key: value}).data.window), key


def test_census_counts_what_the_window_builder_cuts(tmp_path: Path) -> None:
    dataset = write_sensor_dataset(tmp_path / "csv", assets=3, days=4, failures_at_hours=(36, 72))
    timing = DataTiming.of(dataset)
    spec = scaled_spec(timing, WindowSpec())
    for strategy in ("asset", "time"):
        splits = make_splits(dataset, spec, strategy)  # type: ignore[arg-type]
        for split in splits.values():
            counts = census(timing, spec, split)
            windows = WindowedDataset(dataset, spec, split=split)
            labels = windows.labels
            known_positive = (labels.failure_within[:, -1] > 0) & (labels.failure_within_known[:, -1] > 0)
            assert (counts.windows, counts.positives) == (len(windows), int(known_positive.sum())), split


def test_data_timing_reads_rates_spans_and_failures(tmp_path: Path) -> None:
    dataset = write_sensor_dataset(
        tmp_path / "csv", assets=2, days=2, period=pd.Timedelta(minutes=5), failures_at_hours=(10, 30)
    )
    timing = DataTiming.of(dataset)
    assert timing.telemetry_period == timedelta(minutes=5)
    assert timing.span == timedelta(days=2) - timedelta(minutes=5)
    assert timing.modalities == {"telemetry"}
    # Per asset 10 h from the first reading, then 20 h between failures: the median is 15 h.
    assert timing.n_failures == 4 and timing.failure_spacing == timedelta(hours=15)


def test_a_single_machine_is_split_by_time_with_failures_in_training_and_validation(tmp_path: Path) -> None:
    dataset = write_sensor_dataset(tmp_path / "csv", assets=1, days=4, failures_at_hours=(36, 72))
    proposal = propose_window(dataset, WindowSpec(), fractions=(0.6, 0.2, 0.2), seed=0)
    assert proposal.split == "time"
    assert proposal.counts["train"].positives > 0 and proposal.counts["val"].positives > 0
    assert "time split" in proposal.describe() and "telemetry every 1 min" in proposal.describe()


def test_several_machines_keep_the_asset_split(tmp_path: Path) -> None:
    dataset = write_sensor_dataset(tmp_path / "csv", assets=5, days=4, failures_at_hours=(36, 72))
    proposal = propose_window(dataset, WindowSpec(), fractions=(0.6, 0.2, 0.2), seed=0)
    assert proposal.split == "asset"
    assert all(counts.positives > 0 for counts in proposal.counts.values())


def test_a_configured_split_strategy_is_kept(tmp_path: Path) -> None:
    dataset = write_sensor_dataset(tmp_path / "csv", assets=1, days=4, failures_at_hours=(36, 72))
    proposal = propose_window(dataset, WindowSpec(), fractions=(0.6, 0.2, 0.2), seed=0, split="asset")
    assert proposal.split == "asset" and proposal.counts["val"].windows == 0


@pytest.mark.parametrize(
    ("update", "split", "fragments"),
    [
        ({"telemetry": {"lookback": "P30D"}}, None, ("data.window.telemetry.lookback", "30 d", "set it below")),
        ({"stride": "P30D"}, None, ("data.window.stride", "30 d", "set it below")),
        ({}, Split("val", asset_ids=frozenset()), ("split 'val' holds no asset", "data.split")),
        (
            {},
            Split("test", start=pd.Timestamp("2030-01-01", tz="UTC")),
            ("split 'test' begins at 2030-01-01", "after the data end (2024-01-10"),
        ),
        (
            {},
            Split("train", end=pd.Timestamp("2024-01-01T12:00Z")),
            ("split 'train' (the start to 2024-01-01 12:00", "full telemetry lookback", "data.split to asset"),
        ),
    ],
)
def test_why_a_spec_cuts_no_window(
    tmp_path: Path, update: dict, split: Split | None, fragments: tuple[str, ...]
) -> None:
    dataset = write_tiny(tmp_path / "tiny")
    spec = WindowSpec.model_validate({**WindowSpec().model_dump(), **update})
    message = explain_no_windows(DataTiming.of(dataset, periods=False), spec, split, "tiny")
    assert message is not None and message.startswith("tiny: ")
    for fragment in fragments:
        assert fragment in message
    assert explain_no_windows(DataTiming.of(dataset), WindowSpec(), None, "tiny") is None


def test_check_windows_refuses_no_training_windows_and_warns_about_the_others(tmp_path: Path) -> None:
    dataset = Dataset(write_tiny(tmp_path / "tiny").path)
    timing = DataTiming.of(dataset, periods=False)
    splits = make_splits(dataset, WindowSpec(), "asset")  # two assets: one for training, one for validation
    (warning,) = check_windows(dataset, WindowSpec(), splits, timing)
    assert warning.startswith("no test windows: ") and "split 'test' holds no asset" in warning
    long = WindowSpec.model_validate({"telemetry": {"lookback": "P30D"}})
    with pytest.raises(ConfigError, match=r"no training windows: .*data\.window\.telemetry\.lookback"):
        check_windows(dataset, long, splits, timing)
