"""Evaluating a bundle: head metrics on hand-made cases (undefined figures included), the full evaluate →
report path, and which assets a split evaluates on the training dataset and on another import of it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.data.splits import make_splits, splits_from_json
from omnimaint.data.windows import Labels
from omnimaint.evaluation.model_eval import evaluate_bundle, head_metrics
from omnimaint.evaluation.report import write_report
from omnimaint.inference import Bundle
from omnimaint.inference.predictor import HealthOutput
from tests.unit.data.sensor import train_sensor_bundle, write_sensor_dataset


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
    assert metrics["undefined"] == {}
    assert "frame_auroc" not in metrics["anomaly"]  # no frame anomaly component in the bundle


def test_the_frame_anomaly_auroc_reads_the_windows_with_a_frame_and_a_known_health_state() -> None:
    output, labels = _case()
    # health states 2, 2, 0, 0, 1, unknown; window 1 has no frame (NaN), window 5 no health state
    framed = HealthOutput(**{**output.__dict__, "frame_anomaly": np.array([3.0, np.nan, 0.5, 2.5, 2.0, 9.0])})
    metrics = head_metrics(framed, labels, rul_cap_hours=168)
    # anomalous windows 0 and 4 (3.0, 2.0) against healthy 2 and 3 (0.5, 2.5): 3 of the 4 pairs in order
    assert metrics["anomaly"]["frame_auroc"] == pytest.approx(0.75)
    assert metrics["anomaly"]["auroc"] == pytest.approx(1.0)
    unframed = HealthOutput(**{**output.__dict__, "frame_anomaly": np.full(len(output), np.nan)})
    quiet = head_metrics(unframed, labels, rul_cap_hours=168)
    assert quiet["anomaly"]["frame_auroc"] is None and "anomaly.frame_auroc" in quiet["undefined"]


def _quiet_case() -> tuple[HealthOutput, Labels]:
    """Windows far from any failure, and a model that says "healthy, no fault, no failure" everywhere."""
    output, labels = _case()
    n = len(output)
    labels = Labels(
        failure_within=np.zeros((n, 1), dtype=np.float32),
        failure_within_known=np.ones((n, 1), dtype=np.float32),
        component_failure_within=np.zeros((n, 1, 1), dtype=np.float32),
        component_failure_within_known=np.ones((n, 1, 1), dtype=np.float32),
        rul_hours=np.zeros(n, dtype=np.float32),
        rul_known=np.zeros(n, dtype=np.float32),
        fault_type=np.zeros(n, dtype=np.int64),
        health_state=np.zeros(n, dtype=np.int64),
    )
    quiet = HealthOutput(
        **{
            **output.__dict__,
            "fault_probabilities": np.eye(3)[[0] * n],
            "health_probabilities": np.eye(3)[[0] * n],
            "alerts": np.zeros((n, 1), dtype=bool),
        }
    )
    return quiet, labels


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out |= _leaves(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def test_figures_the_windows_do_not_define_are_none_with_a_reason() -> None:
    output, labels = _quiet_case()
    metrics = head_metrics(output, labels, rul_cap_hours=168)
    undefined = metrics["undefined"]
    # The trap of the issue: the truth holds one fault class and the model predicts it everywhere.
    assert metrics["fault_type"]["macro_f1"] is None
    assert "one fault class only (none)" in undefined["fault_type.macro_f1"]
    assert (
        metrics["health_state"]["macro_f1"] is None
        and "one health state only (healthy)" in undefined["health_state.macro_f1"]
    )
    assert metrics["health_state"]["accuracy"] == 1.0  # defined: every state was predicted right
    failure = metrics["failure_within"]["24h"]
    assert failure["auroc"] is None and failure["average_precision"] is None and failure["alert_recall"] is None
    assert undefined["failure_within.24h.auroc"] == "the evaluated windows hold no failure within 24h"
    assert undefined["failure_within.24h.alert_precision"] == "no evaluated window raised an alert"
    assert metrics["rul"]["mae_hours"] is None and "rul.mae_hours" in undefined
    assert metrics["anomaly"]["auroc"] is None and undefined["anomaly.auroc"] == "the evaluated windows are all healthy"
    # Every None has its reason, every reason its None, and nothing else is missing or NaN.
    leaves = _leaves({k: v for k, v in metrics.items() if k != "undefined"})
    assert {path for path, value in leaves.items() if value is None} == set(undefined)
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in leaves.values())


def test_alerts_without_failures_have_a_precision_and_no_recall() -> None:
    output, labels = _quiet_case()
    alerting = HealthOutput(**{**output.__dict__, "alerts": np.ones((len(output), 1), dtype=bool)})
    failure = head_metrics(alerting, labels, rul_cap_hours=168)["failure_within"]["24h"]
    assert failure["alert_precision"] == 0.0 and failure["alerts"] == len(output)
    assert failure["alert_recall"] is None and failure["alert_f1"] is None


def test_a_diagnosis_over_one_fault_type_reports_accuracy_not_macro_f1() -> None:
    output, labels = _case()
    one_fault = Labels(**{**labels.__dict__, "fault_type": np.array([1, 1, 0, 0, 0, -1])})
    metrics = head_metrics(output, one_fault, rul_cap_hours=168)
    assert metrics["fault_type"]["macro_f1_before_failure"] is None
    assert metrics["fault_type"]["diagnosis_accuracy"] == 1.0  # bearing_wear diagnosed before both failures
    assert metrics["fault_type"]["macro_f1"] == pytest.approx(1.0)  # none and bearing_wear, both right


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
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in _leaves(metrics).values())
    assert json.loads(json.dumps(metrics))  # plain JSON: no NaN, no NumPy scalars
    metrics_path, report_path = write_report(evaluation, tmp_path, "test")
    page = report_path.read_text()
    assert page.count('<svg class="chart"') >= 3 and "false alarms per asset-day" in page
    assert '"failure_within"' in metrics_path.read_text()


@pytest.fixture(scope="module")
def sensor_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A bundle trained, with no window settings, on four machines of a labelled sensor CSV."""
    root = tmp_path_factory.mktemp("sensor")
    dataset = write_sensor_dataset(root / "csv", assets=4, days=4, failures_at_hours=(36, 72)).path
    return train_sensor_bundle(dataset, root / "run"), dataset


