"""Tuning on validation data: settings by name, the validation half of a protocol, never the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import omnimaint.training.methods  # noqa: F401 (registers omnimodel)
from omnimaint.cli import app
from omnimaint.data import Dataset
from omnimaint.errors import ConfigError
from omnimaint.evaluation.protocols import ProtocolError, get_method
from omnimaint.evaluation.protocols.cmapss import run_cmapss, validate_cmapss_bundle
from omnimaint.evaluation.protocols.images import validate_image_bundle
from omnimaint.evaluation.tuning import TUNING_FILE, parse_settings, run_tuning, with_settings
from tests.unit.evaluation.canonical import cmapss_dataset, image_dataset

TINY_IMAGE_MODEL = [
    "data.window.frames.size=16", "model.vision.width=4", "model.vision.grid=1", "optim.max_epochs=1",
    "model.d_model=16", "model.heads=2", "progress=false",
]  # fmt: skip


@pytest.fixture(scope="module")
def cmapss(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cmapss_dataset(tmp_path_factory.mktemp("cmapss") / "d")


def test_settings_parse_as_json_where_they_can() -> None:
    assert parse_settings(["patch=3", "encoder=temporal_conv", "augment=false", "lr=1e-3"]) == {
        "patch": 3,
        "encoder": "temporal_conv",
        "augment": False,
        "lr": 1e-3,
    }
    with pytest.raises(ProtocolError, match="key=value"):
        parse_settings(["patch"])


def test_settings_reach_the_estimator_and_unknown_ones_are_named() -> None:
    factory = with_settings(get_method("cmapss", "gbdt").factory, {"max_iter": 3, "learning_rate": 0.2})
    estimator = factory(4)
    assert (estimator.max_iter, estimator.learning_rate, estimator.random_state) == (3, 0.2, 4)
    with pytest.raises(ProtocolError, match=r"no setting 'max_iterr'.*max_iter"):
        run_tuning("cmapss", Path("/nonexistent"), "gbdt", {"max_iterr": 3})  # fails before reading data
    with pytest.raises(ConfigError, match="patch"):  # a bundle's settings are its training config's
        run_tuning("cmapss", Path("/nonexistent"), "omnimodel", {"patch": 3})
    with pytest.raises(
        ProtocolError,
        match=r"offered for azure-pdm, cmapss, cmapss-long, cmapss-regimes, images(, images-anomaly)?, not 'cwru'",
    ):
        run_tuning("cwru", Path("/nonexistent"), "spectral", {})


def test_cmapss_validation_is_the_validation_half_of_the_protocol(cmapss: Dataset) -> None:
    record = run_tuning("cmapss", cmapss.path, "gbdt", {"max_iter": 20}, seed=1, split_seed=1)
    full = run_cmapss(cmapss, with_settings(get_method("cmapss", "gbdt").factory, {"max_iter": 20}), seed=1)
    assert set(record.metrics) == {"val_rmse", "val_rmse_test_like"}
    for name, value in record.metrics.items():
        assert value == pytest.approx(full.metrics[name])
    other = run_tuning("cmapss", cmapss.path, "gbdt", {"max_iter": 20}, seed=1, split_seed=2)
    assert other.metrics != record.metrics  # another split holds out other engines


def test_protocol_settings_change_the_validation_and_unknown_ones_are_named(cmapss: Dataset) -> None:
    from omnimaint.evaluation.protocols.cmapss import LONG_HISTORY

    gbdt = {"max_iter": 20}
    long = run_tuning("cmapss-long", cmapss.path, "gbdt", gbdt, seed=1)
    settings = {"window": LONG_HISTORY.window, "age_channel": True, "baseline_cycles": LONG_HISTORY.baseline_cycles}
    widened = run_tuning("cmapss", cmapss.path, "gbdt", gbdt, seed=1, protocol_settings=settings)
    assert widened.metrics == long.metrics
    assert widened.protocol_settings == settings and long.protocol_settings == {}
    assert run_tuning("cmapss", cmapss.path, "gbdt", gbdt, seed=1).metrics != long.metrics
    with pytest.raises(ProtocolError, match=r"no setting 'windows'.*window"):
        run_tuning("cmapss", cmapss.path, "gbdt", gbdt, protocol_settings={"windows": 50})


def test_image_validation_reports_test_time_views_from_one_bundle(tmp_path: Path) -> None:
    dataset = image_dataset(tmp_path / "d", ("normal", "checks", "horizontal"), per_class=10)
    record = run_tuning("images", dataset.path, "omnimodel", parse_settings(TINY_IMAGE_MODEL))
    assert set(record.metrics) == {"val_accuracy", "val_accuracy_plain", "val_accuracy_tta"}
    assert record.metrics["val_accuracy"] == record.metrics["val_accuracy_tta"]  # the packaged config averages views
    assert all(0.0 <= v <= 1.0 for v in record.metrics.values())


def test_cli_appends_a_json_line_per_run(cmapss: Dataset, tmp_path: Path) -> None:
    args = ["tune", "cmapss", "--dataset", str(cmapss.path), "--method", "gbdt", "--set", "max_iter=10"]
    for split_seed in ("0", "1"):
        result = CliRunner().invoke(app, [*args, "--split-seed", split_seed, "--out", str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert "val_rmse_test_like" in result.output
    lines = [json.loads(line) for line in (tmp_path / TUNING_FILE).read_text().splitlines()]
    assert [line["split_seed"] for line in lines] == [0, 1]
    assert lines[0]["settings"] == {"max_iter": 10} and np.isfinite(lines[0]["metrics"]["val_rmse"])
    bad = CliRunner().invoke(app, [*args[:-1], "max_iterations=10", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "no setting 'max_iterations'" in bad.output
    widened = CliRunner().invoke(app, [*args, "--protocol-set", "window=40", "--out", str(tmp_path)])
    assert widened.exit_code == 0, widened.output
    assert json.loads((tmp_path / TUNING_FILE).read_text().splitlines()[-1])["protocol_settings"] == {"window": 40}


class _Stop(Exception):
    """Raised by a trainer that only records what it was handed."""


def _bundle_inputs(validate: Any, dataset: Dataset, **seeds: int) -> dict[str, pd.DataFrame]:
    """The anchors of each part a bundle method's validation hands its trainer (which stops there)."""
    seen: dict[str, pd.DataFrame] = {}

    def trainer(inputs: dict[str, Any], run: Path) -> Path:
        seen.update({part: given.anchors for part, given in inputs.items()})
        raise _Stop

    with pytest.raises(_Stop):
        validate(dataset, trainer, **seeds)
    return seen


