"""The multimodal model on the CWRU protocol: each segment is one waveform burst cut at the protocol's anchor by
the packaged window, and the bundle is trained, exported and scored through the ``Predictor``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import omnimaint.training.methods  # noqa: F401 (registers omnimodel)
from omnimaint.data import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.evaluation.protocols import get_method, get_protocol
from omnimaint.evaluation.protocols.cwru import CwruConfig, bundle_split, load_recordings
from omnimaint.evaluation.protocols.cwru_cross_load import cross_load_inputs
from omnimaint.evaluation.protocols.running import BACKENDS, run_bundle_method
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import Predictor
from omnimaint.models.encoders.waveform import PresentStandardiser
from omnimaint.training.config import load_config
from omnimaint.training.methods import ProtocolTrainer, protocol_config
from tests.unit.bad_inputs.harness import run_cli
from tests.unit.evaluation.canonical import cwru_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    # The normal recording at 48 kHz, as CWRU publishes it: the window resamples it as the protocol does.
    return cwru_dataset(tmp_path_factory.mktemp("cwru") / "d", normal_rate=48_000)


def test_the_packaged_window_cuts_one_segment_per_sample() -> None:
    assert get_method("cwru", "omnimodel").trains_bundle
    window = load_config(protocol_config("cwru"), {"data.dataset": "."}).data.window
    assert window.enabled == ("waveforms",) and window.labels == "states"
    assert window.waveforms is not None and window.waveforms.align == "anchor"
    assert (window.waveforms.max_bursts, window.waveforms.length) == (1, CwruConfig().segment_length)


def test_the_windows_at_the_protocol_anchors_are_the_protocol_segments(dataset: Dataset) -> None:
    window = load_config(protocol_config("cwru"), {"data.dataset": str(dataset.path)}).data.window
    inputs = get_protocol("cwru").bundle_inputs(dataset, 0)  # type: ignore[misc]
    config = CwruConfig()
    segments = bundle_split(load_recordings(dataset, config), config)
    for part in ("train", "val", "test"):
        windows = WindowedDataset(dataset, window, anchors=inputs[part].anchors)
        batch = windows.batch(np.arange(len(windows)))
        assert batch.waveforms is not None and batch.waveform_mask is not None
        # Sample for sample, the resampled 48 kHz normal recording included.
        np.testing.assert_array_equal(batch.waveforms[:, 0, 0], segments[part].X[:, 0])
        assert batch.waveform_mask.all()
        classes = np.asarray(windows.vocab.fault_classes)
        np.testing.assert_array_equal(classes[batch.labels.fault_type], segments[part].y)
    # Within each recording: training segments, a gap, validation segments, a gap, test segments.
    for asset in np.unique(segments["test"].asset_ids):
        starts = {part: np.sort(s.starts[s.asset_ids == asset]) for part, s in segments.items()}
        assert starts["val"][0] - (starts["train"][-1] + config.segment_length) >= config.gap
        assert starts["test"][0] - (starts["val"][-1] + config.segment_length) >= config.gap


@pytest.mark.slow  # twenty epochs of the packaged config, an ONNX export and three scorings
def test_the_packaged_config_trains_a_bundle_scored_alike_by_every_backend(dataset: Dataset, tmp_path: Path) -> None:
    spec = get_protocol("cwru")
    result = run_bundle_method(dataset, spec, ProtocolTrainer("cwru", 0, overrides={"progress": False}), 0, tmp_path)
    recorded = Bundle.load(Path(result.details["bundle"])).metrics["data"]["splits"]
    assert set(recorded) == {"train", "val"}
    assert result.details["split_sizes"] == {"train": 20, "val": 10, "test": 20}
    assert result.details["n_test_segments"] == 20 and result.metrics["n_classes"] == 10.0
    # Each class is a tone in noise: every backend tells them all apart.
    assert set(result.details["backends"]) == set(BACKENDS)
    for metrics in result.details["backends"].values():
        assert metrics["accuracy"] == 1.0


@pytest.fixture(scope="module")
def two_loads(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cwru_dataset(tmp_path_factory.mktemp("cwru2") / "d", loads=(0, 1), n_samples=8192)


def test_cross_load_trains_a_bundle_per_load_and_reports_their_mean(two_loads: Dataset, tmp_path: Path) -> None:
    spec = get_protocol("cwru-cross-load")
    quick = {"optim.max_epochs": 2, "model.d_model": 16, "model.heads": 2, "progress": False}
    result = run_bundle_method(two_loads, spec, ProtocolTrainer("cwru-cross-load", 0, overrides=quick), 0, tmp_path)
    per_subset = result.details["per_subset"]
    assert set(per_subset) == {"0HP", "1HP"}
    for name, each in per_subset.items():
        assert Path(each["details"]["bundle"]) == tmp_path / name / "bundle"
        assert each["details"]["subset"] == name and set(each["details"]["per_train_load"]) == {name}
    for metric in ("accuracy", "macro_f1", "accuracy_onnx", "accuracy_onnx_int8"):
        expected = np.mean([each["metrics"][metric] for each in per_subset.values()])
        assert result.metrics[metric] == pytest.approx(expected)
    for metric in ("min_pair_accuracy", "min_pair_accuracy_onnx"):  # the worst pair of all the bundles
        assert result.metrics[metric] == min(each["metrics"][metric] for each in per_subset.values())
    # One load asked for: one bundle, scored on the other load only.
    one = run_bundle_method(two_loads, spec, ProtocolTrainer("cwru-cross-load", 0, overrides=quick), 0, None, "1HP")
    assert one.details["subset"] == "1HP" and "per_subset" not in one.details
    assert one.details["split_sizes"]["test"] == 10 * (8192 // CwruConfig().segment_length)


@pytest.fixture(scope="module")
def trained_at_1hp(two_loads: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run folder of a bundle trained by the command line on the 1 HP recordings (one epoch)."""
    run = tmp_path_factory.mktemp("cross-load") / "run"
    args = ("--protocol", "cwru-cross-load", "--subset", "1hp")  # the dataset's name is matched in any case
    trained = run_cli("train", two_loads.path, *args, "--out", run, "--epochs", "1", "--no-progress")
    assert trained.exit_code == 0, trained.output
    return run


