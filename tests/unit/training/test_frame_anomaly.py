"""Fitting the PatchCore frame anomaly: normal frames only (healthy windows, or a normal labelled state), each
frame once, and a reference score from frames the bank has not seen when there are any."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest

from omnimaint.data import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.inference.predictor import Predictor
from omnimaint.models.frame_anomaly import newest_slots
from omnimaint.training.config import FrameAnomalyConfig
from omnimaint.training.frame_anomaly import fit_frame_anomaly, healthy_frames, healthy_windows


@pytest.fixture(scope="module")
def windows(patchcore_bundle: Path, small_plant: Path) -> WindowedDataset:
    return Predictor.from_bundle(patchcore_bundle).windows(Dataset(small_plant))


def test_healthy_windows_are_those_labelled_healthy_or_in_a_normal_state(windows: WindowedDataset) -> None:
    healthy = healthy_windows(windows, "failures")
    assert np.array_equal(healthy, np.flatnonzero(windows.labels.health_state == 0))
    assert 0 < healthy.size < len(windows)
    states = SimpleNamespace(
        vocab=SimpleNamespace(fault_classes=("none", "normal", "crack")),
        labels=SimpleNamespace(fault_type=np.array([1, 2, -1, 1, 0, 2])),
    )
    assert healthy_windows(cast("WindowedDataset", states), "states").tolist() == [0, 3, 4]


def test_the_bank_reads_each_newest_frame_of_healthy_windows_once(windows: WindowedDataset) -> None:
    frames = healthy_frames(windows, "failures", 12, "training")[0]
    assert 0 < len(frames) <= 12
    assert len({f.tobytes() for f in frames}) == len(frames)
    batch = windows.batch(healthy_windows(windows, "failures"))
    assert batch.frames is not None and batch.frame_mask is not None
    slots = newest_slots(batch.frame_mask)[:, 0]
    allowed = {batch.frames[i, slots[i], 0].tobytes() for i in np.flatnonzero(slots >= 0)}
    assert all(f.tobytes() in allowed for f in frames)


def test_without_validation_windows_the_reference_comes_from_training_frames(
    windows: WindowedDataset, caplog: pytest.LogCaptureFixture
) -> None:
    config = FrameAnomalyConfig(method="patchcore", input_size=32, max_frames=4, coreset_ratio=0.5)
    with caplog.at_level(logging.WARNING):
        detector = fit_frame_anomaly(config, windows, None, "failures", seed=0)
    settings = detector.settings
    assert settings.calibration == "training" and "calibrated on the healthy training frames" in caplog.text
    assert settings.frames[0] <= 4 and settings.reference[0] is not None and settings.reference[0] > 0
    # 32 px input: 4 × 4 patches per frame, half of them kept
    assert detector.models[0].memory_bank.shape == (round(0.5 * settings.frames[0] * 16), 152)
