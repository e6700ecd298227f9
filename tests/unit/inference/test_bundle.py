"""Bundles: bit-identical round trip; refusal of tampered, unlisted, escaping, inconsistent or unknown
bundles; reads that go through checksums and never unpickle; and the Predictor."""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from omnimaint.data.dataset import Dataset
from omnimaint.inference import Bundle, BundleError, Predictor
from omnimaint.inference.bundle import CORE_FILES, verify_bundle
from tests.unit.inference.tampering import copy_bundle, edit_json, manifest, rehash, write_manifest

_events: list[tuple[str, tuple[Any, ...]]] | None = None
_unpickled: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _events is not None and event == "open":
        _events.append((event, args))
    if _unpickled is not None and event == "pickle.find_class":
        _unpickled.append(f"{args[0]}.{args[1]}")
        raise AssertionError(f"something unpickled {args[0]}.{args[1]}: a bundle is read without pickle")


# Audit hooks cannot be removed: this one acts only inside recorded_events() and pickle_refused().
sys.addaudithook(_audit)


@contextmanager
def recorded_events() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every file opened while the block runs."""
    global _events  # noqa: PLW0603 (the audit hook is process-wide)
    _events = []
    try:
        yield _events
    finally:
        _events = None


@contextmanager
def pickle_refused() -> Iterator[None]:
    """Fail if anything is unpickled while the block runs: the unpickler is stopped where it starts, and
    a failure that the code under test swallows is still reported when the block ends."""
    global _unpickled  # noqa: PLW0603 (the audit hook is process-wide)
    _unpickled = []
    try:
        yield
    finally:
        unpickled, _unpickled = _unpickled, None
    assert not unpickled, f"unpickled while pickle was refused: {unpickled}"


def _opened(events: list[tuple[str, tuple[Any, ...]]]) -> list[Path]:
    return [
        Path(os.fsdecode(args[0])) for event, args in events if event == "open" and isinstance(args[0], str | bytes)
    ]


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


def test_the_pickle_guard_stops_an_unpickler_and_reports_a_swallowed_one() -> None:
    with pytest.raises(AssertionError, match=r"something unpickled pathlib\.\w*Path"), pickle_refused():
        pickle.loads(pickle.dumps(Path("control")))
    swallowed = r"unpickled while pickle was refused: \['pathlib\.\w*Path'\]"
    with pytest.raises(AssertionError, match=swallowed), pickle_refused(), suppress(AssertionError):
        pickle.loads(pickle.dumps(Path("control")))


def test_loading_and_predicting_never_unpickle(
    trained_bundle: Path, small_plant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load must not be used to read a bundle")

    # torch's weights-only unpickler raises no audit event, so torch.load is refused outright.
    monkeypatch.setattr(torch, "load", refuse)
    with pickle_refused():
        Bundle.load(trained_bundle).build_model()
        predictor = Predictor.from_bundle(trained_bundle)
        output = predictor.predict(predictor.windows(Dataset(small_plant)).batch(np.arange(4)))
    assert output.failure_probability.shape == (4, 2)


def test_each_file_is_opened_once_so_the_checked_bytes_are_the_used_bytes(trained_bundle: Path) -> None:
    with recorded_events() as events:
        Bundle.load(trained_bundle)
    folder = trained_bundle.resolve()
    opened = Counter(p.name for p in _opened(events) if p.resolve().parent == folder)
    assert opened == Counter(["bundle.json", *CORE_FILES])


def test_unlisted_files_are_never_loaded(trained_bundle: Path, tmp_path: Path) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    content = manifest(copy)
    del content["files"]["config.json"]
    write_manifest(copy, content)
    (copy / "config.json").write_text("{}")
    with recorded_events() as events, pytest.raises(BundleError, match=r"bundle\.json: does not list config\.json"):
        Bundle.load(copy)
    assert "config.json" not in {p.name for p in _opened(events)}


@pytest.mark.parametrize(
    "name",
    ["../../../../etc/passwd", "/etc/passwd", "sub/config.json", "..", ".", ".hidden", "a\\b", "c:config.json", ""],
)
def test_names_must_be_plain_and_are_never_opened(trained_bundle: Path, tmp_path: Path, name: str) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    content = manifest(copy)
    content["files"][name] = "0" * 64
    write_manifest(copy, content)
    with recorded_events() as events, pytest.raises(BundleError, match="not a plain file name"):
        Bundle.load(copy)
    assert not [p for p in _opened(events) if "passwd" in str(p) or p.resolve().parent != copy.resolve()]


def test_a_symlink_out_of_the_bundle_is_refused_even_with_the_right_content(
    trained_bundle: Path, tmp_path: Path
) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    outside = tmp_path / "elsewhere.json"
    shutil.move(copy / "config.json", outside)
    (copy / "config.json").symlink_to(outside)  # same bytes, so the checksum matches
    with pytest.raises(BundleError, match="outside the bundle's folder"):
        Bundle.load(copy)


def test_a_symlink_inside_the_bundle_is_followed(trained_bundle: Path, tmp_path: Path) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    shutil.move(copy / "metrics.json", copy / "metrics-v1.json")
    (copy / "metrics.json").symlink_to("metrics-v1.json")
    assert Bundle.load(copy).metrics == Bundle.load(trained_bundle).metrics


@pytest.mark.timeout(60)
def test_a_fifo_under_a_listed_name_is_refused_without_blocking(trained_bundle: Path, tmp_path: Path) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    (copy / "thresholds.json").unlink()
    os.mkfifo(copy / "thresholds.json")
    with pytest.raises(BundleError, match="not a regular file"):
        Bundle.load(copy)


def _set_threshold(value: float) -> Any:
    def change(thresholds: dict[str, Any]) -> None:
        thresholds["failure_probability"][0] = value

    return change


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("thresholds.json", _set_threshold(math.nan), "NaN is not a JSON number"),
        ("thresholds.json", _set_threshold(-0.1), r"probabilities in \[0, 1\], got -0\.1"),
        ("thresholds.json", _set_threshold(1.5), r"probabilities in \[0, 1\], got 1\.5"),
        ("thresholds.json", lambda t: t.update(anomaly_score=-1.0), "anomaly_score"),
        ("thresholds.json", lambda t: t.update(target_false_alarms_per_asset_day=-1), "target_false_alarms"),
        ("thresholds.json", lambda t: t.update(failure_probability=[0.5]), "1 failure_probability thresholds for 2"),
        ("thresholds.json", lambda t: t.update(horizons_hours=[24.0, 48.0]), "differ from the window spec's horizons"),
        ("thresholds.json", lambda t: t.update(surprise=1), "surprise"),
        ("metrics.json", lambda m: m.update(loss=math.inf), "Infinity is not a JSON number"),
        ("metrics.json", lambda m: [m], "a JSON object is expected"),
        ("config.json", lambda c: c["model"].update(n_fault_classes=9), r"model\.n_fault_classes is 9"),
        ("config.json", lambda c: c["model"].update(d_model=48), "has shape"),
        ("config.json", lambda c: c.update(kind="oracle"), "kind"),
        ("preprocessors.json", lambda p: p.update(telemetry_scale=p["telemetry_scale"][:3]), "has 3 values for 11"),
        ("preprocessors.json", lambda p: p["telemetry_scale"].__setitem__(0, 0.0), "finite and positive"),
        ("preprocessors.json", lambda p: p.update(modalities=["telemetry"]), "differ from the window spec's"),
        ("preprocessors.json", lambda p: p["vocab"].update(components=["a"]), "n_components"),
    ],
)
def test_rehashed_but_invalid_parts_are_refused_with_the_file_named(
    trained_bundle: Path, tmp_path: Path, file: str, change: Any, message: str
) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    edit_json(copy, file, change)
    with pytest.raises(BundleError, match=message) as raised:
        Bundle.load(copy)
    assert file in str(raised.value) or "model.safetensors" in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w: w.pop("heads.fault.bias"), "no tensor 'heads.fault.bias'"),
        (lambda w: w.update(extra=torch.zeros(2)), "tensor 'extra' is not part of the architecture"),
        (lambda w: w.update({"heads.fault.bias": torch.zeros(3)}), r"tensor 'heads\.fault\.bias' has shape \[3\]"),
        (lambda w: w["heads.fault.bias"].fill_(math.nan), "holds NaN"),
    ],
)
def test_weights_that_do_not_fit_the_architecture_are_refused_before_torch(
    trained_bundle: Path, tmp_path: Path, change: Any, message: str
) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    weights = load_file(copy / "model.safetensors")
    change(weights)
    save_file(weights, copy / "model.safetensors")
    rehash(copy)
    with pytest.raises(BundleError, match=message):
        Bundle.load(copy)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe{", "not UTF-8"),
        (b"[]", "a JSON object is expected"),
        (b'{"format": "omnimaint-dataset", "version": 1}', "format 'omnimaint-dataset' is not 'omnimaint-bundle'"),
        (b'{"format": "omnimaint-bundle", "version": true, "files": {}}', "bundle version True is unknown"),
        (b'{"format": "omnimaint-bundle", "version": 1, "files": {}, "files": {}}', "key 'files' appears twice"),
    ],
)
def test_a_broken_manifest_is_refused(trained_bundle: Path, tmp_path: Path, content: bytes, message: str) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    (copy / "bundle.json").write_bytes(content)
    with pytest.raises(BundleError, match=message):
        Bundle.load(copy)


def test_a_checksum_that_is_not_a_digest_and_a_manifest_listing_itself(trained_bundle: Path, tmp_path: Path) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    content = manifest(copy)
    content["files"]["config.json"] = "md5:abc"
    write_manifest(copy, content)
    with pytest.raises(BundleError, match="not a SHA-256 hex digest"):
        Bundle.load(copy)
    content["files"] = {**manifest(trained_bundle)["files"], "bundle.json": "0" * 64}
    write_manifest(copy, content)
    with pytest.raises(BundleError, match="lists itself"):
        Bundle.load(copy)


def test_a_run_folder_is_not_a_bundle_but_points_to_one(trained_bundle: Path) -> None:
    with pytest.raises(BundleError, match=f"did you mean {trained_bundle}"):
        Bundle.load(trained_bundle.parent)


def test_verify_bundle_checks_every_listed_file(trained_bundle: Path, tmp_path: Path) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    assert set(verify_bundle(copy).manifest.files) == set(CORE_FILES)
    (copy / "extra.bin").write_bytes(b"x")
    content = manifest(copy)
    content["files"]["extra.bin"] = "0" * 64
    write_manifest(copy, content)
    with pytest.raises(BundleError, match=r"extra\.bin: checksum differs"):
        verify_bundle(copy)
    with pytest.raises(BundleError, match=r"extra\.bin: checksum differs"):
        Bundle.load(copy)  # a listed file the loader does not use is verified all the same


def test_saving_refuses_what_loading_would_refuse_and_writes_plain_json(trained_bundle: Path, tmp_path: Path) -> None:
    bundle = Bundle.load(trained_bundle)
    bundle.thresholds = bundle.thresholds.model_copy(update={"failure_probability": (math.nan, 0.5)})  # unvalidated
    with pytest.raises(BundleError, match="failure_probability"):
        bundle.save(tmp_path / "nan")
    assert not (tmp_path / "nan").exists()
    never_alert = math.nextafter(1.0, math.inf)  # the calibrator's "above every score" when a score is 1
    bundle.thresholds = bundle.thresholds.model_copy(update={"failure_probability": (never_alert, 0.5)})
    bundle.metrics = {"train": {"val_loss": math.nan}}
    again = Bundle.load(bundle.save(tmp_path / "ok"))
    assert again.thresholds.failure_probability[0] == never_alert
    assert again.metrics == {"train": {"val_loss": None}}


def test_read_file_refuses_a_file_changed_after_loading(trained_bundle: Path, tmp_path: Path) -> None:
    copy = copy_bundle(trained_bundle, tmp_path / "b")
    bundle = Bundle.load(copy)
    assert bundle.read_file("metrics.json") == (copy / "metrics.json").read_bytes()
    (copy / "metrics.json").write_text("{}")
    with pytest.raises(BundleError, match="checksum differs"):
        bundle.read_file("metrics.json")
    rehash(copy)
    with pytest.raises(BundleError, match="changed since the bundle was loaded"):
        bundle.read_file("metrics.json")


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
