"""ONNX export of a bundle's model, checked against PyTorch, with optional int8 dynamic quantisation.

The exported graph takes the preprocessed tensors (``ModelInputs`` in ``field_names`` order, masks
included, batch axis dynamic) and returns the raw head outputs; the Predictor applies the same
preprocessing and post-processing on both backends. Every export is followed by a numeric
comparison with the PyTorch model, with all modalities present and with each one absent.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from omnimaint.data.windows import MODALITIES
from omnimaint.errors import ConfigError, OmnimaintError
from omnimaint.inference.bundle import CORE_FILES, ONNX_FILE, ONNX_INT8_FILE, Bundle
from omnimaint.inference.bundle_files import SIGNATURE_FILE
from omnimaint.models.examples import example_inputs_for_spec
from omnimaint.models.inputs import HEAD_OUTPUTS, ModelInputs
from omnimaint.models.omni import ExportableModel
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4
DEFAULT_OPSET = 17
# 14 is the first opset in which torch's exporter writes attention (scaled_dot_product_attention), which
# every encoder and the fusion use; 20 is the last one its TorchScript-based exporter supports.
SUPPORTED_OPSETS = range(14, 21)


def check_opset(opset: int) -> int:
    """``opset`` if the model can be exported at it.

    Raises:
        ConfigError: naming the supported range.
    """
    if opset not in SUPPORTED_OPSETS:
        raise ConfigError(
            f"--opset {opset} is not supported: omnimaint exports ONNX opsets {SUPPORTED_OPSETS.start} to "
            f"{SUPPORTED_OPSETS.stop - 1} (default {DEFAULT_OPSET})"
        )
    return opset


@dataclass(frozen=True)
class ParityReport:
    """Largest difference between ONNX Runtime and PyTorch, per head and per scenario: absolute for values
    within ±1, relative to the value beyond (float32 arithmetic in another order differs in the last digits of a
    large logit, e.g. an ensemble's log-space logit on random inputs, and that is not a wrong export).

    Attributes:
        max_abs_diff: ``{scenario: {head: max |onnx - torch| / max(1, |torch|)}}``; scenarios are ``all`` and
            ``without_<modality>``.
    """

    max_abs_diff: dict[str, dict[str, float]]

    @property
    def worst(self) -> float:
        return max(v for heads in self.max_abs_diff.values() for v in heads.values())


def _onnx_outputs(path: Path, inputs: ModelInputs, modalities: tuple[str, ...]) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are notes on graph optimisation, not for users
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = ModelInputs.field_names(modalities)
    feeds = {n: t.numpy() for n, t in zip(names, inputs.flatten(modalities), strict=True)}
    return list(session.run(list(HEAD_OUTPUTS), feeds))


def check_parity(bundle: Bundle, onnx_path: Path, inputs: ModelInputs | None = None) -> ParityReport:
    """Compare ONNX Runtime with PyTorch on ``inputs`` (random well-formed inputs by default)."""
    model = bundle.build_model()
    config = bundle.model_config
    inputs = inputs if inputs is not None else example_inputs_for_spec(config, bundle.window, batch_size=4, seed=1)
    scenarios = {"all": ()} | {f"without_{m}": (m,) for m in config.modalities}
    report: dict[str, dict[str, float]] = {}
    for name, dropped in scenarios.items():
        presence = inputs.presence.clone()
        for modality in dropped:
            presence[:, MODALITIES.index(modality)] = False
        case = replace(inputs, presence=presence)
        with torch.inference_mode():
            expected = [t.numpy() for t in model(case).as_tuple()]
        got = _onnx_outputs(onnx_path, case, config.modalities)
        report[name] = {
            head: float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) if a.size else 0.0
            for head, a, b in zip(HEAD_OUTPUTS, got, expected, strict=True)
        }
    return ParityReport(report)


def export_onnx(bundle: Bundle, path: Path, *, opset: int = DEFAULT_OPSET) -> Path:
    """Write the model of ``bundle`` as ONNX at ``path`` (batch axis dynamic).

    Raises:
        ConfigError: if ``opset`` is outside :data:`SUPPORTED_OPSETS`.
        OmnimaintError: if the model uses an operator that ``opset`` cannot express.
    """
    from torch.onnx.errors import UnsupportedOperatorError

    check_opset(opset)
    model = ExportableModel(bundle.build_model()).eval()
    config = bundle.model_config
    example = example_inputs_for_spec(config, bundle.window, batch_size=2)
    names = list(ModelInputs.field_names(config.modalities))
    dynamic = {n: {0: "batch"} for n in names + list(HEAD_OUTPUTS)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter warns about tracing details it handles
        try:
            torch.onnx.export(
                model,
                example.flatten(config.modalities),
                str(path),
                input_names=names,
                output_names=list(HEAD_OUTPUTS),
                dynamic_axes=dynamic,
                opset_version=opset,
                dynamo=False,
            )
        except UnsupportedOperatorError as exc:
            # Its message carries the whole traced graph after the first line.
            reason = str(exc).splitlines()[0]
            raise OmnimaintError(f"cannot export at ONNX opset {opset}: {reason}") from exc
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of the weights of linear layers (ONNX Runtime)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    return target


def export_bundle(bundle_path: Path, *, int8: bool = False, opset: int = DEFAULT_OPSET) -> tuple[Path, ParityReport]:
    """Export a bundle's model to ONNX (and int8), verify parity, and add the files to the bundle.

    The bundle is verified first (every listed file against its checksum, its parts against each other)
    and rewritten from what was verified, so an export never re-hashes, and thereby vouches for, a file
    that was changed after the bundle was made.

    Raises:
        ConfigError: if ``opset`` is outside :data:`SUPPORTED_OPSETS`.
        BundleError: if the bundle fails verification.
        OmnimaintError: if ONNX Runtime and PyTorch disagree by more than :data:`PARITY_TOLERANCE`.
    """
    check_opset(opset)
    bundle = Bundle.load(bundle_path)
    signed = os.path.lexists(Path(bundle_path) / SIGNATURE_FILE)
    with tempfile.TemporaryDirectory() as tmp, progress_bar("exporting to ONNX", 3 if int8 else 2) as advance:
        onnx_path = export_onnx(bundle, Path(tmp) / ONNX_FILE, opset=opset)
        advance(1, description="checking ONNX Runtime against PyTorch")
        report = check_parity(bundle, onnx_path)
        if report.worst > PARITY_TOLERANCE:
            raise OmnimaintError(
                f"ONNX export differs from PyTorch by {report.worst:.2e} (> {PARITY_TOLERANCE:g}): "
                f"{report.max_abs_diff}"
            )
        extra = {ONNX_FILE: onnx_path}
        if int8:
            advance(1, description="quantising to int8")
            extra[ONNX_INT8_FILE] = quantize_int8(onnx_path, Path(tmp) / ONNX_INT8_FILE)
        # Every other file the bundle lists (a case base) is kept, from its verified bytes.
        for name in sorted(set(bundle.files) - {*CORE_FILES, ONNX_FILE, ONNX_INT8_FILE}):
            (Path(tmp) / name).write_bytes(bundle.read_file(name))
            extra[name] = Path(tmp) / name
        bundle.save(bundle_path, overwrite=True, extra_files=extra)
    if signed:
        logger.warning(
            "%s: the export changed bundle.json, so its signature no longer applies and was removed; "
            "sign the bundle again (omnimaint sign)",
            bundle_path,
        )
    logger.info("exported %s (worst parity difference %.2e)", bundle_path / ONNX_FILE, report.worst)
    return bundle_path / ONNX_FILE, report
