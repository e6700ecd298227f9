"""Component failure prediction protocol on the Azure PdM sample data.

After Microsoft's "Predictive Maintenance Modelling Guide" (Azure AI Gallery, 2016; the notebook behind
the public sample data): for each component (``comp1`` ... ``comp4``), the label of a sample at time ``t``
is "this component fails in ``(t, t + 24 h]``".

- Samples: each asset's telemetry timestamps. Inputs may use any data at or before ``t``.
- Time split: the last ``test_fraction`` of the time span (cut at a day boundary) is the test period.
  Training samples end ``horizon`` before the cut, so that no training label window reaches into the
  test period. Samples whose label window runs past the end of the data are dropped (their label is
  censored).
- Thresholds: one per component, the one that maximises F1 on a validation slice (the last
  ``validation_fraction`` of the training period, again after a gap of ``horizon``) for a model fitted on
  the training samples before it. Test data never touches the threshold. The model is then refitted on
  the whole training period (``refit``) and the thresholds are applied to the test period unchanged.
- Metrics: precision, recall and F1 per component on the test samples, and their macro averages; plus
  event-level early-warning figures per component (:mod:`omnimaint.evaluation.early_warning`).

Canonical form (see the Azure adapter): ``machine`` assets with ``model`` and metadata ``{"age_years"}``;
hourly telemetry; ``events`` (error codes); ``maintenance`` (component, kind); ``failures`` (component).

Estimator interface: ``fit(X, Y)`` / ``predict_proba(X)`` where ``X`` is a :class:`PdmInputs` and ``Y`` and
the output have one column per component (output: any score that grows with the failure risk).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.evaluation.early_warning import evaluate_early_warning
from omnimaint.evaluation.metrics import best_f1_threshold, binary_scores
from omnimaint.evaluation.protocols.base import MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.inputs import require_table

logger = logging.getLogger(__name__)

ASSET_TYPE = "machine"


@dataclass(frozen=True)
class PdmConfig:
    """Settings of the Azure PdM protocol.

    Attributes:
        horizon_hours: Prediction horizon.
        test_fraction: Last fraction of the time span used as the test period.
        validation_fraction: Last fraction of the training period used to choose thresholds.
        refit: Refit on the whole training period after choosing thresholds.
        default_threshold: Threshold used for a component without a validation failure.
    """

    horizon_hours: float = 24.0
    test_fraction: float = 1 / 3
    validation_fraction: float = 0.25
    refit: bool = True
    default_threshold: float = 0.5

    @property
    def horizon(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.horizon_hours)


@dataclass(frozen=True)
class PdmInputs:
    """Samples of the PdM protocol: the dataset and the (asset, time) at which to predict.

    A method may read anything in ``dataset`` at or before each sample's ``ts`` (never after).

    Attributes:
        dataset: The canonical dataset.
        keys: Columns ``asset_id``, ``ts``; one row per sample.
        components: Output column order.
    """

    dataset: Dataset
    keys: pd.DataFrame
    components: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: np.ndarray) -> PdmInputs:
        """The samples at the given positions."""
        return replace(self, keys=self.keys.iloc[rows].reset_index(drop=True))


@dataclass(frozen=True)
class TimeSplit:
    """Sample positions of each period, and the times that bound them.

    Attributes:
        inner_train: Training samples before the validation slice (``ts <= validation_start - horizon``).
        validation: Validation samples (``validation_start < ts <= cut - horizon``).
        train: Every training sample (``ts <= cut - horizon``).
        test: Test samples (``cut < ts <= data end - horizon``).
        validation_start: Start of the validation slice.
        cut: Start of the test period.
    """

    inner_train: np.ndarray
    validation: np.ndarray
    train: np.ndarray
    test: np.ndarray
    validation_start: pd.Timestamp
    cut: pd.Timestamp


def time_split(ts: pd.Series, config: PdmConfig) -> TimeSplit:
    """Split samples by time with a gap of one horizon before each boundary (see the module docstring)."""
    first, last = ts.min(), ts.max()
    cut = (last - config.test_fraction * (last - first)).floor("D")
    validation_start = (cut - config.horizon - config.validation_fraction * (cut - config.horizon - first)).floor("h")
    h = config.horizon
    train = (ts <= cut - h).to_numpy()
    return TimeSplit(
        inner_train=np.flatnonzero((ts <= validation_start - h).to_numpy()),
        validation=np.flatnonzero((ts > validation_start).to_numpy() & train),
        train=np.flatnonzero(train),
        test=np.flatnonzero(((ts > cut) & (ts <= last - h)).to_numpy()),
        validation_start=validation_start,
        cut=cut,
    )


def failure_labels(
    keys: pd.DataFrame, failures: pd.DataFrame, components: tuple[str, ...], horizon: pd.Timedelta
) -> np.ndarray:
    """``Y[i, k]``: component ``k`` of sample ``i``'s asset fails in ``(ts_i, ts_i + horizon]``; shape ``(n, K)``."""
    labels = np.zeros((len(keys), len(components)), dtype=bool)
    key_ts = pd.DatetimeIndex(keys["ts"]).as_unit("ns").asi8
    rows_by_asset = keys.groupby("asset_id", sort=False).indices
    for (asset, component), group in failures.groupby(["asset_id", "component"], sort=False):
        if component not in components or asset not in rows_by_asset:
            continue
        rows = rows_by_asset[asset]
        fail_ts = np.sort(pd.DatetimeIndex(group["ts"]).as_unit("ns").asi8)
        following = np.searchsorted(fail_ts, key_ts[rows], side="right")  # first failure strictly after ts
        has_next = following < len(fail_ts)
        within = np.zeros(len(rows), dtype=bool)
        within[has_next] = fail_ts[following[has_next]] - key_ts[rows][has_next] <= horizon.value
        labels[rows, components.index(str(component))] = within
    return labels


