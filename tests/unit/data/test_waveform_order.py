"""``WaveformWindow(order_rpm=…)``: bursts read as if their asset ran at that speed, the speed from the ``rpm`` of
the asset's metadata, so a component at a given multiple of the shaft speed lands on one frequency."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from omnimaint.data import Dataset, Manifest, write_dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.data.windows import WaveformWindow, WindowSpec
from omnimaint.errors import DatasetError

START = pd.Timestamp("2024-01-01", tz="UTC")
RATE = 4000.0
LENGTH = 1024
ORDER = 10  # the tone is the 10th multiple of the shaft speed
SPEEDS = {"fast": 1800, "slow": 1500, "unknown": None}
"""Asset → its rpm in the metadata (None: no rpm)."""


def _tone(rpm: float) -> np.ndarray:
    t = np.arange(int(2 * RATE)) / RATE  # two seconds
    return np.sin(2 * np.pi * ORDER * rpm / 60 * t).astype(np.float32)


def _dataset(path: Path, speeds: dict[str, object]) -> Dataset:
    def samples(rpm: object) -> np.ndarray:  # an asset whose rpm is unknown or broken turns at 1,500 rpm
        return _tone(rpm if isinstance(rpm, int | float) else 1500.0)

    waveforms = pd.DataFrame(
        [
            {"asset_id": a, "ts": START, "channel": "accel", "sample_rate_hz": RATE, "samples": samples(rpm)}
            for a, rpm in speeds.items()
        ]
    )
    metadata = [json.dumps({} if rpm is None else {"rpm": rpm}) for rpm in speeds.values()]
    assets = pd.DataFrame({"asset_id": list(speeds), "asset_type": "rig", "metadata": metadata})
    manifest = Manifest(schema_version=SCHEMA_VERSION, name="order")
    return write_dataset(path, manifest, {"assets": assets, "waveforms": waveforms})


def _slots(dataset: Dataset, order_rpm: float | None) -> dict[str, np.ndarray]:
    window = WaveformWindow(
        lookback=timedelta(hours=1), max_bursts=1, length=LENGTH, align="anchor", order_rpm=order_rpm
    )
    spec = WindowSpec(telemetry=None, waveforms=window, frames=None, events=None, maintenance=None)
    assets = list(pd.read_parquet(dataset.path / "assets.parquet")["asset_id"])
    anchors = pd.DataFrame({"asset_id": assets, "ts": START + pd.Timedelta(seconds=1.5)})
    batch = WindowedDataset(dataset, spec, anchors=anchors).batch(np.arange(len(assets)))
    assert batch.waveforms is not None
    return {asset: batch.waveforms[i, 0, 0] for i, asset in enumerate(assets)}


def _peak_hz(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / RATE)[spectrum.argmax()])


@pytest.fixture(scope="module")
def rigs(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return _dataset(tmp_path_factory.mktemp("order") / "d", SPEEDS)


def test_a_tone_at_one_order_lands_on_one_frequency_whatever_the_speed(rigs: Dataset) -> None:
    resolution = RATE / LENGTH
    stored = _slots(rigs, None)
    assert _peak_hz(stored["fast"]) == pytest.approx(300, abs=resolution)  # 10 × 30 Hz
    assert _peak_hz(stored["slow"]) == pytest.approx(250, abs=resolution)  # 10 × 25 Hz
    ordered = _slots(rigs, 1800)
    assert _peak_hz(ordered["fast"]) == pytest.approx(300, abs=resolution)
    assert _peak_hz(ordered["slow"]) == pytest.approx(300, abs=resolution)  # read as if at 1,800 rpm
    np.testing.assert_array_equal(ordered["fast"], stored["fast"])  # already at the speed: read as stored
    # The amplitude is kept (a full-scale tone stays one).
    assert np.abs(ordered["slow"][LENGTH // 4 : -LENGTH // 4]).max() == pytest.approx(1.0, abs=0.05)


def test_an_asset_without_rpm_is_read_as_stored(rigs: Dataset) -> None:
    np.testing.assert_array_equal(_slots(rigs, 1800)["unknown"], _slots(rigs, None)["unknown"])


def test_an_rpm_that_is_no_positive_number_is_refused_naming_the_asset(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "d", {"fast": 1800, "broken": "fast"})
    with pytest.raises(DatasetError, match="asset broken: metadata rpm must be a positive number"):
        _slots(dataset, 1800)


def test_order_normalisation_needs_bursts_cut_at_the_anchor() -> None:
    with pytest.raises(ValidationError, match=r"order_rpm needs waveforms\.align: anchor"):
        WaveformWindow(order_rpm=1800)
