"""PdM-guide features: hand-checked values, no look-ahead, and the per-component classifier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from omnimaint.baselines import PdmFeatureBuilder, PerComponentClassifier
from omnimaint.data import Dataset, Manifest, write_dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.data.schema import SCHEMA_VERSION

T0 = pd.Timestamp("2015-01-01", tz="UTC")


def _dataset(path: Path, late_volt: float = 0.0) -> Dataset:
    hours = pd.date_range(T0, periods=48, freq="h")
    volt = np.arange(48, dtype=float)
    volt[40:] += late_volt
    telemetry = pd.DataFrame({"asset_id": "M001", "ts": hours, "channel": "volt", "value": volt})
    events = pd.DataFrame(
        {"asset_id": "M001", "ts": [hours[5], hours[20], hours[21]], "code": "error1", "severity": "alarm"}
    )
    maintenance = pd.DataFrame(
        {
            "work_order_id": ["w1", "w2"],
            "asset_id": "M001",
            "ts_open": [hours[10], hours[30]],
            "component": ["comp1", "comp1"],
            "kind": "preventive",
        }
    )
    assets = pd.DataFrame(
        {
            "asset_id": ["M001"],
            "asset_type": ["machine"],
            "model": ["model3"],
            "metadata": [json.dumps({"age_years": 18})],
        }
    )
    tables = {"assets": assets, "telemetry": telemetry, "events": events, "maintenance": maintenance}
    return write_dataset(path, Manifest(schema_version=SCHEMA_VERSION), tables, overwrite=True)


def _inputs(dataset: Dataset, hours: list[int]) -> ProtocolInputs:
    keys = pd.DataFrame({"asset_id": "M001", "ts": [T0 + pd.Timedelta(hours=h) for h in hours]})
    return ProtocolInputs(dataset, keys, "test", targets=("comp1", "comp2"))


def test_features_by_hand(tmp_path: Path) -> None:
    inputs = _inputs(_dataset(tmp_path / "d"), [24, 5, 35])
    builder = PdmFeatureBuilder().fit(inputs)
    frame = pd.DataFrame(builder.transform(inputs), columns=builder.feature_names_)
    # Rolling windows (t - w, t]: at hour 24, 3 h -> hours 22..24, 24 h -> hours 1..24.
    assert frame.loc[0, "volt_mean_3h"] == pytest.approx(23.0)
    assert frame.loc[0, "volt_mean_24h"] == pytest.approx(12.5)
    assert frame.loc[0, "error1_count_24h"] == 3  # hours 5, 20, 21 are all in (0, 24]
    assert frame.loc[2, "error1_count_24h"] == 2  # hours 20, 21 in (11, 35]
    assert frame.loc[0, "hours_since_comp1_maintenance"] == 14
    assert frame.loc[2, "hours_since_comp1_maintenance"] == 5
    assert np.isnan(frame.loc[1, "hours_since_comp1_maintenance"])  # before the first one
    assert np.isnan(frame.loc[0, "hours_since_comp2_maintenance"])
    assert frame.loc[0, "age_years"] == 18 and frame.loc[0, "model_model3"] == 1


def test_features_never_look_ahead(tmp_path: Path) -> None:
    early = _inputs(_dataset(tmp_path / "a"), [10, 24, 39])
    changed_future = _inputs(_dataset(tmp_path / "b", late_volt=1000.0), [10, 24, 39])
    builder = PdmFeatureBuilder().fit(early)
    assert np.allclose(builder.transform(early), builder.transform(changed_future), equal_nan=True)


def test_per_component_classifier_handles_a_column_without_positives() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (200, 3))
    Y = np.stack([X[:, 0] > 0.5, np.zeros(200, dtype=bool)], axis=1)
    model = PerComponentClassifier(LogisticRegression()).fit(X, Y)
    proba = model.predict_proba(X)
    assert proba.shape == (200, 2)
    assert np.all(proba[:, 1] == 0.0)
    assert np.mean(model.predict(X)[:, 0] == Y[:, 0]) > 0.9
