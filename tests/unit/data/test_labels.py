"""Labels worked out by hand on the tiny dataset (failure of A's bearing at hour 156, data to hour 239)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.data.labels import compute_labels
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split
from omnimaint.data.windows import TelemetryWindow, WindowSpec
from tests.unit.data.tiny import hours

SPEC = WindowSpec(
    telemetry=TelemetryWindow(lookback=timedelta(hours=6), step=timedelta(hours=1)),
    waveforms=None,
    frames=None,
    events=None,
    maintenance=None,
    stride=timedelta(hours=1),
)


def _labels_at(dataset: Dataset, asset: str, hour: float, split: Split | None = None) -> dict[str, np.ndarray]:
    anchors = pd.DataFrame({"asset_id": [asset], "ts": [hours(hour)]})
    sample = WindowedDataset(dataset, SPEC, split=split, anchors=anchors)[0]
    labels = sample.labels
    return {
        "within": labels.failure_within[0],
        "within_known": labels.failure_within_known[0],
        "component": labels.component_failure_within[0],
        "component_known": labels.component_failure_within_known[0],
        "rul": labels.rul_hours[0],
        "rul_known": labels.rul_known[0],
        "fault": labels.fault_type[0],
        "health": labels.health_state[0],
    }


@pytest.mark.parametrize(
    ("hour", "within", "known", "rul", "rul_known", "fault", "health"),
    [
        (132, [1, 1], [1, 1], 24, 1, 1, 2),  # exactly 24 h before: within both horizons (inclusive)
        (84, [0, 1], [1, 1], 72, 1, 1, 2),
        (83, [0, 0], [1, 1], 73, 1, 0, 1),  # 73 h before: degrading, fault type "none"
        (10, [0, 0], [1, 1], 146, 1, 0, 1),  # 146 h ahead: within degraded_within (168 h)
        (156, [0, 0], [1, 1], 0, 0, 0, -1),  # at the failure instant: it is not "after"; nothing known later
        (200, [0, 0], [1, 0], 0, 0, -1, -1),  # 72 h horizon runs past the end of data: unknown
    ],
)
def test_labels_of_asset_a(
    tiny_dataset: Dataset,
    hour: float,
    within: list[int],
    known: list[int],
    rul: float,
    rul_known: int,
    fault: int,
    health: int,
) -> None:
    got = _labels_at(tiny_dataset, "A", hour)
    np.testing.assert_array_equal(got["within"], within)
    np.testing.assert_array_equal(got["within_known"], known)
    assert got["rul_known"] == rul_known
    if rul_known:
        assert got["rul"] == pytest.approx(rul)
    assert got["fault"] == fault
    assert got["health"] == health


def test_per_component_labels(tiny_dataset: Dataset) -> None:
    got = _labels_at(tiny_dataset, "A", 132)
    components = list(WindowedDataset(tiny_dataset, SPEC).vocab.components)
    bearing, seal = components.index("bearing"), components.index("seal")
    np.testing.assert_array_equal(got["component"][:, bearing], [1, 1])
    np.testing.assert_array_equal(got["component"][:, seal], [0, 0])
    np.testing.assert_array_equal(got["component_known"][:, seal], [1, 1])


def test_asset_without_failures_is_censored(tiny_dataset: Dataset) -> None:
    got = _labels_at(tiny_dataset, "B", 100)
    np.testing.assert_array_equal(got["within"], [0, 0])
    np.testing.assert_array_equal(got["within_known"], [1, 1])
    assert got["rul_known"] == 0  # 100 h + 14 d cap runs past the data
    assert got["health"] == -1


def test_split_end_censors_labels(tiny_dataset: Dataset) -> None:
    split = Split(name="train", end=hours(150))
    got = _labels_at(tiny_dataset, "A", 132, split=split)
    np.testing.assert_array_equal(got["within_known"], [0, 0])  # the failure at 156 h is beyond the split
    got = _labels_at(tiny_dataset, "A", 100, split=split)
    np.testing.assert_array_equal(got["within"], [0, 0])
    np.testing.assert_array_equal(got["within_known"], [1, 0])


def test_compute_labels_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    hour = 3_600_000_000
    spec = SPEC
    failures = np.sort(rng.choice(np.arange(0, 1000), size=6, replace=False)) * hour
    components = rng.integers(0, 3, size=6)
    faults = rng.integers(0, 2, size=6)
    anchors = np.arange(0, 1100, 7) * hour
    observed = 1000 * hour
    labels = compute_labels(anchors, failures, components, faults, observed, spec, 3)
    for i, t in enumerate(anchors):
        later = failures[failures > t]
        for h, horizon in enumerate((24, 72)):
            hit = later.size > 0 and later[0] - t <= horizon * hour
            assert labels.failure_within[i, h] == hit
            assert labels.failure_within_known[i, h] == (hit or t + horizon * hour <= observed)
            for c in range(3):
                later_c = failures[(failures > t) & (components == c)]
                hit_c = later_c.size > 0 and later_c[0] - t <= horizon * hour
                assert labels.component_failure_within[i, h, c] == hit_c
        if later.size and later[0] - t <= 14 * 24 * hour:
            assert labels.rul_known[i] == 1
            assert labels.rul_hours[i] == pytest.approx((later[0] - t) / hour)


def test_state_labels_hold_from_each_state_on(tiny_dataset: Dataset) -> None:
    """Under ``labels="states"`` a failures row is a state: the anchors at and after it carry its fault type,
    those before the first state carry none, and no failure-time label is known."""
    spec = SPEC.model_copy(update={"labels": "states"})
    anchors = pd.DataFrame({"asset_id": ["A", "A", "A"], "ts": [hours(100), hours(156), hours(200)]})
    labels = WindowedDataset(tiny_dataset, spec, anchors=anchors).batch(np.arange(3)).labels
    wear = 1 + tiny_dataset.manifest.fault_types.index("bearing_wear")
    assert labels.fault_type.tolist() == [-1, wear, wear]
    assert not labels.failure_within_known.any() and not labels.rul_known.any()
    assert (labels.health_state == -1).all()
