"""Evaluating a bundle on a dataset: every head's metrics, early-warning figures, per-modality ablation.

``omnimaint evaluate BUNDLE DATASET`` calls :func:`evaluate_bundle`, then writes ``metrics.json`` and
``report.html`` (:mod:`omnimaint.evaluation.report`). Before any window is cut the dataset is checked to
fit the bundle (:mod:`omnimaint.inference.compatibility`). ``--split test`` (or ``val``, ``train``)
evaluates the assets and periods of that split of the bundle's training run, as recorded in the bundle:
on the training dataset they are the ones the model never saw, and on another import of the same plant
they are the same assets, whatever else the import holds. ``--split all`` evaluates every asset.

A metric the evaluated windows do not define (AUROC without a failure, macro-F1 over one class,
precision without an alert, a lead time without a detection) is ``None`` in the metrics, and
``metrics["undefined"]`` maps its dotted path (``"failure_within.72h.auroc"``) to the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split, make_splits, splits_from_json
from omnimaint.data.window_proposal import DataTiming, explain_no_windows, no_failure_warning
from omnimaint.data.windows import HEALTH_STATES, Labels
from omnimaint.errors import ConfigError
from omnimaint.evaluation.early_warning import evaluate_early_warning
from omnimaint.evaluation.metrics import UndefinedMetric, auroc, average_precision, binary_scores, macro_f1
from omnimaint.inference.compatibility import ensure_fit
from omnimaint.inference.predictor import Backend, HealthOutput, Predictor

logger = logging.getLogger(__name__)

SplitName = Literal["train", "val", "test", "all"]


@dataclass
class Evaluation:
    """Everything :func:`evaluate_bundle` measured, with the predictions it measured them on.

    Attributes:
        metrics: JSON-ready metrics (see :func:`head_metrics`), plus ``early_warning`` and ``ablation``;
            ``metrics["undefined"]`` says why each ``None`` figure is undefined.
        output: The predictions.
        labels: The labels of the evaluated windows.
        failures: The failure records of the evaluated assets and period.
    """

    metrics: dict[str, Any]
    output: HealthOutput
    labels: Labels
    failures: pd.DataFrame
    ablation_outputs: dict[str, HealthOutput] = field(default_factory=dict)


class _Undefined:
    """Collects why figures are undefined, keyed by their dotted path in the metrics."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def mark(self, path: str, reason: str) -> None:
        self.reasons[path] = reason

    def value(self, path: str, compute: Callable[[], float], reason: str | None = None) -> float | None:
        """``compute()``, or ``None`` with ``reason`` (default: the metric's own) when the data do not define it."""
        try:
            return compute()
        except UndefinedMetric as exc:
            self.mark(path, reason or f"{exc}")
            return None


def safe_auroc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """AUROC, or ``None`` when the truth holds only one class (or nothing)."""
    try:
        return auroc(truth, score)
    except ValueError:
        return None


def diagnosis_f1(fault_type: np.ndarray, likely_fault: np.ndarray) -> float | None:
    """Macro-F1 of the likeliest fault other than ``none`` on the windows that precede a failure (fault type
    > 0) against the fault that came; ``None`` when no window does. (Checkpoint selection scores with it;
    :func:`head_metrics` reports it only over two fault types or more.)"""
    before = fault_type > 0
    return macro_f1(fault_type[before], likely_fault[before]) if before.any() else None


