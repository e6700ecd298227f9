"""Tune a method on validation data only: ``omnimaint tune``.

A registered method's settings are changed by name (``--set patch=3``) and the method is fitted on part of
the protocol's *training* data and scored on the rest; the test data are never scored. Every setting of
an ``omnimodel`` row in docs/benchmarks.md was chosen this way. Offered for the protocols whose test
figure a validation figure can stand in for: ``cmapss`` and ``cmapss-long`` (held-out training engines,
``val_rmse_test_like``), ``images`` (a stratified share of the training images) and ``azure-pdm`` (the
protocol run again on its training period, ``val_test_like_f1_macro``). For a method that trains a bundle
the settings are dotted names of its training config (``--set optim.max_epochs=10``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.evaluation.bench import json_safe
from omnimaint.evaluation.protocols import get_method, get_protocol, list_protocols
from omnimaint.evaluation.protocols.base import MethodFactory, ProtocolError, Tuning

TUNING_FILE = "tuning.jsonl"


def parse_settings(items: Iterable[str]) -> dict[str, Any]:
    """``key=value`` strings as a dict; values read as JSON where they parse (``3``, ``true``, ``0.1``), else text.

    Raises:
        ProtocolError: for an item without ``=``.
    """
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ProtocolError(f"setting {item!r}: expected key=value, e.g. patch=3")
        try:
            settings[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            settings[key.strip()] = text
    return settings


def with_settings(factory: MethodFactory, settings: dict[str, Any]) -> MethodFactory:
    """A factory whose estimators have ``settings`` applied to their constructor attributes.

    Raises:
        ProtocolError: (when called) naming the estimator's settings, if one is not among them.
    """

    def build(seed: int) -> Any:
        estimator = factory(seed)
        overrides = getattr(estimator, "overrides", None)
        if isinstance(overrides, dict):  # a bundle trainer: settings change its training config, by dotted name
            overrides.update(settings)
            estimator.check()  # an unknown or invalid setting fails here, before any data are read
            return estimator
        known = sorted(k for k in vars(estimator) if not k.startswith("_") and not k.endswith("_"))
        for key, value in settings.items():
            if key not in known:
                name = type(estimator).__name__
                raise ProtocolError(f"{name} has no setting {key!r}; its settings: {', '.join(known)}")
            setattr(estimator, key, value)
        return estimator

    return build


@dataclass(frozen=True)
class TuningRecord:
    """One validation run: what was set and what it scored."""

    protocol: str
    method: str
    dataset: str
    settings: dict[str, Any]
    protocol_settings: dict[str, Any]
    seed: int
    split_seed: int
    metrics: dict[str, float]
    wall_time_s: float
    created_at: str

    def to_json(self) -> str:
        """One line of JSON; non-finite metrics as ``null``."""
        return json.dumps(json_safe(asdict(self)), ensure_ascii=False)


def tuned_protocols() -> list[str]:
    """The protocols ``omnimaint tune`` is offered for (those registered with a :class:`Tuning`), sorted."""
    return [name for name in list_protocols() if get_protocol(name).tuning is not None]


def _tuning(protocol: str) -> Tuning:
    tuning = get_protocol(protocol).tuning
    if tuning is None:
        offered = ", ".join(tuned_protocols())
        raise ProtocolError(f"tuning on validation data is offered for {offered}, not {protocol!r}")
    return tuning


def protocol_config(protocol: str, settings: dict[str, Any]) -> Any:
    """The protocol's validation settings with ``settings`` replaced.

    Raises:
        ProtocolError: for a protocol without validation tuning, or naming the settings if one is unknown.
    """
    default = _tuning(protocol).config
    known = [f.name for f in fields(default)]
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ProtocolError(f"protocol {protocol} has no setting {unknown[0]!r}; its settings: {', '.join(known)}")
    return replace(default, **settings)


def run_tuning(
    protocol: str,
    dataset: Path,
    method: str,
    settings: dict[str, Any],
    seed: int = 0,
    split_seed: int | None = None,
    protocol_settings: dict[str, Any] | None = None,
) -> TuningRecord:
    """Fit ``method`` with ``settings`` on the protocol's training data less a validation split; score the split.

    Args:
        split_seed: Seed of the validation split; default 0 for an estimator and ``seed`` for a method that trains
            a bundle (whose validation split followed its seed before the two could differ).
        protocol_settings: Changes to the protocol's own settings (e.g. C-MAPSS ``window``), for trying
            what a protocol variant would score; the registered protocols keep theirs.

    Raises:
        ProtocolError: for a protocol without validation tuning, an unknown method or setting.
    """
    config = protocol_config(protocol, protocol_settings or {})
    registered = get_method(protocol, method)
    factory = with_settings(registered.factory, settings)
    built = factory(seed)  # an unknown setting fails before the data are read
    opened = Dataset(dataset)
    start = time.perf_counter()
    validation = _tuning(protocol)
    if registered.trains_bundle:
        if validation.validate_bundle is None:
            raise ProtocolError(f"protocol {protocol!r} cannot tune a method that trains a bundle")
        split_seed = seed if split_seed is None else split_seed
        metrics = validation.validate_bundle(opened, built, seed, split_seed, config)
    else:
        split_seed = 0 if split_seed is None else split_seed
        metrics = validation.validate(opened, factory, seed, split_seed, config)
    return TuningRecord(
        protocol=protocol,
        method=method,
        dataset=str(dataset),
        settings=settings,
        protocol_settings=protocol_settings or {},
        seed=seed,
        split_seed=split_seed,
        metrics=metrics,
        wall_time_s=round(time.perf_counter() - start, 1),
        created_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    )


def append_record(record: TuningRecord, out: Path) -> Path:
    """Append the record as one JSON line to ``<out>/tuning.jsonl``; returns that file."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / TUNING_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(record.to_json() + "\n")
    return path
