"""Summary statistics of multichannel windows, and gradient-boosted trees on them (a strong classic
RUL baseline on C-MAPSS: the trend and level of each sensor over the last cycles)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.ensemble import HistGradientBoostingRegressor


class WindowStatsFeatures(TransformerMixin, BaseEstimator):
    """Per channel: last value, mean, std, min, max, least-squares slope, and the change between the
    means of the last and first ``edge`` steps.

    Input ``(n, channels, length)``; output ``(n, 7 * channels)``.

    Args:
        edge: Steps averaged at each end of the window.
    """

    def __init__(self, edge: int = 5) -> None:
        self.edge = edge

    def fit(self, X: np.ndarray, y: object = None) -> WindowStatsFeatures:
        """Record the input layout (no statistics are learned)."""
        array = np.asarray(X)
        if array.ndim != 3:
            raise ValueError(f"expected windows of shape (n, channels, length), got {array.shape}")
        self.n_channels_ = array.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Window statistics, channel-major."""
        windows = np.asarray(X, dtype=np.float64)  # (n, C, T)
        t = np.arange(windows.shape[-1], dtype=np.float64)
        t -= t.mean()
        slope = (windows * t).sum(axis=-1) / (t**2).sum()
        edge = min(self.edge, windows.shape[-1])
        change = windows[..., -edge:].mean(axis=-1) - windows[..., :edge].mean(axis=-1)
        stats = [
            windows[..., -1],
            windows.mean(axis=-1),
            windows.std(axis=-1),
            windows.min(axis=-1),
            windows.max(axis=-1),
            slope,
            change,
        ]
        return np.stack(stats, axis=-1).reshape(len(windows), -1)  # (n, C * 7)


class WindowStatsRegressor(RegressorMixin, BaseEstimator):
    """Histogram gradient-boosted regression trees on :class:`WindowStatsFeatures`.

    Args:
        max_iter: Boosting iterations.
        learning_rate: Shrinkage.
        max_leaf_nodes: Leaves per tree.
        random_state: Seed.
    """

    def __init__(
        self,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        random_state: int | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> WindowStatsRegressor:
        """Fit the booster on window statistics (no early stopping: no validation data is carved out)."""
        self.features_ = WindowStatsFeatures().fit(X)
        self.booster_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            early_stopping=False,
            random_state=self.random_state,
        )
        self.booster_.fit(self.features_.transform(X), y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted target per window."""
        return np.asarray(self.booster_.predict(self.features_.transform(X)))
