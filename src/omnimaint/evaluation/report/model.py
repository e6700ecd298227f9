"""What report.html says, computed once from an :class:`Evaluation`, before any language or markup:
the evaluated assets with their failures and alerts (:mod:`.alerts`), each asset's scores over time, the
thresholds, the fault confusion matrices, the curves, and the figures of ``metrics.json``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omnimaint.evaluation.model_eval import Evaluation
from omnimaint.evaluation.report.alerts import AlertEpisode, FailureRecord, asset_alerts, failure_table, stamp
from omnimaint.evaluation.report.figures import Figure, HeadlineRow, Unit, figure, has, headline_figures


@dataclass(frozen=True)
class AssetRow:
    """One evaluated asset: what was scored, its failures, and the alerts per horizon."""

    asset: str
    first: pd.Timestamp
    last: pd.Timestamp
    windows: int
    failures: int
    detected: tuple[int, ...]
    counted: tuple[int, ...]
    false_alarms: tuple[int, ...]


@dataclass(frozen=True)
class Timeline:
    """An asset's scores over time. ``anchors`` are µs since the epoch (UTC), sorted."""

    asset: str
    anchors: np.ndarray  # (n,) int64
    probability: np.ndarray  # (n, H)
    alerts: np.ndarray  # (n, H) bool
    health: np.ndarray  # (n,) index into HEALTH_STATES of the likeliest state
    failures: tuple[FailureRecord, ...]


@dataclass(frozen=True)
class Confusion:
    """Counts of (true class, predicted class) over ``classes`` (rows true, columns predicted)."""

    classes: tuple[str, ...]
    counts: np.ndarray  # (K, K) int


@dataclass(frozen=True)
class Curve:
    """ROC and precision-recall points of one horizon."""

    horizon_hours: float
    fpr: np.ndarray
    tpr: np.ndarray
    recall: np.ndarray
    precision: np.ndarray


@dataclass(frozen=True)
class Thresholds:
    """The alert thresholds the bundle applied (``None`` where it records none)."""

    failure_probability: tuple[float | None, ...]
    target_false_alarms_per_asset_day: float | None
    anomaly_score: float | None


@dataclass(frozen=True)
class ReportModel:
    """Everything the page shows, in no particular language."""

    title: str
    split: str | None
    windows: int
    horizons_hours: tuple[float, ...]
    thresholds: Thresholds
    assets: tuple[AssetRow, ...]
    alerts: tuple[AlertEpisode, ...]
    failures: tuple[FailureRecord, ...]
    timelines: tuple[Timeline, ...]
    fault_confusion: Confusion | None
    diagnosis_confusion: Confusion | None
    curves: tuple[Curve, ...]
    rul: tuple[np.ndarray, np.ndarray] | None  # (true, predicted) hours, windows whose RUL is known
    headline: tuple[HeadlineRow, ...]
    early_warning: dict[float, dict[str, Figure]]
    ablation: dict[str, dict[str, Figure]]
    ablation_full: dict[str, Figure]
    fault_figures: dict[str, Figure]
    undefined: dict[str, str] = field(default_factory=dict)

    @property
    def n_failures(self) -> int:
        return len(self.failures)


def _confusion(truth: np.ndarray, predicted: np.ndarray, names: tuple[str, ...]) -> Confusion | None:
    if not truth.size:
        return None
    classes = sorted(set(truth.tolist()) | set(predicted.tolist()))
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(truth.tolist(), predicted.tolist(), strict=True):
        counts[index[t], index[p]] += 1
    return Confusion(classes=tuple(names[c] for c in classes), counts=counts)


def _curves(evaluation: Evaluation) -> tuple[Curve, ...]:
    output, labels = evaluation.output, evaluation.labels
    curves = []
    for h, hours in enumerate(output.horizons_hours):
        known = labels.failure_within_known[:, h] > 0
        truth = labels.failure_within[known, h] > 0
        if truth.sum() == 0 or truth.all():
            continue
        order = np.argsort(-output.failure_probability[known, h], kind="stable")
        hits = truth[order]
        tpr = np.concatenate([[0.0], np.cumsum(hits) / hits.sum()])
        fpr = np.concatenate([[0.0], np.cumsum(~hits) / (~hits).sum()])
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        curves.append(Curve(hours, fpr, tpr, tpr[1:], precision))
    return tuple(curves)


