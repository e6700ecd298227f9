"""MiniRocket (Dempster, Schmidt & Webb, KDD 2021) for waveform and sequence classification/regression.

Thin factories over aeon's implementations (``aeon.classification.convolution_based.MiniRocketClassifier``,
``aeon.regression.convolution_based.MiniRocketRegressor``): random dilated convolution kernels, proportion
of positive values pooled per kernel, then a ridge model. Input ``(n, channels, length)``; length >= 9.
"""

from __future__ import annotations

from typing import Any

from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.regression.convolution_based import MiniRocketRegressor


def minirocket_classifier(n_kernels: int = 10_000, random_state: int | None = None) -> Any:
    """An unfitted MiniRocket classifier (ridge classifier with cross-validated regularisation)."""
    return MiniRocketClassifier(n_kernels=n_kernels, random_state=random_state)


def minirocket_regressor(n_kernels: int = 10_000, random_state: int | None = None) -> Any:
    """An unfitted MiniRocket regressor (ridge regression with cross-validated regularisation)."""
    return MiniRocketRegressor(n_kernels=n_kernels, random_state=random_state)
