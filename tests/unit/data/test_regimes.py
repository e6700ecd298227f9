"""Operating regimes: k-means on the settings, per-regime statistics, JSON state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from omnimaint.data import ChannelInfo, Manifest
from omnimaint.data.regimes import OperatingRegimes, choose_n_regimes, fit_regimes, kmeans, operating_settings
from omnimaint.data.schema import SCHEMA_VERSION

SET_POINTS = np.array([[0.0, 0.0], [10.0, 0.5], [20.0, 0.7], [35.0, 0.84]])  # (regimes, settings)
LEVELS = np.array([[500.0, 10.0], [540.0, 14.0], [580.0, 20.0], [620.0, 30.0]])  # reading level per regime


def _rows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows at random set points (settings with a little noise) and readings at the regime's level plus noise."""
    regime = rng.integers(len(SET_POINTS), size=n)
    settings = SET_POINTS[regime] + rng.normal(0, 0.01, (n, 2))
    readings = LEVELS[regime] + rng.normal(0, 1.0, (n, 2)) * np.array([2.0, 0.5])
    return settings, readings, regime


def test_kmeans_recovers_separated_set_points() -> None:
    rng = np.random.default_rng(0)
    settings, _, regime = _rows(400, rng)
    centroids, labels, inertia = kmeans(settings, 4, rng)
    assert sorted(np.round(centroids[:, 0]).tolist()) == [0, 10, 20, 35]
    # one label per true regime, and each true regime in one cluster
    assert all(len(set(labels[regime == r])) == 1 for r in range(4))
    assert len(set(labels)) == 4
    assert inertia < 400 * 2 * 0.01**2 * 2


def test_the_number_of_regimes_is_that_of_the_set_points_and_one_without_set_points() -> None:
    rng = np.random.default_rng(1)
    settings, _, _ = _rows(400, rng)
    assert choose_n_regimes((settings - settings.mean(0)) / settings.std(0), rng) == 4
    assert choose_n_regimes(rng.normal(0, 1, (400, 3)), rng) == 1  # continuous noise: one regime (as FD001)
    assert choose_n_regimes(np.ones((10, 2)), rng) == 1  # constant settings


def test_each_reading_is_z_scored_with_its_own_regime_statistics() -> None:
    rng = np.random.default_rng(2)
    settings, readings, regime = _rows(2000, rng)
    regimes = fit_regimes(settings, readings, ("alt", "mach"), ("t", "p"), rng)
    assert regimes.n_regimes == 4
    assigned = regimes.assign(settings)
    normalised = regimes.normalise(readings, assigned)
    for r in range(4):
        rows = normalised[regime == r]
        np.testing.assert_allclose(rows.mean(0), 0, atol=1e-9)  # each regime centred on its own mean
        np.testing.assert_allclose(rows.std(0), 1, atol=1e-9)
    # by hand for one row: (reading - regime mean) / regime std
    k = assigned[0]
    same = readings[assigned == k]
    np.testing.assert_allclose(normalised[0], (readings[0] - same.mean(0)) / same.std(0))
    # a shift of the level within its regime survives; the jumps between regimes do not
    assert np.abs(normalised).max() < 5
    np.testing.assert_array_equal(regimes.one_hot(assigned).argmax(1), assigned)
    assert regimes.one_hot(assigned).shape == (2000, 4)


def test_unseen_rows_take_the_nearest_regime_and_the_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(3)
    settings, readings, _ = _rows(500, rng)
    regimes = fit_regimes(settings, readings, ("alt", "mach"), ("t", "p"), rng, n_regimes=4)
    fresh, fresh_readings, _ = _rows(50, np.random.default_rng(9))
    loaded = OperatingRegimes.model_validate(json.loads(regimes.model_dump_json()))
    np.testing.assert_array_equal(loaded.assign(fresh), regimes.assign(fresh))
    levels = np.array(regimes.center)[regimes.assign(fresh), 0]
    np.testing.assert_allclose(levels, LEVELS[np.abs(fresh[:, :1] - SET_POINTS[:, 0]).argmin(1), 0], atol=1)
    np.testing.assert_allclose(
        loaded.normalise(fresh_readings, loaded.assign(fresh)), regimes.normalise(fresh_readings, regimes.assign(fresh))
    )


def test_a_constant_reading_is_not_divided_by_zero() -> None:
    rng = np.random.default_rng(4)
    settings, readings, _ = _rows(200, rng)
    readings[:, 1] = 7.0
    regimes = fit_regimes(settings, readings, ("alt", "mach"), ("t", "p"), rng)
    normalised = regimes.normalise(readings, regimes.assign(settings))
    assert np.isfinite(normalised).all() and (normalised[:, 1] == 0).all()


def test_bad_inputs_are_refused_with_what_was_wrong() -> None:
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match=r"need training rows and operating settings"):
        fit_regimes(np.zeros((5, 0)), np.zeros((5, 1)), (), ("t",), rng)
    with pytest.raises(ValueError, match=r"n_regimes must be between 1 and the 5 training rows, not 6"):
        fit_regimes(np.zeros((5, 1)), np.zeros((5, 1)), ("alt",), ("t",), rng, n_regimes=6)


def test_the_manifest_declares_the_operating_settings() -> None:
    manifest = Manifest(
        schema_version=SCHEMA_VERSION,
        channels=(
            ChannelInfo(name="altitude", kind="telemetry", role="operating_setting"),
            ChannelInfo(name="t2", kind="telemetry"),
            ChannelInfo(name="mach", kind="telemetry", role="operating_setting"),
        ),
    )
    assert operating_settings(manifest) == ("altitude", "mach")
    assert manifest.channels[1].role == "reading"


@pytest.mark.data
@pytest.mark.parametrize(("subset", "expected"), [("FD001", 1), ("FD002", 6)])
def test_cmapss_training_settings_give_the_published_number_of_operating_conditions(
    public_data_dir: Path, subset: str, expected: int
) -> None:
    """FD001 runs in one operating condition, FD002 in six (Saxena et al., 2008): the chosen number of regimes
    on the three settings of the training engines, read from the publisher's file."""
    source = public_data_dir / "cmapss" / f"train_{subset}.txt.gz"
    if not source.is_file():
        pytest.skip(f"{source} not found")
    settings = np.loadtxt(source, usecols=(2, 3, 4))  # unit, cycle, setting1-3, s1-s21
    regimes = fit_regimes(
        settings, settings[:, :1], ("setting1", "setting2", "setting3"), ("x",), np.random.default_rng(0)
    )
    assert regimes.n_regimes == expected
    counts = np.bincount(regimes.assign(settings), minlength=expected)
    assert counts.min() > 0.1 * len(settings) / expected  # every regime is a real operating condition
