"""The model bundle (DESIGN.md §5): one folder that evaluation, the Predictor, export and the service load.

Layout::

    bundle.json          format, version, omnimaint/torch versions, SHA-256 of every other file
    config.json          architecture (ModelConfig) and WindowSpec
    preprocessors.json   fitted preprocessing (vocabularies, normalisation, tokenizer)
    thresholds.json      calibrated alert thresholds
    metrics.json         metrics measured when the bundle was made
    model.safetensors    weights
    model.onnx           optional ONNX export (and model.int8.onnx, quantised)

Loading never unpickles: weights come from safetensors, everything else is JSON. A bundle whose files
do not match their recorded checksums, or whose format version is unknown, is refused.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from safetensors.torch import load_file, save_file

from omnimaint import __version__
from omnimaint.atomic import staging_path, swap_into_place
from omnimaint.data.dataset import file_sha256
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import OmnimaintError, describe_validation_error
from omnimaint.models.config import ModelConfig
from omnimaint.models.omni import OmniModel
from omnimaint.models.preprocessing import PreprocessorState

logger = logging.getLogger(__name__)

BUNDLE_FORMAT = "omnimaint-bundle"
BUNDLE_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"


class BundleError(OmnimaintError):
    """A bundle is missing, tampered with, or of an unknown version."""


class Thresholds(BaseModel):
    """Calibrated alert thresholds.

    Attributes:
        horizons_hours: The failure-within-horizon horizons, in hours.
        failure_probability: Per horizon, alert when P(failure within h) >= this.
        target_false_alarms_per_asset_day: The validation false-alarm rate they were calibrated to.
        anomaly_score: Alert on anomaly score >= this (its 99th percentile on healthy training windows).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizons_hours: tuple[float, ...] = ()
    failure_probability: tuple[float, ...] = ()
    target_false_alarms_per_asset_day: float | None = None
    anomaly_score: float | None = None


class _BundleConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["model", "pretrained"]
    model: ModelConfig
    window: WindowSpec


@dataclass
class Bundle:
    """A trained (or pretrained) model with everything needed to use it.

    Attributes:
        kind: ``model`` (fine-tuned, all heads) or ``pretrained`` (self-supervised encoders only).
        model_config: Architecture.
        window: Window spec of its samples.
        preprocessor: Fitted preprocessing.
        state_dict: Weights.
        thresholds: Alert thresholds.
        metrics: Metrics measured when it was made.
        path: Folder it was loaded from (``None`` before saving).
    """

    kind: Literal["model", "pretrained"]
    model_config: ModelConfig
    window: WindowSpec
    preprocessor: PreprocessorState
    state_dict: dict[str, torch.Tensor]
    thresholds: Thresholds = field(default_factory=Thresholds)
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def build_model(self) -> OmniModel:
        """The model with the bundle's weights, in eval mode."""
        model = OmniModel(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.eval()

    def save(self, path: str | Path, *, overwrite: bool = False, extra_files: dict[str, Path] | None = None) -> Path:
        """Write the bundle atomically (files, then checksums, then rename into place).

        Args:
            path: Bundle folder.
            overwrite: Replace an existing bundle.
            extra_files: More files to include by name (e.g. ONNX exports), copied and checksummed.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = staging_path(target)
        staging.mkdir()
        config = _BundleConfig(kind=self.kind, model=self.model_config, window=self.window)
        _write_json(staging / "config.json", config.model_dump(mode="json"))
        _write_json(staging / "preprocessors.json", self.preprocessor.model_dump(mode="json"))
        _write_json(staging / "thresholds.json", self.thresholds.model_dump(mode="json"))
        _write_json(staging / "metrics.json", self.metrics)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict.items()}
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": BUNDLE_FORMAT})
        for name, source in (extra_files or {}).items():
            (staging / name).write_bytes(Path(source).read_bytes())
        files = {p.name: file_sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "omnimaint_version": __version__,
            "torch_version": torch.__version__,
            "files": files,
        }
        _write_json(staging / "bundle.json", manifest)
        swap_into_place(staging, target, overwrite=overwrite)
        self.path = target
        logger.info("saved %s bundle to %s", self.kind, target)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        """Load and verify a bundle.

        Raises:
            BundleError: if files are missing or changed, or the format or version is unknown.
        """
        folder = Path(path)
        verify_bundle(folder)
        try:
            config = _BundleConfig.model_validate(_read_json(folder / "config.json"))
            preprocessor = PreprocessorState.model_validate(_read_json(folder / "preprocessors.json"))
            thresholds = Thresholds.model_validate(_read_json(folder / "thresholds.json"))
        except ValidationError as exc:
            raise BundleError(f"{folder}: invalid {describe_validation_error(exc)}") from exc
        return cls(
            kind=config.kind,
            model_config=config.model,
            window=config.window,
            preprocessor=preprocessor,
            state_dict=load_file(str(folder / WEIGHTS_FILE)),
            thresholds=thresholds,
            metrics=_read_json(folder / "metrics.json"),
            path=folder,
        )


def verify_bundle(folder: Path) -> dict[str, Any]:
    """Check ``bundle.json``: known format and version, every listed file present with its checksum.

    Returns:
        The parsed ``bundle.json``.
    """
    if not (folder / "bundle.json").is_file():
        raise BundleError(f"{folder}: not a model bundle (no bundle.json)")
    manifest = _read_json(folder / "bundle.json")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{folder}/bundle.json: format {manifest.get('format')!r} is not {BUNDLE_FORMAT!r}")
    if manifest.get("version") != BUNDLE_VERSION:
        raise BundleError(
            f"{folder}/bundle.json: bundle version {manifest.get('version')!r} is unknown to this omnimaint "
            f"(reads version {BUNDLE_VERSION})"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or WEIGHTS_FILE not in files:
        raise BundleError(f"{folder}/bundle.json: no file list with {WEIGHTS_FILE}")
    for name, digest in files.items():
        file = folder / name
        if not file.is_file():
            raise BundleError(f"{file}: listed in bundle.json but missing")
        if file_sha256(file) != digest:
            raise BundleError(f"{file}: checksum differs from bundle.json (the bundle was modified or corrupted)")
    return manifest


def _write_json(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False, default=_jsonable) + "\n", encoding="utf-8")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: cannot read ({exc})") from exc