def _keys(anchors: pd.DataFrame) -> set[tuple[str, str]]:
    return {(str(a), str(t)) for a, t in zip(anchors["asset_id"], anchors["ts"], strict=True)}


def test_a_bundle_method_validates_on_the_split_seed_it_is_given(cmapss: Dataset, tmp_path: Path) -> None:
    images = image_dataset(tmp_path / "d", ("normal", "checks", "horizontal"), per_class=10)
    first = _bundle_inputs(validate_image_bundle, images, seed=0, split_seed=0)
    other = _bundle_inputs(validate_image_bundle, images, seed=0, split_seed=5)
    assert _keys(first["val"]) != _keys(other["val"])  # another validation split of the same training images
    assert _keys(first["train"]) | _keys(first["val"]) == _keys(other["train"]) | _keys(other["val"])
    engines = {seed: _bundle_inputs(validate_cmapss_bundle, cmapss, seed=0, split_seed=seed) for seed in (0, 5)}
    assert set(engines[0]["train"]["asset_id"]) != set(engines[5]["train"]["asset_id"])


def test_the_split_seed_defaults_to_the_seed_for_a_bundle_method_and_to_0_for_an_estimator(
    cmapss: Dataset, tmp_path: Path
) -> None:
    images = image_dataset(tmp_path / "d", ("normal", "checks"), per_class=6)
    assert run_tuning("images", images.path, "omnimodel", parse_settings(TINY_IMAGE_MODEL), seed=1).split_seed == 1
    assert run_tuning("cmapss", cmapss.path, "gbdt", {"max_iter": 5}, seed=1).split_seed == 0
