"""The multimodal model on the Azure PdM protocol: per-component failure within the horizon.

Inputs are cut by the project's one window path: a :class:`WindowedDataset` anchored at the protocol's
samples (telemetry on an hourly grid, recent error events, recent work orders and the time since each
component's last maintenance, all at or before each sample's time), turned into tensors by a
:class:`Preprocessor` fitted on the training windows. The per-component failure head is supervised with
the protocol's labels; every other task is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.windows import EventWindow, MaintenanceWindow, TelemetryWindow, WindowSpec
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.preprocessing import Preprocessor, complete_config
from omnimaint.training.data import LabelTensors
from omnimaint.training.estimators import InputSource, OmniEstimator, unknown_labels

if TYPE_CHECKING:
    from omnimaint.evaluation.protocols.azure_pdm import PdmInputs


@dataclass
class WindowSource:
    """An input source that cuts and preprocesses windows batch by batch."""

    windows: WindowedDataset
    preprocessor: Preprocessor

    def __len__(self) -> int:
        return len(self.windows)

    def inputs(self, rows: np.ndarray) -> ModelInputs:
        return self.preprocessor(self.windows.batch(rows))


def before_positive(keys: pd.DataFrame, positive: np.ndarray, within: timedelta) -> np.ndarray:
    """Whether a later positive sample of the same asset lies within ``(ts, ts + within]`` of each sample.

    Args:
        keys: Columns ``asset_id`` and ``ts``, one row per sample.
        positive: (n,) bool.
        within: How far ahead to look.
    """
    out = np.zeros(len(keys), dtype=bool)
    stamps = pd.DatetimeIndex(keys["ts"]).as_unit("us").asi8
    reach = int(within / timedelta(microseconds=1))
    for rows in keys.groupby("asset_id", sort=False).indices.values():
        mine = np.sort(stamps[rows][positive[rows]])
        following = np.searchsorted(mine, stamps[rows], side="right")  # first positive strictly after ts
        has = following < len(mine)
        out[rows[has]] = mine[following[has]] - stamps[rows][has] <= reach
    return out


class OmniPdmClassifier(OmniEstimator):
    """Failure of each component within ``horizon_hours``, from telemetry, events and maintenance history.

    Args:
        horizon_hours: Prediction horizon (the protocol's).
        telemetry_hours: Telemetry lookback, on an hourly grid.
        event_hours: Event lookback.
        max_events: Event slots per sample.
        max_orders: Work-order slots per sample.
        patch: Hours per telemetry token.
        layers: Transformer layers of the telemetry encoder.
        fusion_layers: Cross-modal attention layers.
        modality_dropout: Probability of hiding a present modality of a training sample.
        negative_fraction: Share of the samples without any failure in the horizon that each model of the
            ensemble trains on (each model draws its own share, so that the ensemble sees them all). Hourly
            samples of the same machine are nearly duplicates, so this costs little information and speeds
            up training in proportion.
        boundary_hours: Samples without a failure in the horizon but less than this before one with a
            failure in it (same machine) are always kept, as are those with one: they are the boundary
            between "fails within the horizon" and "fails later" that the model must place precisely.
        **base: Arguments of :class:`OmniEstimator`.
    """

    def __init__(
        self,
        *,
        horizon_hours: float = 24.0,
        telemetry_hours: int = 48,
        event_hours: int = 72,
        max_events: int = 8,
        max_orders: int = 4,
        patch: int = 4,
        layers: int = 2,
        fusion_layers: int = 1,
        modality_dropout: float = 0.1,
        negative_fraction: float = 1.0,
        boundary_hours: float = 0.0,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        self.horizon_hours = horizon_hours
        self.telemetry_hours = telemetry_hours
        self.event_hours = event_hours
        self.max_events = max_events
        self.max_orders = max_orders
        self.patch = patch
        self.layers = layers
        self.fusion_layers = fusion_layers
        self.modality_dropout = modality_dropout
        self.negative_fraction = negative_fraction
        self.boundary_hours = boundary_hours

    def _spec(self) -> WindowSpec:
        horizon = timedelta(hours=self.horizon_hours)
        return WindowSpec(
            telemetry=TelemetryWindow(lookback=timedelta(hours=self.telemetry_hours), step=timedelta(hours=1)),
            waveforms=None,
            frames=None,
            events=EventWindow(lookback=timedelta(hours=self.event_hours), max_events=self.max_events),
            maintenance=MaintenanceWindow(max_orders=self.max_orders),
            stride=timedelta(hours=1),
            horizons=(horizon,),
            rul_cap=horizon,
            degraded_within=horizon,
        )

    def _fit_inputs(self, X: PdmInputs, y: Any) -> InputSource:
        self.spec_ = self._spec()
        self.components_ = tuple(X.components)
        windows = WindowedDataset(X.dataset, self.spec_, anchors=X.keys)
        self.vocab_ = windows.vocab
        missing = sorted(set(self.components_) - set(self.vocab_.components))
        if missing:
            raise ValueError(f"components {missing} are not in the dataset's vocabulary {self.vocab_.components}")
        self.preprocessor_ = Preprocessor.fit(windows)
        self.preprocessor_.warm_text_cache(windows)
        positive = np.asarray(np.asarray(y, dtype=bool).any(axis=1))
        self.always_kept_ = positive | before_positive(X.keys, positive, timedelta(hours=self.boundary_hours))
        return WindowSource(windows, self.preprocessor_)

    def _inputs(self, X: PdmInputs) -> InputSource:
        windows = WindowedDataset(X.dataset, self.spec_, vocab=self.vocab_, anchors=X.keys)
        self.preprocessor_.warm_text_cache(windows)
        return WindowSource(windows, self.preprocessor_)

    def _targets(self, y: Any, n: int) -> LabelTensors:
        targets = np.asarray(y, dtype=np.float32)
        if targets.shape != (n, len(self.components_)):
            raise ValueError(f"expected labels of shape {(n, len(self.components_))}, got {targets.shape}")
        columns = [self.vocab_.components.index(c) for c in self.components_]
        labels = unknown_labels(n, n_horizons=1, n_components=len(self.vocab_.components))
        labels.failure_within = torch.from_numpy(targets.max(axis=1, initial=0.0)[:, None])
        labels.failure_within_known = torch.ones(n, 1)
        labels.component_failure_within[:, 0, columns] = torch.from_numpy(targets)
        labels.component_failure_within_known[:, 0, columns] = 1.0
        return labels

    def _subsample(self, labels: LabelTensors, rng: np.random.Generator) -> np.ndarray | None:
        if self.negative_fraction >= 1.0:
            return None
        return self.always_kept_ | (rng.random(len(self.always_kept_)) < self.negative_fraction)

    def _architecture(self) -> ModelConfig:
        architecture = self._base_config(
            telemetry={"patch": self.patch, "layers": self.layers},
            fusion={"name": "cross_attention", "layers": self.fusion_layers, "modality_dropout": self.modality_dropout},
        )
        return complete_config(architecture, self.spec_, self.preprocessor_)

    def predict_proba(self, X: PdmInputs) -> np.ndarray:
        """Failure probability of each component within the horizon, ``(n, len(components))``, mean over models."""
        columns = torch.tensor([1 + self.vocab_.components.index(c) for c in self.components_])
        return self._mean_over_models(X, lambda outputs: torch.sigmoid(outputs.failure_logits[:, 0, columns]))
