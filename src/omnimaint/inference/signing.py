"""Ed25519 signatures of bundles, for deployment to edge gateways.

``bundle.json`` holds the SHA-256 of every other file of a bundle, so a signature over its exact bytes
vouches for the whole bundle: a gateway that holds the public key loads a bundle only if its
``bundle.json`` carries a valid signature and every file matches its checksum. Re-hashing an edited file,
which passes the checksums, no longer passes the signature. The signature is detached, in
``bundle.json.sig`` beside ``bundle.json``::

    {"format": "omnimaint-bundle-signature", "version": 1, "algorithm": "ed25519",
     "key_id": "<first 16 hex digits of SHA-256 of the raw public key>", "signature": "<base64>"}

Keys are PEM files (PKCS #8 private key, written readable by its owner only; SubjectPublicKeyInfo public
key), as ``openssl pkey`` reads them. Needs the ``cryptography`` package (``pip install omnimaint[signing]``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnimaint.errors import ConfigError
from omnimaint.inference.bundle_files import MANIFEST_FILE, SIGNATURE_FILE, BundleError, BundleFolder, parse_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

logger = logging.getLogger(__name__)

SIGNATURE_FORMAT = "omnimaint-bundle-signature"
SIGNATURE_VERSION = 1


class SigningError(BundleError):
    """A key or a signature is missing, unreadable, or does not match."""


@dataclass(frozen=True)
class KeyPair:
    """Where :func:`generate_key_pair` wrote the keys, and the key's id."""

    private_key: Path
    public_key: Path
    key_id: str


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise ConfigError(
            "signing bundles needs the 'cryptography' package: pip install 'omnimaint[signing]'"
        ) from None
    return serialization


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key: names a key in messages."""
    serialization = _crypto()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_key_pair(private_key: Path, public_key: Path) -> KeyPair:
    """Create an Ed25519 key pair; the private key file is readable by its owner only.

    Raises:
        ConfigError: if either file exists (a key is never written over) or cannot be created.
    """
    serialization = _crypto()
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


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the key ({exc.strerror})") from exc


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a PEM Ed25519 private key.

    Raises:
        SigningError: if the file is missing or is not an unencrypted Ed25519 private key.
    """
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(_read_key(path), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not an unencrypted PEM private key (made by omnimaint keygen)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{path}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM Ed25519 public key.

    Raises:
        SigningError: if the file is missing or is not an Ed25519 public key.
    """
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(_read_key(path))
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not a PEM public key (the .pub file made by omnimaint keygen)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 public key")
    return key


def sign_bundle(path: str | Path, private_key: Path) -> str:
    """Verify a bundle completely, then sign the exact bytes of its ``bundle.json``.

    Returns:
        The id of the signing key.

    Raises:
        BundleError: if the bundle fails verification (a bundle is never signed unchecked).
        SigningError: if the key cannot be read.
    """
    from omnimaint.inference.bundle import Bundle

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


def verify_signature(folder: BundleFolder, public_key: Ed25519PublicKey | Path) -> str:
    """Check the signature of the ``bundle.json`` bytes that ``folder`` parsed.

    Returns:
        The id of the key that signed it.

    Raises:
        SigningError: if the bundle is unsigned, the signature file is invalid, or the signature was not
            made by ``public_key`` over these exact bytes.
    """
    from cryptography.exceptions import InvalidSignature

    key = load_public_key(public_key) if isinstance(public_key, Path) else public_key
    expected_id = key_id(key)
    where = folder.path / SIGNATURE_FILE
    data = folder.read_signature()
    if data is None:
        raise SigningError(f"{folder.path}: not signed (no {SIGNATURE_FILE}); sign it with omnimaint sign")
    document = parse_json(data, where)
    if not isinstance(document, dict) or document.get("format") != SIGNATURE_FORMAT:
        raise SigningError(f"{where}: not an omnimaint bundle signature")
    if document.get("version") != SIGNATURE_VERSION or document.get("algorithm") != "ed25519":
        raise SigningError(
            f"{where}: signature version {document.get('version')!r} / algorithm {document.get('algorithm')!r} "
            f"is unknown (this omnimaint checks version {SIGNATURE_VERSION}, ed25519)"
        )
    if document.get("key_id") != expected_id:
        raise SigningError(f"{where}: signed by key {document.get('key_id')!r}, not by the given key {expected_id!r}")
    try:
        signature = base64.b64decode(str(document.get("signature")), validate=True)
        key.verify(signature, folder.manifest_bytes)
    except (binascii.Error, InvalidSignature):
        raise SigningError(
            f"{where}: the signature does not match bundle.json (the bundle was changed after it was signed)"
        ) from None
    return expected_id
