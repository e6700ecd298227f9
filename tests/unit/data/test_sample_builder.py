"""Windows cut from the tiny dataset, checked value by value against what each modality holds."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.windows import (
    MODALITIES,
    EventWindow,
    FrameWindow,
    MaintenanceWindow,
    Sample,
    TelemetryWindow,
    WaveformWindow,
    WindowSpec,
)
from omnimaint.errors import ConfigError
from tests.unit.data.tiny import hours

SPEC = WindowSpec(
    telemetry=TelemetryWindow(lookback=timedelta(hours=6), step=timedelta(hours=1)),
    waveforms=WaveformWindow(lookback=timedelta(hours=12), max_bursts=3, length=50),
    frames=FrameWindow(lookback=timedelta(hours=24), max_frames=2, size=8),
    events=EventWindow(lookback=timedelta(hours=10), max_events=4),
    maintenance=MaintenanceWindow(lookback=timedelta(days=30), max_orders=2),
    stride=timedelta(hours=6),
)


def _sample(dataset: Dataset, asset: str, hour: float, spec: WindowSpec = SPEC) -> Sample:
    anchors = pd.DataFrame({"asset_id": [asset], "ts": [hours(hour)]})
    return WindowedDataset(dataset, spec, anchors=anchors)[0]


def test_telemetry_window_holds_exactly_the_last_lookback(tiny_dataset: Dataset) -> None:
    sample = _sample(tiny_dataset, "A", 152)
    channels = list(WindowedDataset(tiny_dataset, SPEC).vocab.telemetry_channels)
    assert sample.telemetry is not None and sample.telemetry_mask is not None
    assert sample.telemetry.shape == (1, 6, len(channels))
    temp, pres = channels.index("temp"), channels.index("pres")
    np.testing.assert_array_equal(sample.telemetry[0, :, temp], np.arange(147, 153))
    np.testing.assert_array_equal(sample.telemetry_mask[0, :, pres], [False, True, False, True, False, True])
    np.testing.assert_array_equal(sample.telemetry[0, [1, 3, 5], pres], [-148, -150, -152])
    assert (sample.telemetry[0, [0, 2, 4], pres] == 0).all()


def test_windows_never_see_the_future(tiny_dataset: Dataset) -> None:
    windowed = WindowedDataset(tiny_dataset, SPEC)
    batch = windowed.batch(np.arange(len(windowed)))
    assert batch.telemetry is not None and batch.telemetry_mask is not None
    anchor_hours = (batch.anchors - np.datetime64("2024-01-01T00:00:00", "us")) / np.timedelta64(1, "h")
    channels = list(windowed.vocab.telemetry_channels)
    is_a = batch.asset_ids == "A"
    temp = batch.telemetry[is_a, :, channels.index("temp")]
    observed = batch.telemetry_mask[is_a, :, channels.index("temp")]
    assert (np.where(observed, temp, -np.inf).max(axis=1) <= anchor_hours[is_a]).all()
    assert batch.waveform_age_hours is not None and batch.event_age_hours is not None
    assert (batch.waveform_age_hours >= 0).all() and (batch.event_age_hours >= 0).all()


def test_waveform_frame_event_and_work_order_slots(tiny_dataset: Dataset) -> None:
    sample = _sample(tiny_dataset, "A", 152)
    assert sample.waveforms is not None and sample.waveform_mask is not None and sample.waveform_age_hours is not None
    np.testing.assert_array_equal(sample.waveform_mask[0, :, 0], [False, True, True])
    np.testing.assert_array_equal(sample.waveforms[0, 1:, 0, 0], [24, 25])  # bursts at 144 h and 150 h
    np.testing.assert_array_equal(sample.waveform_age_hours[0, 1:], [8, 2])
    assert sample.waveforms.shape[-1] == 50
    assert sample.frames is not None and sample.frame_mask is not None
    np.testing.assert_array_equal(sample.frame_mask[0, :, 0], [True, True])
    np.testing.assert_array_equal(sample.frames[0, :, 0, 0, 0, 0], [110, 120])  # frames 11 and 12
    assert sample.event_codes is not None and sample.event_mask is not None and sample.event_text is not None
    np.testing.assert_array_equal(sample.event_mask[0], [False, False, True, True])
    vocab = WindowedDataset(tiny_dataset, SPEC).vocab
    assert vocab.event_codes[sample.event_codes[0, 2] - 2] == "WN-VIB"
    assert sample.texts[sample.event_text[0, 3]] == "vibration high"
    assert sample.maintenance_mask is not None and sample.maintenance_text is not None
    np.testing.assert_array_equal(sample.maintenance_mask[0], [False, True])  # WO-2 closes at 160 h
    assert sample.texts[sample.maintenance_text[0, 1]] == "PM / greased brg"
    assert sample.since_maintenance_hours is not None and sample.since_maintenance_known is not None
    bearing, seal = vocab.components.index("bearing"), vocab.components.index("seal")
    assert sample.since_maintenance_hours[0, bearing] == pytest.approx(104)  # closed at 48 h
    assert sample.since_maintenance_hours[0, seal] == pytest.approx(176)  # installed at -24 h
    later = _sample(tiny_dataset, "A", 161)
    assert later.since_maintenance_hours is not None and later.maintenance_text is not None
    assert later.since_maintenance_hours[0, bearing] == pytest.approx(1)
    assert later.texts[later.maintenance_text[0, 1]] == "brg noise / worn race / repl brg"


def test_presence_mask_reflects_missing_modalities(tiny_dataset: Dataset) -> None:
    sample = _sample(tiny_dataset, "B", 100)
    present = dict(zip(MODALITIES, sample.presence[0], strict=True))
    assert present == {"telemetry": True, "waveforms": False, "frames": False, "events": False, "maintenance": False}
    assert sample.waveform_mask is not None and not sample.waveform_mask.any()
    assert sample.waveforms is not None and not sample.waveforms.any()


def test_stride_grid_anchors(tiny_dataset: Dataset) -> None:
    windowed = WindowedDataset(tiny_dataset, SPEC)
    anchors = windowed.anchors
    a = anchors[anchors["asset_id"] == "A"]["ts"]
    assert a.iloc[0] == hours(6) and a.iloc[-1] == hours(234)
    assert (a.diff().dropna() == pd.Timedelta(hours=6)).all()
    assert len(windowed) == 2 * 39


def test_batches_cover_every_anchor_once(tiny_dataset: Dataset) -> None:
    windowed = WindowedDataset(tiny_dataset, SPEC)
    seen = [
        (a, t)
        for batch in windowed.iter_batches(16, shuffle=True, rng=np.random.default_rng(0))
        for a, t in zip(batch.asset_ids, batch.anchors, strict=True)
    ]
    assert len(seen) == len(windowed) == len(set(seen))


def test_disabled_modalities_are_none(tiny_dataset: Dataset) -> None:
    sample = _sample(tiny_dataset, "A", 152, SPEC.without("frames", "events"))
    assert sample.frames is None and sample.event_codes is None
    assert not sample.presence[0, MODALITIES.index("frames")]


def test_waveforms_are_resampled_to_the_spec_rate(tiny_dataset: Dataset) -> None:
    spec = SPEC.model_copy(
        update={"waveforms": WaveformWindow(lookback=timedelta(hours=12), length=100, sample_rate_hz=500)}
    )
    sample = _sample(tiny_dataset, "A", 152, spec)
    assert sample.waveforms is not None and sample.waveform_mask is not None
    kept = sample.waveforms[0, -1, 0]
    # 100 samples at 1 kHz become 50 at 500 Hz (the polyphase filter rings at the edges only).
    assert kept[10:40] == pytest.approx(np.full(30, 25.0), abs=0.5)
    assert (kept[50:] == 0).all()


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="whole multiples"):
        WindowSpec(telemetry=TelemetryWindow(lookback=timedelta(hours=1), step=timedelta(minutes=7)))
    with pytest.raises(ValueError, match="at least one modality"):
        WindowSpec(telemetry=None, waveforms=None, frames=None, events=None, maintenance=None)
    with pytest.raises(ValueError, match="sorted"):
        WindowSpec(horizons=(timedelta(hours=72), timedelta(hours=24)))


def test_unknown_asset_in_anchors(tiny_dataset: Dataset) -> None:
    with pytest.raises(ConfigError, match="outside the dataset"):
        WindowedDataset(tiny_dataset, SPEC, anchors=pd.DataFrame({"asset_id": ["Q"], "ts": [hours(1)]}))