def _failure_metrics(output: HealthOutput, labels: Labels, h: int, book: _Undefined) -> dict[str, Any]:
    """Failure within horizon ``h``: ranking (AUROC, AP), calibrated alerts, per-component AUROC."""
    key = f"{output.horizons_hours[h]:g}h"
    path = f"failure_within.{key}"
    known = labels.failure_within_known[:, h] > 0
    truth = labels.failure_within[known, h] > 0
    score = output.failure_probability[known, h]
    alerts = output.alerts[known, h]
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not known.any():
        ranking = f"no evaluated window has a known label for failure within {key} (the data end too soon after each)"
    elif positives == 0:
        ranking = f"the evaluated windows hold no failure within {key}"
    elif negatives == 0:
        ranking = f"every evaluated window precedes a failure within {key}"
    else:
        ranking = ""
    precision = recall = f1 = None
    predicted = 0
    if not known.any():
        for name in ("alert_precision", "alert_recall", "alert_f1"):
            book.mark(f"{path}.{name}", ranking)
    else:
        scores = binary_scores(truth, alerts)
        predicted = scores.predicted
        if scores.predicted:
            precision = scores.precision
        else:
            book.mark(f"{path}.alert_precision", "no evaluated window raised an alert")
        if scores.support:
            recall, f1 = scores.recall, scores.f1
        else:
            book.mark(f"{path}.alert_recall", ranking)
            book.mark(f"{path}.alert_f1", ranking)
    components = {}
    for c, name in enumerate(output.components):
        known_c = labels.component_failure_within_known[:, h, c] > 0
        value = safe_auroc(
            labels.component_failure_within[known_c, h, c] > 0, output.component_failure_probability[known_c, h, c]
        )
        if value is not None:
            components[name] = value
    return {
        "known": int(known.sum()),
        "positives": positives,
        "auroc": book.value(f"{path}.auroc", lambda: auroc(truth, score), ranking or None),
        "average_precision": book.value(
            f"{path}.average_precision", lambda: average_precision(truth, score), ranking or None
        ),
        "alert_precision": precision,
        "alert_recall": recall,
        "alert_f1": f1,
        "alerts": predicted,
        "component_auroc": components,
    }


def _fault_metrics(output: HealthOutput, labels: Labels, book: _Undefined) -> dict[str, Any]:
    """Fault type over every known window, and the diagnosis on the windows before a failure."""
    known = labels.fault_type >= 0
    truth = labels.fault_type[known]
    predicted = output.fault_probabilities.argmax(axis=1)[known]
    classes = sorted(set(truth.tolist()))
    names = [output.fault_classes[c] for c in classes]
    if not known.any():
        book.mark("fault_type.macro_f1", "no evaluated window has a known fault-type label")
    elif len(classes) < 2:
        book.mark(
            "fault_type.macro_f1",
            f"the evaluated windows hold one fault class only ({names[0]}): a macro-F1 over it rewards predicting "
            "that class everywhere",
        )
    before = labels.fault_type > 0
    came = labels.fault_type[before]
    diagnosed = output.likely_fault[before]
    faults = sorted(set(came.tolist()))
    if not before.any():
        book.mark("fault_type.macro_f1_before_failure", "no evaluated window precedes a failure of a known fault type")
        book.mark("fault_type.diagnosis_accuracy", "no evaluated window precedes a failure of a known fault type")
    elif len(faults) < 2:
        book.mark(
            "fault_type.macro_f1_before_failure",
            f"the windows before a failure precede one fault type only ({output.fault_classes[faults[0]]}); "
            "see fault_type.diagnosis_accuracy",
        )
    return {
        "known": int(known.sum()),
        "macro_f1": None if "fault_type.macro_f1" in book.reasons else macro_f1(truth, predicted, classes),
        "macro_f1_before_failure": (
            None if "fault_type.macro_f1_before_failure" in book.reasons else macro_f1(came, diagnosed, faults)
        ),
        "diagnosis_accuracy": float(np.mean(came == diagnosed)) if before.any() else None,
        "windows_before_failure": int(before.sum()),
        "classes": names,
    }


