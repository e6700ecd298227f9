"""MiniRocket (Dempster, Schmidt & Webb, KDD 2021) for waveform and sequence classification/regression.

Thin factories over aeon's implementations (``aeon.classification.convolution_based.MiniRocketClassifier``,
``aeon.regression.convolution_based.MiniRocketRegressor``): random dilated convolution kernels, proportion
of positive values pooled per kernel, then a ridge model. Input ``(n, channels, length)``; length >= 9.
"""

from __future__ import annotations

import os
from typing import Any

import numba

# numba picks OpenMP as its threading layer here, and a second OpenMP runtime beside torch's makes torch's
# attention ~100x slower once torch's thread count changes (0.08 s -> 11 s for the same call; estimators
# change it with ``num_threads``). The work-queue layer has no OpenMP. A user's NUMBA_THREADING_LAYER wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

from aeon.classification.convolution_based import MiniRocketClassifier
from aeon.regression.convolution_based import MiniRocketRegressor


def minirocket_classifier(n_kernels: int = 10_000, random_state: int | None = None) -> Any:
    """An unfitted MiniRocket classifier (ridge classifier with cross-validated regularisation)."""
    return MiniRocketClassifier(n_kernels=n_kernels, random_state=random_state)


def minirocket_regressor(n_kernels: int = 10_000, random_state: int | None = None) -> Any:
    """An unfitted MiniRocket regressor (ridge regression with cross-validated regularisation)."""
    return MiniRocketRegressor(n_kernels=n_kernels, random_state=random_state)
