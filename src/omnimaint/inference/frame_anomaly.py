"""The frame anomaly component's files in a bundle: ``frame_anomaly.json`` and ``frame_anomaly.safetensors``.

Optional, like a case base: a bundle trained with ``frame_anomaly.method: patchcore`` lists both files in
``bundle.json`` (so they are checksummed, and carried by ``export`` and ``cases add``, as every listed file is);
a bundle without them has no component. The settings are strict JSON, the backbone and memory banks
safetensors: nothing is unpickled. Both are read from the checked bytes (:meth:`Bundle.read_file`), so a file
changed after loading is refused, and a component whose tensors do not fit its settings is refused by name.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from omnimaint.errors import describe_validation_error
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.bundle_files import BUNDLE_FORMAT, BundleError, parse_json
from omnimaint.models.frame_anomaly import FrameAnomalyDetector, FrameAnomalySettings

FRAME_ANOMALY_FILE = "frame_anomaly.json"
FRAME_ANOMALY_WEIGHTS = "frame_anomaly.safetensors"


def frame_anomaly_files(detector: FrameAnomalyDetector, folder: Path) -> dict[str, Path]:
    """Write the component into ``folder``; the files by name, for ``Bundle.save(extra_files=...)``."""
    settings = folder / FRAME_ANOMALY_FILE
    settings.write_text(
        json.dumps(detector.settings.model_dump(mode="json"), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    weights = folder / FRAME_ANOMALY_WEIGHTS
    tensors = {name: t.detach().contiguous().cpu() for name, t in detector.state_dict().items()}
    save_file(tensors, str(weights), metadata={"format": BUNDLE_FORMAT})
    return {FRAME_ANOMALY_FILE: settings, FRAME_ANOMALY_WEIGHTS: weights}


def load_frame_anomaly(bundle: Bundle) -> FrameAnomalyDetector | None:
    """The bundle's frame anomaly component, or ``None`` when it has none.

    Raises:
        BundleError: if only one of its two files is listed, either changed since the bundle was loaded, the
            settings are invalid, or the tensors do not fit them.
    """
    listed = [name for name in (FRAME_ANOMALY_FILE, FRAME_ANOMALY_WEIGHTS) if name in bundle.files]
    if not listed:
        return None
    where = bundle.path if bundle.path is not None else Path()
    if len(listed) == 1:
        missing = FRAME_ANOMALY_WEIGHTS if listed[0] == FRAME_ANOMALY_FILE else FRAME_ANOMALY_FILE
        raise BundleError(f"{where}: bundle.json lists {listed[0]} without {missing}; the frame anomaly needs both")
    try:
        settings = FrameAnomalySettings.model_validate(
            parse_json(bundle.read_file(FRAME_ANOMALY_FILE), where / FRAME_ANOMALY_FILE)
        )
    except ValidationError as exc:
        raise BundleError(f"{where / FRAME_ANOMALY_FILE}: invalid {describe_validation_error(exc)}") from exc
    if settings.cameras != bundle.preprocessor.vocab.cameras:
        raise BundleError(
            f"{where / FRAME_ANOMALY_FILE}: cameras {list(settings.cameras)} differ from the bundle's "
            f"{list(bundle.preprocessor.vocab.cameras)}"
        )
    try:
        tensors = load_safetensors(bundle.read_file(FRAME_ANOMALY_WEIGHTS))
    except SafetensorError as exc:
        raise BundleError(f"{where / FRAME_ANOMALY_WEIGHTS}: not a readable safetensors file ({exc})") from exc
    try:
        return FrameAnomalyDetector.from_state_dict(settings, tensors)
    except ValueError as exc:
        raise BundleError(f"{where / FRAME_ANOMALY_WEIGHTS}: {exc}") from exc
