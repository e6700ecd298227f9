"""Isolation Forest detector: outliers score as less normal; risk percentiles for per-component outputs."""

from __future__ import annotations

import numpy as np

from omnimaint.baselines import IsolationForestDetector


def test_outliers_are_less_normal_and_rank_higher() -> None:
    rng = np.random.default_rng(0)
    normal = rng.normal(0, 1, (300, 4))
    normal[::10, 2] = np.nan  # missing features are imputed, not fatal
    detector = IsolationForestDetector(n_estimators=100, random_state=0).fit(normal, np.zeros((300, 3)))
    inliers, outliers = rng.normal(0, 1, (20, 4)), rng.normal(8, 1, (20, 4))
    assert detector.score_samples(outliers).max() < detector.score_samples(inliers).min()
    risk = detector.predict_proba(np.vstack([inliers, outliers]))
    assert risk.shape == (40, 3)
    assert np.all((risk >= 0) & (risk <= 1))
    assert risk[20:, 0].min() >= 0.95 > risk[:20, 0].mean()
