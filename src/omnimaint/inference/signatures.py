"""Bundle signatures as a gateway checks them: the signature file, Ed25519 public keys, the check.

``bundle.json`` holds the SHA-256 of every other file of a bundle, so a signature over its exact bytes
vouches for the whole bundle: a gateway that holds the public key loads a bundle only if its
``bundle.json`` carries a valid signature and every file matches its checksum. Re-hashing an edited file,
which passes the checksums, no longer passes the signature. The signature is detached, in
``bundle.json.sig`` beside ``bundle.json``::

    {"format": "omnimaint-bundle-signature", "version": 1, "algorithm": "ed25519",
     "key_id": "<first 16 hex digits of SHA-256 of the raw public key>", "signature": "<base64>"}

Public keys are PEM files (SubjectPublicKeyInfo), as ``openssl pkey`` reads them. Making keys and
signing is :mod:`omnimaint.inference.signing`, which builds on this module and on
:class:`~omnimaint.inference.bundle.Bundle` (which loads through :func:`verify_signature`). Needs the
``cryptography`` package (``pip install omnimaint[signing]``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnimaint.errors import ConfigError
from omnimaint.inference.bundle_files import SIGNATURE_FILE, BundleError, BundleFolder, parse_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_FORMAT = "omnimaint-bundle-signature"
SIGNATURE_VERSION = 1


class SigningError(BundleError):
    """A key or a signature is missing, unreadable, or does not match."""


def key_serialization() -> Any:
    """The ``cryptography`` serialization module, imported only when keys are used.

    Raises:
        ConfigError: saying how to install it, if ``cryptography`` is missing.
    """
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise ConfigError(
            "signing bundles needs the 'cryptography' package: pip install 'omnimaint[signing]'"
        ) from None
    return serialization


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key: names a key in messages."""
    serialization = key_serialization()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def read_key_file(path: Path) -> bytes:
    """The bytes of a key file.

    Raises:
        SigningError: if the file cannot be read.
    """
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SigningError(f"{path}: cannot read the key ({exc.strerror})") from exc


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM Ed25519 public key.

    Raises:
        SigningError: if the file is missing or is not an Ed25519 public key.
    """
    serialization = key_serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(read_key_file(path))
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{path}: not a PEM public key (the .pub file made by omnimaint keygen)") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{path}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 public key")
    return key


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
