"""``bundle.json`` and the files it lists: plain names, SHA-256 checksums, and reads that go through them.

A bundle is read only through its manifest. A file is opened only when ``bundle.json`` lists it under a
plain name (letters, digits, ``.``, ``_``, ``-``: no folders, no ``..``, no absolute paths); it must be a
regular file in the bundle's own folder (a symbolic link leading elsewhere is refused, a FIFO or device
never blocks the reader); and the bytes that are used are the bytes whose checksum was compared, so a
file swapped after verification is never used (no time-of-check/time-of-use gap). JSON is parsed
strictly: no ``NaN``/``Infinity``, no duplicate keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnimaint.errors import OmnimaintError

BUNDLE_FORMAT = "omnimaint-bundle"
BUNDLE_VERSION = 1
MANIFEST_FILE = "bundle.json"
SIGNATURE_FILE = "bundle.json.sig"

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BLOCK = 1 << 20
# O_NOFOLLOW: the final component was checked not to leave the folder and must not become a link now;
# O_NONBLOCK: opening a FIFO planted under a listed name returns at once (fstat then refuses it).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


class BundleError(OmnimaintError):
    """A bundle is missing, tampered with, inconsistent, or of an unknown version."""


@dataclass(frozen=True)
class BundleManifest:
    """The parsed ``bundle.json``.

    Attributes:
        omnimaint_version: omnimaint version that wrote the bundle.
        torch_version: torch version that wrote the bundle.
        files: ``{plain file name: SHA-256 hex digest}`` of every file of the bundle but ``bundle.json``.
    """

    omnimaint_version: str
    torch_version: str
    files: dict[str, str]


def check_plain_name(name: object, where: str) -> str:
    """``name`` if it is a plain file name that stays in the bundle's folder.

    Raises:
        BundleError: for a path (separators, ``..``), an absolute or hidden name, or odd characters.
    """
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name) or name in (".", ".."):
        raise BundleError(
            f"{where}: file name {name!r} is not a plain file name of the bundle "
            "(letters, digits, '.', '_', '-'; no folders, no '..', no absolute paths)"
        )
    return name


def parse_json(data: bytes, where: Path) -> Any:
    """Parse strict JSON: UTF-8, finite numbers only, no duplicate keys.

    Raises:
        BundleError: naming the file and the first problem.
    """

    def no_constant(token: str) -> Any:
        raise ValueError(f"{token} is not a JSON number (numbers must be finite)")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        duplicated = next((key for key in keys if keys.count(key) > 1), None)
        if duplicated is not None:
            raise ValueError(f"key {duplicated!r} appears twice")
        return dict(pairs)

    try:
        return json.loads(data.decode("utf-8"), parse_constant=no_constant, object_pairs_hook=unique_keys)
    except UnicodeDecodeError as exc:
        raise BundleError(f"{where}: not UTF-8 text (byte {exc.start}); the file is corrupted") from exc
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise BundleError(f"{where}: not valid JSON ({exc})") from exc


def _read(folder: Path, name: str, *, keep: bool) -> tuple[str, bytes | None]:
    """SHA-256 of ``folder/name`` (and its bytes when ``keep``), read as a regular file in ``folder``."""
    path = folder / name
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        if path.is_symlink():
            raise BundleError(f"{path}: a symbolic link to a missing file") from None
        raise BundleError(f"{path}: listed in bundle.json but missing") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise BundleError(f"{path}: cannot be read ({exc})") from exc
    if resolved.parent != folder.resolve():
        raise BundleError(
            f"{path}: a symbolic link to {resolved}, outside the bundle's folder; a bundle's files must lie in it"
        )
    try:
        descriptor = os.open(resolved, _OPEN_FLAGS)
    except OSError as exc:
        raise BundleError(f"{path}: cannot be read ({exc.strerror})") from exc
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise BundleError(f"{path}: {kind}; a bundle's files are regular files")
        digest = hashlib.sha256()
        parts: list[bytes] = []
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            if keep:
                parts.append(block)
    return digest.hexdigest(), b"".join(parts) if keep else None


def _manifest(data: Any, where: Path) -> BundleManifest:
    if not isinstance(data, dict):
        raise BundleError(f"{where}: not a bundle manifest (a JSON object is expected)")
    if data.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{where}: format {data.get('format')!r} is not {BUNDLE_FORMAT!r}")
    if data.get("version") != BUNDLE_VERSION or isinstance(data.get("version"), bool):
        raise BundleError(
            f"{where}: bundle version {data.get('version')!r} is unknown to this omnimaint "
            f"(reads version {BUNDLE_VERSION}); use the omnimaint version that wrote it"
        )
    unknown = sorted(set(data) - {"format", "version", "omnimaint_version", "torch_version", "files"})
    if unknown:
        raise BundleError(f"{where}: unknown field {unknown[0]!r} in a version {BUNDLE_VERSION} bundle")
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{where}: 'files' must map each file name of the bundle to its SHA-256")
    for name, digest in files.items():
        check_plain_name(name, str(where))
        if name == MANIFEST_FILE:
            raise BundleError(f"{where}: lists itself; bundle.json holds the other files' checksums")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise BundleError(f"{where}: the checksum of {name!r} is not a SHA-256 hex digest: {digest!r}")
    versions = {key: data.get(key) for key in ("omnimaint_version", "torch_version")}
    for key, value in versions.items():
        if not isinstance(value, str):
            raise BundleError(f"{where}: '{key}' must be a version string, not {value!r}")
    return BundleManifest(str(versions["omnimaint_version"]), str(versions["torch_version"]), dict(files))


@dataclass(frozen=True)
class BundleFolder:
    """A bundle folder opened through its ``bundle.json``; every other read goes through a checksum.

    Attributes:
        path: The folder.
        manifest: The parsed ``bundle.json``.
        manifest_bytes: The exact bytes of ``bundle.json`` that were parsed (what a signature covers).
    """

    path: Path
    manifest: BundleManifest
    manifest_bytes: bytes

    @classmethod
    def open(cls, path: str | Path) -> BundleFolder:
        """Read and check ``bundle.json`` (known format and version, plain names, SHA-256 digests).

        Raises:
            BundleError: if the folder is not a bundle or its manifest is invalid.
        """
        folder = Path(path)
        if not folder.exists():
            raise BundleError(f"{folder}: no such bundle folder")
        if not folder.is_dir():
            raise BundleError(f"{folder}: not a model bundle (a bundle is a folder holding bundle.json)")
        if not os.path.lexists(folder / MANIFEST_FILE):
            nested = folder / "bundle" / MANIFEST_FILE
            hint = f"; did you mean {nested.parent}?" if nested.is_file() else ""
            raise BundleError(f"{folder}: not a model bundle (no {MANIFEST_FILE}){hint}")
        _, data = _read(folder, MANIFEST_FILE, keep=True)
        assert data is not None
        manifest = _manifest(parse_json(data, folder / MANIFEST_FILE), folder / MANIFEST_FILE)
        return cls(folder, manifest, data)

    def require(self, *names: str) -> None:
        """Refuse a bundle whose ``bundle.json`` does not list every one of ``names``."""
        for name in names:
            if name not in self.manifest.files:
                raise BundleError(
                    f"{self.path / MANIFEST_FILE}: does not list {name}, so the bundle cannot be verified "
                    "(an unlisted file is never loaded)"
                )

    def read(self, name: str) -> bytes:
        """The bytes of a listed file, after comparing their checksum with ``bundle.json``.

        Raises:
            BundleError: if ``name`` is not listed, is missing, leaves the folder, or differs.
        """
        self.require(name)
        digest, data = _read(self.path, name, keep=True)
        self._compare(name, digest)
        assert data is not None
        return data

    def check(self, name: str) -> None:
        """Compare a listed file's checksum with ``bundle.json`` without keeping its bytes."""
        self.require(name)
        digest, _ = _read(self.path, name, keep=False)
        self._compare(name, digest)

    def read_signature(self) -> bytes | None:
        """The bytes of the detached signature of ``bundle.json`` (the one file beside it that it cannot
        list), read with the same care as a listed file; ``None`` when the bundle is unsigned."""
        if not os.path.lexists(self.path / SIGNATURE_FILE):
            return None
        _, data = _read(self.path, SIGNATURE_FILE, keep=True)
        return data

    def _compare(self, name: str, digest: str) -> None:
        if digest != self.manifest.files[name]:
            raise BundleError(
                f"{self.path / name}: checksum differs from bundle.json (the bundle was modified or corrupted)"
            )
