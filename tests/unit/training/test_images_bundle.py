"""The multimodal model on the image classification protocol: one frame per anchor, grey and contrast-normalised
in the preprocessor, flipped and transposed in training, averaged over the eight views by the Predictor on
every backend; trained on the protocol's anchors, exported and scored like any bundle."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import omnimaint.training.methods  # noqa: F401 (registers omnimodel)
from omnimaint.data import Dataset
from omnimaint.data.windows import Batch
from omnimaint.evaluation.protocols import get_method, get_protocol
from omnimaint.evaluation.protocols.images import ImageConfig, image_inputs, image_split, labelled_frames, load_images
from omnimaint.evaluation.protocols.running import BACKENDS, run_bundle_method
from omnimaint.inference.bundle import ONNX_INT8_FILE, Bundle
from omnimaint.inference.predictor import Predictor
from omnimaint.models.config import FramePreprocessing
from omnimaint.models.frame_views import N_VIEWS, dihedral_view, random_dihedral_views
from omnimaint.training.config import OptimConfig
from omnimaint.training.data import LabelTensors, TrainingBatch
from omnimaint.training.methods import ProtocolTrainer, protocol_config
from omnimaint.training.tasks import FineTuneTask
from tests.unit.bad_inputs.harness import run_cli
from tests.unit.evaluation.canonical import image_dataset

CLASSES = ("horizontal", "checks", "normal")
SMALL = {
    "data.window.frames.size": 32,
    "model.vision.width": 8,
    "model.d_model": 16,
    "model.heads": 2,
    "optim.max_epochs": 1,
    "optim.batch_size": 8,
    "progress": False,
}
"""The packaged config, made quick: 32 px frames, a narrow CNN, one epoch."""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return image_dataset(tmp_path_factory.mktemp("neu") / "d", CLASSES, per_class=10)


@pytest.fixture(scope="module")
def scored(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A bundle trained by ``omnimodel`` on the protocol, exported (ONNX and int8) and scored by every backend."""
    run = tmp_path_factory.mktemp("run") / "run"
    result = run_bundle_method(dataset, get_protocol("images"), ProtocolTrainer("images", 0, overrides=SMALL), 0, run)
    return {"result": result, "bundle": Path(result.details["bundle"])}


def test_omnimodel_on_images_trains_a_bundle() -> None:
    assert get_method("images", "omnimodel").trains_bundle
    assert protocol_config("images").is_file()
    assert not any(spec.trains_bundle for _, spec in get_protocol("images-anomaly").methods.items())


def test_the_test_images_are_those_of_the_estimators_and_validation_is_a_stratified_fifth(dataset: Dataset) -> None:
    inputs = image_inputs(dataset, seed=0)
    frames = labelled_frames(dataset)
    config = ImageConfig()
    held_out = image_split(load_images(dataset, config), config, seed=0).test
    keys = {part: set(inputs[part].anchors.itertuples(index=False, name=None)) for part in inputs}
    assert keys["test"] == set(frames[["asset_id", "ts"]].iloc[held_out].itertuples(index=False, name=None))
    assert keys["train"].isdisjoint(keys["val"]) and keys["train"].isdisjoint(keys["test"])
    assert keys["val"].isdisjoint(keys["test"])
    assert len(keys["train"] | keys["val"] | keys["test"]) == len(frames) == 30
    label = {(row.asset_id, row.ts): row.label for row in frames.itertuples()}
    # 7 training images per class (10 less 3 held out); a fifth of them, rounded, validates.
    assert sorted(label[k] for k in keys["val"]) == sorted(CLASSES)
    assert [inputs[p].split for p in ("train", "val", "test")] == ["train", "val", "test"]
    assert image_inputs(dataset, seed=1)["test"].anchors.values.tolist() != inputs["test"].anchors.values.tolist()


def test_a_bundle_is_scored_by_every_backend_with_validation_figures(scored: dict) -> None:
    result = scored["result"]
    assert set(result.details["backends"]) == set(BACKENDS)
    for backend in BACKENDS[1:]:
        suffix = "_" + backend.replace("-", "_")
        assert result.metrics["accuracy" + suffix] == result.details["backends"][backend]["accuracy"]
    assert result.details["n_test"] == result.details["split_sizes"]["test"] == 9
    assert result.details["frame_views"] == "dihedral"
    assert result.details["val_accuracy"] == result.details["val_accuracy_tta"]
    assert 0.0 <= result.details["val_accuracy_plain"] <= 1.0
    json.dumps(result.details)  # what bench writes


