"""Registries of encoders, text pathways and fusions, so that configs name them and tests enumerate them.

In the spirit of timm: ``@register_encoder("telemetry", "patch_transformer")`` on a class,
``create_encoder("telemetry", "patch_transformer", config)`` to build one, ``list_encoders()`` to see
them all. A component is tested the moment it is registered (tests parametrize over these lists).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from omnimaint.errors import ConfigError
from omnimaint.models.config import ModelConfig

T = TypeVar("T", bound=type[nn.Module])

_ENCODERS: dict[tuple[str, str], type[nn.Module]] = {}
_TEXT: dict[str, type[nn.Module]] = {}
_FUSIONS: dict[str, type[nn.Module]] = {}


def register_encoder(modality: str, name: str) -> Callable[[T], T]:
    """Class decorator: register a modality encoder under ``(modality, name)``."""

    def decorate(cls: T) -> T:
        _ENCODERS[(modality, name)] = cls
        return cls

    return decorate


def register_text(name: str) -> Callable[[T], T]:
    """Class decorator: register a text pathway (shared by events and work orders)."""

    def decorate(cls: T) -> T:
        _TEXT[name] = cls
        return cls

    return decorate


def register_fusion(name: str) -> Callable[[T], T]:
    """Class decorator: register a fusion module."""

    def decorate(cls: T) -> T:
        _FUSIONS[name] = cls
        return cls

    return decorate


def _lookup(table: dict[Any, type[nn.Module]], key: object, what: str) -> type[nn.Module]:
    try:
        return table[key]
    except KeyError:
        known = sorted(str(k) for k in table)
        raise ConfigError(f"unknown {what} {key!r}; registered: {known}") from None


def create_encoder(modality: str, name: str, config: ModelConfig) -> nn.Module:
    """Build the encoder registered under ``(modality, name)``."""
    return _lookup(_ENCODERS, (modality, name), "encoder")(config)


def create_text(name: str, config: ModelConfig) -> nn.Module:
    """Build the text pathway registered under ``name``."""
    return _lookup(_TEXT, name, "text pathway")(config)


def create_fusion(name: str, config: ModelConfig) -> nn.Module:
    """Build the fusion registered under ``name``."""
    return _lookup(_FUSIONS, name, "fusion")(config)


def list_encoders() -> list[tuple[str, str]]:
    """Every registered ``(modality, name)``."""
    return sorted(_ENCODERS)


def list_text() -> list[str]:
    return sorted(_TEXT)


def list_fusions() -> list[str]:
    return sorted(_FUSIONS)