def head_metrics(output: HealthOutput, labels: Labels, rul_cap_hours: float) -> dict[str, Any]:
    """Metrics of every head on the windows whose labels are known.

    - failure within each horizon (any component): AUROC, average precision, and precision/recall/F1
      of the calibrated alerts; per-component AUROC (components with both classes);
    - RUL: MAE and RMSE in hours, on windows whose RUL is known (``below_cap``: how many of them had a
      failure within the cap);
    - fault type: macro-F1 over all known windows (``none`` included), and the diagnosis on windows that
      do precede a failure within the longest horizon: macro-F1 and accuracy of the likeliest fault other
      than ``none`` against the fault that came (the question an alert's diagnosis answers);
    - health state: accuracy and macro-F1;
    - anomaly score: AUROC of healthy vs degrading/critical windows.

    Returns:
        The metrics; each undefined figure is ``None`` and ``metrics["undefined"]`` maps its dotted path
        to the reason.
    """
    book = _Undefined()
    metrics: dict[str, Any] = {"windows": len(output)}
    metrics["failure_within"] = {
        f"{hours:g}h": _failure_metrics(output, labels, h, book) for h, hours in enumerate(output.horizons_hours)
    }
    rul_known = labels.rul_known > 0
    error = output.rul_hours[rul_known] - labels.rul_hours[rul_known]
    if not rul_known.any():
        reason = "no evaluated window has a known remaining useful life (no failure within the cap, data end too soon)"
        book.mark("rul.mae_hours", reason)
        book.mark("rul.rmse_hours", reason)
    metrics["rul"] = {
        "known": int(rul_known.sum()),
        "below_cap": int((labels.rul_hours[rul_known] < rul_cap_hours).sum()),
        "mae_hours": float(np.mean(np.abs(error))) if rul_known.any() else None,
        "rmse_hours": float(np.sqrt(np.mean(error**2))) if rul_known.any() else None,
        "cap_hours": rul_cap_hours,
    }
    metrics["fault_type"] = _fault_metrics(output, labels, book)
    health_known = labels.health_state >= 0
    truth = labels.health_state[health_known]
    predicted = output.health_probabilities.argmax(axis=1)[health_known]
    states = sorted(set(truth.tolist()))
    if not health_known.any():
        book.mark("health_state.accuracy", "no evaluated window has a known health state")
    if len(states) < 2:
        present = HEALTH_STATES[states[0]] if states else "none"
        book.mark(
            "health_state.macro_f1",
            f"the evaluated windows hold one health state only ({present}): a macro-F1 over it rewards "
            "predicting that state everywhere",
        )
    metrics["health_state"] = {
        "known": int(health_known.sum()),
        "accuracy": float(np.mean(truth == predicted)) if health_known.any() else None,
        "macro_f1": None if "health_state.macro_f1" in book.reasons else macro_f1(truth, predicted, states),
        "states": list(HEALTH_STATES),
    }
    anomalous = truth > 0
    anomaly_reason = (
        "no evaluated window has a known health state"
        if not health_known.any()
        else f"the evaluated windows are all {'degrading or critical' if anomalous.all() else 'healthy'}"
    )
    metrics["anomaly"] = {
        "auroc": book.value(
            "anomaly.auroc", lambda: auroc(anomalous, output.anomaly_score[health_known]), anomaly_reason
        )
    }
    frame_anomaly = output.frame_anomaly
    if frame_anomaly is not None:  # the bundle's PatchCore frame anomaly, over the windows that have a frame
        framed = health_known & np.isfinite(frame_anomaly)
        metrics["anomaly"]["frame_auroc"] = book.value(
            "anomaly.frame_auroc",
            lambda: auroc(labels.health_state[framed] > 0, frame_anomaly[framed]),
            None if framed.any() else "no evaluated window with a camera frame has a known health state",
        )
    metrics["undefined"] = book.reasons
    return metrics


def _recorded_split(predictor: Predictor, dataset: Dataset, split: str) -> Split:
    """The split of the bundle's training run: as recorded in the bundle, or rebuilt from its settings."""
    data = predictor.bundle.metrics.get("data")
    if not isinstance(data, dict):
        raise ConfigError(f"{predictor.bundle.path}: the bundle records no split settings; use --split all")
    recorded = data.get("splits")
    if isinstance(recorded, dict):
        return splits_from_json(recorded)[split]
    rebuilt = make_splits(
        dataset, predictor.bundle.window, data["split"], tuple(data["fractions"]), int(data["split_seed"])
    )
    return rebuilt[split]


