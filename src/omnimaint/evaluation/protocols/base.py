"""The protocol and method registries, and the result every protocol returns.

A *protocol* fixes how a benchmark is run on a canonical dataset: which samples, which split, which
metrics. A *method* is a factory ``seed -> unfitted estimator``; each protocol documents the estimator
interface it drives (e.g. ``fit(X, y)`` / ``predict(X)`` on windows of shape ``(n, T, C)``). Methods are
registered per protocol, so a new baseline joins every benchmark it fits by one call::

    register_method("cmapss", "ridge", lambda seed: make_pipeline(Flatten(), Ridge()), "ridge regression")

A method that trains a bundle (``trains_bundle``; the multimodal model, :mod:`omnimaint.training.methods`)
is instead a factory ``seed -> BundleTrainer``: the protocol hands it anchors (:class:`ProtocolInputs`),
not arrays, and scores the bundle it returns through the ``Predictor`` (:attr:`ProtocolSpec.score_bundle`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.errors import OmnimaintError
from omnimaint.registry import Registry


class ProtocolError(OmnimaintError):
    """A protocol cannot run on this dataset (missing table, labels, loads ...) or with this method."""


MethodFactory = Callable[[int], Any]
"""Builds an unfitted estimator from a seed (for a method that trains bundles: a :data:`BundleTrainer`)."""


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


BundleTrainer = Callable[[dict[str, ProtocolInputs], Path], Path]
"""Trains a bundle on a protocol's ``train`` inputs (``val`` for early stopping and thresholds) in a run folder
and returns the bundle folder."""

BundleScorer = Callable[..., ProtocolResult]
"""Scores a trained bundle on a protocol's test samples: ``(dataset, predictor, seed) -> result`` (a protocol
with subsets also takes ``subset=``)."""

BundleInputs = Callable[..., dict[str, ProtocolInputs]]
"""A protocol's ``train``, ``val`` and ``test`` samples of a dataset for a seed: ``(dataset, seed)`` (a protocol
with subsets also takes ``subset=``)."""


@dataclass(frozen=True)
class Tuning:
    """How ``omnimaint tune`` scores a method on a protocol's validation data (never its test data).

    Attributes:
        validate: For an estimator: ``(dataset, factory, seed, split_seed, config) -> metrics``.
        config: The protocol's default settings, a frozen dataclass that ``--protocol-set`` replaces fields of.
        validate_bundle: For a method that trains a bundle: ``(dataset, trainer, seed, split_seed, config) ->
            metrics``.
    """

    validate: Callable[..., dict[str, float]]
    config: Any
    validate_bundle: Callable[..., dict[str, float]] | None = None


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    Attributes:
        name: Name used on the command line.
        factory: ``seed -> unfitted estimator``, or ``seed -> BundleTrainer`` when ``trains_bundle``.
        description: One line for listings.
        trains_bundle: The method trains a bundle (``omnimaint train``) that the protocol scores through the
            ``Predictor``, rather than an estimator the protocol drives.
    """

    name: str
    factory: MethodFactory
    description: str = ""
    trains_bundle: bool = False


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
        bundle_inputs: For a protocol that scores bundles, its ``train``/``val``/``test`` samples.
        score_bundle: For a protocol that scores bundles, how it scores one on its test samples.
        tuning: For a protocol whose test figure a validation figure can stand in for, how ``omnimaint tune``
            scores a method on its validation data.
        averages_subsets: The protocol's figure is the mean over all its subsets (CWRU cross-load: one per
            training load), not one subset's: without ``--subset``, ``run`` runs every subset, and a method
            that trains bundles trains and scores one bundle per subset.
        adapts: Its test data fall into operating conditions (CWRU cross-load: the test loads) and
            ``score_bundle`` takes ``adapt=True``: the bundle adapted to each condition's unlabelled samples
            before they are scored (``omnimaint evaluate --adapt``).
    """

    name: str
    run: Callable[..., ProtocolResult]
    applies: Callable[[Dataset], bool]
    summary: str
    reference: str
    methods: Registry[MethodSpec] = field(init=False, repr=False, compare=False)
    subsets: Callable[[Dataset], list[str]] | None = None
    bundle_inputs: BundleInputs | None = None
    score_bundle: BundleScorer | None = None
    tuning: Tuning | None = None
    averages_subsets: bool = False
    adapts: bool = False

    def __post_init__(self) -> None:
        # Each protocol holds its own methods, so that an unknown one is reported with the protocol's name.
        object.__setattr__(self, "methods", Registry("method", ProtocolError, owner=f"protocol {self.name!r}"))


_PROTOCOLS: Registry[ProtocolSpec] = Registry("protocol", ProtocolError)


def register_protocol(spec: ProtocolSpec) -> ProtocolSpec:
    """Add a protocol to the registry (replacing one of the same name)."""
    return _PROTOCOLS.register(spec.name, spec, replace=True)


def register_method(
    protocol: str, name: str, factory: MethodFactory, description: str = "", *, trains_bundle: bool = False
) -> None:
    """Register a method for a protocol (replacing one of the same name).

    Args:
        protocol: A registered protocol name.
        name: Method name used on the command line.
        factory: ``seed -> unfitted estimator`` following the protocol's estimator interface, or with
            ``trains_bundle`` ``seed -> BundleTrainer``.
        description: One line for listings.
        trains_bundle: See :class:`MethodSpec`.

    Raises:
        ProtocolError: if the protocol is unknown.
    """
    spec = get_protocol(protocol)
    if trains_bundle and spec.score_bundle is None:
        raise ProtocolError(f"protocol {protocol!r} does not score bundles, so it takes no bundle-training method")
    method = MethodSpec(name=name, factory=factory, description=description, trains_bundle=trains_bundle)
    spec.methods.register(name, method, replace=True)


def list_protocols() -> list[str]:
    """Names of the registered protocols, sorted."""
    return _PROTOCOLS.names()


def subset_protocols() -> list[str]:
    """Names of the registered protocols that take a subset, sorted."""
    return sorted(name for name, spec in _PROTOCOLS.items() if spec.subsets is not None)


def get_protocol(name: str) -> ProtocolSpec:
    """A registered protocol by name.

    Raises:
        ProtocolError: naming the known protocols, if ``name`` is not one.
    """
    return _PROTOCOLS.get(name)


def get_method(protocol: str, name: str) -> MethodSpec:
    """A registered method of a protocol.

    Raises:
        ProtocolError: naming the protocol's methods, if ``name`` is not one.
    """
    return get_protocol(protocol).methods.get(name)


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
