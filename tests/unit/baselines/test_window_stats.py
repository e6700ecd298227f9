"""Window statistics: exact values on a ramp, and a regressor that learns a planted trend."""

from __future__ import annotations

import numpy as np
import pytest

from omnimaint.baselines import WindowStatsFeatures, WindowStatsRegressor


def test_statistics_of_a_ramp() -> None:
    window = np.arange(10, dtype=float)[None, None, :] * 2.0  # one window, one channel: 0, 2, ..., 18
    last, mean, std, low, high, slope, change = WindowStatsFeatures(edge=2).fit_transform(window)[0]
    assert (last, mean, low, high) == (18, 9, 0, 18)
    assert std == pytest.approx(np.std(np.arange(10) * 2.0))
    assert slope == pytest.approx(2.0)
    assert change == pytest.approx(17 - 1)  # mean of (16, 18) minus mean of (0, 2)
    with pytest.raises(ValueError, match="channels, length"):
        WindowStatsFeatures().fit(np.zeros((3, 10)))


def test_regressor_learns_the_slope_target() -> None:
    rng = np.random.default_rng(0)
    slopes = rng.uniform(-1, 1, 400)
    X = slopes[:, None, None] * np.arange(20)[None, None, :] + rng.normal(0, 0.2, (400, 2, 20))
    model = WindowStatsRegressor(max_iter=100, random_state=0).fit(X[:300], slopes[:300])
    error = np.sqrt(np.mean((model.predict(X[300:]) - slopes[300:]) ** 2))
    assert error < 0.2 * np.std(slopes)
