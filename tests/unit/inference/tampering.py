"""Ways to break a bundle, as an attacker or an editor by hand would: edit a file and re-hash bundle.json."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def copy_bundle(source: Path, target: Path) -> Path:
    """A private copy of ``source`` to tamper with (symbolic links copied as links)."""
    return Path(shutil.copytree(source, target, symlinks=True))


def manifest(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))


def write_manifest(bundle: Path, content: dict[str, Any]) -> None:
    (bundle / "bundle.json").write_text(json.dumps(content, indent=2), encoding="utf-8")


def rehash(bundle: Path) -> None:
    """Record the current SHA-256 of every listed file that exists, as a tamperer covering their tracks."""
    content = manifest(bundle)
    for name in content["files"]:
        path = bundle / name
        if path.is_file():
            content["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
    write_manifest(bundle, content)


def edit_json(bundle: Path, name: str, change: Callable[[Any], Any], *, rehashed: bool = True) -> None:
    """Apply ``change`` to the parsed ``name`` (it may edit in place or return a new value) and write it back
    (NaN written as the bare token ``NaN``, as Python's json module does); then re-hash unless told not to."""
    path = bundle / name
    content = json.loads(path.read_text(encoding="utf-8"))
    changed = change(content)
    path.write_text(json.dumps(content if changed is None else changed, indent=2), encoding="utf-8")
    if rehashed:
        rehash(bundle)
