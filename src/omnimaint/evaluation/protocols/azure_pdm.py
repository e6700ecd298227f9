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

Estimator interface: ``fit(X, Y)`` / ``predict_proba(X)`` where ``X`` is a
:class:`~omnimaint.data.protocol_inputs.ProtocolInputs` (its ``targets`` are the components) and ``Y`` and
the output have one column per component (output: any score that grows with the failure risk).

Bundle interface (the multimodal model, :func:`azure_pdm_inputs` and :func:`score_azure_pdm_bundle`): the
model is trained on the training samples before the validation slice, with the validation slice for early
stopping; the thresholds are chosen on its validation scores as above, and it is not refitted (a bundle is
what a user ships: it is scored as it was trained).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.early_warning import evaluate_early_warning
from omnimaint.evaluation.metrics import best_f1_threshold, binary_scores
from omnimaint.evaluation.protocols.base import BundleTrainer, MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.inputs import require_table
from omnimaint.evaluation.protocols.running import score_once

if TYPE_CHECKING:  # the predictor is handed in: scoring a bundle needs no torch import here
    from omnimaint.inference.predictor import Predictor

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
        development: Run the protocol on its training period alone, for choosing settings: the samples up to
            the test cut less the horizon, with the failures up to the cut, are split again with the same
            fractions into training, validation and a test-like period. Nothing of the real test period is
            scored, and no failure in it labels a sample.
    """

    horizon_hours: float = 24.0
    test_fraction: float = 1 / 3
    validation_fraction: float = 0.25
    refit: bool = True
    default_threshold: float = 0.5
    development: bool = False

    @property
    def horizon(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.horizon_hours)


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


@dataclass(frozen=True)
class PdmSamples:
    """Every sample of the protocol, its labels and its time split.

    Attributes:
        dataset: The canonical dataset.
        keys: Columns ``asset_id``, ``ts``; one row per sample (each asset's telemetry timestamps).
        labels: ``(n, K)`` bool, component ``k`` fails within the horizon after the sample.
        components: The failing components, sorted.
        split: Positions of each period.
        failures: The dataset's failures.
    """

    dataset: Dataset
    keys: pd.DataFrame
    labels: np.ndarray
    components: tuple[str, ...]
    split: TimeSplit
    failures: pd.DataFrame

    def inputs(self, part: str) -> ProtocolInputs:
        """The samples of one period: ``inner_train``, ``validation``, ``train`` or ``test``; their labels stop
        at the period's end (the validation start, the test cut, the end of the data)."""
        until = {"inner_train": self.split.validation_start, "validation": self.split.cut, "train": self.split.cut}
        rows = getattr(self.split, part)
        keys = self.keys.iloc[rows].reset_index(drop=True)
        return ProtocolInputs(self.dataset, keys, part, labels_until=until.get(part), targets=self.components)


def pdm_samples(dataset: Dataset, config: PdmConfig) -> PdmSamples:
    """The protocol's samples, labels and split.

    Raises:
        ProtocolError: if a table is missing or the time span is too short for the three periods.
    """
    failures = require_table(dataset, "failures", "azure-pdm")
    telemetry_keys = require_table(dataset, "telemetry", "azure-pdm")[["asset_id", "ts"]]
    keys = telemetry_keys.drop_duplicates().sort_values(["asset_id", "ts"]).reset_index(drop=True)
    components = tuple(sorted(failures["component"].astype(str).unique()))
    split = time_split(keys["ts"], config)
    if config.development:
        keys = keys.iloc[split.train].reset_index(drop=True)
        failures = failures[failures["ts"] <= split.cut]
        split = time_split(keys["ts"], config)
    if min(len(split.inner_train), len(split.validation), len(split.test)) == 0:
        raise ProtocolError(f"{dataset.path}: the time span is too short for train, validation and test periods")
    labels = failure_labels(keys, failures, components, config.horizon)
    return PdmSamples(dataset, keys, labels, components, split, failures)


def _predict(factory: MethodFactory, seed: int, samples: PdmSamples, fit_on: str, score: str) -> np.ndarray:
    estimator = factory(seed)
    estimator.fit(samples.inputs(fit_on), samples.labels[getattr(samples.split, fit_on)])
    rows = getattr(samples.split, score)
    scores = np.asarray(estimator.predict_proba(samples.inputs(score)), dtype=np.float64)
    if scores.shape != (len(rows), len(samples.components)):
        raise ProtocolError(
            f"predict_proba returned shape {scores.shape}, expected {(len(rows), len(samples.components))}"
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
    """Run the component failure prediction protocol with an estimator.

    Returns:
        ``f1_<component>`` and ``f1_macro``, ``precision_macro``, ``recall_macro`` on the test period;
        per-component precision/recall/support, thresholds, split times and early-warning figures in details.
    """
    config = config or PdmConfig()
    samples = pdm_samples(dataset, config)
    val_scores = _predict(factory, seed, samples, "inner_train", "validation")
    test_scores = _predict(factory, seed, samples, "train" if config.refit else "inner_train", "test")
    return _result(samples, config, val_scores, test_scores)


def azure_pdm_inputs(dataset: Dataset, seed: int = 0, config: PdmConfig | None = None) -> dict[str, ProtocolInputs]:
    """What a bundle is trained (``train``), early-stopped (``val``) and scored (``test``) on."""
    samples = pdm_samples(dataset, config or PdmConfig())
    return {"train": samples.inputs("inner_train"), "val": samples.inputs("validation"), "test": samples.inputs("test")}


def _component_scores(predictor: Predictor, inputs: ProtocolInputs, config: PdmConfig) -> np.ndarray:
    """The bundle's failure probability of each protocol component within the protocol's horizon, ``(n, K)``."""
    horizons = [h.total_seconds() / 3600 for h in predictor.bundle.window.horizons]
    if config.horizon_hours not in horizons:
        raise ProtocolError(
            f"{predictor.bundle.path}: the bundle predicts failure within {horizons} h, not the protocol's "
            f"{config.horizon_hours:g} h"
        )
    known = predictor.bundle.preprocessor.vocab.components
    missing = [c for c in inputs.targets if c not in known]
    if missing:
        raise ProtocolError(f"{predictor.bundle.path}: the bundle knows no components {missing} (it knows {known})")
    windows = predictor.windows(inputs.dataset, anchors=inputs.anchors)
    output = predictor.predict_windows(windows, batch_size=256, progress=True, description=f"scoring {inputs.split}")
    columns = [known.index(c) for c in inputs.targets]
    return np.asarray(output.component_failure_probability[:, horizons.index(config.horizon_hours), columns])


def score_azure_pdm_bundle(
    dataset: Dataset, predictor: Predictor, seed: int = 0, config: PdmConfig | None = None
) -> ProtocolResult:
    """Score a bundle trained on :func:`azure_pdm_inputs`: thresholds from its validation scores, metrics on
    the test period, exactly as :func:`run_azure_pdm` scores an estimator."""
    config = config or PdmConfig()
    samples = pdm_samples(dataset, config)
    val_scores = _component_scores(predictor, samples.inputs("validation"), config)
    test_scores = _component_scores(predictor, samples.inputs("test"), config)
    return _result(samples, config, val_scores, test_scores)


def _development(config: PdmConfig | None) -> PdmConfig:
    return replace(config or PdmConfig(), development=True)


def _test_like(result: ProtocolResult) -> dict[str, float]:
    return {"val_f1_macro": result.details["val_f1_macro"]} | {
        f"val_test_like_{name}": value for name, value in result.metrics.items()
    }


def validate_azure_pdm(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, split_seed: int = 0, config: PdmConfig | None = None
) -> dict[str, float]:
    """Score an estimator on the protocol's training period alone (``development``), for tuning: the figures
    are ``val_test_like_*`` (its test-like period) and ``val_f1_macro`` (its validation slice). The split is
    by time, so ``split_seed`` changes nothing."""
    return _test_like(run_azure_pdm(dataset, factory, seed, _development(config)))


def validate_azure_pdm_bundle(
    dataset: Dataset, trainer: BundleTrainer, seed: int = 0, split_seed: int = 0, config: PdmConfig | None = None
) -> dict[str, float]:
    """As :func:`validate_azure_pdm`, for a method that trains a bundle (``split_seed`` changes nothing)."""
    development = _development(config)
    return _test_like(
        score_once(
            trainer,
            azure_pdm_inputs(dataset, seed, development),
            lambda predictor: score_azure_pdm_bundle(dataset, predictor, seed, development),
        )
    )


def _result(samples: PdmSamples, config: PdmConfig, val_scores: np.ndarray, test_scores: np.ndarray) -> ProtocolResult:
    split, components, labels = samples.split, samples.components, samples.labels
    thresholds = choose_thresholds(val_scores, labels[split.validation], components, config.default_threshold)
    metrics: dict[str, float] = {}
    per_component: dict[str, dict[str, float]] = {}
    test_keys = samples.keys.iloc[split.test].reset_index(drop=True)
    test_spans = test_keys.groupby("asset_id")["ts"].agg(start="min", end="max").reset_index()
    for k, component in enumerate(components):
        scores = binary_scores(labels[split.test, k], test_scores[:, k] >= thresholds[component])
        warning = evaluate_early_warning(
            test_keys.assign(score=test_scores[:, k]),
            samples.failures[samples.failures["component"] == component],
            config.horizon,
            threshold=thresholds[component],
            spans=test_spans,
        )
        metrics[f"f1_{component}"] = scores.f1
        per_component[component] = {**asdict(scores), "threshold": thresholds[component], **warning.to_dict()}
    metrics["f1_macro"] = float(np.mean([per_component[c]["f1"] for c in components]))
    metrics["precision_macro"] = float(np.mean([per_component[c]["precision"] for c in components]))
    metrics["recall_macro"] = float(np.mean([per_component[c]["recall"] for c in components]))
    # What a setting may be chosen on: the validation slice's F1 at its own thresholds (never the test's).
    val_f1 = [
        binary_scores(labels[split.validation, k], val_scores[:, k] >= thresholds[c]).f1
        for k, c in enumerate(components)
    ]
    details = {
        "val_f1_macro": float(np.mean(val_f1)),
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