def resolve_split(predictor: Predictor, dataset: Dataset, split: SplitName) -> Split | None:
    """The split to evaluate: that split of the bundle's training run, limited to the dataset's assets, or
    none (``all``).

    Raises:
        ConfigError: if none of the split's assets is in the dataset.
    """
    present = {str(a) for a in dataset.table("assets")["asset_id"]}
    if split == "all":
        _warn_if_seen_in_training(predictor, dataset, present)
        return None
    chosen = _recorded_split(predictor, dataset, split)
    if chosen.asset_ids is None:
        return chosen
    kept = chosen.asset_ids & present
    if not kept:
        names = ", ".join(sorted(chosen.asset_ids)[:4]) + (", …" if len(chosen.asset_ids) > 4 else "")
        held = f"the {len(chosen.asset_ids)} assets of" if chosen.asset_ids else "no asset in"
        raise ConfigError(
            f"{dataset.path}: the dataset holds none of {held} the bundle's '{split}' split"
            f"{f' ({names})' if names else ''}; evaluate the dataset's own assets with --split all"
        )
    if kept != chosen.asset_ids:
        logger.warning(
            "%s: %d of the %d assets of the bundle's '%s' split are not in the dataset; evaluating the other %d",
            dataset.path,
            len(chosen.asset_ids - kept),
            len(chosen.asset_ids),
            split,
            len(kept),
        )
    return Split(name=chosen.name, asset_ids=frozenset(kept), start=chosen.start, end=chosen.end)


def _warn_if_seen_in_training(predictor: Predictor, dataset: Dataset, present: set[str]) -> None:
    data = predictor.bundle.metrics.get("data")
    recorded = data.get("splits") if isinstance(data, dict) else None
    if not isinstance(recorded, dict):
        return
    train = splits_from_json(recorded)["train"]
    if train.asset_ids is not None and train.asset_ids & present:
        seen = sorted(train.asset_ids & present)
        logger.warning(
            "%s: %d evaluated assets (%s) were in the bundle's training split: their figures are not held out",
            dataset.path,
            len(seen),
            ", ".join(seen[:4]) + (", …" if len(seen) > 4 else ""),
        )
    elif train.asset_ids is None and train.end is not None:
        logger.warning(
            "%s: the evaluated period may include the bundle's training period (up to %s): "
            "figures over it are not held out",
            dataset.path,
            train.end,
        )


def failures_in(dataset: Dataset, windows: WindowedDataset, split: Split | None) -> pd.DataFrame:
    """Failure records of the evaluated assets, within the evaluated period."""
    failures = dataset.table("failures")
    failures = failures[failures["asset_id"].isin(set(windows.asset_list))]
    if split is not None and split.end is not None:
        failures = failures[failures["ts"] <= split.end]
    return failures


def early_warning(output: HealthOutput, failures: pd.DataFrame) -> tuple[dict[str, Any], dict[str, str]]:
    """Detection rate, lead time and false alarms per asset-day of the calibrated alerts, per horizon, and
    why figures are undefined (dotted paths under ``early_warning``)."""
    results: dict[str, Any] = {}
    undefined: dict[str, str] = {}
    for h, hours in enumerate(output.horizons_hours):
        key = f"{hours:g}h"
        series = pd.DataFrame(
            {"asset_id": output.asset_ids, "ts": pd.to_datetime(output.anchors, utc=True), "alert": output.alerts[:, h]}
        )
        report = evaluate_early_warning(series, failures, pd.Timedelta(hours=hours))
        results[key] = report.to_json()
        undefined |= {f"early_warning.{key}.{name}": reason for name, reason in report.undefined().items()}
    return results, undefined


