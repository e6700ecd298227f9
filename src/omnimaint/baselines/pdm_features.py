"""Feature engineering of Microsoft's "Predictive Maintenance Modelling Guide" (Azure AI Gallery, 2016),
and a one-model-per-component classifier.

For a sample at ``(asset, t)`` every feature uses data at or before ``t`` only:

- rolling mean and standard deviation of each telemetry channel over ``(t - 3 h, t]`` and ``(t - 24 h, t]``;
- count of each event (error) code over ``(t - 24 h, t]``;
- hours since the last maintenance of each component (NaN before the first one);
- asset age (metadata ``age_years``) and model (one-hot).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone

if TYPE_CHECKING:
    from omnimaint.data.protocol_inputs import ProtocolInputs

_HOUR = pd.Timedelta(hours=1)


def _age_years(raw: object) -> float:
    if not isinstance(raw, str) or not raw:
        return float("nan")
    value = json.loads(raw).get("age_years")
    return float(value) if value is not None else float("nan")


def _counts_in_window(event_ts: np.ndarray, key_ts: np.ndarray, window: pd.Timedelta) -> np.ndarray:
    """Number of sorted ``event_ts`` in ``(t - window, t]`` for each ``t`` of ``key_ts`` (int64 ns)."""
    upto = np.searchsorted(event_ts, key_ts, side="right")
    before = np.searchsorted(event_ts, key_ts - window.value, side="right")
    return upto - before


class PdmFeatureBuilder(TransformerMixin, BaseEstimator):
    """The guide's features for :class:`~omnimaint.data.protocol_inputs.ProtocolInputs` samples.

    Args:
        short_window_hours: Short rolling window of the telemetry statistics.
        long_window_hours: Long rolling window of the telemetry statistics.
        event_window_hours: Window of the event counts.
    """

    def __init__(
        self, short_window_hours: float = 3, long_window_hours: float = 24, event_window_hours: float = 24
    ) -> None:
        self.short_window_hours = short_window_hours
        self.long_window_hours = long_window_hours
        self.event_window_hours = event_window_hours

    def fit(self, X: ProtocolInputs, y: object = None) -> PdmFeatureBuilder:
        """Learn the vocabularies: channels, event codes, components and asset models."""
        dataset = X.dataset
        self.channels_ = sorted(dataset.table("telemetry")["channel"].astype(str).unique())
        self.event_codes_ = sorted(dataset.table("events")["code"].astype(str).unique())
        maintained = dataset.table("maintenance")["component"].dropna().astype(str).unique()
        self.components_ = sorted(set(maintained) | set(X.targets))
        self.models_ = sorted(dataset.table("assets")["model"].dropna().astype(str).unique())
        windows = (self.short_window_hours, self.long_window_hours)
        self.feature_names_ = (
            [f"{c}_{stat}_{w:g}h" for w in windows for stat in ("mean", "std") for c in self.channels_]
            + [f"{code}_count_{self.event_window_hours:g}h" for code in self.event_codes_]
            + [f"hours_since_{c}_maintenance" for c in self.components_]
            + ["age_years"]
            + [f"model_{m}" for m in self.models_]
        )
        return self

    def _telemetry_features(self, X: ProtocolInputs) -> pd.DataFrame:
        long = X.dataset.table("telemetry")
        long = long[long["asset_id"].isin(X.anchors["asset_id"].unique()) & long["channel"].isin(self.channels_)]
        wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="mean")
        wide = wide.reindex(columns=self.channels_)
        parts = []
        for hours in (self.short_window_hours, self.long_window_hours):
            # Time-based windows (t - w, t] per asset: only past readings, gaps in the series respected.
            rolling = wide.reset_index(level="asset_id").groupby("asset_id")[self.channels_].rolling(f"{hours:g}h")
            mean, std = rolling.mean(), rolling.std()
            mean.columns = [f"{c}_mean_{hours:g}h" for c in self.channels_]
            std.columns = [f"{c}_std_{hours:g}h" for c in self.channels_]
            parts.extend([mean, std])
        features = pd.concat(parts, axis=1).reset_index().sort_values("ts")
        keys = X.anchors.reset_index(names="_row").sort_values("ts")
        merged = pd.merge_asof(keys, features, on="ts", by="asset_id", direction="backward")
        return merged.sort_values("_row").drop(columns=["_row", "asset_id", "ts"]).reset_index(drop=True)

    def transform(self, X: ProtocolInputs) -> np.ndarray:
        """Features of shape ``(n_samples, len(feature_names_))``."""
        keys = X.anchors
        key_ts = pd.DatetimeIndex(keys["ts"]).as_unit("ns").asi8
        by_asset = keys.groupby("asset_id", sort=False).indices
        events = X.dataset.table("events")
        maintenance = X.dataset.table("maintenance")
        counts = np.zeros((len(keys), len(self.event_codes_)))
        since = np.full((len(keys), len(self.components_)), np.nan)
        window = pd.Timedelta(hours=self.event_window_hours)
        for (asset, code), group in events.groupby(["asset_id", "code"], sort=False):
            if asset in by_asset and code in self.event_codes_:
                rows = by_asset[asset]
                stamps = np.sort(pd.DatetimeIndex(group["ts"]).as_unit("ns").asi8)
                counts[rows, self.event_codes_.index(code)] = _counts_in_window(stamps, key_ts[rows], window)
        for (asset, component), group in maintenance.groupby(["asset_id", "component"], sort=False):
            if asset in by_asset and component in self.components_:
                rows = by_asset[asset]
                stamps = np.sort(pd.DatetimeIndex(group["ts_open"]).as_unit("ns").asi8)
                last = np.searchsorted(stamps, key_ts[rows], side="right") - 1  # last maintenance at or before t
                done = last >= 0
                hours = np.full(len(rows), np.nan)
                hours[done] = (key_ts[rows][done] - stamps[last[done]]) / _HOUR.value
                since[rows, self.components_.index(component)] = hours
        assets = X.dataset.table("assets").set_index("asset_id")
        asset_rows = assets.reindex(keys["asset_id"])
        age = asset_rows["metadata"].map(_age_years).to_numpy(dtype=float)[:, None]
        models = asset_rows["model"].astype(str).to_numpy()
        one_hot = (
            np.stack([models == m for m in self.models_], axis=1).astype(float)
            if self.models_
            else np.zeros((len(keys), 0))
        )
        telemetry = self._telemetry_features(X).to_numpy(dtype=float)
        return np.concatenate([telemetry, counts, since, age, one_hot], axis=1)


class PerComponentClassifier(ClassifierMixin, BaseEstimator):
    """One binary classifier per output column; ``predict_proba`` gives each column's positive probability.

    A column without both classes in training gets a constant prediction (its positive rate).

    Args:
        estimator: Unfitted binary classifier with ``predict_proba``, cloned for each column.
    """

    def __init__(self, estimator: BaseEstimator) -> None:
        self.estimator = estimator

    def fit(self, X: np.ndarray, Y: np.ndarray) -> PerComponentClassifier:
        """Fit one clone per column of ``Y`` (shape ``(n, K)``)."""
        targets = np.asarray(Y).astype(int)
        if targets.ndim != 2:
            raise ValueError(f"expected Y of shape (n, K), got {targets.shape}")
        self.estimators_: list[BaseEstimator | float] = []
        for column in targets.T:
            if np.unique(column).size < 2:
                self.estimators_.append(float(column.mean()))
            else:
                self.estimators_.append(clone(self.estimator).fit(X, column))
        self.n_outputs_ = targets.shape[1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Positive-class probability per sample and column, shape ``(n, K)``."""
        n = len(X)
        columns = [
            np.full(n, model) if isinstance(model, float) else model.predict_proba(X)[:, 1]
            for model in self.estimators_
        ]
        return np.stack(columns, axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Boolean decision per sample and column at probability 0.5."""
        return self.predict_proba(X) >= 0.5
