"""Making bundle signatures: Ed25519 key pairs and signing a verified bundle.

A signature covers the exact bytes of ``bundle.json`` (which holds the SHA-256 of every other file); its
file format, public keys and the check a gateway makes are :mod:`omnimaint.inference.signatures`. Private
keys are PEM files (PKCS #8, written readable by their owner only), as ``openssl pkey`` reads them. Needs
the ``cryptography`` package (``pip install omnimaint[signing]``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from omnimaint.errors import ConfigError
from omnimaint.inference.bundle_files import MANIFEST_FILE, SIGNATURE_FILE, BundleError, BundleFolder
from omnimaint.inference.signatures import (
    SIGNATURE_FORMAT,
    SIGNATURE_VERSION,
    SigningError,
    key_id,
    key_serialization,
    read_key_file,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyPair:
    """Where :func:`generate_key_pair` wrote the keys, and the key's id."""

    private_key: Path
    public_key: Path
    key_id: str


def generate_key_pair(private_key: Path, public_key: Path) -> KeyPair:
    """Create an Ed25519 key pair; the private key file is readable by its owner only.

    Raises:
        ConfigError: if either file exists (a key is never written over) or cannot be created.
    """
    serialization = key_serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for path in (private_key, public_key):
        if os.path.lexists(path):
            raise ConfigError(f"{path}: already exists; omnimaint never writes over a key (choose another name)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _create(private_key, private_pem, mode=0o600)
    try:
        _create(public_key, public_pem, mode=0o644)
    except ConfigError:
        private_key.unlink()
        raise
    return KeyPair(private_key, public_key, key_id(key.public_key()))


def _create(path: Path, content: bytes, *, mode: int) -> None:
    """Write a new file (never an existing one) with ``mode``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the key file ({exc.strerror})") from exc
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key.

    Raises:
        SigningError: if the file is missing or is not an unencrypted Ed25519 private key.
    """
    serialization = key_serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(read_key_file(path), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not an unencrypted PEM private key (made by omnimaint keygen)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 private key")
    return key


def sign_bundle(path: str | Path, private_key: Path) -> str:
    """Verify a bundle completely, then sign the exact bytes of its ``bundle.json``.

    Returns:
        The id of the signing key.

    Raises:
        BundleError: if the bundle fails verification (a bundle is never signed unchecked).
        SigningError: if the key cannot be read.
    """
    from omnimaint.inference.bundle import Bundle  # torch, which making keys does not need

    key = load_private_key(private_key)
    bundle = Bundle.load(path)  # every file against its checksum, the parts against each other
    folder = BundleFolder.open(path)
    if folder.manifest.files != bundle.files:
        raise BundleError(f"{folder.path / MANIFEST_FILE}: changed while the bundle was being verified")
    signature = key.sign(folder.manifest_bytes)
    document = {
        "format": SIGNATURE_FORMAT,
        "version": SIGNATURE_VERSION,
        "algorithm": "ed25519",
        "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    staging = folder.path / f".{SIGNATURE_FILE}.partial-{os.getpid()}"
    staging.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    staging.replace(folder.path / SIGNATURE_FILE)  # a reader sees the old signature or the new one
    logger.info("signed %s with key %s", folder.path, document["key_id"])
    return str(document["key_id"])
