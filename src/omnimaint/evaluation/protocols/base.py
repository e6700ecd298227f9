"""The protocol and method registries, and the result every protocol returns.

A *protocol* fixes how a benchmark is run on a canonical dataset: which samples, which split, which
metrics. A *method* is a factory ``seed -> unfitted estimator``; each protocol documents the estimator
interface it drives (e.g. ``fit(X, y)`` / ``predict(X)`` on windows of shape ``(n, T, C)``). Methods are
registered per protocol, so a new model joins every benchmark it fits by one call::

    register_method("cmapss", "omnimodel", lambda seed: OmniRulRegressor(seed=seed), "multimodal model")
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from omnimaint.data.dataset import Dataset
from omnimaint.errors import OmnimaintError

logger = logging.getLogger(__name__)


class ProtocolError(OmnimaintError):
    """A protocol cannot run on this dataset (missing table, labels, loads ...) or with this method."""


MethodFactory = Callable[[int], Any]
"""Builds an unfitted estimator from a seed."""


@dataclass(frozen=True)
class ProtocolResult:
    """What a protocol run measured.

    Attributes:
        metrics: Headline numbers by name (what tables and ``results.md`` show).
        details: Everything else worth keeping: per-class and per-component scores, chosen thresholds,
            split sizes, configuration.
        notes: What a reader of the numbers must know about how the data shaped the run, one sentence each
            (a class left out, the subset chosen among several); shown by ``omnimaint bench`` and kept in
            its JSON record.
    """

    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    Attributes:
        name: Name used on the command line.
        factory: ``seed -> unfitted estimator``.
        description: One line for listings.
    """

    name: str
    factory: MethodFactory
    description: str = ""


@dataclass(frozen=True)
class ProtocolSpec:
    """A registered protocol.

    Attributes:
        name: Name used on the command line.
        run: ``(dataset, method factory, seed) -> ProtocolResult`` with the protocol's default configuration.
        applies: Whether a dataset holds what the protocol needs (used to pick benchmarks automatically).
        summary: One line: task, split and metrics.
        reference: Where the protocol comes from (paper or guide).
        subsets: For a protocol that evaluates one subset of a dataset at a time (C-MAPSS ``FD001`` ...), the
            subsets a dataset holds, in the order the default takes them; ``run`` then takes ``subset=``.
    """

    name: str
    run: Callable[..., ProtocolResult]
    applies: Callable[[Dataset], bool]
    summary: str
    reference: str
    methods: dict[str, MethodSpec] = field(default_factory=dict)
    subsets: Callable[[Dataset], list[str]] | None = None


_PROTOCOLS: dict[str, ProtocolSpec] = {}


def register_protocol(spec: ProtocolSpec) -> ProtocolSpec:
    """Add a protocol to the registry (replacing one of the same name)."""
    if spec.name in _PROTOCOLS:
        logger.warning("replacing registered protocol %r", spec.name)
    _PROTOCOLS[spec.name] = spec
    return spec


def register_method(protocol: str, name: str, factory: MethodFactory, description: str = "") -> None:
    """Register a method for a protocol (replacing one of the same name).

    Args:
        protocol: A registered protocol name.
        name: Method name used on the command line.
        factory: ``seed -> unfitted estimator`` following the protocol's estimator interface.
        description: One line for listings.

    Raises:
        ProtocolError: if the protocol is unknown.
    """
    spec = get_protocol(protocol)
    if name in spec.methods:
        logger.warning("replacing method %r of protocol %r", name, protocol)
    spec.methods[name] = MethodSpec(name=name, factory=factory, description=description)


def list_protocols() -> list[str]:
    """Names of the registered protocols, sorted."""
    return sorted(_PROTOCOLS)


def subset_protocols() -> list[str]:
    """Names of the registered protocols that take a subset, sorted."""
    return sorted(name for name, spec in _PROTOCOLS.items() if spec.subsets is not None)


def get_protocol(name: str) -> ProtocolSpec:
    """A registered protocol by name.

    Raises:
        ProtocolError: naming the known protocols, if ``name`` is not one.
    """
    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise ProtocolError(f"unknown protocol {name!r}; known protocols: {', '.join(list_protocols())}") from None


def get_method(protocol: str, name: str) -> MethodSpec:
    """A registered method of a protocol.

    Raises:
        ProtocolError: naming the protocol's methods, if ``name`` is not one.
    """
    spec = get_protocol(protocol)
    try:
        return spec.methods[name]
    except KeyError:
        known = ", ".join(sorted(spec.methods)) or "(none)"
        raise ProtocolError(f"protocol {protocol!r} has no method {name!r}; its methods: {known}") from None


def check_subset(protocol: str, subset: str | None) -> None:
    """Refuse a subset for a protocol that takes none, before any data are read.

    Raises:
        ProtocolError: naming the protocols that take a subset.
    """
    if subset is not None and get_protocol(protocol).subsets is None:
        takes = ", ".join(subset_protocols()) or "none"
        raise ProtocolError(f"protocol {protocol!r} has no subsets (--subset applies to: {takes})")


def choose_subset(dataset: Dataset, protocol: str, subset: str) -> str:
    """The dataset's name of the subset asked for (matched in any case).

    Raises:
        ProtocolError: for a protocol without subsets, or a subset the dataset does not hold.
    """
    check_subset(protocol, subset)
    lister = get_protocol(protocol).subsets
    assert lister is not None  # check_subset refused a protocol without subsets
    available = lister(dataset)
    for name in available:
        if name.lower() == subset.lower():
            return name
    holds = f"this dataset holds {', '.join(available)}" if available else "this dataset holds none"
    raise ProtocolError(f"{dataset.path}: no subset {subset!r} for protocol {protocol!r}; {holds}")


def run_protocol(
    dataset: Dataset, protocol: str, method: str | MethodFactory, seed: int = 0, subset: str | None = None
) -> ProtocolResult:
    """Run a registered protocol with a registered method (by name) or any method factory.

    Args:
        dataset: The canonical dataset.
        protocol: Protocol name.
        method: Method name registered for that protocol, or a factory ``seed -> estimator``.
        seed: Seed for the split and the estimator.
        subset: For a protocol with subsets, the one to evaluate (default: the first the dataset holds; the
            result's notes say so when there are several, and its ``details["subset"]`` names it).

    Raises:
        ProtocolError: for an unknown protocol or method, a protocol that does not apply to the dataset, or a
            subset it does not take or the dataset does not hold.
    """
    spec = get_protocol(protocol)
    factory = get_method(protocol, method).factory if isinstance(method, str) else method
    check_subset(protocol, subset)
    if not spec.applies(dataset):
        raise ProtocolError(f"{dataset.path}: protocol {protocol!r} does not apply to this dataset ({spec.summary})")
    if spec.subsets is None:
        return spec.run(dataset, factory, seed)
    return spec.run(dataset, factory, seed, subset=None if subset is None else choose_subset(dataset, protocol, subset))
