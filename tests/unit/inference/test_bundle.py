"""Bundles: bit-identical round trip, refusal of tampered or unknown bundles, and the Predictor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from omnimaint.data.dataset import Dataset
from omnimaint.inference import Bundle, BundleError, Predictor


def test_save_load_is_bit_identical(trained_bundle: Path, tmp_path: Path) -> None:
    bundle = Bundle.load(trained_bundle)
    copy = bundle.save(tmp_path / "copy")
    again = Bundle.load(copy)
    assert again.model_config == bundle.model_config
    assert again.window == bundle.window
    assert again.preprocessor == bundle.preprocessor
    assert again.thresholds == bundle.thresholds
    assert set(again.state_dict) == set(bundle.state_dict)
    for name, tensor in bundle.state_dict.items():
        assert torch.equal(again.state_dict[name], tensor), name
    assert (copy / "model.safetensors").read_bytes() == (trained_bundle / "model.safetensors").read_bytes()


def test_tampered_weights_are_refused(trained_bundle: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(trained_bundle, tmp_path / "b")
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.safetensors: checksum differs"):
        Bundle.load(copy)


def test_edited_thresholds_are_refused(trained_bundle: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(trained_bundle, tmp_path / "b")
    thresholds = json.loads((copy / "thresholds.json").read_text())
    thresholds["failure_probability"] = [0.0, 0.0]
    (copy / "thresholds.json").write_text(json.dumps(thresholds))
    with pytest.raises(BundleError, match=r"thresholds\.json: checksum differs"):
        Bundle.load(copy)


def test_unknown_bundle_version_and_missing_files(trained_bundle: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(trained_bundle, tmp_path / "b")
    manifest = json.loads((copy / "bundle.json").read_text())
    manifest["version"] = 99
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="bundle version 99 is unknown"):
        Bundle.load(copy)
    other = shutil.copytree(trained_bundle, tmp_path / "c")
    (other / "preprocessors.json").unlink()
    with pytest.raises(BundleError, match="missing"):
        Bundle.load(other)
    with pytest.raises(BundleError, match="not a model bundle"):
        Bundle.load(tmp_path)


def test_loading_never_unpickles(trained_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load must not be used to read a bundle")

    monkeypatch.setattr(torch, "load", refuse)
    Bundle.load(trained_bundle)


def test_predictor_outputs_are_well_formed(trained_bundle: Path, small_plant: Path) -> None:
    predictor = Predictor.from_bundle(trained_bundle)
    windows = predictor.windows(Dataset(small_plant))
    output = predictor.predict(windows.batch(np.arange(10)))
    assert output.failure_probability.shape == (10, 2)
    assert ((output.failure_probability >= 0) & (output.failure_probability <= 1)).all()
    np.testing.assert_allclose(output.fault_probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (output.rul_hours >= 0).all()
    frame = output.to_frame()
    assert list(frame.columns[:4]) == ["asset_id", "ts", "p_failure_24h", "alert_24h"]
    assert len(frame) == 10
    thresholds = Bundle.load(trained_bundle).thresholds
    np.testing.assert_array_equal(
        output.alerts[:, 0], output.failure_probability[:, 0] >= thresholds.failure_probability[0]
    )


def test_a_pretrained_bundle_cannot_predict(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.training.run import pretrain
    from tests.unit.training.tiny import tiny_config

    path = pretrain(tiny_config(small_plant, tmp_path / "pre", **{"optim.limit_train_batches": 1}))
    assert path is not None
    with pytest.raises(BundleError, match="no trained heads"):
        Predictor.from_bundle(path)
