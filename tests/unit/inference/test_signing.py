"""Ed25519 bundle signatures: a signed bundle loads with its public key; re-hashing an edited file, another
key, a missing or damaged signature are refused; keys are never written over; export drops a stale one."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from omnimaint.errors import ConfigError
from omnimaint.inference import Bundle, BundleError, Predictor
from omnimaint.inference.bundle_files import SIGNATURE_FILE
from omnimaint.inference.signatures import SigningError
from omnimaint.inference.signing import generate_key_pair, sign_bundle
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli
from tests.unit.inference.tampering import copy_bundle, edit_json

pytest.importorskip("cryptography")


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    pair = generate_key_pair(tmp_path / "keys" / "plant.key", tmp_path / "keys" / "plant.pub")
    return pair.private_key, pair.public_key


@pytest.fixture
def signed(trained_bundle: Path, tmp_path: Path, keys: tuple[Path, Path]) -> Path:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    sign_bundle(bundle, keys[0])
    return bundle


def test_a_signed_bundle_loads_with_its_public_key(signed: Path, keys: tuple[Path, Path]) -> None:
    bundle = Bundle.load(signed, public_key=keys[1])
    assert bundle.kind == "model"
    assert Predictor.from_bundle(signed, public_key=keys[1]).bundle.files == bundle.files
    assert stat.S_IMODE(keys[0].stat().st_mode) == 0o600


def test_re_hashing_an_edited_file_no_longer_passes(signed: Path, keys: tuple[Path, Path]) -> None:
    edit_json(signed, "thresholds.json", lambda t: t.update(failure_probability=[0.0, 0.0]))  # re-hashed
    Bundle.load(signed)  # the checksums alone cannot tell
    with pytest.raises(SigningError, match=r"does not match bundle\.json"):
        Bundle.load(signed, public_key=keys[1])


def test_another_key_an_unsigned_and_a_damaged_signature_are_refused(
    signed: Path, trained_bundle: Path, tmp_path: Path
) -> None:
    other = generate_key_pair(tmp_path / "other.key", tmp_path / "other.pub")
    with pytest.raises(SigningError, match=f"not by the given key '{other.key_id}'"):
        Bundle.load(signed, public_key=other.public_key)
    with pytest.raises(SigningError, match="not signed"):
        Bundle.load(trained_bundle, public_key=other.public_key)
    document = json.loads((signed / SIGNATURE_FILE).read_text())
    document["signature"] = "not base64!"
    (signed / SIGNATURE_FILE).write_text(json.dumps(document))
    with pytest.raises(SigningError, match="does not match"):
        Bundle.load(signed, public_key=tmp_path / "keys" / "plant.pub")


def test_keys_are_never_written_over_and_wrong_key_files_are_named(
    keys: tuple[Path, Path], trained_bundle: Path, tmp_path: Path
) -> None:
    private = keys[0]
    before = private.read_bytes()
    with pytest.raises(ConfigError, match="never writes over a key"):
        generate_key_pair(private, tmp_path / "new.pub")
    assert private.read_bytes() == before and not (tmp_path / "new.pub").exists()
    with pytest.raises(SigningError, match="not a PEM public key"):
        Bundle.load(trained_bundle, public_key=private)  # the private key given where the public one goes
    with pytest.raises(SigningError, match="cannot read the key"):
        sign_bundle(tmp_path, tmp_path / "missing.key")


def test_a_bundle_that_fails_verification_is_never_signed(
    trained_bundle: Path, tmp_path: Path, keys: tuple[Path, Path]
) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    edit_json(bundle, "config.json", lambda c: c["model"].update(dropout=0.0), rehashed=False)
    with pytest.raises(BundleError, match="checksum differs"):
        sign_bundle(bundle, keys[0])
    assert not (bundle / SIGNATURE_FILE).exists()


@pytest.mark.slow
def test_export_removes_the_signature_it_invalidates(
    signed: Path, keys: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    from omnimaint.inference.export import export_bundle

    with caplog.at_level(logging.WARNING):
        export_bundle(signed)
    assert not (signed / SIGNATURE_FILE).exists()
    assert "sign the bundle again" in caplog.text
    sign_bundle(signed, keys[0])
    Bundle.load(signed, public_key=keys[1])


def test_the_cli_signs_and_verifies(trained_bundle: Path, tmp_path: Path) -> None:
    bundle = copy_bundle(trained_bundle, tmp_path / "bundle")
    made = run_cli("keygen", tmp_path / "gateway")
    assert made.exit_code == 0, made.output
    assert run_cli("sign", bundle, "--key", tmp_path / "gateway.key").exit_code == 0
    verified = run_cli("verify", bundle, "--public-key", tmp_path / "gateway.pub")
    assert verified.exit_code == 0 and "5 files verified, signed by" in verified.output, verified.output

    # Refusals: one line, nothing changed.
    edit_json(bundle, "metrics.json", lambda m: m.update(note="edited"))
    before = Snapshot.of(tmp_path)
    result = run_cli("verify", bundle, "--public-key", tmp_path / "gateway.pub")
    assert_refused(result, before, SIGNATURE_FILE, "does not match bundle.json")
    result = run_cli(
        "evaluate", bundle, tmp_path / "data", "--out", tmp_path / "ev", "--public-key", tmp_path / "gateway.pub"
    )
    assert_refused(result, before, "does not match bundle.json")
    assert_refused(run_cli("keygen", tmp_path / "gateway"), before, "gateway.key", "never writes over a key")
    assert_refused(run_cli("sign", bundle, "--key", tmp_path / "gateway.pub"), before, "gateway.pub", "private key")
