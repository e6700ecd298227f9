"""Evaluating a bundle: head metrics on a hand-made case, and the full evaluate → report path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.data.splits import make_splits
from omnimaint.data.windows import Labels
from omnimaint.evaluation.model_eval import evaluate_bundle, head_metrics
from omnimaint.evaluation.report import write_report
from omnimaint.inference import Bundle
from omnimaint.inference.predictor import HealthOutput


def _case() -> tuple[HealthOutput, Labels]:
    n = 6
    truth = np.array([1, 1, 0, 0, 0, 0], dtype=np.float32)
    known = np.array([1, 1, 1, 1, 1, 0], dtype=np.float32)
    probability = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.99])  # the unknown 6th must not count
    labels = Labels(
        failure_within=truth[:, None],
        failure_within_known=known[:, None],
        component_failure_within=truth[:, None, None],
        component_failure_within_known=known[:, None, None],
        rul_hours=np.array([10, 20, 100, 100, 100, 0], dtype=np.float32),
        rul_known=known,
        fault_type=np.array([1, 2, 0, 0, 0, -1]),
        health_state=np.array([2, 2, 0, 0, 1, -1]),
    )
    fault = np.eye(3)[[1, 1, 0, 0, 0, 0]]
    output = HealthOutput(
        asset_ids=np.array(["A"] * n, dtype=object),
        anchors=np.arange(n).astype("datetime64[h]").astype("datetime64[us]"),
        failure_probability=probability[:, None],
        component_failure_probability=probability[:, None, None],
        rul_hours=np.array([12, 20, 90, 100, 100, 5], dtype=np.float32),
        fault_probabilities=fault,
        health_probabilities=np.eye(3)[[2, 2, 0, 0, 0, 0]],
        anomaly_score=np.array([5, 4, 1, 1, 3, 0.0]),
        modality_weights=np.ones((n, 5)) / 5,
        alerts=(probability >= 0.75)[:, None],
        horizons_hours=(24.0,),
        components=("bearing",),
        fault_classes=("none", "bearing_wear", "seal_leak"),
    )
    return output, labels


def test_head_metrics_by_hand() -> None:
    output, labels = _case()
    metrics = head_metrics(output, labels, rul_cap_hours=168)
    failure = metrics["failure_within"]["24h"]
    assert failure["known"] == 5 and failure["positives"] == 2
    assert failure["auroc"] == pytest.approx(1.0)
    assert failure["alert_precision"] == pytest.approx(1.0) and failure["alert_recall"] == pytest.approx(1.0)
    assert metrics["rul"]["mae_hours"] == pytest.approx((2 + 0 + 10 + 0 + 0) / 5)
    # Fault classes 0, 1, 2 in the truth; predictions 1, 1, 0, 0, 0: F1(none)=1, F1(bearing)=2/3, F1(seal)=0.
    assert metrics["fault_type"]["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    # Diagnosis before the two failures: likeliest non-"none" class is bearing_wear for both; truth 1 and 2.
    assert metrics["fault_type"]["macro_f1_before_failure"] == pytest.approx((2 / 3 + 0) / 2)
    assert metrics["health_state"]["accuracy"] == pytest.approx(4 / 5)
    assert metrics["anomaly"]["auroc"] == pytest.approx(1.0)


def test_evaluate_and_report(trained_bundle: Path, small_plant: Path, tmp_path: Path) -> None:
    evaluation = evaluate_bundle(trained_bundle, small_plant, split="test")
    metrics = evaluation.metrics
    assert metrics["windows"] == len(evaluation.output) > 0
    assert set(metrics["failure_within"]) == {"24h", "72h"}
    assert set(metrics["ablation"]) == {"telemetry", "waveforms", "frames", "events", "maintenance"}
    assert set(metrics["early_warning"]["24h"]) >= {"detection_rate", "false_alarms_per_asset_day"}
    bundle = Bundle.load(trained_bundle)
    data = bundle.metrics["data"]
    splits = make_splits(
        Dataset(small_plant), bundle.window, data["split"], tuple(data["fractions"]), data["split_seed"]
    )
    test_assets = set(evaluation.output.asset_ids)
    assert splits["test"].asset_ids is not None and splits["train"].asset_ids is not None
    assert test_assets <= splits["test"].asset_ids and not test_assets & splits["train"].asset_ids
    metrics_path, report_path = write_report(evaluation, tmp_path, "test")
    page = report_path.read_text()
    assert page.count("<img") >= 3 and "false alarms per asset-day" in page
    assert '"failure_within"' in metrics_path.read_text()
