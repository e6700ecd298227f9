"""Bad bundles, checkpoints and model flags: ``evaluate``/``export`` on tampered, escaping, inconsistent or
foreign bundles; ``train``/``pretrain`` resuming a checkpoint that is missing, foreign or unsafe, or asking
for an accelerator the machine lacks; ``export`` at an unsupported opset. Each is refused with one line
before any work, and leaves the bundle, the checkpoint and every other file as they were.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from omnimaint.data import Dataset
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli
from tests.unit.inference.tampering import copy_bundle, edit_json, manifest, rehash, write_manifest

Tamper = Callable[[Path, Path], None]
"""Breaks the bundle copy (first argument); the second is a folder for files outside the bundle."""


def _unlisted_config_replaced(bundle: Path, _: Path) -> None:
    content = manifest(bundle)
    del content["files"]["config.json"]
    write_manifest(bundle, content)
    edit_json(bundle, "config.json", lambda c: c["model"].update(d_model=48), rehashed=False)


def _listed_name(name: str) -> Tamper:
    def tamper(bundle: Path, _: Path) -> None:
        content = manifest(bundle)
        content["files"][name] = hashlib.sha256(b"root:x:0:0").hexdigest()
        write_manifest(bundle, content)

    return tamper


def _symlink_out(name: str) -> Tamper:
    def tamper(bundle: Path, outside: Path) -> None:
        target = outside / f"copy-of-{name}"
        shutil.move(bundle / name, target)
        (bundle / name).symlink_to(target)  # the same bytes: only the link's destination is wrong

    return tamper


def _missing_weights(bundle: Path, _: Path) -> None:
    (bundle / "model.safetensors").unlink()


def _edited_config(bundle: Path, _: Path) -> None:
    edit_json(bundle, "config.json", lambda c: c["model"].update(dropout=0.0), rehashed=False)


def _threshold(value: float) -> Tamper:
    def tamper(bundle: Path, _: Path) -> None:
        edit_json(bundle, "thresholds.json", lambda t: t["failure_probability"].__setitem__(0, value))

    return tamper


def _rehashed_json(name: str, change: Callable[[dict], object]) -> Tamper:
    def tamper(bundle: Path, _: Path) -> None:
        edit_json(bundle, name, change)

    return tamper


def _weights(change: Callable[[dict[str, torch.Tensor]], object]) -> Tamper:
    def tamper(bundle: Path, _: Path) -> None:
        weights = load_file(bundle / "model.safetensors")
        change(weights)
        save_file(weights, bundle / "model.safetensors")
        rehash(bundle)

    return tamper


def _garbage_weights(bundle: Path, _: Path) -> None:
    (bundle / "model.safetensors").write_bytes(b"\x80\x04\x95 not safetensors, perhaps a pickle")
    rehash(bundle)


def _manifest_bytes(content: bytes) -> Tamper:
    def tamper(bundle: Path, _: Path) -> None:
        (bundle / "bundle.json").write_bytes(content)

    return tamper


def _truncated_manifest(bundle: Path, _: Path) -> None:
    data = (bundle / "bundle.json").read_bytes()
    (bundle / "bundle.json").write_bytes(data[: len(data) // 2])


TAMPERED: dict[str, tuple[Tamper, tuple[str, ...]]] = {
    "unlisted config.json replaced": (_unlisted_config_replaced, ("bundle.json", "does not list config.json")),
    "'../' name": (_listed_name("../../../../etc/passwd"), ("'../../../../etc/passwd'", "not a plain file name")),
    "absolute name": (_listed_name("/etc/passwd"), ("'/etc/passwd'", "not a plain file name")),
    "name in a subfolder": (_listed_name("sub/model.safetensors"), ("'sub/model.safetensors'", "plain file name")),
    "symlink out of the bundle": (_symlink_out("config.json"), ("config.json", "outside the bundle's folder")),
    "bundle.json a symlink out": (_symlink_out("bundle.json"), ("bundle.json", "outside the bundle's folder")),
    "missing weights": (_missing_weights, ("model.safetensors", "listed in bundle.json but missing")),
    "edited config.json": (_edited_config, ("config.json", "checksum differs")),
    "NaN threshold": (_threshold(math.nan), ("thresholds.json", "NaN is not a JSON number")),
    "negative threshold": (_threshold(-0.2), ("thresholds.json", "failure_probability", "[0, 1], got -0.2")),
    "threshold above 1": (_threshold(1.7), ("thresholds.json", "failure_probability", "[0, 1], got 1.7")),
    "infinite anomaly threshold": (
        _rehashed_json("thresholds.json", lambda t: t.update(anomaly_score=1e999)),
        ("thresholds.json", "Infinity is not a JSON number"),
    ),
    "thresholds for other horizons": (
        _rehashed_json("thresholds.json", lambda t: t.update(horizons_hours=[12.0, 24.0])),
        ("thresholds.json", "horizons_hours [12.0, 24.0] differ", "[24.0, 72.0]"),
    ),
    "config shapes disagree with weights": (
        _rehashed_json("config.json", lambda c: c["model"].update(d_model=48)),
        ("model.safetensors", "has shape", "config.json needs"),
    ),
    "config disagrees with preprocessors": (
        _rehashed_json("config.json", lambda c: c["model"].update(n_telemetry_channels=4)),
        ("config.json", "model.n_telemetry_channels is 4", "preprocessors.json give 11"),
    ),
    "preprocessors for fewer channels": (
        _rehashed_json("preprocessors.json", lambda p: p.update(telemetry_center=p["telemetry_center"][:2])),
        ("preprocessors.json", "telemetry_center has 2 values for 11 channels"),
    ),
    "a weight missing": (
        _weights(lambda w: w.pop("heads.health.weight")),
        ("model.safetensors", "'heads.health.weight'"),
    ),
    "NaN weights": (
        _weights(lambda w: w["heads.rul.weight"].fill_(math.nan)),
        ("model.safetensors", "'heads.rul.weight' holds NaN"),
    ),
    "weights not safetensors": (_garbage_weights, ("model.safetensors", "not a readable safetensors file")),
    "metrics.json with NaN": (
        _rehashed_json("metrics.json", lambda m: m.update(auroc=math.nan)),
        ("metrics.json", "NaN is not a JSON number"),
    ),
    "unknown format version": (
        _rehashed_json("bundle.json", lambda m: m.update(version=2)),
        ("bundle.json", "bundle version 2 is unknown"),
    ),
    "truncated bundle.json": (_truncated_manifest, ("bundle.json", "not valid JSON")),
    "bundle.json listing files twice": (
        _manifest_bytes(b'{"format": "omnimaint-bundle", "version": 1, "files": {}, "files": {}}'),
        ("bundle.json", "key 'files' appears twice"),
    ),
}


@pytest.fixture
def dataset(small_plant: Path) -> Path:
    return small_plant


@pytest.mark.parametrize("command", ["evaluate", "export"])
@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_bundle_is_refused(
    trained_bundle: Path, dataset: Path, tmp_path: Path, case: str, command: str
) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    outside = tmp_path / "outside"
    outside.mkdir()
    tamper, fragments = TAMPERED[case]
    tamper(bundle, outside)
    out = tmp_path / "evaluation"
    before = Snapshot.of(bundle, outside, out)
    args = ("evaluate", bundle, dataset, "--out", out) if command == "evaluate" else ("export", bundle)
    line = assert_refused(run_cli(*args), before, str(bundle), *fragments)
    assert "root:x:0:0" not in line


def test_evaluate_leaves_the_dataset_unchanged(trained_bundle: Path, dataset: Path, tmp_path: Path) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    _edited_config(bundle, tmp_path)
    before = Snapshot.of(bundle, dataset, tmp_path / "evaluation")
    result = run_cli("evaluate", bundle, dataset, "--out", tmp_path / "evaluation")
    assert_refused(result, before, "config.json", "checksum differs")


def _write_text(path: Path) -> Path:
    path.write_text("asset_id,ts\nP1,2024-01-01\n")
    return path


@pytest.mark.parametrize("command", ["evaluate", "export"])
@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("a dataset", ("not a model bundle (no bundle.json)",)),
        ("an empty folder", ("not a model bundle (no bundle.json)",)),
        ("a CSV file", ("not a model bundle (a bundle is a folder holding bundle.json)",)),
        ("nothing", ("no such bundle folder",)),
        ("a run folder", ("not a model bundle (no bundle.json); did you mean", "run/bundle?")),
    ],
)
def test_what_is_not_a_bundle_is_refused(
    trained_bundle: Path, tiny_dataset: Dataset, tmp_path: Path, case: str, fragments: tuple[str, ...], command: str
) -> None:
    given = {
        "a dataset": tiny_dataset.path,
        "an empty folder": tmp_path / "empty",
        "a CSV file": _write_text(tmp_path / "readings.csv"),
        "nothing": tmp_path / "nowhere",
        "a run folder": tmp_path / "run",
    }[case]
    if case == "an empty folder":
        given.mkdir()
    if case == "a run folder":
        given.mkdir()
        copy_bundle(trained_bundle, given / "bundle")
    out = tmp_path / "evaluation"
    before = Snapshot.of(tmp_path)
    args = ("evaluate", given, tiny_dataset.path, "--out", out) if command == "evaluate" else ("export", given)
    assert_refused(run_cli(*args), before, str(given), *fragments)


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("no model.onnx", ("no model.onnx listed in bundle.json", "omnimaint export")),
        ("an unlisted model.onnx", ("no model.onnx listed in bundle.json", "omnimaint export")),
        ("a pretrained bundle", ("a 'pretrained' bundle has no trained heads",)),
    ],
)
def test_a_bundle_that_cannot_serve_is_refused(
    trained_bundle: Path, dataset: Path, tmp_path: Path, case: str, fragments: tuple[str, ...]
) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    backend = "torch" if case == "a pretrained bundle" else "onnx"
    if case == "an unlisted model.onnx":
        (bundle / "model.onnx").write_bytes(b"an ONNX file dropped in beside the bundle's listed files")
    if case == "a pretrained bundle":
        edit_json(bundle, "config.json", lambda c: c.update(kind="pretrained"))
    out = tmp_path / "evaluation"
    before = Snapshot.of(bundle, out)
    result = run_cli("evaluate", bundle, dataset, "--out", out, "--backend", backend)
    assert_refused(result, before, str(bundle), *fragments)


@pytest.mark.parametrize("opset", ["3", "13", "21", "99", "-1"])
def test_export_at_an_unsupported_opset_is_refused(trained_bundle: Path, tmp_path: Path, opset: str) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    before = Snapshot.of(bundle)
    assert_refused(run_cli("export", bundle, "--opset", opset), before, f"--opset {opset}", "opsets 14 to 20")


# Checkpoints and accelerators: refused before the data is prepared (about a minute on real data).


@pytest.fixture
def no_data_preparation(monkeypatch: pytest.MonkeyPatch) -> None:
    def prepare(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data was prepared before the refusal")

    monkeypatch.setattr("omnimaint.training.run.prepare", prepare)


class _RunsCode:
    """Unpickling this runs ``touch <marker>``: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _lightning_like(state: dict[str, torch.Tensor]) -> dict[str, object]:
    return {"epoch": 0, "global_step": 4, "pytorch-lightning_version": "2.6.6", "state_dict": state, "loops": {}}