def test_the_bundle_records_how_frames_are_prepared_and_viewed(scored: dict) -> None:
    bundle = Bundle.load(scored["bundle"])
    assert bundle.preprocessor.frames == FramePreprocessing(grey=True, normalise="frame", test_views="dihedral")
    assert bundle.window.labels == "states" and bundle.window.frames is not None
    assert bundle.window.frames.max_frames == 1 and bundle.window.enabled == ("frames",)
    stored = json.loads((scored["bundle"] / "preprocessors.json").read_text())
    assert stored["frames"] == {"grey": True, "normalise": "frame", "test_views": "dihedral"}


def _batch(bundle_path: Path, dataset: Dataset) -> Batch:
    predictor = Predictor.from_bundle(bundle_path)
    windows = predictor.windows(dataset, anchors=image_inputs(dataset, 0)["test"].anchors)
    return windows.batch(np.arange(len(windows)))


def _turned(batch: Batch, view: int) -> Batch:
    """The batch with every frame in view ``view`` (frames are (B, K, Cam, S, S, 3): colour last)."""
    assert batch.frames is not None
    frames = torch.from_numpy(batch.frames).movedim(-1, -3)  # (B, K, Cam, 3, S, S)
    return replace(batch, frames=dihedral_view(frames, view).movedim(-3, -1).contiguous().numpy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_predictor_averages_the_eight_views_on_every_backend(scored: dict, dataset: Dataset, backend: str) -> None:
    onnx_file = scored["bundle"] / ONNX_INT8_FILE if backend == "onnx-int8" else None
    predictor = Predictor.from_bundle(scored["bundle"], "onnx" if onnx_file else backend, onnx_file=onnx_file)
    assert predictor.frame_views == "dihedral"  # as the bundle records
    batch = _batch(scored["bundle"], dataset)
    averaged = predictor.predict(batch).fault_probabilities
    # Contrast normalisation commutes with flips: averaging over views of the prepared frames is averaging the
    # one-view predictions of the turned images.
    singles = [predictor.predict(_turned(batch, v), frame_views="one").fault_probabilities for v in range(N_VIEWS)]
    np.testing.assert_allclose(averaged, np.mean(singles, axis=0), atol=1e-6)
    assert not np.allclose(singles[0], averaged, atol=1e-6)  # an untrained CNN is not invariant: views matter
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("views", ["one", "dihedral"])
def test_torch_and_onnx_prepare_and_score_frames_alike(scored: dict, dataset: Dataset, views: str) -> None:
    batch = _batch(scored["bundle"], dataset)
    expected = Predictor.from_bundle(scored["bundle"]).predict(batch, frame_views=views)  # type: ignore[arg-type]
    got = Predictor.from_bundle(scored["bundle"], "onnx").predict(batch, frame_views=views)  # type: ignore[arg-type]
    np.testing.assert_allclose(got.fault_probabilities, expected.fault_probabilities, atol=1e-4)


def test_training_shows_each_window_in_a_random_view(scored: dict, dataset: Dataset) -> None:
    bundle = Bundle.load(scored["bundle"])
    model = bundle.build_model().eval()  # no dropout: the losses depend on the inputs alone
    predictor = Predictor(bundle)
    raw = _batch(scored["bundle"], dataset)
    labels = LabelTensors.from_labels(raw.labels, bundle.window.rul_cap.total_seconds() / 3600)
    batch = TrainingBatch(predictor.preprocessor(raw), labels)
    augmenting = FineTuneTask(model, OptimConfig(frame_augmentation="dihedral"), early_warning_score=False)
    plain = FineTuneTask(model, OptimConfig(), early_warning_score=False)
    torch.manual_seed(7)
    got = augmenting.losses(batch)["fault"]
    torch.manual_seed(7)
    assert batch.inputs.frames is not None
    turned = replace(batch, inputs=replace(batch.inputs, frames=random_dihedral_views(batch.inputs.frames)))
    assert torch.equal(got, plain.losses(turned)["fault"])
    assert not torch.equal(got, plain.losses(batch)["fault"])


def test_train_and_evaluate_with_the_images_protocol_on_the_command_line(dataset: Dataset, tmp_path: Path) -> None:
    run = tmp_path / "run"
    sets = [arg for key, value in SMALL.items() if key != "progress" for arg in ("--set", f"{key}={value}")]
    trained = run_cli("train", dataset.path, "--protocol", "images", "--out", run, "--no-progress", *sets)
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "evaluation"
    scored = run_cli("evaluate", run / "bundle", dataset.path, "--protocol", "images", "--out", out)
    assert scored.exit_code == 0, scored.output
    record = json.loads((out / "metrics.json").read_text())
    assert record["protocol"] == "images" and set(record["metrics"]) == {"accuracy", "macro_f1"}
    assert record["details"]["n_test"] == 9 and record["details"]["frame_views"] == "dihedral"
