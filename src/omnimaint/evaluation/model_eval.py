"""Evaluating a bundle on a dataset: every head's metrics, early-warning figures, per-modality ablation.

``omnimaint evaluate BUNDLE DATASET`` calls :func:`evaluate_bundle`, then writes ``metrics.json`` and
``report.html`` (:mod:`omnimaint.evaluation.report`). When the dataset is the one the bundle was
trained on, the held-out ``test`` split is rebuilt from the split settings recorded in the bundle, so
the figures are on assets (and periods) the model never saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split, make_splits
from omnimaint.data.windows import HEALTH_STATES, Labels
from omnimaint.errors import ConfigError
from omnimaint.evaluation.early_warning import evaluate_early_warning
from omnimaint.evaluation.metrics import auroc, binary_scores, macro_f1
from omnimaint.inference.predictor import Backend, HealthOutput, Predictor

logger = logging.getLogger(__name__)

SplitName = Literal["train", "val", "test", "all"]


@dataclass
class Evaluation:
    """Everything :func:`evaluate_bundle` measured, with the predictions it measured them on.

    Attributes:
        metrics: JSON-ready metrics (see :func:`head_metrics`), plus ``early_warning`` and ``ablation``.
        output: The predictions.
        labels: The labels of the evaluated windows.
        failures: The failure records of the evaluated assets and period.
    """

    metrics: dict[str, Any]
    output: HealthOutput
    labels: Labels
    failures: pd.DataFrame
    ablation_outputs: dict[str, HealthOutput] = field(default_factory=dict)


def safe_auroc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """AUROC, or ``None`` when the truth holds only one class (or nothing)."""
    try:
        return auroc(truth, score)
    except ValueError:
        return None


def _average_precision(truth: np.ndarray, score: np.ndarray) -> float | None:
    if truth.sum() == 0 or truth.all():
        return None
    order = np.argsort(-score, kind="stable")
    hits = truth[order].astype(float)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def diagnosis_f1(fault_type: np.ndarray, likely_fault: np.ndarray) -> float | None:
    """Macro-F1 of the likeliest fault other than ``none`` on the windows that precede a failure (fault type
    > 0) against the fault that came; ``None`` when no window does."""
    before = fault_type > 0
    return macro_f1(fault_type[before], likely_fault[before]) if before.any() else None


def head_metrics(output: HealthOutput, labels: Labels, rul_cap_hours: float) -> dict[str, Any]:
    """Metrics of every head on the windows whose labels are known.

    - failure within each horizon (any component): AUROC, average precision, and precision/recall/F1
      of the calibrated alerts; per-component AUROC (components with positives);
    - RUL: MAE and RMSE in hours, on windows whose RUL is known;
    - fault type: macro-F1 over all known windows (``none`` included), and the diagnosis macro-F1: on
      windows that do precede a failure within the longest horizon, the likeliest fault other than
      ``none`` against the fault that came (the question an alert's diagnosis answers);
    - health state: accuracy and macro-F1;
    - anomaly score: AUROC of healthy vs degrading/critical windows.
    """
    metrics: dict[str, Any] = {"windows": len(output)}
    failure: dict[str, Any] = {}
    for h, hours in enumerate(output.horizons_hours):
        known = labels.failure_within_known[:, h] > 0
        truth = labels.failure_within[known, h] > 0
        score = output.failure_probability[known, h]
        alerts = binary_scores(truth, output.alerts[known, h]) if known.any() else None
        components = {}
        for c, name in enumerate(output.components):
            known_c = labels.component_failure_within_known[:, h, c] > 0
            value = safe_auroc(
                labels.component_failure_within[known_c, h, c] > 0, output.component_failure_probability[known_c, h, c]
            )
            if value is not None:
                components[name] = value
        failure[f"{hours:g}h"] = {
            "known": int(known.sum()),
            "positives": int(truth.sum()),
            "auroc": safe_auroc(truth, score),
            "average_precision": _average_precision(truth, score),
            "alert_precision": alerts.precision if alerts else None,
            "alert_recall": alerts.recall if alerts else None,
            "alert_f1": alerts.f1 if alerts else None,
            "component_auroc": components,
        }
    metrics["failure_within"] = failure
    rul_known = labels.rul_known > 0
    if rul_known.any():
        error = output.rul_hours[rul_known] - labels.rul_hours[rul_known]
        metrics["rul"] = {
            "known": int(rul_known.sum()),
            "mae_hours": float(np.mean(np.abs(error))),
            "rmse_hours": float(np.sqrt(np.mean(error**2))),
            "cap_hours": rul_cap_hours,
        }
    fault_known = labels.fault_type >= 0
    predicted_fault = output.fault_probabilities.argmax(axis=1)
    if fault_known.any():
        classes = sorted(set(labels.fault_type[fault_known].tolist()))
        metrics["fault_type"] = {
            "known": int(fault_known.sum()),
            "macro_f1": macro_f1(labels.fault_type[fault_known], predicted_fault[fault_known], classes),
            "macro_f1_before_failure": diagnosis_f1(labels.fault_type, output.likely_fault),
            "classes": [output.fault_classes[c] for c in classes],
        }
    health_known = labels.health_state >= 0
    if health_known.any():
        predicted_health = output.health_probabilities.argmax(axis=1)
        truth = labels.health_state[health_known]
        metrics["health_state"] = {
            "known": int(health_known.sum()),
            "accuracy": float(np.mean(truth == predicted_health[health_known])),
            "macro_f1": macro_f1(truth, predicted_health[health_known], sorted(set(truth.tolist()))),
            "states": list(HEALTH_STATES),
        }
        metrics["anomaly"] = {"auroc": safe_auroc(truth > 0, output.anomaly_score[health_known])}
    return metrics


def resolve_split(predictor: Predictor, dataset: Dataset, split: SplitName) -> Split | None:
    """The split to evaluate: rebuilt from the bundle's recorded split settings, or none (``all``)."""
    if split == "all":
        return None
    data = predictor.bundle.metrics.get("data")
    if not isinstance(data, dict):
        raise ConfigError(f"{predictor.bundle.path}: the bundle records no split settings; use --split all")
    splits = make_splits(
        dataset, predictor.bundle.window, data["split"], tuple(data["fractions"]), int(data["split_seed"])
    )
    return splits[split]


def failures_in(dataset: Dataset, windows: WindowedDataset, split: Split | None) -> pd.DataFrame:
    """Failure records of the evaluated assets, within the evaluated period."""
    failures = dataset.table("failures")
    failures = failures[failures["asset_id"].isin(set(windows.asset_list))]
    if split is not None and split.end is not None:
        failures = failures[failures["ts"] <= split.end]
    return failures


def early_warning(output: HealthOutput, failures: pd.DataFrame) -> dict[str, Any]:
    """Detection rate, lead time and false alarms per asset-day of the calibrated alerts, per horizon."""
    results = {}
    for h, hours in enumerate(output.horizons_hours):
        series = pd.DataFrame(
            {"asset_id": output.asset_ids, "ts": pd.to_datetime(output.anchors, utc=True), "alert": output.alerts[:, h]}
        )
        report = evaluate_early_warning(series, failures, pd.Timedelta(hours=hours))
        results[f"{hours:g}h"] = report.__dict__
    return results


def evaluate_bundle(
    bundle: str | Path,
    dataset: str | Path,
    *,
    split: SplitName = "test",
    ablation: bool = True,
    backend: Backend = "torch",
    progress: bool = False,
) -> Evaluation:
    """Score a dataset with a bundle and measure every head, early warning, and modality ablations.

    Args:
        bundle: Bundle folder.
        dataset: Dataset folder.
        split: ``test`` (the held-out split of the training run), ``val``, ``train`` or ``all``.
        ablation: Also score with each modality masked at inference.
        backend: ``torch`` or ``onnx``.
        progress: Show progress bars.
    """
    predictor = Predictor.from_bundle(bundle, backend)
    data = Dataset(dataset)
    chosen = resolve_split(predictor, data, split)
    windows = predictor.windows(data, split=chosen)
    predictor.preprocessor.warm_text_cache(windows, progress=progress)
    output = predictor.predict_windows(windows, progress=progress)
    labels = windows.labels
    rul_cap = predictor.bundle.window.rul_cap.total_seconds() / 3600
    metrics = head_metrics(output, labels, rul_cap)
    failures = failures_in(data, windows, chosen)
    metrics["early_warning"] = early_warning(output, failures)
    metrics["thresholds"] = predictor.bundle.thresholds.model_dump(mode="json")
    metrics["split"] = split
    evaluation = Evaluation(metrics=metrics, output=output, labels=labels, failures=failures)
    if ablation and len(predictor.modalities) > 1:
        metrics["ablation"] = {}
        for modality in predictor.modalities:
            dropped = predictor.predict_windows(windows, drop=(modality,))
            evaluation.ablation_outputs[modality] = dropped
            summary = head_metrics(dropped, labels, rul_cap)
            longest = f"{output.horizons_hours[-1]:g}h"
            metrics["ablation"][modality] = {
                "failure_auroc": summary["failure_within"][longest]["auroc"],
                "fault_macro_f1": summary.get("fault_type", {}).get("macro_f1"),
                "fault_macro_f1_before_failure": summary.get("fault_type", {}).get("macro_f1_before_failure"),
            }
    return evaluation
