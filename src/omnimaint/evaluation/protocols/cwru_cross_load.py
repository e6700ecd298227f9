"""The CWRU cross-load protocol: train on every recording of one motor load, test on the other loads.

Each training load is a *subset* of the protocol (``0HP``, ``1HP`` ...): ``--subset 1HP`` trains on the 1 HP
recordings and tests on the others; without a subset the protocol runs every training load and its figure
is the mean over them (Zhang et al., Sensors 2017, report the same mean). Recordings of different loads are
different files, so train and test share nothing. A split keeps the classes its training load and its test
loads both hold; a class left out that way (the public set has ``Normal_0`` only, so ``normal`` is left out of
every split) is named in the result's notes. With a single load the protocol says "not enough loads".
Besides the accuracy over all test loads of each training load, the result holds each (training load, test
load) pair's accuracy (``details["per_pair"]``) and the lowest of them (``min_pair_accuracy``).

An estimator trains on the whole of each training recording. A bundle (:func:`cross_load_inputs`,
:func:`score_cross_load_bundle`) trains on each training recording less its end, which validates it (early
stopping, the kept epoch), as in the within-recording protocol: the test loads are never seen before scoring.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.metrics import ClassificationScores, classification_scores
from omnimaint.evaluation.protocols.base import MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.cwru import (
    ASSET_TYPE,
    CwruConfig,
    Recording,
    SegmentSet,
    bundle_predictions,
    coverage_notes,
    cut_segments,
    load_recordings,
    segment_ends,
    validation_bounds,
)
from omnimaint.evaluation.protocols.inputs import asset_metadata, assets_of_type
from omnimaint.evaluation.protocols.running import fit_and_predict

if TYPE_CHECKING:  # the predictor is handed in: scoring a bundle needs no torch import here
    from omnimaint.inference.predictor import Predictor


def load_name(load_hp: float) -> str:
    """The subset name of a training load: ``0HP``, ``1.5HP``."""
    return f"{load_hp:g}HP"


def cross_load_subsets(dataset: Dataset) -> list[str]:
    """The motor loads of a dataset's bearing recordings as subset names, lightest first (from asset metadata)."""
    metadata = asset_metadata(dataset)
    loads = {metadata.get(asset, {}).get("load_hp") for asset in assets_of_type(dataset, ASSET_TYPE)}
    return [load_name(float(load)) for load in sorted(float(x) for x in loads if x is not None)]


def left_out_classes(recordings: list[Recording]) -> dict[str, list[str]]:
    """Per training load (``"0HP"``), the classes a cross-load split leaves out: those that its training load or
    its test loads lack (they can be neither learned nor scored)."""
    loads = sorted({r.load_hp for r in recordings if r.load_hp is not None})
    left_out: dict[str, list[str]] = {}
    for load in loads:
        train = {r.label for r in recordings if r.load_hp == load}
        test = {r.label for r in recordings if r.load_hp is not None and r.load_hp != load}
        left_out[load_name(load)] = sorted((train | test) - (train & test))
    return left_out


def left_out_notes(recordings: list[Recording], left_out: dict[str, list[str]]) -> list[str]:
    """One note per class a cross-load split leaves out, saying at which loads it was recorded and where it is
    missing."""
    loads_of: dict[str, set[float]] = defaultdict(set)
    for recording in recordings:
        if recording.load_hp is not None:
            loads_of[recording.label].add(recording.load_hp)
    notes = []
    for label in sorted({name for names in left_out.values() for name in names}):
        recorded = ", ".join(f"{load:g}" for load in sorted(loads_of[label]))
        splits = [name for name, names in left_out.items() if label in names]
        where = "every split" if len(splits) == len(left_out) else f"the splits trained on {', '.join(splits)}"
        notes.append(
            f"class '{label}' is left out of {where}: it has recordings at {recorded} HP only, and a split keeps "
            "the classes present at both its training load and its test loads"
        )
    return notes