def test_the_bundle_records_its_splits_and_evaluation_uses_them(sensor_bundle: tuple[Path, Path]) -> None:
    bundle_path, dataset = sensor_bundle
    data = Bundle.load(bundle_path).metrics["data"]
    assert data["split"] == "asset"
    recorded = splits_from_json(data["splits"])
    assert recorded["test"].asset_ids and recorded["train"].asset_ids
    evaluation = evaluate_bundle(bundle_path, dataset, split="test", ablation=False)
    assert set(evaluation.output.asset_ids) == recorded["test"].asset_ids
    assert evaluation.metrics["failures"] > 0 and evaluation.metrics["failure_within"]["12h"]["auroc"] is not None


def test_another_import_of_the_plant_is_evaluated_on_the_same_held_out_machines(
    sensor_bundle: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle_path, _ = sensor_bundle
    bundle = Bundle.load(bundle_path)
    recorded = splits_from_json(bundle.metrics["data"]["splits"])
    # The same machines and two new ones: rebuilding the split on this import would deal the machines anew.
    reimport = write_sensor_dataset(tmp_path / "reimport", assets=6, days=4, failures_at_hours=(36, 72))
    rebuilt = make_splits(reimport, bundle.window, "asset", (0.6, 0.2, 0.2), 0)
    assert rebuilt["test"].asset_ids != recorded["test"].asset_ids
    evaluation = evaluate_bundle(bundle_path, reimport.path, split="test", ablation=False)
    assert set(evaluation.output.asset_ids) == recorded["test"].asset_ids
    everything = evaluate_bundle(bundle_path, reimport.path, split="all", ablation=False)
    assert set(everything.output.asset_ids) == {f"M{i}" for i in range(1, 7)}
    assert "were in the bundle's training split: their figures are not held out" in caplog.text


def test_evaluating_windows_without_a_failure_warns(
    sensor_bundle: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle_path, _ = sensor_bundle
    quiet = write_sensor_dataset(tmp_path / "quiet", assets=4, days=4)
    evaluation = evaluate_bundle(bundle_path, quiet.path, split="all", ablation=False)
    assert "none of the" in caplog.text and "windows is followed by a failure" in caplog.text
    assert evaluation.metrics["failure_within"]["12h"]["auroc"] is None
    assert "failure_within.12h.auroc" in evaluation.metrics["undefined"]
