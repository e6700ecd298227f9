"""MiniRocket factories: aeon estimators that learn a separable waveform problem."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # numba compiles MiniRocket on first use in a fresh environment


def test_classifier_separates_frequencies_and_regressor_fits_amplitude() -> None:
    from omnimaint.baselines.minirocket import minirocket_classifier, minirocket_regressor

    rng = np.random.default_rng(0)
    t = np.arange(128)
    frequency = rng.choice([0.05, 0.2], 60)
    amplitude = rng.uniform(0.5, 2.0, 60)
    X = (amplitude[:, None] * np.sin(2 * np.pi * frequency[:, None] * t) + rng.normal(0, 0.1, (60, 128)))[:, None, :]
    labels = np.where(frequency > 0.1, "fast", "slow")
    classifier = minirocket_classifier(n_kernels=500, random_state=0).fit(X[:40], labels[:40])
    assert np.mean(classifier.predict(X[40:]) == labels[40:]) == 1.0
    regressor = minirocket_regressor(n_kernels=500, random_state=0).fit(X[:40], amplitude[:40])
    error = np.sqrt(np.mean((regressor.predict(X[40:]) - amplitude[40:]) ** 2))
    assert error < 0.5 * np.std(amplitude)


def test_numba_threads_without_openmp_beside_torch() -> None:
    """numba's OpenMP layer beside torch's OpenMP slows torch a hundredfold after ``torch.set_num_threads``."""
    import numba

    from omnimaint.baselines.minirocket import minirocket_regressor

    X = np.random.default_rng(0).normal(size=(20, 1, 64))
    minirocket_regressor(n_kernels=84, random_state=0).fit(X, X[:, 0, -1])
    assert numba.threading_layer() == "workqueue"