def cross_load_splits(recordings: list[Recording]) -> dict[str, tuple[list[Recording], list[Recording]]]:
    """For each load by subset name, (its recordings, the recordings of the other loads), classes restricted to
    the shared ones.

    Raises:
        ProtocolError: "not enough loads" when fewer than two motor loads are present.
    """
    loads = sorted({r.load_hp for r in recordings if r.load_hp is not None})
    if len(loads) < 2:
        found = f"only {loads[0]:g} HP" if loads else "no load_hp metadata"
        raise ProtocolError(
            f"not enough loads for the cross-load protocol: it trains on one motor load and tests on the others, "
            f"so it needs recordings at 2 or more loads; found {found}"
        )
    splits = {}
    for load in loads:
        train = [r for r in recordings if r.load_hp == load]
        test = [r for r in recordings if r.load_hp is not None and r.load_hp != load]
        shared = {r.label for r in train} & {r.label for r in test}
        splits[load_name(load)] = ([r for r in train if r.label in shared], [r for r in test if r.label in shared])
    return splits


def _split(
    dataset: Dataset, config: CwruConfig, subset: str | None
) -> tuple[list[Recording], dict[str, tuple[list[Recording], list[Recording]]], list[str]]:
    """The recordings, the splits asked for (every load, or the one of ``subset``) and the notes.

    Raises:
        ProtocolError: for fewer than two loads, or a subset that is no load of the dataset.
    """
    recordings = load_recordings(dataset, config)
    splits = cross_load_splits(recordings)
    left_out = left_out_classes(recordings)
    if subset is not None:
        if subset not in splits:
            raise ProtocolError(f"{dataset.path}: no recordings at load {subset!r} (loads: {', '.join(splits)})")
        splits = {subset: splits[subset]}
        left_out = {subset: left_out[subset]}
    return recordings, splits, [*coverage_notes(dataset, recordings, config), *left_out_notes(recordings, left_out)]


def _whole(recordings: list[Recording], config: CwruConfig) -> SegmentSet:
    return cut_segments(recordings, {r.asset_id: (0, len(r.samples)) for r in recordings}, config.segment_length)


@dataclass(frozen=True)
class _SplitScores:
    """A training load's scores on all its test loads, and its accuracy on each test load by name."""

    scores: ClassificationScores
    per_test_load: dict[str, float]


def _loads_of(recordings: list[Recording], segments: SegmentSet) -> np.ndarray:
    """(segments,) the motor load of each segment's recording."""
    load_of = {r.asset_id: r.load_hp for r in recordings}
    return np.array([load_of[asset] for asset in segments.asset_ids], dtype=np.float64)


def _split_scores(
    recordings: list[Recording], test: SegmentSet, predicted: np.ndarray, classes: list[str]
) -> _SplitScores:
    """Score the predicted class of each test segment, over all test loads and on each."""
    loads = _loads_of(recordings, test)
    per_test_load = {
        load_name(load): float(np.mean(predicted[loads == load] == test.y[loads == load])) for load in np.unique(loads)
    }
    return _SplitScores(classification_scores(test.y, predicted, classes), per_test_load)


def _result(
    config: CwruConfig, recordings: list[Recording], per_load: dict[str, _SplitScores], notes: list[str]
) -> ProtocolResult:
    metrics = {
        "accuracy": float(np.mean([s.scores.accuracy for s in per_load.values()])),
        "macro_f1": float(np.mean([s.scores.macro_f1 for s in per_load.values()])),
        "min_pair_accuracy": min(a for s in per_load.values() for a in s.per_test_load.values()),
    }
    details: dict[str, Any] = {
        "config": asdict(config),
        "per_train_load": {load: asdict(s.scores) for load, s in per_load.items()},
        "per_pair": {load: s.per_test_load for load, s in per_load.items()},
        "left_out_classes": {load: left for load, left in left_out_classes(recordings).items() if load in per_load},
    }
    if len(per_load) == 1:
        details["subset"] = next(iter(per_load))
    return ProtocolResult(metrics=metrics, details=details, notes=tuple(notes))


def run_cwru_cross_load(
    dataset: Dataset,
    factory: MethodFactory,
    seed: int = 0,
    subset: str | None = None,
    config: CwruConfig | None = None,
) -> ProtocolResult:
    """Run the cross-load protocol: train on one load, test on the others, for each load; report the mean.

    Args:
        dataset: The canonical dataset.
        factory: ``seed -> estimator``.
        seed: Seed of the estimator.
        subset: One training load (``"1HP"``); default: every load, the figure their mean.
        config: The protocol's settings.

    Raises:
        ProtocolError: when fewer than two loads are present, or ``subset`` is not one of them.
    """
    config = config or CwruConfig()
    recordings, splits, notes = _split(dataset, config, subset)
    per_load = {}
    for load, (train_recs, test_recs) in splits.items():
        train, test = _whole(train_recs, config), _whole(test_recs, config)
        _, predicted = fit_and_predict(factory, seed, train, test)
        per_load[load] = _split_scores(recordings, test, predicted, sorted(set(train.y)))
    return _result(config, recordings, per_load, notes)