def _windows(predictor: Predictor, data: Dataset, split: Split | None) -> WindowedDataset:
    """The windows to score, or a one-line reason naming what leaves none."""
    try:
        return predictor.windows(data, split=split, check=False)
    except ConfigError as exc:
        timing = DataTiming.of(data, periods=False)
        reason = explain_no_windows(timing, predictor.bundle.window, split, str(data.path), advice=False)
        if reason is None:
            raise
        hint = "; evaluate every asset and period with --split all" if split is not None else ""
        raise ConfigError(f"no window of the bundle's window spec to evaluate: {reason}{hint}") from exc


def evaluate_bundle(
    bundle: str | Path,
    dataset: str | Path,
    *,
    split: SplitName = "test",
    ablation: bool = True,
    backend: Backend = "torch",
    progress: bool = False,
    public_key: Path | None = None,
) -> Evaluation:
    """Score a dataset with a bundle and measure every head, early warning, and modality ablations.

    Args:
        bundle: Bundle folder.
        dataset: Dataset folder.
        split: ``test`` (the held-out split of the training run), ``val``, ``train`` or ``all``.
        ablation: Also score with each modality masked at inference.
        backend: ``torch`` or ``onnx``.
        progress: Show progress bars.
        public_key: Require a signature of the bundle by this Ed25519 public key (PEM file).

    Raises:
        BundleError: if the bundle fails verification (or, with ``public_key``, its signature).
        IncompatibleDataError: if the dataset does not fit the bundle (before any window is cut).
        ConfigError: if the split holds none of the dataset's assets, or no window.
    """
    predictor = Predictor.from_bundle(bundle, backend, public_key=public_key)
    data = Dataset(dataset)
    fit = ensure_fit(predictor.bundle, data, warn=False)
    chosen = resolve_split(predictor, data, split)
    windows = _windows(predictor, data, chosen)
    for partial in fit.warnings:  # told once the data are known to be scorable, so a refusal stays one line
        logger.warning("dataset %s: %s", data.path, partial)
    labels = windows.labels
    failures = failures_in(data, windows, chosen)
    warning = no_failure_warning(
        windows, f"evaluated ({split})", "failure, fault-type, RUL and early-warning figures are undefined"
    )
    if warning is not None:
        logger.warning(warning)
    predictor.preprocessor.warm_text_cache(windows, progress=progress)
    output = predictor.predict_windows(windows, progress=progress)
    rul_cap = predictor.bundle.window.rul_cap.total_seconds() / 3600
    metrics = head_metrics(output, labels, rul_cap)
    metrics["early_warning"], undefined = early_warning(output, failures)
    metrics["undefined"] |= undefined
    metrics["thresholds"] = predictor.bundle.thresholds.model_dump(mode="json")
    metrics["split"] = split
    metrics["assets"] = len(windows.asset_list)
    metrics["failures"] = len(failures)
    evaluation = Evaluation(metrics=metrics, output=output, labels=labels, failures=failures)
    if ablation and len(predictor.modalities) > 1:
        metrics["ablation"] = {}
        longest = f"{output.horizons_hours[-1]:g}h"
        for modality in predictor.modalities:
            dropped = predictor.predict_windows(
                windows,
                drop=(modality,),
                progress=progress,
                description=f"ablation: scoring without {modality}",
                frame_anomaly=False,  # the model's heads without the modality; the frame anomaly does not change
            )
            evaluation.ablation_outputs[modality] = dropped
            summary = head_metrics(dropped, labels, rul_cap)
            figures = {
                "failure_auroc": (f"failure_within.{longest}.auroc", summary["failure_within"][longest]["auroc"]),
                "fault_macro_f1": ("fault_type.macro_f1", summary["fault_type"]["macro_f1"]),
                "fault_macro_f1_before_failure": (
                    "fault_type.macro_f1_before_failure",
                    summary["fault_type"]["macro_f1_before_failure"],
                ),
            }
            metrics["ablation"][modality] = {name: value for name, (_, value) in figures.items()}
            for name, (path, _) in figures.items():
                if path in summary["undefined"]:
                    metrics["undefined"][f"ablation.{modality}.{name}"] = summary["undefined"][path]
    return evaluation
