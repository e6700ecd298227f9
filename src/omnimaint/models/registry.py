"""Registries of encoders, text pathways and fusions, so that configs name them and tests enumerate them.

In the spirit of timm: ``@register_encoder("telemetry", "patch_transformer")`` on a class,
``create_encoder("telemetry", "patch_transformer", config)`` to build one, ``list_encoders()`` to see
them all. A component is tested the moment it is registered (tests parametrize over these lists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

from omnimaint.data.windows import MODALITIES
from omnimaint.errors import ConfigError
from omnimaint.models.config import ModelConfig
from omnimaint.registry import Registry

T = TypeVar("T", bound=type[nn.Module])

_ENCODERS: dict[str, Registry[type[nn.Module]]] = {m: Registry(f"{m} encoder", ConfigError) for m in MODALITIES}
_TEXT: Registry[type[nn.Module]] = Registry("text pathway", ConfigError)
_FUSIONS: Registry[type[nn.Module]] = Registry("fusion", ConfigError)


def _registers(registry: Registry[type[nn.Module]], name: str) -> Callable[[T], T]:
    def decorate(cls: T) -> T:
        registry.register(name, cls)
        return cls

    return decorate


def register_encoder(modality: str, name: str) -> Callable[[T], T]:
    """Class decorator: register a modality encoder under ``(modality, name)``."""
    return _registers(_ENCODERS[modality], name)


def register_text(name: str) -> Callable[[T], T]:
    """Class decorator: register a text pathway (shared by events and work orders)."""
    return _registers(_TEXT, name)


def register_fusion(name: str) -> Callable[[T], T]:
    """Class decorator: register a fusion module."""
    return _registers(_FUSIONS, name)


def create_encoder(modality: str, name: str, config: ModelConfig) -> nn.Module:
    """Build the encoder registered under ``(modality, name)``.

    Raises:
        ConfigError: naming the modality's encoders, if ``name`` is not one.
    """
    return _ENCODERS[modality].get(name)(config)


def create_text(name: str, config: ModelConfig) -> nn.Module:
    """Build the text pathway registered under ``name``.

    Raises:
        ConfigError: naming the text pathways, if ``name`` is not one.
    """
    return _TEXT.get(name)(config)


def create_fusion(name: str, config: ModelConfig) -> nn.Module:
    """Build the fusion registered under ``name``.

    Raises:
        ConfigError: naming the fusions, if ``name`` is not one.
    """
    return _FUSIONS.get(name)(config)


def list_encoders() -> list[tuple[str, str]]:
    """Every registered ``(modality, name)``, sorted."""
    return sorted((modality, name) for modality, registry in _ENCODERS.items() for name in registry)


def list_text() -> list[str]:
    """Names of the registered text pathways, sorted."""
    return _TEXT.names()


def list_fusions() -> list[str]:
    """Names of the registered fusions, sorted."""
    return _FUSIONS.names()
