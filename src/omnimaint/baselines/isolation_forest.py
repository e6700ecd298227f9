"""Isolation Forest (Liu, Ting & Zhou, ICDM 2008) for unsupervised anomaly scores on feature vectors."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer


class IsolationForestDetector(BaseEstimator):
    """Isolation Forest with median imputation of missing features, fitted without labels.

    Args:
        n_estimators: Trees.
        max_samples: Samples drawn per tree (``"auto"``: min(256, n)).
        random_state: Seed.
    """

    def __init__(
        self, n_estimators: int = 300, max_samples: int | str = "auto", random_state: int | None = None
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> IsolationForestDetector:
        """Fit on ``X`` (labels are ignored; a 2-D ``y`` only sets how many columns :meth:`predict_proba` returns)."""
        self.imputer_ = SimpleImputer(strategy="median", keep_empty_features=True).fit(X)
        features = self.imputer_.transform(X)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, max_samples=self.max_samples, random_state=self.random_state
        ).fit(features)
        self.train_anomaly_ = np.sort(-self.forest_.score_samples(features))
        self.n_outputs_ = np.asarray(y).shape[1] if y is not None and np.ndim(y) == 2 else 1
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Normality per sample (scikit-learn convention: higher = more normal)."""
        return np.asarray(self.forest_.score_samples(self.imputer_.transform(X)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Anomaly percentile (share of training samples less anomalous), repeated for each output column.

        Not a failure probability: an unsupervised risk score in [0, 1] that protocols rank and threshold.
        """
        anomaly = -self.score_samples(X)
        percentile = np.searchsorted(self.train_anomaly_, anomaly, side="left") / len(self.train_anomaly_)
        return np.repeat(percentile[:, None], self.n_outputs_, axis=1)
