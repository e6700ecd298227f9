"""The telemetry window's run-to-failure options, checked value by value on the tiny dataset.

Asset A: ``temp`` reads the hour index every hour, ``pres`` reads minus the hour every two hours, from hour 0.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.windows import TelemetryWindow, WindowSpec
from tests.unit.data.tiny import hours


def _window(dataset: Dataset, hour: float, **options: object) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Values and masks of asset A's window at ``hour``, by input channel (6 steps of 1 h)."""
    telemetry = TelemetryWindow(lookback=timedelta(hours=6), step=timedelta(hours=1), **options)  # type: ignore[arg-type]
    spec = WindowSpec(telemetry=telemetry, waveforms=None, frames=None, events=None, maintenance=None)
    windows = WindowedDataset(dataset, spec, anchors=pd.DataFrame({"asset_id": ["A"], "ts": [hours(hour)]}))
    batch = windows.batch(np.array([0]))
    names = telemetry.input_channels(windows.vocab.telemetry_channels)
    assert batch.telemetry is not None and batch.telemetry_mask is not None
    assert batch.telemetry.shape == (1, 6, len(names))
    values = {n: batch.telemetry[0, :, i] for i, n in enumerate(names)}
    masks = {n: batch.telemetry_mask[0, :, i] for i, n in enumerate(names)}
    return values, masks


def test_a_window_before_the_start_is_masked_by_default(tiny_dataset: Dataset) -> None:
    values, masks = _window(tiny_dataset, 2)
    assert masks["temp"].tolist() == [False, False, False, True, True, True]
    assert values["temp"][3:].tolist() == [0, 1, 2]


def test_before_start_first_repeats_the_first_step(tiny_dataset: Dataset) -> None:
    values, masks = _window(tiny_dataset, 2, before_start="first")
    assert masks["temp"].all()
    assert values["temp"].tolist() == [0, 0, 0, 0, 1, 2]


def test_drift_is_the_departure_from_the_mean_of_the_start_so_far(tiny_dataset: Dataset) -> None:
    # temp's start (3 steps): 0, then the mean of (0, 1), then of (0, 1, 2) = 1 for good.
    values, masks = _window(tiny_dataset, 10, drift_over=timedelta(hours=3))
    assert values["drift_temp"].tolist() == [h - 1 for h in range(5, 11)]
    # pres reads at even hours only: its start is the mean of 0 and -2; odd hours stay masked.
    assert masks["drift_pres"].tolist() == [False, True, False, True, False, True]
    assert values["drift_pres"][masks["drift_pres"]].tolist() == [-6 + 1, -8 + 1, -10 + 1]
    early, _ = _window(tiny_dataset, 1, drift_over=timedelta(hours=3))
    assert early["drift_temp"][-2:].tolist() == [0.0, 1 - 0.5]  # causal: only the start seen so far


def test_age_counts_hours_since_the_first_step(tiny_dataset: Dataset) -> None:
    values, masks = _window(tiny_dataset, 10, age=True)
    assert values["age_hours"].tolist() == list(range(5, 11))
    assert masks["age_hours"].all()
    padded, padded_mask = _window(tiny_dataset, 2, age=True, before_start="first")
    assert padded["age_hours"].tolist() == [0, 0, 0, 0, 1, 2] and padded_mask["age_hours"].all()


def test_input_channels_name_the_derived_columns() -> None:
    window = TelemetryWindow(drift_over=timedelta(hours=2), age=True)
    assert window.input_channels(("a", "b")) == ("a", "b", "drift_a", "drift_b", "age_hours")
    assert TelemetryWindow().input_channels(("a",)) == ("a",)


def test_a_window_reaches_back_per_modality_and_to_the_start_for_the_options_that_look_there() -> None:
    from omnimaint.data.windows import EventWindow

    spec = WindowSpec(
        telemetry=TelemetryWindow(lookback=timedelta(hours=6), step=timedelta(hours=1)),
        waveforms=None,
        frames=None,
        events=EventWindow(lookback=timedelta(hours=48)),
    )
    assert spec.reach("telemetry") == timedelta(hours=7)  # one step more: the oldest step is whole
    assert spec.reach("events") == timedelta(hours=48)
    assert spec.reach("maintenance") is None
    assert spec.history == timedelta(hours=48)
    drifting = spec.model_copy(update={"telemetry": TelemetryWindow(drift_over=timedelta(hours=2))})
    assert drifting.reach("telemetry") is None and drifting.history is None
    assert drifting.reach("events") == timedelta(hours=48)
    with pytest.raises(ValueError, match="frames is not enabled"):
        spec.reach("frames")
