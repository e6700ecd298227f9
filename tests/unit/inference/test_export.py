"""ONNX export: parity with PyTorch on every head, with modalities present and absent; int8 quantisation;
refusal of tampered bundles and unsupported opsets; ONNX files run only through their checksums."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.errors import ConfigError
from omnimaint.inference import BundleError, Predictor
from omnimaint.inference.bundle import ONNX_FILE, ONNX_INT8_FILE, Bundle
from omnimaint.inference.export import PARITY_TOLERANCE, SUPPORTED_OPSETS, check_parity, export_bundle
from tests.unit.inference.tampering import copy_bundle


@pytest.fixture(scope="module")
def exported(trained_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = shutil.copytree(trained_bundle, tmp_path_factory.mktemp("export") / "bundle")
    export_bundle(copy, int8=True)
    return copy


def test_export_adds_checksummed_files(exported: Path) -> None:
    bundle = Bundle.load(exported)  # verifies the new checksums
    assert (exported / ONNX_FILE).is_file() and (exported / ONNX_INT8_FILE).is_file()
    assert bundle.kind == "model"


def test_parity_on_real_windows_with_each_modality_absent(exported: Path, small_plant: Path) -> None:
    bundle = Bundle.load(exported)
    predictor = Predictor(bundle)
    windows = predictor.windows(Dataset(small_plant))
    inputs = predictor.preprocessor(windows.batch(np.arange(0, len(windows), max(1, len(windows) // 24))))
    report = check_parity(bundle, exported / ONNX_FILE, inputs)
    assert set(report.max_abs_diff) == {"all"} | {f"without_{m}" for m in bundle.model_config.modalities}
    assert report.worst <= PARITY_TOLERANCE, report.max_abs_diff


def test_onnx_predictor_matches_torch_predictor(exported: Path, small_plant: Path) -> None:
    torch_predictor = Predictor.from_bundle(exported)
    onnx_predictor = Predictor.from_bundle(exported, "onnx")
    windows = torch_predictor.windows(Dataset(small_plant))
    batch = windows.batch(np.arange(min(32, len(windows))))
    a, b = torch_predictor.predict(batch), onnx_predictor.predict(batch)
    np.testing.assert_allclose(a.failure_probability, b.failure_probability, atol=1e-5)
    np.testing.assert_allclose(a.rul_hours, b.rul_hours, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(a.alerts, b.alerts)


def test_int8_model_runs_and_stays_close(exported: Path, small_plant: Path) -> None:
    full = Predictor.from_bundle(exported, "onnx")
    quantised = Predictor.from_bundle(exported, "onnx", onnx_file=exported / ONNX_INT8_FILE)
    windows = full.windows(Dataset(small_plant))
    batch = windows.batch(np.arange(min(32, len(windows))))
    difference = np.abs(full.predict(batch).failure_probability - quantised.predict(batch).failure_probability)
    assert np.isfinite(difference).all()
    assert difference.max() < 0.2  # int8 weights perturb, not scramble, the probabilities


def test_temporal_conv_telemetry_encoder_exports_with_parity(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.training.run import train
    from tests.unit.training.tiny import tiny_config

    config = tiny_config(
        small_plant, tmp_path / "run", **{"model.telemetry.name": "temporal_conv", "model.telemetry.conv_layers": 2}
    )
    bundle_path = train(config)
    assert bundle_path is not None
    _, report = export_bundle(bundle_path)  # raises if ONNX Runtime and PyTorch disagree
    assert report.worst <= PARITY_TOLERANCE, report.max_abs_diff
    assert Bundle.load(bundle_path).model_config.telemetry.name == "temporal_conv"


def test_export_refuses_a_tampered_bundle_and_leaves_it_as_it_was(exported: Path, tmp_path: Path) -> None:
    copy = copy_bundle(exported, tmp_path / "b")
    data = bytearray((copy / ONNX_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / ONNX_FILE).write_bytes(bytes(data))
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    with pytest.raises(BundleError, match=r"model\.onnx: checksum differs"):
        export_bundle(copy)  # re-hashing the edited file would vouch for it
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before


def test_an_unsupported_opset_is_refused_before_the_bundle_is_read(tmp_path: Path) -> None:
    for opset in (3, SUPPORTED_OPSETS.start - 1, SUPPORTED_OPSETS.stop):
        with pytest.raises(
            ConfigError, match=f"--opset {opset} is not supported: omnimaint exports ONNX opsets 14 to 20"
        ):
            export_bundle(tmp_path / "no-bundle-here", opset=opset)


def test_an_onnx_file_swapped_after_loading_is_not_run(exported: Path, tmp_path: Path) -> None:
    copy = copy_bundle(exported, tmp_path / "b")
    bundle = Bundle.load(copy)
    shutil.copyfile(copy / ONNX_INT8_FILE, copy / ONNX_FILE)  # a valid model, but not the verified one
    with pytest.raises(BundleError, match=r"model\.onnx: checksum differs"):
        Predictor(bundle, "onnx")


def test_the_onnx_backend_runs_only_files_listed_in_the_bundle(exported: Path, tmp_path: Path) -> None:
    elsewhere = shutil.copyfile(exported / ONNX_FILE, tmp_path / "model.onnx")
    with pytest.raises(BundleError, match="not a file of the bundle"):
        Predictor.from_bundle(exported, "onnx", onnx_file=elsewhere)
    copy = copy_bundle(exported, tmp_path / "b")
    shutil.copyfile(copy / ONNX_FILE, copy / "model.other.onnx")
    with pytest.raises(BundleError, match=r"no model\.other\.onnx listed in bundle\.json"):
        Predictor.from_bundle(copy, "onnx", onnx_file=copy / "model.other.onnx")
