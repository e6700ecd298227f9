"""The model bundle (DESIGN.md §5): one folder that evaluation, the Predictor, export and the service load.

Layout::

    bundle.json          format, version, omnimaint/torch versions, SHA-256 of every other file
    config.json          architecture (ModelConfig) and WindowSpec
    preprocessors.json   fitted preprocessing (vocabularies, normalisation, tokenizer)
    thresholds.json      calibrated alert thresholds
    metrics.json         metrics measured when the bundle was made
    model.safetensors    weights
    model.onnx           optional ONNX export (and model.int8.onnx, quantised)
    frame_anomaly.json   optional PatchCore frame anomaly: settings (and frame_anomaly.safetensors: backbone,
                         memory banks), read by :mod:`omnimaint.inference.frame_anomaly`

Loading never unpickles: weights come from safetensors, everything else is JSON. Every file read is
listed in ``bundle.json`` under a plain name and read from the bytes whose checksum was compared
(:mod:`omnimaint.inference.bundle_files`); an unlisted file is never loaded. The parts are validated
and compared with each other (:mod:`omnimaint.inference.bundle_checks`) before any weights reach torch.
A bundle that fails any of this, or whose format version is unknown, is refused with a one-line reason.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from omnimaint import __version__
from omnimaint.atomic import BUNDLE, staged_folder
from omnimaint.data.dataset import file_sha256
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import describe_validation_error
from omnimaint.inference.bundle_checks import (
    architecture_shapes,
    check_architecture,
    check_horizons,
    check_preprocessors,
    check_state_dict,
)
from omnimaint.inference.bundle_files import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    MANIFEST_FILE,
    BundleError,
    BundleFolder,
    check_plain_name,
    parse_json,
)
from omnimaint.inference.signatures import verify_signature
from omnimaint.models.config import ModelConfig
from omnimaint.models.omni import HealthModel, build_model
from omnimaint.models.preprocessing import PreprocessorState

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
PREPROCESSORS_FILE = "preprocessors.json"
THRESHOLDS_FILE = "thresholds.json"
METRICS_FILE = "metrics.json"
WEIGHTS_FILE = "model.safetensors"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
CORE_FILES = (CONFIG_FILE, PREPROCESSORS_FILE, THRESHOLDS_FILE, METRICS_FILE, WEIGHTS_FILE)

# The calibrator's "never alert" threshold lies just above the highest validation score, which is one
# rounding step above 1 when that score is a saturated probability of exactly 1.
_HIGHEST_THRESHOLD = math.nextafter(1.0, math.inf)

_FiniteNonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Thresholds(BaseModel):
    """Calibrated alert thresholds.

    Attributes:
        horizons_hours: The failure-within-horizon horizons, in hours (those of the bundle's window spec).
        failure_probability: Per horizon, alert when P(failure within h) >= this (a probability in [0, 1]).
        target_false_alarms_per_asset_day: The validation false-alarm rate they were calibrated to.
        anomaly_score: Alert on anomaly score >= this (its 99th percentile on healthy training windows; a
            Mahalanobis distance, so non-negative).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizons_hours: tuple[Annotated[float, Field(gt=0, allow_inf_nan=False)], ...] = ()
    failure_probability: tuple[float, ...] = ()
    target_false_alarms_per_asset_day: _FiniteNonNegative | None = None
    anomaly_score: _FiniteNonNegative | None = None

    @field_validator("failure_probability")
    @classmethod
    def _probabilities(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        for value in values:
            if not 0.0 <= value <= _HIGHEST_THRESHOLD:  # NaN fails both comparisons
                raise ValueError(f"alert thresholds are probabilities in [0, 1], got {value!r}")
        return values

    @model_validator(mode="after")
    def _one_per_horizon(self) -> Thresholds:
        if self.failure_probability and len(self.failure_probability) != len(self.horizons_hours):
            raise ValueError(
                f"{len(self.failure_probability)} failure_probability thresholds for "
                f"{len(self.horizons_hours)} horizons_hours"
            )
        return self


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
        files: Checksums of the files in ``path`` (from ``bundle.json``), through which
            :meth:`read_file` reads them later.
    """

    kind: Literal["model", "pretrained"]
    model_config: ModelConfig
    window: WindowSpec
    preprocessor: PreprocessorState
    state_dict: dict[str, torch.Tensor]
    thresholds: Thresholds = field(default_factory=Thresholds)
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    files: dict[str, str] = field(default_factory=dict)

    def build_model(self) -> HealthModel:
        """The model with the bundle's weights, in eval mode (an ensemble when ``model_config.ensemble > 1``).

        Raises:
            BundleError: if the weights' names or shapes differ from the architecture.
        """
        model = build_model(self.model_config)
        expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
        check_state_dict(expected, self.state_dict, self.path / WEIGHTS_FILE if self.path else "the weights")
        model.load_state_dict(self.state_dict)
        return model.eval()

    def read_file(self, name: str) -> bytes:
        """The bytes of a file of the loaded bundle, checked against the checksum it was loaded with.

        Raises:
            BundleError: if the bundle has no folder, does not list ``name``, or the file changed.
        """
        if self.path is None:
            raise BundleError(f"the bundle has not been saved, so it has no {name}")
        folder = BundleFolder.open(self.path)
        if folder.manifest.files != self.files:
            raise BundleError(f"{self.path / MANIFEST_FILE}: changed since the bundle was loaded; load it again")
        return folder.read(name)

    def save(self, path: str | Path, *, overwrite: bool = False, extra_files: dict[str, Path] | None = None) -> Path:
        """Write the bundle atomically (files, then checksums, then rename into place).

        Args:
            path: Bundle folder.
            overwrite: Replace a bundle at ``path``; anything else there is never replaced.
            extra_files: More files to include by name (e.g. ONNX exports), copied and checksummed.

        Raises:
            BundleError: if the bundle's parts do not belong together (it would be refused on loading).
            OutputError: if ``path`` holds anything but nothing, an empty folder or (with ``overwrite``) a
                bundle (see :func:`omnimaint.atomic.check_target`).
        """
        config = _BundleConfig(kind=self.kind, model=self.model_config, window=self.window)
        thresholds = _validated(Thresholds, self.thresholds.model_dump(), "thresholds")
        self._check_parts(config, thresholds, Path(path))
        extras = {check_plain_name(name, "extra_files"): Path(source) for name, source in (extra_files or {}).items()}
        clash = sorted(set(extras) & {*CORE_FILES, MANIFEST_FILE})
        if clash:
            raise BundleError(f"extra_files: {clash[0]} is a file of every bundle, not an extra one")
        target = Path(path)
        with staged_folder(target, BUNDLE, overwrite=overwrite) as staging:
            _write_json(staging / CONFIG_FILE, config.model_dump(mode="json"))
            _write_json(staging / PREPROCESSORS_FILE, self.preprocessor.model_dump(mode="json"))
            _write_json(staging / THRESHOLDS_FILE, thresholds.model_dump(mode="json"))
            _write_json(staging / METRICS_FILE, _plain_json(self.metrics))
            tensors = {k: v.detach().contiguous().cpu() for k, v in self.state_dict.items()}
            save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": BUNDLE_FORMAT})
            for name, source in extras.items():
                (staging / name).write_bytes(source.read_bytes())
            files = {p.name: file_sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
            manifest = {
                "format": BUNDLE_FORMAT,
                "version": BUNDLE_VERSION,
                "omnimaint_version": __version__,
                "torch_version": torch.__version__,
                "files": files,
            }
            _write_json(staging / MANIFEST_FILE, manifest)
        self.path = target
        self.files = files
        logger.info("saved %s bundle to %s", self.kind, target)
        return target

    def _check_parts(self, config: _BundleConfig, thresholds: Thresholds, folder: Path) -> None:
        preprocessor = check_preprocessors(self.preprocessor, config.window, folder / PREPROCESSORS_FILE)
        check_architecture(config.model, config.window, preprocessor, folder / CONFIG_FILE)
        if thresholds.horizons_hours or thresholds.failure_probability:
            check_horizons(thresholds.horizons_hours, config.window, folder / THRESHOLDS_FILE)

    @classmethod
    def load(cls, path: str | Path, *, public_key: Path | None = None) -> Bundle:
        """Load and verify a bundle.

        Every file listed in ``bundle.json`` is checked against its checksum; the ones used are parsed
        from the checked bytes, validated, and compared with each other before the weights reach torch.

        Args:
            path: Bundle folder.
            public_key: An Ed25519 public key (PEM file): the bundle must carry a signature by it over
                its ``bundle.json`` (see :mod:`omnimaint.inference.signatures`).

        Raises:
            BundleError: if the folder is not a bundle, a file is unlisted, missing, outside the folder or
                changed, the format or version is unknown, the parts are invalid or do not belong together,
                or (with ``public_key``) the signature is missing or does not match.
        """
        folder = BundleFolder.open(path)
        if public_key is not None:
            verify_signature(folder, public_key)
        folder.require(*CORE_FILES)
        raw = {name: folder.read(name) for name in CORE_FILES}
        for name in sorted(set(folder.manifest.files) - set(CORE_FILES)):
            folder.check(name)
        where = folder.path
        config = _parse(_BundleConfig, raw[CONFIG_FILE], where / CONFIG_FILE)
        preprocessor = _parse(PreprocessorState, raw[PREPROCESSORS_FILE], where / PREPROCESSORS_FILE)
        thresholds = _parse(Thresholds, raw[THRESHOLDS_FILE], where / THRESHOLDS_FILE)
        metrics = parse_json(raw[METRICS_FILE], where / METRICS_FILE)
        if not isinstance(metrics, dict):
            raise BundleError(f"{where / METRICS_FILE}: not a metrics file (a JSON object is expected)")
        bundle = cls(
            kind=config.kind,
            model_config=config.model,
            window=config.window,
            preprocessor=preprocessor,
            state_dict=_weights(raw[WEIGHTS_FILE], where / WEIGHTS_FILE),
            thresholds=thresholds,
            metrics=metrics,
            path=where,
            files=dict(folder.manifest.files),
        )
        bundle._check_parts(config, thresholds, where)
        shapes = architecture_shapes(config.model)
        if shapes is not None:
            check_state_dict(shapes, bundle.state_dict, where / WEIGHTS_FILE)
        return bundle


def verify_bundle(path: str | Path) -> BundleFolder:
    """Check ``bundle.json`` (format, version, names) and every file it lists against its checksum.

    Returns:
        The opened bundle folder.

    Raises:
        BundleError: naming the first file that is missing, outside the folder or changed.
    """
    folder = BundleFolder.open(path)
    for name in folder.manifest.files:
        folder.check(name)
    return folder


def _validated(model: type[Any], data: Any, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BundleError(f"{where}: invalid {describe_validation_error(exc)}") from exc


def _parse(model: type[Any], data: bytes, where: Path) -> Any:
    return _validated(model, parse_json(data, where), str(where))


def _weights(data: bytes, where: Path) -> dict[str, torch.Tensor]:
    try:
        return load_safetensors(data)
    except SafetensorError as exc:
        raise BundleError(f"{where}: not a readable safetensors file ({exc})") from exc


def _plain_json(value: Any) -> Any:
    """``value`` with every non-finite float as ``null`` (JSON has no NaN; an undefined metric is null)."""
    if isinstance(value, dict):
        return {k: _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if hasattr(value, "item"):  # NumPy and torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
