"""Spectral features: condition indicators behave as physics says; tones at different frequencies separate."""

from __future__ import annotations

import numpy as np

from omnimaint.baselines import SpectralFeatureClassifier, SpectralFeatures


def _tones(
    frequencies: list[float], per_class: int, length: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(length)
    xs, ys = [], []
    for f in frequencies:
        for _ in range(per_class):
            phase = rng.uniform(0, 2 * np.pi)
            xs.append(np.sin(2 * np.pi * f * t + phase) + rng.normal(0, 0.5, length))
            ys.append(f"{f:g}")
    return np.stack(xs)[:, None, :].astype(np.float32), np.array(ys)


def test_classifier_separates_sines_at_different_frequencies() -> None:
    rng = np.random.default_rng(0)
    frequencies = [0.02, 0.05, 0.1, 0.2]
    X_train, y_train = _tones(frequencies, 10, 1024, rng)
    X_test, y_test = _tones(frequencies, 5, 1024, rng)
    # 100 trees (the default is 300): among the 64 bands' 91 features, 50 trees left one test tone misread.
    model = SpectralFeatureClassifier(n_estimators=100, random_state=0).fit(X_train, y_train)
    assert np.mean(model.predict(X_test) == y_test) == 1.0
    assert model.predict_proba(X_test).shape == (20, 4)


def test_impulses_raise_kurtosis_and_crest_factor() -> None:
    rng = np.random.default_rng(1)
    smooth = rng.normal(0, 1, 4096)
    impulsive = smooth.copy()
    impulsive[::512] += 12.0  # bearing-defect-like periodic impacts
    features = SpectralFeatures(n_bands=8, n_envelope_bands=4, n_peaks=2)
    values = features.fit_transform(np.stack([smooth, impulsive])[:, None, :])
    per_channel = 8 + 4 + 2 + 2 + 5
    assert values.shape == (2, per_channel)
    kurtosis, crest = values[:, -4], values[:, -3]
    assert kurtosis[1] > kurtosis[0] + 3
    assert crest[1] > crest[0]
    # The strongest envelope-spectrum lines are harmonics of the impact rate: 1/512 of the rate, i.e. 8 of the
    # 2048 bins between 0 and Nyquist.
    for peak in values[1, 12:14]:
        assert round(peak * 2048) % 8 == 0
