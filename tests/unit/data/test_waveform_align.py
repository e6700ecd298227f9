"""``WaveformWindow(align="anchor")``: a slot holds the samples of its burst that end at the anchor, sample ``i``
of a burst stored at ``ts`` with rate ``r`` being taken at ``ts + i / r``."""

from __future__ import annotations

from datetime import timedelta
from math import ceil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset, Manifest, write_dataset
from omnimaint.data.item_index import resampled
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.data.windows import WaveformWindow, WindowSpec

START = pd.Timestamp("2024-01-01", tz="UTC")
N = 1000  # samples of the recording of asset R, at 1 kHz: one second
RECORDINGS: dict[str, tuple[float, np.ndarray]] = {
    "R": (1000.0, np.arange(N, dtype=np.float32)),  # each sample is its own position
    "F": (2000.0, np.sin(np.arange(2 * N) * 0.05).astype(np.float32)),  # a tone at 2 kHz
    "S": (12_000.0, np.random.default_rng(0).normal(size=12_000).astype(np.float32)),  # samples between µs
}
"""Asset → (rate, samples) of its one recording, stored at ``START``."""


def _spec(length: int = 100, rate: float | None = None, max_bursts: int = 1) -> WindowSpec:
    window = WaveformWindow(
        lookback=timedelta(hours=1), max_bursts=max_bursts, length=length, sample_rate_hz=rate, align="anchor"
    )
    return WindowSpec(telemetry=None, waveforms=window, frames=None, events=None, maintenance=None)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    waveforms = pd.DataFrame(
        [
            {"asset_id": asset, "ts": START, "channel": "accel", "sample_rate_hz": rate, "samples": samples}
            for asset, (rate, samples) in RECORDINGS.items()
        ]
    )
    assets = pd.DataFrame({"asset_id": list(RECORDINGS), "asset_type": "rig"})
    path = tmp_path_factory.mktemp("align") / "d"
    return write_dataset(
        path, Manifest(schema_version=SCHEMA_VERSION, name="align"), {"assets": assets, "waveforms": waveforms}
    )


def _windows(dataset: Dataset, asset: str, seconds: list[float], spec: WindowSpec) -> WindowedDataset:
    anchors = pd.DataFrame({"asset_id": asset, "ts": [START + pd.Timedelta(seconds=s) for s in seconds]})
    return WindowedDataset(dataset, spec, anchors=anchors)


def test_a_slot_holds_the_samples_that_end_at_the_anchor(recordings: Dataset) -> None:
    batch = _windows(recordings, "R", [0.3, 0.05, 5.0], _spec()).batch(np.arange(3))
    assert batch.waveforms is not None and batch.waveform_mask is not None and batch.waveform_age_hours is not None
    np.testing.assert_array_equal(batch.waveforms[0, 0, 0], np.arange(201, 301))  # sample 300 is taken at 0.3 s
    # Only samples 0 … 50 were taken by 0.05 s: zeros in front of them.
    np.testing.assert_array_equal(batch.waveforms[1, 0, 0], np.concatenate([np.zeros(49), np.arange(51)]))
    # The recording ended before the anchor: its last samples, as old as the time since its last one.
    np.testing.assert_array_equal(batch.waveforms[2, 0, 0], np.arange(N - 100, N))
    assert batch.waveform_age_hours[2, 0] == pytest.approx((5.0 - 0.999) / 3600)
    assert batch.waveform_age_hours[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert batch.waveform_mask.all()


def test_anchors_at_sample_times_rounded_up_to_the_microsecond_end_at_that_sample(recordings: Dataset) -> None:
    # At 12 kHz a sample comes every 83.3 µs: sample k is taken at k · 10^6 / 12000 µs, rounded up here.
    last = np.array([2047, 2048, 2049, 5000, 11_999])
    anchors = pd.DataFrame(
        {"asset_id": "S", "ts": [START + pd.Timedelta(microseconds=ceil(k * 1_000_000 / 12_000)) for k in last]}
    )
    windows = WindowedDataset(recordings, _spec(length=2048), anchors=anchors)
    batch = windows.batch(np.arange(len(last)))
    assert batch.waveforms is not None
    signal = RECORDINGS["S"][1]
    for row, k in enumerate(last):
        np.testing.assert_array_equal(batch.waveforms[row, 0, 0], signal[k - 2047 : k + 1])


def test_a_burst_at_another_rate_is_resampled_before_it_is_cut(recordings: Dataset) -> None:
    batch = _windows(recordings, "F", [0.4], _spec(rate=1000.0)).batch(np.arange(1))
    assert batch.waveforms is not None
    at_1khz = resampled(RECORDINGS["F"][1], 2000.0, 1000.0)  # one second at 1 kHz; sample 400 is taken at 0.4 s
    np.testing.assert_array_equal(batch.waveforms[0, 0, 0], at_1khz[301:401])


def test_the_waveform_scale_is_fitted_on_the_samples_the_windows_hold(recordings: Dataset) -> None:
    # Two non-overlapping windows of 100 samples: 101 … 200 and 501 … 600 (none of the other 800 samples).
    rms = _windows(recordings, "R", [0.2, 0.6], _spec()).waveform_rms()
    held = np.concatenate([np.arange(101, 201), np.arange(501, 601)]).astype(np.float64)
    assert rms == pytest.approx([np.sqrt(np.mean(held**2))], rel=1e-6)


def test_older_bursts_give_their_last_samples(tmp_path: Path) -> None:
    bursts = [np.full(50, value, dtype=np.float32) for value in (1.0, 2.0)]
    waveforms = pd.DataFrame(
        {
            "asset_id": "R",
            "ts": [START, START + pd.Timedelta(seconds=1)],
            "channel": "accel",
            "sample_rate_hz": 100.0,
            "samples": bursts,
        }
    )
    assets = pd.DataFrame({"asset_id": ["R"], "asset_type": "rig"})
    manifest = Manifest(schema_version=SCHEMA_VERSION, name="bursts")
    dataset = write_dataset(tmp_path / "d", manifest, {"assets": assets, "waveforms": waveforms})
    # At 1.2 s: the first burst (0 … 0.49 s) whole, the second's first 21 samples after 19 zeros.
    batch = _windows(dataset, "R", [1.2], _spec(length=40, max_bursts=2)).batch(np.arange(1))
    assert batch.waveforms is not None and batch.waveform_age_hours is not None
    np.testing.assert_array_equal(batch.waveforms[0, 0, 0], np.ones(40))
    np.testing.assert_array_equal(batch.waveforms[0, 1, 0], np.concatenate([np.zeros(19), np.full(21, 2.0)]))
    assert batch.waveform_age_hours[0] == pytest.approx([(1.2 - 0.49) / 3600, 0.0], abs=1e-9)
