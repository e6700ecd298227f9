"""Vibration physics: BPFO in the envelope spectrum before bearing failures, 1x/2x for imbalance and misalignment."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.sim import BEARINGS, AssetHistory, BearingGeometry, BurstConditions, VibrationModel, synthesize_bursts
from tests.unit.sim.conftest import FAULTY, rows_of, seconds
from tests.unit.sim.spectra import amplitude_at, amplitude_spectrum, envelope_spectrum, peak_ratio

RATE = 4096.0
N = 2048
BAND = (250.0, 1950.0)
PUMP = VibrationModel(BEARINGS["6309"], 1200.0, 0.05, 2.0, 0.8, 0.9, 0.03, 2.5, 2960.0)


def _bursts(model: VibrationModel, *, n: int = 24, rpm: float = 2900.0, **severity: float) -> np.ndarray:
    conditions = BurstConditions(
        shaft_hz=np.full(n, rpm / 60),
        load=np.full(n, 0.7),
        bearing=np.full(n, severity.get("bearing", 0.0)),
        imbalance=np.full(n, severity.get("imbalance", 0.0)),
        misalignment=np.full(n, severity.get("misalignment", 0.0)),
    )
    return synthesize_bursts(model, conditions, rate_hz=RATE, n_samples=N, rng=np.random.default_rng(3))


def test_bursts_have_the_requested_shape_and_dtype() -> None:
    bursts = _bursts(PUMP, n=5)
    assert bursts.shape == (5, N) and bursts.dtype == np.float32
    assert np.isfinite(bursts).all()
    assert 0.02 < float(np.sqrt(np.mean(bursts**2))) < 1.0  # healthy pump: tenths of a g


def test_outer_race_defect_shows_at_bpfo_in_the_envelope_spectrum() -> None:
    bpfo = PUMP.bearing.bpfo(2900.0 / 60)
    freqs, healthy = envelope_spectrum(_bursts(PUMP), RATE, BAND)
    _, worn = envelope_spectrum(_bursts(PUMP, bearing=0.05), RATE, BAND)
    assert np.median(peak_ratio(freqs, worn, bpfo)) > 10 * np.median(peak_ratio(freqs, healthy, bpfo))
    assert np.median(peak_ratio(freqs, worn, 2 * bpfo)) > 5  # and its harmonic
    # The defect frequency comes from the geometry: no peak at the inner-race frequency.
    assert np.median(peak_ratio(freqs, worn, PUMP.bearing.bpfi(2900.0 / 60))) < 4


def test_spindle_bearing_defect_is_visible_despite_a_high_bpfo() -> None:
    spindle = VibrationModel(BEARINGS["7014C"], 1600.0, 0.1, 0.8, 0.3, 0.4, 0.02, 1.5, 6000.0)
    bpfo = spindle.bearing.bpfo(5500.0 / 60)
    assert bpfo > 700
    freqs, healthy = envelope_spectrum(_bursts(spindle, rpm=5500.0), RATE, BAND)
    _, worn = envelope_spectrum(_bursts(spindle, rpm=5500.0, bearing=0.1), RATE, BAND)
    assert np.median(peak_ratio(freqs, worn, bpfo)) > 5 * np.median(peak_ratio(freqs, healthy, bpfo))


def test_imbalance_raises_1x_and_misalignment_raises_2x() -> None:
    shaft = 2900.0 / 60
    freqs, healthy = amplitude_spectrum(_bursts(PUMP), RATE)
    _, imbalanced = amplitude_spectrum(_bursts(PUMP, imbalance=0.8), RATE)
    _, misaligned = amplitude_spectrum(_bursts(PUMP, misalignment=0.8), RATE)

    def order(spectrum: np.ndarray, k: int) -> float:
        return float(np.median(amplitude_at(freqs, spectrum, k * shaft, 2.5)))

    assert order(imbalanced, 1) > 3 * order(healthy, 1)
    assert order(imbalanced, 2) < 1.3 * order(healthy, 2)
    assert order(misaligned, 2) > 4 * order(healthy, 2)
    assert order(misaligned, 2) / order(misaligned, 1) > 2 * order(healthy, 2) / order(healthy, 1)


def _vibration_quiet(history: AssetHistory, t: np.ndarray) -> np.ndarray:
    return (history.severity("bearing_wear", t) == 0) & (history.severity("imbalance_misalignment", t) == 0)


def _bearing_failures(truth: dict[str, AssetHistory]) -> list[tuple[str, float, float]]:
    """(asset, onset, failure) of bearing episodes that fail inside the observed period, a week or more after onset."""
    horizon = FAULTY.days * 86400
    return [
        (asset_id, e.onset_s, e.end_s)
        for asset_id, history in truth.items()
        for e in history.episodes
        if e.mode == "bearing_wear" and e.outcome == "failure" and 0 < e.end_s < horizon and e.duration_s > 7 * 86400
    ]


def test_bpfo_peak_before_bearing_failure_is_absent_when_healthy(
    faulty_plant: Dataset, faulty_truth: dict[str, AssetHistory]
) -> None:
    episodes = _bearing_failures(faulty_truth)
    assert episodes, "the faulty plant should contain a bearing failure"
    assets = faulty_plant.table("assets").set_index("asset_id")
    for asset_id, _onset, failure in episodes:
        meta = json.loads(assets.loc[asset_id, "metadata"])
        geometry = BearingGeometry.from_dict(meta["bearing"])
        waveforms = rows_of(faulty_plant, "waveforms", asset_id)
        speed = rows_of(faulty_plant, "telemetry", asset_id).query("channel == 'speed'").set_index("ts")["value"]
        t = seconds(waveforms["ts"], FAULTY)
        bpfo = np.asarray(geometry.bpfo(speed.asof(pd.DatetimeIndex(waveforms["ts"])).to_numpy() / 60))
        freqs, envelope = envelope_spectrum(np.stack(waveforms["samples"].to_numpy()), RATE, BAND)
        ratio = peak_ratio(freqs, envelope, bpfo)
        healthy = _vibration_quiet(faulty_truth[asset_id], t)
        late = (t > failure - 2 * 86400) & (t < failure)
        assert healthy.sum() > 20 and late.sum() > 5, asset_id
        assert np.median(ratio[late]) > 8 * np.median(ratio[healthy]), asset_id


def test_waveform_sees_bearing_wear_long_before_vibration_rms_moves(
    faulty_plant: Dataset, faulty_truth: dict[str, AssetHistory]
) -> None:
    checked = 0
    for asset_id, onset, failure in _bearing_failures(faulty_truth):
        history = faulty_truth[asset_id]
        telemetry = rows_of(faulty_plant, "telemetry", asset_id)
        rms = telemetry[(telemetry["channel"] == "vibration_rms") & (telemetry["value"] > 0.3)]  # running
        t = seconds(rms["ts"], FAULTY)
        severity = history.severity("bearing_wear", t)
        others = history.severity("imbalance_misalignment", t) > 0
        early = (severity > 0.01) & (severity < 0.3) & ~others
        healthy = _vibration_quiet(history, t)
        final = (t > failure - 6 * 3600) & (t < failure) & ~others
        if early.sum() < 20 or final.sum() < 3:
            continue
        checked += 1
        assert np.median(rms["value"][early]) < 1.15 * np.median(rms["value"][healthy]), asset_id
        assert failure - onset > 5 * 86400  # the early stage, already visible in the bursts, lasts days to weeks
        assert np.median(rms["value"][final]) > 1.5 * np.median(rms["value"][healthy]), asset_id
    assert checked > 0


@pytest.mark.parametrize("designation", sorted(BEARINGS))
def test_defect_frequency_orders_are_physical(designation: str) -> None:
    bearing = BEARINGS[designation]
    shaft = 25.0
    assert bearing.ftf(shaft) < shaft / 2 < bearing.bpfo(shaft) < bearing.bpfi(shaft)
    assert bearing.bpfo(shaft) + bearing.bpfi(shaft) == pytest.approx(bearing.n_balls * shaft)
    assert bearing.bpfo(shaft) == pytest.approx(bearing.n_balls * bearing.ftf(shaft))