def _checkpoint(case: str, folder: Path) -> Path:
    """A checkpoint file (or folder) of ``case`` in ``folder``."""
    path = folder / "last.ckpt"
    if case == "missing":
        return folder / "nowhere.ckpt"
    if case == "a run folder":
        (folder / "run" / "checkpoints").mkdir(parents=True)
        torch.save(_lightning_like({"fault_weights": torch.ones(2)}), folder / "run" / "checkpoints" / "last.ckpt")
        return folder / "run"
    if case == "a CSV file":
        return _write_text(folder / "readings.csv")
    if case == "a zip that is not a checkpoint":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    elif case == "code to run on loading":
        torch.save({**_lightning_like({}), "hyper_parameters": _RunsCode(folder / "pwned")}, path)
    elif case == "bare weights":
        torch.save({"heads.rul.weight": torch.zeros(1, 4)}, path)
    elif case == "a pretraining checkpoint":
        torch.save(_lightning_like({"log_temperature": torch.zeros(())}), path)
    elif case == "a bundle's safetensors":
        save_file({"heads.rul.weight": torch.zeros(1, 4)}, path)
    return path


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing", ("no such checkpoint file",)),
        ("a run folder", ("is a folder, not a checkpoint file; did you mean", "checkpoints/last.ckpt?")),
        ("a CSV file", ("not a PyTorch checkpoint",)),
        ("a bundle's safetensors", ("not a PyTorch checkpoint",)),
        ("a zip that is not a checkpoint", ("not a readable PyTorch checkpoint",)),
        ("code to run on loading", ("refused", "posix.system", "can run code")),
        ("bare weights", ("not a Lightning training checkpoint (no 'state_dict')",)),
        ("a pretraining checkpoint", ("a checkpoint of a pretraining run; resume it with omnimaint pretrain",)),
    ],
)
@pytest.mark.usefixtures("no_data_preparation")
def test_train_refuses_a_checkpoint_it_cannot_resume_safely(
    tiny_dataset: Dataset, tmp_path: Path, case: str, fragments: tuple[str, ...]
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    checkpoint = _checkpoint(case, files)
    out = tmp_path / "run-out"
    before = Snapshot.of(files, out, tiny_dataset.path)
    result = run_cli("train", tiny_dataset.path, "--out", out, "--resume", checkpoint, "--no-progress")
    line = assert_refused(result, before, f"--resume {checkpoint}", *fragments)
    assert "weights_only" not in line
    assert not (files / "pwned").exists()


@pytest.mark.usefixtures("no_data_preparation")
def test_pretrain_refuses_a_fine_tuning_checkpoint(tiny_dataset: Dataset, tmp_path: Path) -> None:
    checkpoint = tmp_path / "last.ckpt"
    torch.save(_lightning_like({"fault_weights": torch.ones(3)}), checkpoint)
    out = tmp_path / "pre"
    before = Snapshot.of(checkpoint, out)
    result = run_cli("pretrain", tiny_dataset.path, "--out", out, "--resume", checkpoint)
    assert_refused(result, before, "a checkpoint of a fine-tuning run; resume it with omnimaint train")


@pytest.mark.parametrize(
    ("flags", "gpus", "fragments"),
    [
        (("--accelerator", "gpu"), 0, ("accelerator 'gpu'", "no GPU", "--accelerator cpu")),
        (("--accelerator", "cuda"), 0, ("accelerator 'cuda'", "no GPU", "--accelerator cpu")),
        (("--accelerator", "mps"), 0, ("accelerator 'mps'", "no Apple MPS device")),
        (("--accelerator", "gpu", "--devices", "4"), 1, ("--devices 4", "this machine has 1 device")),
        (("--accelerator", "auto", "--devices", "4"), 2, ("--devices 4", "this machine has 2 devices")),
        (("--accelerator", "tpu"), 0, ("accelerator", "'cpu', 'gpu', 'cuda', 'mps' or 'auto'")),
    ],
)
@pytest.mark.usefixtures("no_data_preparation")
def test_train_refuses_an_accelerator_the_machine_lacks(
    tiny_dataset: Dataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    gpus: int,
    fragments: tuple[str, ...],
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    out = tmp_path / "run-out"
    before = Snapshot.of(out, tiny_dataset.path)
    assert_refused(run_cli("train", tiny_dataset.path, "--out", out, *flags), before, *fragments)


def test_a_real_checkpoint_passes_the_preflight(trained_bundle: Path) -> None:
    """The checks refuse what they should and nothing else: the checkpoint a training run wrote passes."""
    from omnimaint.training.preflight import check_checkpoint

    check_checkpoint(trained_bundle.parent / "checkpoints" / "last.ckpt", "model")


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (("--lr", "inf"), "optim.lr"),
        (("--set", "target_false_alarms_per_asset_day=.inf"), "target_false_alarms_per_asset_day"),
        (("--set", "pretrain.temperature=.nan"), "pretrain.temperature"),
    ],
)
@pytest.mark.usefixtures("no_data_preparation")
def test_train_refuses_settings_that_are_not_finite(
    tiny_dataset: Dataset, tmp_path: Path, flags: tuple[str, ...], field: str
) -> None:
    """Refused at once, not after the whole run (an infinite false-alarm target failed only when saving)."""
    out = tmp_path / "run-out"
    before = Snapshot.of(out, tiny_dataset.path)
    assert_refused(run_cli("train", tiny_dataset.path, "--out", out, *flags), before, f"'{field}'", "finite number")
