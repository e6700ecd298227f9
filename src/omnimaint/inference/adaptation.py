"""A bundle adapted to a machine's new operating condition, without labels.

A model that standardises its inputs (``model.waveform.standardise``: each bin of the bursts' spectra by the
training bursts' mean and deviation) can take those statistics from the new condition's windows instead: the rest
of the model stays as trained (AdaBN, Li et al., *Revisiting batch normalization for practical domain
adaptation*, 2016). The windows should hold the machine's usual mix of states under the new condition: the
statistics of a machine failing throughout would read its fault as normal.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.inference.bundle import CORE_FILES, ONNX_FILE, ONNX_INT8_FILE, Bundle, BundleError
from omnimaint.inference.bundle_files import MANIFEST_FILE, SIGNATURE_FILE
from omnimaint.models.encoders.waveform import refitting_standardisers
from omnimaint.models.preprocessing import Preprocessor
from omnimaint.progress import track

_NOT_KEPT = (MANIFEST_FILE, SIGNATURE_FILE, ONNX_FILE, ONNX_INT8_FILE)
"""Files of a bundle that its adapted copy does not take over: it gets its own manifest; a signature and ONNX
exports are of the old weights."""


def adapt_bundle(
    bundle: Bundle,
    windows: WindowedDataset,
    *,
    preprocessor: Preprocessor | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> Bundle:
    """The bundle with its model's input standardisers holding the exact mean and variance of what ``windows``
    feed them (:func:`~omnimaint.models.encoders.waveform.refitting_standardisers`); its other weights, its
    files and its folder are those of ``bundle`` (save it with :func:`save_adapted`).

    Raises:
        BundleError: if the model standardises no input, or ``windows`` hold none that it standardises.
    """
    model = bundle.build_model()
    preprocessor = preprocessor if preprocessor is not None else Preprocessor(bundle.preprocessor)
    try:
        with refitting_standardisers(model), torch.inference_mode():
            batches = math.ceil(len(windows) / batch_size)
            for batch in track(windows.iter_batches(batch_size), "adapting", total=batches, enabled=progress):
                model(preprocessor(batch))
    except ValueError as exc:
        raise BundleError(f"{bundle.path}: cannot adapt: {exc}") from exc
    adaptation = {"from_bundle": str(bundle.path), "dataset": str(windows.dataset.path), "windows": len(windows)}
    return replace(bundle, state_dict=model.state_dict(), metrics={**bundle.metrics, "adaptation": adaptation})


def save_adapted(adapted: Bundle, folder: Path, *, overwrite: bool = False) -> Path:
    """Write an adapted bundle (:func:`adapt_bundle`) to ``folder`` with the extra files of the bundle it came
    from that stay valid when only the weights change (a frame anomaly component: yes; ONNX exports: no, export
    again), each read through its checksum.

    Raises:
        OutputError: if ``folder`` holds anything but nothing, an empty folder or (with ``overwrite``) a bundle.
    """
    with tempfile.TemporaryDirectory(prefix="omnimaint-adapted-") as tmp:
        kept = {}
        for name in sorted(set(adapted.files) - {*CORE_FILES, *_NOT_KEPT}):
            kept[name] = Path(tmp) / name
            kept[name].write_bytes(adapted.read_file(name))
        return replace(adapted).save(folder, overwrite=overwrite, extra_files=kept)
