"""Checks that a bundle's parts belong together: config, window spec, preprocessors, thresholds, weights.

Each part is validated on its own when it is parsed; these checks compare the parts with each other, so
that a bundle assembled from two trainings, or edited by hand and re-hashed, is refused with one line
naming the file and the field (or tensor) that disagrees, instead of failing later inside torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from omnimaint.data.windows import WindowSpec
from omnimaint.errors import OmnimaintError
from omnimaint.inference.bundle_files import BundleError
from omnimaint.models.config import ModelConfig
from omnimaint.models.omni import build_model
from omnimaint.models.preprocessing import Preprocessor, PreprocessorState, complete_config


def check_preprocessors(state: PreprocessorState, window: WindowSpec, where: Path) -> Preprocessor:
    """The preprocessor of ``state``, after checking it fits ``window`` and holds usable statistics.

    Raises:
        BundleError: naming the field of ``preprocessors.json`` that is wrong.
    """
    if state.modalities != window.enabled:
        raise BundleError(
            f"{where}: modalities {list(state.modalities)} differ from the window spec's {list(window.enabled)}"
        )
    vocab = state.vocab
    statistics: dict[str, tuple[tuple[float, ...], int, bool]] = {}
    if window.telemetry is not None:
        if window.telemetry.regimes != (state.regimes is not None):
            have = "holds" if state.regimes is not None else "lacks"
            raise BundleError(
                f"{where}: regimes: preprocessors.json {have} operating regimes, but the window spec's "
                f"telemetry.regimes is {window.telemetry.regimes}"
            )
        if state.regimes is not None:
            unread = [
                c for c in (*state.regimes.settings, *state.regimes.readings) if c not in vocab.telemetry_channels
            ]
            if unread:
                raise BundleError(f"{where}: regimes name channel {unread[0]!r}, which vocab.telemetry_channels lacks")
        channels = len(window.telemetry.input_channels(vocab.telemetry_channels, state.regimes))
        statistics |= {"telemetry_center": (state.telemetry_center, channels, False)}
        statistics |= {"telemetry_scale": (state.telemetry_scale, channels, True)}
    if window.waveforms is not None:
        statistics |= {"waveform_scale": (state.waveform_scale, len(vocab.waveform_channels), True)}
    if window.frames is not None:
        statistics |= {"frame_mean": (state.frame_mean, 3, False), "frame_std": (state.frame_std, 3, True)}
    for name, (values, expected, positive) in statistics.items():
        if len(values) != expected:
            raise BundleError(f"{where}: {name} has {len(values)} values for {expected} channels")
        bad = next((v for v in values if not math.isfinite(v) or (positive and v <= 0)), None)
        if bad is not None:
            need = "finite and positive" if positive else "finite"
            raise BundleError(f"{where}: {name} holds {bad!r}; each value must be {need}")
    uses_text = any(m in state.modalities for m in ("events", "maintenance"))
    if uses_text and state.text.name == "domain" and state.domain_tokenizer is None:
        raise BundleError(f"{where}: the domain text pathway has no domain_tokenizer")
    if state.text_embedding_dim != state.text.embedding_dim:
        raise BundleError(
            f"{where}: text_embedding_dim {state.text_embedding_dim} differs from text.embedding_dim "
            f"{state.text.embedding_dim}"
        )
    try:
        return Preprocessor(state)
    except OmnimaintError as exc:
        raise BundleError(f"{where}: {exc}") from exc
    except Exception as exc:  # the tokenizers library raises a bare Exception on a malformed tokenizer
        raise BundleError(f"{where}: domain_tokenizer cannot be read ({exc})") from exc


def check_architecture(model: ModelConfig, window: WindowSpec, preprocessor: Preprocessor, where: Path) -> None:
    """Refuse a ``config.json`` whose data-dependent sizes disagree with the window spec and preprocessors.

    Raises:
        BundleError: naming the first field that differs.
    """
    expected = complete_config(model, window, preprocessor)
    difference = _first_difference(model.model_dump(mode="json"), expected.model_dump(mode="json"))
    if difference is not None:
        field, have, want = difference
        raise BundleError(
            f"{where}: model.{field} is {have!r}, but the window spec and preprocessors.json give {want!r} "
            "(the bundle's files do not belong together)"
        )


def check_horizons(horizons_hours: tuple[float, ...], window: WindowSpec, where: Path) -> None:
    """Refuse thresholds calibrated for other horizons than the window spec's."""
    configured = [h.total_seconds() / 3600 for h in window.horizons]
    same = len(horizons_hours) == len(configured) and all(
        math.isclose(a, b, rel_tol=1e-9) for a, b in zip(horizons_hours, configured, strict=False)
    )
    if not same:
        raise BundleError(
            f"{where}: horizons_hours {list(horizons_hours)} differ from the window spec's horizons "
            f"{configured} in config.json"
        )


def architecture_shapes(model: ModelConfig) -> dict[str, tuple[int, ...]] | None:
    """Names and shapes of the state dict that ``model`` needs, from a throwaway build.

    ``None`` for a ``transformers`` vision backbone, whose build reads its own weights; its state dict is
    checked when the model is built (:func:`check_state_dict` in ``Bundle.build_model``).
    """
    if "frames" in model.modalities and model.vision.name == "hf":
        return None
    # A plain CPU build takes a fraction of a second (a meta-device one costs seconds of torch warm-up);
    # fork_rng keeps the caller's seeded random stream untouched by the throwaway initialisation.
    with torch.random.fork_rng(devices=[]):
        skeleton = build_model(model)
    return {name: tuple(tensor.shape) for name, tensor in skeleton.state_dict().items()}


def check_state_dict(
    expected: Mapping[str, tuple[int, ...]], state_dict: Mapping[str, torch.Tensor], where: Path | str
) -> None:
    """Refuse weights whose tensor names or shapes differ from the architecture's, and non-finite weights.

    Raises:
        BundleError: naming the first tensor that is missing, unexpected, of another shape, or not finite.
    """
    for name, shape in expected.items():
        if name not in state_dict:
            raise BundleError(f"{where}: no tensor {name!r}, which the architecture in config.json needs")
        have = tuple(state_dict[name].shape)
        if have != shape:
            raise BundleError(
                f"{where}: tensor {name!r} has shape {list(have)}, but the architecture in config.json needs "
                f"{list(shape)}"
            )
    unexpected = next((name for name in state_dict if name not in expected), None)
    if unexpected is not None:
        raise BundleError(f"{where}: tensor {unexpected!r} is not part of the architecture in config.json")
    for name, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(f"{where}: tensor {name!r} holds NaN or infinite values")


def _first_difference(have: Any, want: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted field where two JSON-like trees differ: ``(path, have, want)``."""
    if isinstance(have, dict) and isinstance(want, dict):
        for key in [*have, *(k for k in want if k not in have)]:
            found = _first_difference(have.get(key), want.get(key), f"{path}.{key}" if path else key)
            if found is not None:
                return found
        return None
    return None if have == want else (path, have, want)
