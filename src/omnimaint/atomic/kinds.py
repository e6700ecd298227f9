"""The kinds of folder omnimaint writes, and how each is recognised on disk.

A dataset is recognised by its ``dataset.json``, a model bundle by its ``bundle.json``; every other
output folder carries the marker ``omnimaint.json`` (its kind, the omnimaint version and the creation
time). Manifests are read defensively: one that is missing, a link, too large, unreadable, not JSON or
of another format means "not recognised", never an exception. Folders that earlier versions wrote
without a marker (runs, benchmark results, experiments, which later commands continue) are recognised
by their layout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from omnimaint import __version__

MARKER_FILE = "omnimaint.json"
MARKER_FORMAT = "omnimaint-output"
BUNDLE_FORMAT = "omnimaint-bundle"
BENCH_TITLE = "# omnimaint benchmark results"
_MAX_MANIFEST_BYTES = 64 * 2**20


def read_json(path: Path) -> object:
    """The content of a JSON file, or ``None`` when it is missing, a link, not a regular file, larger
    than 64 MiB, unreadable or not JSON."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_MANIFEST_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None


@dataclass(frozen=True)
class Kind:
    """A kind of folder omnimaint writes.

    Attributes:
        name: Its name in the marker file.
        noun: What it is, in messages ("a model bundle").
        manifest: The file that identifies it: ``dataset.json``, ``bundle.json`` or the marker.
        identify: For a manifest other than the marker, whether its parsed content is omnimaint's.
        advice: What to do when one is already there and the command was not told to replace it.
        legacy: Recognises a folder of this kind written before markers existed (``None``: there are none).
    """

    name: str
    noun: str
    manifest: str = MARKER_FILE
    identify: Callable[[object], bool] | None = field(default=None, compare=False, repr=False)
    advice: str = "use --overwrite to replace it"
    legacy: Callable[[Path], bool] | None = field(default=None, compare=False, repr=False)

    def holds(self, folder: Path) -> bool:
        """Whether ``folder`` (a real folder, not a link) holds an artefact of this kind."""
        manifest = folder / self.manifest
        if os.path.lexists(manifest):
            content = read_json(manifest)
            if self.identify is not None:
                return self.identify(content)
            return _is_marker(content, self.name)
        if self.legacy is None:
            return False
        try:
            return self.legacy(folder)
        except OSError:
            return False


