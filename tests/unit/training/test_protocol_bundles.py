"""The multimodal model on a protocol that scores bundles: trained by ``train`` on the protocol's anchors,
exported, and scored through the ``Predictor`` with every backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import omnimaint.training.methods  # noqa: F401 (registers omnimodel)
from omnimaint.data import Dataset
from omnimaint.errors import ConfigError
from omnimaint.evaluation.protocols import get_method, get_protocol, run_protocol
from omnimaint.evaluation.protocols.running import BACKENDS, run_bundle_method
from omnimaint.evaluation.tuning import run_tuning
from omnimaint.inference.bundle import Bundle
from omnimaint.training.methods import ProtocolTrainer, protocol_config
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli
from tests.unit.evaluation.canonical import CMAPSS_SENSORS, azure_dataset, cmapss_dataset

SMALL = {
    "model.d_model": 16,
    "model.heads": 2,
    "model.fusion.layers": 1,
    "model.ensemble": 1,
    "optim.max_epochs": 1,
    "optim.batch_size": 64,
    "progress": False,
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return azure_dataset(tmp_path_factory.mktemp("azure") / "d", n_machines=3, days=45)


def test_omnimodel_on_azure_pdm_trains_a_bundle() -> None:
    assert get_method("azure-pdm", "omnimodel").trains_bundle
    assert protocol_config("azure-pdm").is_file()


def test_a_bundle_is_trained_on_the_protocol_anchors_and_scored_by_every_backend(
    dataset: Dataset, tmp_path: Path
) -> None:
    spec = get_protocol("azure-pdm")
    result = run_bundle_method(dataset, spec, ProtocolTrainer("azure-pdm", 0, overrides=SMALL), 0, tmp_path / "run")
    bundle = Bundle.load(Path(result.details["bundle"]))
    recorded = bundle.metrics["data"]["splits"]
    inputs = spec.bundle_inputs(dataset, 0)  # type: ignore[misc]
    # Trained on the protocol's training anchors, its validation anchors kept apart; the test period unseen.
    assert set(recorded) == {"train", "val"}
    assert recorded["train"]["end"] == inputs["train"].labels_until.isoformat()
    assert [h.total_seconds() for h in bundle.window.horizons] == [24 * 3600]
    assert set(result.details["backends"]) == set(BACKENDS)
    for backend in BACKENDS[1:]:
        suffix = "_" + backend.replace("-", "_")
        assert result.metrics["f1_macro" + suffix] == result.details["backends"][backend]["f1_macro"]
    # ONNX runs the same graph: the same decisions up to float rounding at the thresholds.
    assert abs(result.metrics["f1_macro_onnx"] - result.metrics["f1_macro"]) < 0.05
    assert result.details["split_sizes"]["test"] == result.details["n_samples"]["test"]


def test_the_packaged_config_finds_the_planted_signal_in_a_temporary_run(dataset: Dataset) -> None:
    result = run_protocol(dataset, "azure-pdm", "omnimodel", 0)
    assert "bundle" not in result.details
    # Vibration rises in the 24 h before each failure; failures are ~7 % of the samples, so scores that did
    # not see it would reach an F1 near 0.13 at best.
    assert result.metrics["f1_macro"] > 0.4
    json.dumps(result.details)  # what bench writes


def test_tuning_trains_on_the_training_period_with_changed_settings(dataset: Dataset) -> None:
    settings = {**SMALL, "optim.failure_positive_weight": 3.0}
    record = run_tuning("azure-pdm", dataset.path, "omnimodel", settings, seed=1)
    assert record.settings == settings
    assert set(record.metrics) >= {"val_f1_macro", "val_test_like_f1_macro"}


def test_an_unknown_training_setting_is_refused_before_the_data_are_read() -> None:
    with pytest.raises(ConfigError, match=r"optim\.nope"):
        run_tuning("azure-pdm", Path("/nonexistent"), "omnimodel", {"optim.nope": 1})


def test_train_and_evaluate_with_a_protocol_on_the_command_line(dataset: Dataset, tmp_path: Path) -> None:
    run = tmp_path / "run"
    trained = run_cli("train", dataset.path, "--protocol", "azure-pdm", "--out", run, "--epochs", "1", "--no-progress")
    assert trained.exit_code == 0, trained.output
    recorded = Bundle.load(run / "bundle").metrics["data"]["splits"]
    inputs = get_protocol("azure-pdm").bundle_inputs(dataset, 0)  # type: ignore[misc]
    assert recorded["val"]["end"] == inputs["val"].labels_until.isoformat()
    out = tmp_path / "evaluation"
    scored = run_cli("evaluate", run / "bundle", dataset.path, "--protocol", "azure-pdm", "--out", out)
    assert scored.exit_code == 0, scored.output
    record = json.loads((out / "metrics.json").read_text())
    assert record["protocol"] == "azure-pdm" and record["backend"] == "torch"
    assert set(record["metrics"]) >= {"f1_macro", "f1_comp1", "f1_comp2"}
    assert f"wrote {out / 'metrics.json'}" in scored.output


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--protocol", "maintenance-text"), "protocol 'maintenance-text' does not score bundles yet"),
        (("--protocol", "nope"), "unknown protocol 'nope'"),
        (("--protocol", "azure-pdm", "--split", "time"), "--split: protocol 'azure-pdm' decides the split"),
        (("--protocol", "azure-pdm", "--subset", "FD001"), "protocol 'azure-pdm' has no subsets"),
        (("--subset", "FD001"), "--subset names a subset of a protocol: give --protocol too"),
    ],
)
def test_train_refuses_a_protocol_it_cannot_follow(
    dataset: Dataset, tmp_path: Path, extra: tuple[str, ...], fragment: str
) -> None:
    before = Snapshot.of(tmp_path, dataset.path)
    assert_refused(run_cli("train", dataset.path, "--out", tmp_path / "run", *extra), before, fragment)


def test_cmapss_bundle_is_an_ensemble_scored_on_each_test_engine_last_cycle(tmp_path: Path) -> None:
    """C-MAPSS through the bundle: trained on every cycle of the training engines (the config's front-padded
    80-cycle windows with drift and age), two members averaged, and scored at each test engine's last cycle
    alike by every backend."""
    dataset = cmapss_dataset(tmp_path / "cmapss", wear_sensors=True)
    spec = get_protocol("cmapss-long")
    overrides = SMALL | {"model.ensemble": 2, "optim.batch_size": 256}
    result = run_bundle_method(dataset, spec, ProtocolTrainer("cmapss-long", 0, overrides=overrides), 0, tmp_path / "r")
    bundle = Bundle.load(Path(result.details["bundle"]))
    assert bundle.model_config.ensemble == 2
    assert bundle.window.telemetry is not None and bundle.window.telemetry.before_start == "first"
    channels = bundle.window.telemetry.input_channels(bundle.preprocessor.vocab.telemetry_channels)
    assert bundle.model_config.n_telemetry_channels == len(channels) == 2 * len(CMAPSS_SENSORS) + 1
    inputs = spec.bundle_inputs(dataset, 0)  # type: ignore[misc]
    assert set(inputs) == {"train", "test"}
    assert len(inputs["test"]) == result.details["n_test_engines"] == 6  # one anchor per test engine
    assert set(bundle.metrics["data"]["splits"]["train"]["assets"]) == set(inputs["train"].anchors["asset_id"])
    assert all(0 <= engine["predicted"] <= 125 for engine in result.details["predictions"].values())
    assert abs(result.metrics["rmse_onnx"] - result.metrics["rmse"]) < 1e-3
    assert abs(result.metrics["rmse_onnx_int8"] - result.metrics["rmse"]) < 5
