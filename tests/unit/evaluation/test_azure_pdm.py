"""Azure PdM protocol: labels, a time split with horizon gaps, thresholds chosen without test data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset, write_dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.protocols.azure_pdm import (
    PdmConfig,
    failure_labels,
    pdm_samples,
    run_azure_pdm,
    time_split,
    validate_azure_pdm,
)
from tests.unit.evaluation.canonical import EPOCH, azure_dataset

CONFIG = PdmConfig()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return azure_dataset(tmp_path_factory.mktemp("azure") / "d")


class _VibrationScore:
    """Scores every component by the current vibration reading (a fixed rule, so fits do not matter)."""

    def fit(self, X: ProtocolInputs, Y: np.ndarray) -> _VibrationScore:
        return self

    def predict_proba(self, X: ProtocolInputs) -> np.ndarray:
        telemetry = X.dataset.table("telemetry").query("channel == 'vibration'")
        values = X.anchors.merge(telemetry, on=["asset_id", "ts"], how="left")["value"].to_numpy()
        return np.repeat(values[:, None], len(X.targets), axis=1)


def test_failure_labels_by_hand() -> None:
    keys = pd.DataFrame({"asset_id": ["A"] * 4 + ["B"], "ts": EPOCH + pd.to_timedelta([0, 10, 30, 40, 0], unit="h")})
    failures = pd.DataFrame(
        {"asset_id": ["A", "A"], "ts": [EPOCH + pd.Timedelta(hours=30)] * 2, "component": ["c1", "c9"]}
    )
    labels = failure_labels(keys, failures, ("c1", "c2"), pd.Timedelta(hours=24))
    # (t, t + 24 h] contains hour 30 for t = 10 only (t = 0 is 30 h away; t = 30 is the failure itself).
    assert labels[:, 0].tolist() == [False, True, False, False, False]
    assert not labels[:, 1].any()


def test_time_split_leaves_a_horizon_before_each_boundary(dataset: Dataset) -> None:
    keys = dataset.table("telemetry")[["asset_id", "ts"]].drop_duplicates().reset_index(drop=True)
    split = time_split(keys["ts"], CONFIG)
    ts = keys["ts"]
    h = CONFIG.horizon
    assert ts[split.train].max() + h <= split.cut < ts[split.test].min()
    assert ts[split.inner_train].max() + h <= split.validation_start < ts[split.validation].min()
    assert ts[split.validation].max() + h <= split.cut
    assert ts[split.test].max() + h <= ts.max()  # censored label windows are dropped
    assert set(split.inner_train) | set(split.validation) <= set(split.train)
    assert set(split.train).isdisjoint(split.test)
    assert split.cut == split.cut.floor("D")


def test_thresholds_do_not_depend_on_test_labels(dataset: Dataset, tmp_path: Path) -> None:
    base = run_azure_pdm(dataset, lambda seed: _VibrationScore())
    # Same data, plus failures in the test period that would move an F1-optimal threshold chosen on test.
    cut = pd.Timestamp(base.details["test_start"])
    failures = dataset.table("failures")
    extra = pd.DataFrame(
        {
            "asset_id": failures["asset_id"].iloc[0],
            "ts": [cut + pd.Timedelta(days=d, hours=2) for d in (2, 4, 6)],
            "component": "comp1",
            "fault_type": "comp1_failure",
        }
    )
    tables = {name: dataset.table(name) for name in ("assets", "telemetry", "events", "maintenance")}
    altered = write_dataset(
        tmp_path / "altered", dataset.manifest, {**tables, "failures": pd.concat([failures, extra])}
    )
    changed = run_azure_pdm(altered, lambda seed: _VibrationScore())
    thresholds = {c: v["threshold"] for c, v in base.details["per_component"].items()}
    assert thresholds == {c: v["threshold"] for c, v in changed.details["per_component"].items()}
    assert base.metrics["f1_comp1"] != changed.metrics["f1_comp1"]


def test_estimator_is_fitted_on_training_periods_only(dataset: Dataset) -> None:
    fitted: list[pd.Timestamp] = []
    predicted: list[Any] = []

    class Spy(_VibrationScore):
        def fit(self, X: ProtocolInputs, Y: np.ndarray) -> Spy:
            fitted.append(X.anchors["ts"].max())
            return self

        def predict_proba(self, X: ProtocolInputs) -> np.ndarray:
            predicted.append((X.anchors["ts"].min(), X.anchors["ts"].max()))
            return super().predict_proba(X)

    result = run_azure_pdm(dataset, lambda seed: Spy())
    validation_start, cut = (pd.Timestamp(result.details[k]) for k in ("validation_start", "test_start"))
    assert fitted[0] <= validation_start - CONFIG.horizon
    assert fitted[1] <= cut - CONFIG.horizon
    assert predicted[0][0] > validation_start and predicted[1][0] > cut


def test_gbdt_baseline_finds_the_planted_signal(dataset: Dataset) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from omnimaint.baselines import PdmFeatureBuilder, PerComponentClassifier

    def factory(seed: int) -> Pipeline:
        booster = HistGradientBoostingClassifier(max_iter=40, random_state=seed)
        return Pipeline([("features", PdmFeatureBuilder()), ("classifier", PerComponentClassifier(booster))])

    result = run_azure_pdm(dataset, factory)
    # Chance F1 at a ~1-2 % positive rate is a few per cent.
    assert result.metrics["f1_macro"] > 0.5
    assert result.details["per_component"]["comp1"]["detection_rate"] > 0.5


def test_development_runs_on_the_training_period_alone(dataset: Dataset) -> None:
    full = pdm_samples(dataset, CONFIG)
    development = pdm_samples(dataset, replace(CONFIG, development=True))
    # Every sample and every failure that may label one lies before the real test period.
    assert development.keys["ts"].max() <= full.split.cut - CONFIG.horizon
    assert development.failures["ts"].max() <= full.split.cut
    assert development.split.cut < full.split.cut
    assert len(development.split.test) > 0


def test_validation_scores_the_development_split(dataset: Dataset) -> None:
    metrics = validate_azure_pdm(dataset, lambda seed: _VibrationScore())
    development = run_azure_pdm(dataset, lambda seed: _VibrationScore(), config=replace(CONFIG, development=True))
    assert metrics["val_test_like_f1_macro"] == development.metrics["f1_macro"]
    assert metrics["val_f1_macro"] == development.details["val_f1_macro"]