def _thresholds(metrics: dict[str, Any], horizons: tuple[float, ...]) -> Thresholds:
    recorded = metrics.get("thresholds") or {}
    by_horizon = dict(zip(recorded.get("horizons_hours", ()), recorded.get("failure_probability", ()), strict=False))

    def finite(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return Thresholds(
        failure_probability=tuple(finite(by_horizon.get(hours)) for hours in horizons),
        target_false_alarms_per_asset_day=finite(recorded.get("target_false_alarms_per_asset_day")),
        anomaly_score=finite(recorded.get("anomaly_score")),
    )


# The early-warning figures the page quotes, and how each is printed.
EARLY_WARNING_FIGURES: dict[str, Unit] = {
    "n_failures": "count",
    "n_detected": "count",
    "detection_rate": "ratio",
    "lead_time_hours_median": "hours",
    "n_false_alarms": "count",
    "false_alarms_per_asset_day": "rate",
    "episode_precision": "ratio",
}


# The fault-type figures shown beside the confusion matrices.
FAULT_FIGURES = ("macro_f1", "macro_f1_before_failure", "diagnosis_accuracy")

# Each figure of a modality ablation, and where metrics.json holds it for the model with every modality.
ABLATION_FIGURES = {
    "failure_auroc": "failure_within.{longest}.auroc",
    "fault_macro_f1": "fault_type.macro_f1",
    "fault_macro_f1_before_failure": "fault_type.macro_f1_before_failure",
}


def build_model(evaluation: Evaluation, title: str) -> ReportModel:
    """Everything report.html shows about ``evaluation``.

    Args:
        evaluation: What :func:`~omnimaint.evaluation.model_eval.evaluate_bundle` measured.
        title: The page title (which bundle on which data).
    """
    output, labels, metrics = evaluation.output, evaluation.labels, evaluation.metrics
    horizons = tuple(float(h) for h in output.horizons_hours)
    horizon_index = range(len(horizons))
    failures = failure_table(evaluation.failures)
    asset_ids = output.asset_ids.astype(str)
    assets: list[AssetRow] = []
    alerts: list[AlertEpisode] = []
    records: list[FailureRecord] = []
    timelines: list[Timeline] = []
    for asset in sorted(set(asset_ids.tolist())):
        found = asset_alerts(
            evaluation, asset, np.flatnonzero(asset_ids == asset), failures[failures["asset_id"] == asset]
        )
        assets.append(
            AssetRow(
                asset=asset,
                first=stamp(int(found.anchors_us[0])),
                last=stamp(int(found.anchors_us[-1])),
                windows=len(found.rows),
                failures=len(found.failures),
                detected=tuple(
                    sum(r.warnings[h].lead_hours is not None for r in found.failures) for h in horizon_index
                ),
                counted=tuple(sum(r.warnings[h].counted for r in found.failures) for h in horizon_index),
                false_alarms=tuple(
                    sum(e.false_alarms for e in found.alerts if e.horizon_hours == hours) for hours in horizons
                ),
            )
        )
        timelines.append(
            Timeline(
                asset=asset,
                anchors=found.anchors_us,
                probability=output.failure_probability[found.rows],
                alerts=output.alerts[found.rows].astype(bool),
                health=output.health_probabilities[found.rows].argmax(axis=1),
                failures=found.failures,
            )
        )
        alerts += found.alerts
        records += found.failures
    fault_known = labels.fault_type >= 0
    before_failure = labels.fault_type > 0
    known_rul = labels.rul_known > 0
    return ReportModel(
        title=title,
        split=metrics.get("split"),
        windows=len(output),
        horizons_hours=horizons,
        thresholds=_thresholds(metrics, horizons),
        assets=tuple(assets),
        alerts=tuple(sorted(alerts, key=lambda e: (e.start, e.asset, e.horizon_hours))),
        failures=tuple(sorted(records, key=lambda r: (r.ts, r.asset))),
        timelines=tuple(timelines),
        fault_confusion=_confusion(
            labels.fault_type[fault_known], output.fault_probabilities[fault_known].argmax(axis=1), output.fault_classes
        ),
        diagnosis_confusion=_confusion(
            labels.fault_type[before_failure], output.likely_fault[before_failure], output.fault_classes
        ),
        curves=_curves(evaluation),
        rul=(labels.rul_hours[known_rul], output.rul_hours[known_rul]) if known_rul.any() else None,
        headline=headline_figures(metrics),
        early_warning={
            hours: {
                name: figure(metrics, f"early_warning.{hours:g}h.{name}", unit)
                for name, unit in EARLY_WARNING_FIGURES.items()
            }
            for hours in horizons
        },
        ablation={
            modality: {name: figure(metrics, f"ablation.{modality}.{name}") for name in ABLATION_FIGURES}
            for modality in metrics.get("ablation") or {}
        },
        ablation_full={
            name: figure(metrics, path.format(longest=f"{max(horizons):g}h")) for name, path in ABLATION_FIGURES.items()
        },
        fault_figures={
            name: figure(metrics, f"fault_type.{name}") for name in FAULT_FIGURES if has(metrics, f"fault_type.{name}")
        },
        undefined={str(k): str(v) for k, v in (metrics.get("undefined") or {}).items()},
    )