def write_marker(folder: Path, kind: Kind) -> None:
    """Write ``folder/omnimaint.json`` saying that omnimaint made ``folder`` as an artefact of ``kind``."""
    content = {
        "format": MARKER_FORMAT,
        "kind": kind.name,
        "omnimaint_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    partial = folder / f".{MARKER_FILE}.{os.getpid()}.tmp"
    partial.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
    partial.replace(folder / MARKER_FILE)


def _is_marker(content: object, kind: str) -> bool:
    return isinstance(content, dict) and content.get("format") == MARKER_FORMAT and content.get("kind") == kind


def _is_dataset_manifest(content: object) -> bool:
    # Other tools write a dataset.json too (nnU-Net does); omnimaint's has these three fields.
    return (
        isinstance(content, dict)
        and type(content.get("schema_version")) is int
        and content.get("timezone") == "UTC"
        and isinstance(content.get("tables"), dict)
    )


def _is_bundle_manifest(content: object) -> bool:
    return isinstance(content, dict) and content.get("format") == BUNDLE_FORMAT


def _real_dirs(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()}


def _legacy_run(bundle_kind: str) -> Callable[[Path], bool]:
    """A run folder from before markers: only ``checkpoints/``, ``logs/``, ``tensorboard/`` and ``bundle/``,
    with checkpoints or a bundle of ``bundle_kind`` (``model`` or ``pretrained``)."""

    def holds(folder: Path) -> bool:
        names = {p.name for p in folder.iterdir()}
        dirs = _real_dirs(folder)
        if not names or names != set(dirs) or not names <= {"checkpoints", "logs", "tensorboard", "bundle"}:
            return False
        if "bundle" in names:
            config = read_json(folder / "bundle" / "config.json")
            return BUNDLE.holds(folder / "bundle") and isinstance(config, dict) and config.get("kind") == bundle_kind
        return "checkpoints" in names

    return holds


def _legacy_bench(folder: Path) -> bool:
    """A results folder from before markers: its ``results.md`` table, or ``tuning.jsonl`` records; or a folder
    that holds nothing but ``datasets/`` of datasets omnimaint imported (where docs/benchmarks.md imports the
    public sets before the first run)."""
    if {p.name for p in folder.iterdir()} == {"datasets"} and "datasets" in _real_dirs(folder):
        imported = list((folder / "datasets").iterdir())
        return bool(imported) and all(p.is_dir() and not p.is_symlink() and DATASET.holds(p) for p in imported)
    results, tuning = folder / "results.md", folder / "tuning.jsonl"
    if results.is_file() and not results.is_symlink():
        with results.open("rb") as handle:
            return handle.readline(200).rstrip(b"\r\n") == BENCH_TITLE.encode()
    if tuning.is_file() and not tuning.is_symlink():
        with tuning.open("rb") as handle:
            try:
                first = json.loads(handle.readline(1 << 20))
            except (ValueError, RecursionError):
                return False
        return isinstance(first, dict) and {"protocol", "method", "settings", "split_seed"} <= set(first)
    return False


def _legacy_experiment(result_keys: set[str], first_run: str) -> Callable[[Path], bool]:
    """An experiment folder from before markers: its ``results.json``, or a finished first run's scores."""

    def holds(folder: Path) -> bool:
        results = read_json(folder / "results.json")
        if isinstance(results, dict) and result_keys <= set(results):
            return True
        return any(folder.glob(f"{first_run}/scores.json")) or any(folder.glob(f"split_*/{first_run}/scores.json"))

    return holds


_RUN_ADVICE = "use --overwrite to replace it, or --resume with one of its checkpoints to continue it"

DATASET = Kind("dataset", "a dataset", manifest="dataset.json", identify=_is_dataset_manifest)
BUNDLE = Kind("bundle", "a model bundle", manifest="bundle.json", identify=_is_bundle_manifest)
PRETRAINING_RUN = Kind(
    "pretraining-run", "a pretraining run folder", advice=_RUN_ADVICE, legacy=_legacy_run("pretrained")
)
TRAINING_RUN = Kind("training-run", "a training run folder", advice=_RUN_ADVICE, legacy=_legacy_run("model"))
EVALUATION = Kind("evaluation", "an evaluation folder")
PROBE = Kind("probe", "a linear-probe folder")
BENCH = Kind("bench", "a benchmark results folder", legacy=_legacy_bench)
ABLATION = Kind(
    "ablation-experiment",
    "a modality-ablation experiment folder",
    legacy=_legacy_experiment({"runs", "masked_at_inference"}, "fused"),
)
LABEL_EFFICIENCY = Kind(
    "label-efficiency-experiment",
    "a label-efficiency experiment folder",
    legacy=_legacy_experiment({"fraction", "scratch", "pretrained"}, "scratch_*"),
)
DEMO = Kind("demo", "a demo folder")
KINDS = (
    DATASET,
    BUNDLE,
    PRETRAINING_RUN,
    TRAINING_RUN,
    EVALUATION,
    PROBE,
    BENCH,
    ABLATION,
    LABEL_EFFICIENCY,
    DEMO,
)


def recognise(folder: Path) -> Kind | None:
    """The kind of omnimaint artefact ``folder`` holds (``None``: none, or ``folder`` is no real folder)."""
    if folder.is_symlink() or not folder.is_dir():
        return None
    return next((kind for kind in KINDS if kind.holds(folder)), None)


def describe(path: Path) -> str:
    """What is at ``path``, in words for a message: "a file", "a model bundle", "a folder of 31 entries …"."""
    if path.is_symlink():
        return f"a symbolic link to {path.readlink()}"
    if not path.exists():
        return "nothing"
    if path.is_file():
        return "a file"
    if not path.is_dir():
        return "a special file"
    kind = recognise(path)
    if kind is not None:
        return kind.noun
    try:
        count = sum(1 for _ in path.iterdir())
    except OSError as exc:
        return f"a folder omnimaint cannot read ({exc.strerror})"
    if count == 0:
        return "an empty folder"
    for name in (MARKER_FILE, "dataset.json", "bundle.json"):
        if os.path.lexists(path / name):
            return f"a folder whose {name} is damaged or not omnimaint's"
    return f"a folder of {count} {'entry' if count == 1 else 'entries'} without an omnimaint manifest"