def _predict(
    factory: MethodFactory, seed: int, inputs: PdmInputs, y: np.ndarray, train: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    estimator = factory(seed)
    estimator.fit(inputs.take(train), y[train])
    scores = np.asarray(estimator.predict_proba(inputs.take(rows)), dtype=np.float64)
    if scores.shape != (len(rows), len(inputs.components)):
        raise ProtocolError(
            f"predict_proba returned shape {scores.shape}, expected {(len(rows), len(inputs.components))}"
        )
    return scores


def choose_thresholds(
    scores: np.ndarray, labels: np.ndarray, components: tuple[str, ...], default: float
) -> dict[str, float]:
    """Per component, the F1-maximising threshold on validation scores (``default`` when it has no positive)."""
    thresholds = {}
    for k, component in enumerate(components):
        best = best_f1_threshold(labels[:, k], scores[:, k])
        if best is None:
            logger.warning("no %s failure in the validation slice; using threshold %g", component, default)
            best = default
        thresholds[component] = best
    return thresholds


def run_azure_pdm(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, config: PdmConfig | None = None
) -> ProtocolResult:
    """Run the component failure prediction protocol.

    Returns:
        ``f1_<component>`` and ``f1_macro``, ``precision_macro``, ``recall_macro`` on the test period;
        per-component precision/recall/support, thresholds, split times and early-warning figures in details.
    """
    config = config or PdmConfig()
    failures = require_table(dataset, "failures", "azure-pdm")
    telemetry_keys = require_table(dataset, "telemetry", "azure-pdm")[["asset_id", "ts"]]
    keys = telemetry_keys.drop_duplicates().sort_values(["asset_id", "ts"]).reset_index(drop=True)
    components = tuple(sorted(failures["component"].astype(str).unique()))
    inputs = PdmInputs(dataset=dataset, keys=keys, components=components)
    labels = failure_labels(keys, failures, components, config.horizon)
    split = time_split(keys["ts"], config)
    if min(len(split.inner_train), len(split.validation), len(split.test)) == 0:
        raise ProtocolError(f"{dataset.path}: the time span is too short for train, validation and test periods")

    val_scores = _predict(factory, seed, inputs, labels, split.inner_train, split.validation)
    thresholds = choose_thresholds(val_scores, labels[split.validation], components, config.default_threshold)
    fit_rows = split.train if config.refit else split.inner_train
    test_scores = _predict(factory, seed, inputs, labels, fit_rows, split.test)

    metrics: dict[str, float] = {}
    per_component: dict[str, dict[str, float]] = {}
    test_keys = keys.iloc[split.test].reset_index(drop=True)
    test_spans = test_keys.groupby("asset_id")["ts"].agg(start="min", end="max").reset_index()
    for k, component in enumerate(components):
        scores = binary_scores(labels[split.test, k], test_scores[:, k] >= thresholds[component])
        warning = evaluate_early_warning(
            test_keys.assign(score=test_scores[:, k]),
            failures[failures["component"] == component],
            config.horizon,
            threshold=thresholds[component],
            spans=test_spans,
        )
        metrics[f"f1_{component}"] = scores.f1
        per_component[component] = {**asdict(scores), "threshold": thresholds[component], **warning.to_dict()}
    metrics["f1_macro"] = float(np.mean([per_component[c]["f1"] for c in components]))
    metrics["precision_macro"] = float(np.mean([per_component[c]["precision"] for c in components]))
    metrics["recall_macro"] = float(np.mean([per_component[c]["recall"] for c in components]))
    details = {
        "config": asdict(config),
        "components": list(components),
        "validation_start": split.validation_start.isoformat(),
        "test_start": split.cut.isoformat(),
        "n_samples": {
            "inner_train": len(split.inner_train),
            "validation": len(split.validation),
            "train": len(split.train),
            "test": len(split.test),
        },
        "per_component": per_component,
    }
    return ProtocolResult(metrics=metrics, details=details)
