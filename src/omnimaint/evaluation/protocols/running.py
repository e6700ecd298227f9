"""Running a protocol with a method: an estimator the protocol drives, or a bundle it scores.

A method that trains a bundle gives the same bundle a user ships, scored by every backend.

The method trains on the protocol's ``train`` samples (``val`` for early stopping and thresholds) exactly
as ``omnimaint train`` does; the bundle is exported to ONNX and int8 as ``omnimaint export --int8`` does;
the protocol scores it through the :class:`~omnimaint.inference.predictor.Predictor` with each backend.
The headline metrics are PyTorch's; each is repeated per ONNX backend (``f1_macro_onnx``,
``f1_macro_onnx_int8``), and ``details["backends"]`` holds every backend's metrics.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.metrics import ClassificationScores, classification_scores
from omnimaint.evaluation.protocols.base import (
    BundleTrainer,
    MethodFactory,
    MethodSpec,
    ProtocolError,
    ProtocolResult,
    ProtocolSpec,
    check_subset,
    choose_subset,
    get_method,
    get_protocol,
)

if TYPE_CHECKING:
    from omnimaint.inference.predictor import Predictor

BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8")
"""Every backend a bundle is scored with; the first gives the headline metrics."""


def score_once(
    trainer: BundleTrainer, inputs: dict[str, ProtocolInputs], score: Callable[[Predictor], ProtocolResult]
) -> ProtocolResult:
    """Train a bundle in a temporary run folder and score it with PyTorch (for tuning: no export, nothing kept)."""
    from omnimaint.inference.predictor import Predictor

    with tempfile.TemporaryDirectory(prefix="omnimaint-tune-") as tmp:
        return score(Predictor.from_bundle(trainer(inputs, Path(tmp) / "run")))


class LabelledArrays(Protocol):
    """Samples an estimator is fitted or scored on: inputs ``X`` ``(n, ...)`` and the class of each, ``y`` ``(n,)``."""

    @property
    def X(self) -> np.ndarray: ...

    @property
    def y(self) -> np.ndarray: ...


def fit_and_predict(
    factory: MethodFactory, seed: int, train: LabelledArrays, test: LabelledArrays
) -> tuple[Any, np.ndarray]:
    """Fit the method's estimator (``seed -> classifier`` with ``fit(X, y)`` / ``predict(X)``) on ``train``;
    returns it and its class of each sample of ``test``, as strings."""
    estimator = factory(seed)
    estimator.fit(train.X, train.y)
    return estimator, np.asarray(estimator.predict(test.X)).astype(str)


def fit_and_score(
    factory: MethodFactory, seed: int, train: LabelledArrays, test: LabelledArrays, classes: list[str]
) -> tuple[Any, ClassificationScores]:
    """Fit the method's estimator on ``train`` (:func:`fit_and_predict`) and score its class predictions of
    ``test``, macro-F1 averaged over ``classes``; returns the fitted estimator and the scores."""
    estimator, predicted = fit_and_predict(factory, seed, train, test)
    return estimator, classification_scores(test.y, predicted, classes)


def _suffix(backend: str) -> str:
    return "_" + backend.replace("-", "_")


def run_bundle_method(
    dataset: Dataset,
    spec: ProtocolSpec,
    trainer: BundleTrainer,
    seed: int,
    workdir: Path | None,
    subset: str | None = None,
) -> ProtocolResult:
    """Train a bundle on the protocol's samples, export it, and score it with every backend.

    Args:
        dataset: The canonical dataset.
        spec: The protocol (it must score bundles).
        trainer: What trains the bundle (a registered bundle method's factory, applied to the seed).
        seed: Seed of the protocol's split and of training.
        workdir: Run folder to train in, kept (``None``: a temporary folder, removed afterwards).
        subset: For a protocol with subsets, the one to train and score on (``None``: the protocol's default;
            for a protocol that averages its subsets, every subset in turn, the metrics their mean).

    Raises:
        ProtocolError: if the protocol does not score bundles.
    """
    if spec.bundle_inputs is None or spec.score_bundle is None:
        raise ProtocolError(f"protocol {spec.name!r} does not score bundles")
    if subset is None and spec.averages_subsets:
        assert spec.subsets is not None  # a protocol averaging its subsets has them
        return _mean_over_subsets(
            {
                name: run_bundle_method(dataset, spec, trainer, seed, None if workdir is None else workdir / name, name)
                for name in spec.subsets(dataset)
            }
        )
    on = _subset_argument(spec, subset)
    inputs = spec.bundle_inputs(dataset, seed, **on)
    if workdir is not None:
        result, bundle = _train_and_score(dataset, spec, trainer, inputs, seed, workdir, on)
        return ProtocolResult(result.metrics, {**result.details, "bundle": str(bundle)}, result.notes)
    with tempfile.TemporaryDirectory(prefix="omnimaint-bench-") as tmp:
        return _train_and_score(dataset, spec, trainer, inputs, seed, Path(tmp) / "run", on)[0]


def _mean_over_subsets(results: dict[str, ProtocolResult]) -> ProtocolResult:
    """One bundle per subset, as one result: each metric's mean over the subsets (those every subset has; a
    ``min_…`` metric's minimum), each subset's result in ``details["per_subset"]``, the notes of all without
    repeats."""
    shared = set.intersection(*(set(result.metrics) for result in results.values()))
    first = next(iter(results.values())).metrics
    metrics = {
        name: float((np.min if name.startswith("min_") else np.mean)([r.metrics[name] for r in results.values()]))
        for name in first
        if name in shared
    }
    per_subset = {name: {"metrics": r.metrics, "details": r.details} for name, r in results.items()}
    notes = dict.fromkeys(note for result in results.values() for note in result.notes)
    return ProtocolResult(metrics=metrics, details={"per_subset": per_subset}, notes=tuple(notes))


def _subset_argument(spec: ProtocolSpec, subset: str | None) -> dict[str, str | None]:
    """The ``subset=`` keyword a protocol with subsets takes (none for the others)."""
    return {"subset": subset} if spec.subsets is not None else {}


def _train_and_score(
    dataset: Dataset,
    spec: ProtocolSpec,
    trainer: BundleTrainer,
    inputs: dict[str, ProtocolInputs],
    seed: int,
    run: Path,
    on: dict[str, str | None],
) -> tuple[ProtocolResult, Path]:
    from omnimaint.inference.export import export_bundle
    from omnimaint.inference.predictor import Predictor

    assert spec.score_bundle is not None  # checked by run_bundle_method
    bundle = trainer(inputs, run)
    export_bundle(bundle, int8=True)
    results = {
        backend: spec.score_bundle(dataset, Predictor.from_bundle(bundle, backend), seed, **on)  # type: ignore[arg-type]
        for backend in BACKENDS
    }
    headline = results[BACKENDS[0]]
    metrics = dict(headline.metrics)
    for backend in BACKENDS[1:]:
        metrics.update({name + _suffix(backend): value for name, value in results[backend].metrics.items()})
    details = {
        **headline.details,
        "backends": {backend: result.metrics for backend, result in results.items()},
        "split_sizes": {name: len(part) for name, part in inputs.items()},
    }
    return ProtocolResult(metrics=metrics, details=details, notes=headline.notes), bundle


def check_run(
    dataset: Dataset, protocol: str, method: str | MethodFactory, subset: str | None = None
) -> tuple[ProtocolSpec, MethodSpec, str | None]:
    """Refuse, before anything runs, a run that :func:`run_protocol` would refuse.

    Returns:
        The protocol, the method, and the dataset's name of the subset asked for (``None``: none asked).

    Raises:
        ProtocolError: as :func:`run_protocol`.
    """
    spec = get_protocol(protocol)
    registered = get_method(protocol, method) if isinstance(method, str) else MethodSpec("custom", method)
    check_subset(protocol, subset)
    if not spec.applies(dataset):
        raise ProtocolError(f"{dataset.path}: protocol {protocol!r} does not apply to this dataset ({spec.summary})")
    return spec, registered, None if subset is None else choose_subset(dataset, protocol, subset)


def run_protocol(
    dataset: Dataset,
    protocol: str,
    method: str | MethodFactory,
    seed: int = 0,
    subset: str | None = None,
    *,
    workdir: Path | None = None,
) -> ProtocolResult:
    """Run a registered protocol with a registered method (by name) or any method factory.

    Args:
        dataset: The canonical dataset.
        protocol: Protocol name.
        method: Method name registered for that protocol, or a factory ``seed -> estimator``.
        seed: Seed for the split and the estimator.
        subset: For a protocol with subsets, the one to evaluate (default: the first the dataset holds; the
            result's notes say so when there are several, and its ``details["subset"]`` names it).
        workdir: For a method that trains a bundle, the run folder it trains in (the bundle stays there);
            default: a temporary folder, removed afterwards.

    Raises:
        ProtocolError: for an unknown protocol or method, a protocol that does not apply to the dataset, or a
            subset it does not take or the dataset does not hold.
    """
    spec, registered, chosen = check_run(dataset, protocol, method, subset)
    factory = registered.factory
    if registered.trains_bundle:
        return run_bundle_method(dataset, spec, factory(seed), seed, workdir, chosen)
    if spec.subsets is None:
        return spec.run(dataset, factory, seed)
    return spec.run(dataset, factory, seed, subset=chosen)