def test_train_and_evaluate_one_training_load_on_the_command_line(
    two_loads: Dataset, trained_at_1hp: Path, tmp_path: Path
) -> None:
    bundle, out = trained_at_1hp / "bundle", tmp_path / "evaluation"
    trained_on = Bundle.load(bundle).metrics["data"]["splits"]["train"]["assets"]
    assert {str(asset).rsplit("_", 1)[1] for asset in trained_on} == {"1"}
    args = ("--protocol", "cwru-cross-load", "--subset", "1hp")
    scored = run_cli("evaluate", bundle, two_loads.path, *args, "--out", out)
    assert scored.exit_code == 0, scored.output
    record = json.loads((out / "metrics.json").read_text())
    assert record["subset"] == "1HP" and set(record["details"]["per_train_load"]) == {"1HP"}
    assert record["details"]["per_pair"] == {"1HP": {"0HP": record["metrics"]["accuracy"]}}
    assert record["details"]["adapted"] is False
    refused = run_cli("evaluate", bundle, two_loads.path, "--protocol", "cwru-cross-load", "--subset", "7HP")
    assert refused.exit_code == 1 and "no subset '7HP' for protocol 'cwru-cross-load'" in refused.output


def _standardiser_inputs(model: torch.nn.Module, predictor: Predictor, windows: WindowedDataset) -> torch.Tensor:
    """The present rows that reach the first standardiser of ``model`` when ``windows`` are scored."""
    seen: list[torch.Tensor] = []
    standardiser = next(m for m in model.modules() if isinstance(m, PresentStandardiser))
    hook = standardiser.register_forward_hook(lambda _, args, __: seen.append(args[0][args[1]]))
    with torch.no_grad():
        model(predictor.preprocessor(windows.batch(np.arange(len(windows)))))
    hook.remove()
    return torch.cat(seen)


def test_a_bundle_adapted_to_a_new_load_takes_its_statistics_and_changes_nothing_else(
    two_loads: Dataset, trained_at_1hp: Path
) -> None:
    predictor = Predictor.from_bundle(trained_at_1hp / "bundle")
    at_0hp = predictor.windows(two_loads, anchors=cross_load_inputs(two_loads, subset="1HP")["test"].anchors)
    adapted = predictor.adapted(at_0hp)
    before, after = predictor.model.state_dict(), adapted.model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(name.endswith(("standardise.running_mean", "standardise.running_var")) for name in changed)
    # The running statistics are now exactly those of the 0 HP bursts' spectra.
    rows = _standardiser_inputs(adapted.model, adapted, at_0hp).double()
    standardiser = next(m for m in adapted.model.modules() if isinstance(m, PresentStandardiser))
    torch.testing.assert_close(standardiser.running_mean.double(), rows.mean(dim=0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(standardiser.running_var.double(), rows.var(dim=0, unbiased=False), rtol=1e-4, atol=1e-5)
    # The loaded bundle's own weights are untouched.
    assert all(torch.equal(predictor.model.state_dict()[name], predictor.bundle.state_dict[name]) for name in changed)


@pytest.mark.slow  # an ONNX export of the adapted model, twice
def test_an_adapted_bundle_scores_alike_on_every_backend(
    two_loads: Dataset, trained_at_1hp: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(trained_at_1hp / "bundle", bundle)
    assert run_cli("export", bundle, "--int8").exit_code == 0
    records = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        args = ("--protocol", "cwru-cross-load", "--subset", "1HP", "--adapt", "--backend", backend, "--out", out)
        scored = run_cli("evaluate", bundle, two_loads.path, *args)
        assert scored.exit_code == 0, scored.output
        records[backend] = json.loads((out / "metrics.json").read_text())
        assert records[backend]["details"]["adapted"] is True
    assert records["onnx"]["metrics"] == pytest.approx(records["torch"]["metrics"])
    # The adapted exports went to a temporary folder: the bundle holds what it held.
    exported = {"model.onnx", "model.int8.onnx"}
    assert {p.name for p in bundle.iterdir()} == {p.name for p in (trained_at_1hp / "bundle").iterdir()} | exported


def test_adapting_needs_a_protocol_with_operating_conditions(two_loads: Dataset, trained_at_1hp: Path) -> None:
    bundle = trained_at_1hp / "bundle"
    alone = run_cli("evaluate", bundle, two_loads.path, "--adapt")
    assert alone.exit_code == 1 and "--adapt needs --protocol" in alone.output
    other = run_cli("evaluate", bundle, two_loads.path, "--protocol", "cwru", "--adapt")
    assert other.exit_code == 1
    assert "protocol 'cwru' has no operating conditions to adapt to (these do: cwru-cross-load)" in other.output