def _only(dataset: Dataset, subset: str | None) -> str:
    """The one training load a bundle is trained on: ``subset``, or the dataset's first load."""
    return subset if subset is not None else cross_load_subsets(dataset)[0]


def cross_load_inputs(
    dataset: Dataset, seed: int = 0, subset: str | None = None, config: CwruConfig | None = None
) -> dict[str, ProtocolInputs]:
    """What a bundle of one training load (``subset``, default the first) is trained (``train``: each training
    recording less its end), early-stopped (``val``: that end, after a gap) and scored (``test``: the whole of
    every recording of the other loads) on, as the ends of the segments. The split is fixed: ``seed`` changes
    nothing.

    Raises:
        ProtocolError: as :func:`run_cwru_cross_load`.
    """
    config = config or CwruConfig()
    recordings, splits, _ = _split(dataset, config, _only(dataset, subset))
    ((train_recs, test_recs),) = splits.values()
    bounds: dict[str, dict[str, tuple[int, int]]] = {"train": {}, "val": {}}
    for recording in train_recs:
        bounds["train"][recording.asset_id], bounds["val"][recording.asset_id] = validation_bounds(
            recording, len(recording.samples), config
        )
    parts = {part: cut_segments(train_recs, spans, config.segment_length) for part, spans in bounds.items()}
    parts["test"] = _whole(test_recs, config)
    return {part: ProtocolInputs(dataset, segment_ends(recordings, s), part) for part, s in parts.items()}


def score_cross_load_bundle(
    dataset: Dataset,
    predictor: Predictor,
    seed: int = 0,
    subset: str | None = None,
    config: CwruConfig | None = None,
    adapt: bool = False,
) -> ProtocolResult:
    """Score a bundle trained on one load (``subset``, default the first) on the recordings of the other loads, as
    :func:`run_cwru_cross_load` scores an estimator: the prediction is the likeliest of the split's classes.

    With ``adapt``, before each test load is scored the bundle's input standardisers are re-estimated on that
    load's segments, without their labels (:meth:`Predictor.adapted`): what a plant can do when a machine starts
    running under a new load, from its unlabelled bursts. The result says so (``details.adapted``).

    Raises:
        ProtocolError: as :func:`run_cwru_cross_load`, or if the bundle lacks some of the split's classes.
        BundleError: with ``adapt``, if the bundle standardises no input.
    """
    config = config or CwruConfig()
    recordings, splits, notes = _split(dataset, config, _only(dataset, subset))
    ((load, (train_recs, test_recs)),) = splits.items()
    classes = sorted({r.label for r in train_recs})
    test = _whole(test_recs, config)
    if adapt:
        predicted = _adapted_predictions(dataset, predictor, recordings, test, classes)
    else:
        predicted = bundle_predictions(dataset, predictor, recordings, test, classes)
    result = _result(config, recordings, {load: _split_scores(recordings, test, predicted, classes)}, notes)
    result.details["adapted"] = adapt
    return result


def _adapted_predictions(
    dataset: Dataset, predictor: Predictor, recordings: list[Recording], test: SegmentSet, classes: list[str]
) -> np.ndarray:
    """The class of each test segment by the bundle adapted to the segments of its load (unlabelled)."""
    loads = _loads_of(recordings, test)
    predicted = np.empty(len(test.y), dtype=object)
    for load in np.unique(loads):
        at = loads == load
        part = SegmentSet(test.X[at], test.y[at], test.asset_ids[at], test.starts[at])
        windows = predictor.windows(dataset, anchors=segment_ends(recordings, part))
        adapted = predictor.adapted(windows)  # the same windows: adapting changes weights, not how windows are cut
        predicted[at] = bundle_predictions(dataset, adapted, recordings, part, classes, windows)
    return predicted.astype(str)
