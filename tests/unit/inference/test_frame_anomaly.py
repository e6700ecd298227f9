"""The PatchCore frame anomaly component of a bundle: fitted on healthy training frames by ``omnimaint train`` when
the config asks for it, kept as JSON + safetensors (checksummed, no pickle), scored by the Predictor on every
backend beside the model's anomaly score."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from omnimaint.data import Dataset
from omnimaint.data.windows import MODALITIES, Batch
from omnimaint.errors import ConfigError
from omnimaint.inference.bundle import Bundle, BundleError
from omnimaint.inference.export import export_bundle
from omnimaint.inference.frame_anomaly import FRAME_ANOMALY_FILE, FRAME_ANOMALY_WEIGHTS, load_frame_anomaly
from omnimaint.inference.predictor import HealthOutput, Predictor
from omnimaint.models.frame_anomaly import newest_slots
from omnimaint.training.config import FrameAnomalyConfig, TrainConfig, load_config
from omnimaint.training.frame_anomaly import healthy_windows
from omnimaint.training.run import train
from tests.conftest import PATCHCORE_SETTINGS
from tests.unit.inference.tampering import copy_bundle, edit_json, manifest, write_manifest
from tests.unit.inference.test_bundle import pickle_refused
from tests.unit.training.tiny import tiny_config


@pytest.fixture(scope="module")
def predictor(patchcore_bundle: Path) -> Predictor:
    return Predictor.from_bundle(patchcore_bundle)


@pytest.fixture(scope="module")
def healthy(predictor: Predictor, small_plant: Path) -> Batch:
    """Eight healthy windows of the small plant that have a camera frame."""
    windows = predictor.windows(Dataset(small_plant))
    batch = windows.batch(healthy_windows(windows, "failures")[:200])
    with_frame = np.flatnonzero(batch.present("frames"))[:8]
    assert with_frame.size == 8
    return windows.batch(healthy_windows(windows, "failures")[:200][with_frame])


def _painted(batch: Batch) -> Batch:
    """The windows with a magenta square painted on every frame (a defect no healthy frame shows)."""
    assert batch.frames is not None
    frames = batch.frames.copy()
    frames[:, :, :, 10:18, 10:18] = (255, 0, 255)
    return replace(batch, frames=frames)


def test_the_component_is_off_by_default_and_configured_by_one_yaml_key(tmp_path: Path) -> None:
    assert TrainConfig(data={"dataset": tmp_path}).frame_anomaly.method == "none"
    config = tmp_path / "train.yaml"
    config.write_text(f"data:\n  dataset: {tmp_path}\nframe_anomaly:\n  method: patchcore\n  coreset_ratio: 0.05\n")
    loaded = load_config(config)
    assert loaded.frame_anomaly == FrameAnomalyConfig(method="patchcore", coreset_ratio=0.05)
    with pytest.raises(ConfigError, match="stages"):
        load_config(None, {"data.dataset": str(tmp_path), "frame_anomaly.stages": [3, 8]})


def test_training_refuses_patchcore_without_frames(small_plant: Path, tmp_path: Path) -> None:
    config = tiny_config(small_plant, tmp_path / "run", **PATCHCORE_SETTINGS)
    window = config.data.window.model_copy(update={"frames": None})
    config = config.model_copy(update={"data": config.data.model_copy(update={"window": window})})
    with pytest.raises(ConfigError, match=r"data\.window\.frames"):
        train(config)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_the_bundle_keeps_the_memory_banks_as_safetensors_and_the_settings_as_json(patchcore_bundle: Path) -> None:
    listed = manifest(patchcore_bundle)["files"]
    assert FRAME_ANOMALY_FILE in listed and FRAME_ANOMALY_WEIGHTS in listed
    settings = json.loads((patchcore_bundle / FRAME_ANOMALY_FILE).read_text())
    assert settings["cameras"] == ["cam0"] and settings["calibration"] == "validation"
    assert settings["backbone"] == "efficientnet-lite0" and settings["input_size"] == 64
    assert 0 < settings["frames"][0] <= 32 and settings["reference"][0] > 0
    with safe_open(str(patchcore_bundle / FRAME_ANOMALY_WEIGHTS), "pt") as weights:
        names = set(weights.keys())
        bank = weights.get_tensor("memory_bank.0")
    assert "backbone._conv_stem.weight" in names
    # a quarter of the 8 × 8 patches of every frame; features of stages 3 and 5: 40 + 112 channels
    assert bank.shape == (round(0.25 * settings["frames"][0] * 64), 152)
    with pickle_refused():
        detector = load_frame_anomaly(Bundle.load(patchcore_bundle))
    assert detector is not None
    assert np.array_equal(detector.models[0].memory_bank.numpy(), bank.numpy())


def test_a_changed_component_is_refused(patchcore_bundle: Path, tmp_path: Path) -> None:
    flipped = copy_bundle(patchcore_bundle, tmp_path / "flipped")
    data = bytearray((flipped / FRAME_ANOMALY_WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (flipped / FRAME_ANOMALY_WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"frame_anomaly\.safetensors: checksum differs"):
        Bundle.load(flipped)

    # edited and re-hashed: settings that the memory bank does not fit are refused by name
    edited = copy_bundle(patchcore_bundle, tmp_path / "edited")
    edit_json(edited, FRAME_ANOMALY_FILE, lambda s: s.update(stages=[3, 4]))
    with pytest.raises(BundleError, match=r"frame_anomaly\.safetensors: memory bank memory_bank\.0 is \[\d+, 152\]"):
        Predictor.from_bundle(edited)

    halved = copy_bundle(patchcore_bundle, tmp_path / "halved")
    content = manifest(halved)
    del content["files"][FRAME_ANOMALY_WEIGHTS]
    write_manifest(halved, content)
    with pytest.raises(BundleError, match=r"lists frame_anomaly\.json without frame_anomaly\.safetensors"):
        Predictor.from_bundle(halved)


def test_a_bundle_without_the_component_gives_no_frame_anomaly(
    patchcore_bundle: Path, healthy: Batch, tmp_path: Path
) -> None:
    plain = copy_bundle(patchcore_bundle, tmp_path / "plain")
    content = manifest(plain)
    for name in (FRAME_ANOMALY_FILE, FRAME_ANOMALY_WEIGHTS):
        del content["files"][name]
        (plain / name).unlink()
    write_manifest(plain, content)
    output = Predictor.from_bundle(plain).predict(healthy)
    assert output.frame_anomaly is None
    assert "frame_anomaly" not in output.to_frame().columns


def test_a_painted_defect_scores_higher_than_the_healthy_frame(predictor: Predictor, healthy: Batch) -> None:
    clean = predictor.predict(healthy)
    painted = predictor.predict(_painted(healthy))
    assert clean.frame_anomaly is not None and painted.frame_anomaly is not None
    assert np.all(painted.frame_anomaly > clean.frame_anomaly), (painted.frame_anomaly, clean.frame_anomaly)
    # healthy frames sit near the healthy validation frames' 99th percentile or below; the defect well above
    assert np.median(clean.frame_anomaly) < 1.0 < np.min(painted.frame_anomaly)
    # the model's own outputs are not changed by the component
    assert np.array_equal(clean.anomaly_score, predictor.predict(healthy, frame_anomaly=False).anomaly_score)
    assert list(clean.to_frame()["frame_anomaly"]) == list(clean.frame_anomaly)


def test_the_map_of_a_painted_defect_peaks_on_it(predictor: Predictor, healthy: Batch) -> None:
    scores = predictor.frame_anomaly_scores(_painted(healthy), maps=True)
    assert scores.maps is not None and scores.maps.shape == (8, 1, 32, 32)
    inside = scores.maps[:, 0, 10:18, 10:18].mean(axis=(1, 2))
    outside = scores.maps[:, 0, 24:, 24:].mean(axis=(1, 2))
    assert np.all(inside > outside)
    assert np.allclose(scores.normalised[:, 0], scores.window)
    assert np.array_equal(scores.slots[:, 0], newest_slots(healthy.frame_mask)[:, 0])


def test_windows_without_frames_have_no_frame_anomaly(predictor: Predictor, healthy: Batch) -> None:
    presence = healthy.presence.copy()
    presence[:4, MODALITIES.index("frames")] = False
    output = predictor.predict(replace(healthy, presence=presence))
    assert output.frame_anomaly is not None
    assert np.isnan(output.frame_anomaly[:4]).all() and np.isfinite(output.frame_anomaly[4:]).all()
    dropped = predictor.predict(healthy, drop=("frames",))
    assert dropped.frame_anomaly is not None and np.isnan(dropped.frame_anomaly).all()
    skipped = predictor.predict(healthy, frame_anomaly=False)
    assert skipped.frame_anomaly is None and HealthOutput.concat([skipped, skipped]).frame_anomaly is None
    joined = HealthOutput.concat([output, dropped]).frame_anomaly
    assert joined is not None and joined.shape == (16,) and np.isnan(joined[8:]).all()


def test_every_backend_gives_the_same_frame_anomaly(
    patchcore_bundle: Path, predictor: Predictor, healthy: Batch, tmp_path: Path
) -> None:
    exported = Path(shutil.copytree(patchcore_bundle, tmp_path / "exported"))
    export_bundle(exported, int8=True)
    assert {FRAME_ANOMALY_FILE, FRAME_ANOMALY_WEIGHTS} <= set(manifest(exported)["files"])  # carried by export
    expected = predictor.predict(healthy).frame_anomaly
    for backend in ("onnx", "onnx-int8"):
        output = Predictor.from_bundle(exported, backend).predict(healthy)  # type: ignore[arg-type]
        assert output.frame_anomaly is not None
        np.testing.assert_allclose(output.frame_anomaly, expected, rtol=1e-6)
