"""CWRU bearing fault diagnosis protocols (CWRU Bearing Data Center; Smith & Randall, MSSP 64-65, 2015).

The customary 10-class task: normal, and inner-race (IR), ball (B) and outer-race at 6 o'clock (OR@6)
faults of 0.007, 0.014 and 0.021 inch, from the drive-end accelerometer (``DE``).

Many published ~100 % accuracies cut each recording into overlapping segments and split them at random,
so that the test segments share samples (and the same few seconds of the same run) with training
segments. These protocols cannot leak that way:

- **Within-recording** (:func:`run_cwru`): each recording is cut into contiguous blocks, the first part
  for training, then a gap of at least one segment, then the last part for testing; segments are
  non-overlapping inside each block. Train and test segments of a recording share no sample and are at
  least ``gap`` samples apart. All loads present are pooled.
- **Cross-load** (:mod:`omnimaint.evaluation.protocols.cwru_cross_load`): train on every recording of one
  motor load, test on the recordings of the other loads (different files, so nothing is shared); repeated
  for each load and averaged.

Recordings of fault types outside the configured classes (the 0.028" faults, outer-race faults at @3 and
@12, fan-end faults ``FE-…``) are not used, and the notes say how many and which; so are classes of the
configuration without any recording.

Recordings sampled at different rates (the normal baseline is often stored at 48 kHz next to 12 kHz
fault data) are resampled to the lowest rate present, so that the rate itself cannot give the class away.

Canonical form (see the CWRU adapter): one ``bearing_rig`` asset per file with metadata ``load_hp``; one
waveform row per channel holding the recording; one ``failures`` row per asset whose ``fault_type`` is
the class (``normal``, ``IR007``, ``B014``, ``OR021@6`` ...).

Estimator interface: ``fit(X, y)`` / ``predict(X)`` with ``X`` float32 ``(n, 1, segment_length)``, ``y`` class names.

Bundle interface (the multimodal model, :func:`cwru_inputs` and :func:`score_cwru_bundle`, within-recording
protocol): each segment is a waveform burst, so the protocol hands over the time of each segment's last
sample as an anchor, and a window of ``WaveformWindow(align="anchor", length=segment_length)`` at the
recordings' common rate cuts exactly that segment (:mod:`omnimaint.data.bursts`). The model trains on the
training block less its end: the last ``validation_fraction`` of each training block (at least one
segment), after a further gap of ``gap`` samples, is its validation part (early stopping, the kept epoch).
It is scored on the same test segments as an estimator, its prediction the likeliest of the classes the
training segments hold.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from fractions import Fraction
from math import ceil
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimaint.data.dataset import Dataset
from omnimaint.data.item_index import micros_of, resampled
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.metrics import ClassificationScores, classification_scores
from omnimaint.evaluation.protocols.base import MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.inputs import asset_metadata, assets_of_type
from omnimaint.evaluation.protocols.running import fit_and_score

if TYPE_CHECKING:  # the predictor is handed in: scoring a bundle needs no torch import here
    from omnimaint.data.sample_builder import WindowedDataset
    from omnimaint.inference.predictor import Predictor

logger = logging.getLogger(__name__)

ASSET_TYPE = "bearing_rig"
TEN_CLASSES: tuple[str, ...] = (
    "normal",
    "IR007",
    "IR014",
    "IR021",
    "B007",
    "B014",
    "B021",
    "OR007@6",
    "OR014@6",
    "OR021@6",
)


@dataclass(frozen=True)
class CwruConfig:
    """Settings of the CWRU protocols.

    Attributes:
        channel: Accelerometer channel.
        classes: Fault types kept (recordings of other types are ignored).
        segment_length: Samples per segment.
        test_fraction: Last fraction of each recording used for testing (within-recording protocol).
        gap: Samples skipped between the training and the test block of a recording (and, for a bundle,
            between its training and validation parts).
        validation_fraction: For a bundle: the last fraction of each training block (at least one segment)
            that validates it.
    """

    channel: str = "DE"
    classes: tuple[str, ...] = TEN_CLASSES
    segment_length: int = 2048
    test_fraction: float = 0.3
    gap: int = 2048
    validation_fraction: float = 0.2


@dataclass(frozen=True)
class Recording:
    """One recording (one asset) of the chosen channel.

    Attributes:
        asset_id: Asset id.
        label: Fault type.
        load_hp: Motor load, or ``None`` when the metadata does not say.
        samples: The waveform, float32, at ``sample_rate_hz``.
        sample_rate_hz: Rate after resampling to the common rate.
        start_us: Time of its first sample (its first waveform row), µs since the epoch.
        rows: Waveform rows it was read from (their samples one after the other).
    """

    asset_id: str
    label: str
    load_hp: float | None
    samples: np.ndarray
    sample_rate_hz: float
    start_us: int
    rows: int


def load_recordings(dataset: Dataset, config: CwruConfig) -> list[Recording]:
    """Read the chosen channel of every bearing recording of the configured classes, at a common rate.

    Raises:
        ProtocolError: if no recording of the configured classes has the channel.
    """
    ids = set(assets_of_type(dataset, ASSET_TYPE))
    if not ids:
        raise ProtocolError(f"{dataset.path}: no assets of type '{ASSET_TYPE}' (is this a CWRU dataset?)")
    failures = dataset.table("failures")
    labels = {str(a): str(f) for a, f in zip(failures["asset_id"], failures["fault_type"], strict=True)}
    metadata = asset_metadata(dataset)
    wanted = sorted(a for a in ids if labels.get(a) in config.classes)
    table = dataset.arrow("waveforms")
    table = table.filter(
        pc.and_(
            pc.equal(table["channel"], config.channel),
            pc.is_in(table["asset_id"], value_set=pa.array(wanted, type=table["asset_id"].type)),
        )
    )
    table = table.sort_by([("asset_id", "ascending"), ("ts", "ascending")])
    bursts: dict[str, list[np.ndarray]] = {}
    rates: dict[str, float] = {}
    starts: dict[str, int] = {}
    stamps = micros_of(table["ts"])
    for index in range(table.num_rows):
        asset = str(table["asset_id"][index].as_py())
        bursts.setdefault(asset, []).append(table["samples"][index].values.to_numpy(zero_copy_only=False))
        rates[asset] = float(table["sample_rate_hz"][index].as_py())
        starts.setdefault(asset, int(stamps[index]))
    if not bursts:
        raise ProtocolError(
            f"{dataset.path}: no '{config.channel}' waveforms for the classes {', '.join(config.classes)}"
        )
    common_rate = min(rates.values())
    recordings = []
    for asset, parts in bursts.items():
        samples = np.concatenate(parts).astype(np.float32)
        rate = rates[asset]
        if rate != common_rate:
            # The resampling of the window path (WaveformWindow.sample_rate_hz), so that both cut the same samples.
            samples = resampled(samples, rate, common_rate)
            logger.info("resampled %s from %g Hz to %g Hz", asset, rate, common_rate)
        load = metadata.get(asset, {}).get("load_hp")
        recordings.append(
            Recording(
                asset,
                labels[asset],
                float(load) if load is not None else None,
                samples,
                common_rate,
                start_us=starts[asset],
                rows=len(parts),
            )
        )
    missing = sorted(set(config.classes) - {r.label for r in recordings})
    if missing:
        logger.info("classes without any recording: %s", ", ".join(missing))
    return recordings


def coverage_notes(dataset: Dataset, recordings: list[Recording], config: CwruConfig) -> list[str]:
    """Notes on the recordings a protocol cannot use and the classes it has no recording of."""
    failures = dataset.table("failures")
    bearing = set(assets_of_type(dataset, ASSET_TYPE))
    others = Counter(str(f) for a, f in zip(failures["asset_id"], failures["fault_type"], strict=True) if a in bearing)
    for name in config.classes:
        others.pop(name, None)
    notes = []
    if others:
        shown = ", ".join(sorted(others)[:6]) + (" …" if len(others) > 6 else "")
        notes.append(
            f"{sum(others.values())} recordings of fault types outside the {len(config.classes)} classes are not "
            f"used ({shown})"
        )
    missing = [name for name in config.classes if name not in {r.label for r in recordings}]
    if missing:
        notes.append(f"no '{config.channel}' recording of the classes {', '.join(missing)}; they are not scored")
    return notes


@dataclass(frozen=True)
class SegmentSet:
    """Segments cut from recordings.

    Attributes:
        X: Segments, float32 ``(n, 1, segment_length)``.
        y: Class of each segment.
        asset_ids: Recording of each segment.
        starts: First sample of each segment in its recording (after resampling).
    """

    X: np.ndarray
    y: np.ndarray
    asset_ids: np.ndarray
    starts: np.ndarray


def block_bounds(n_samples: int, config: CwruConfig) -> tuple[tuple[int, int], tuple[int, int]]:
    """The training and test blocks ``[start, stop)`` of a recording: train first, then the gap, then test.

    Raises:
        ProtocolError: if the recording is too short for one segment on each side of the gap.
    """
    test_start = n_samples - round(config.test_fraction * n_samples)
    train_stop = test_start - config.gap
    if train_stop < config.segment_length or n_samples - test_start < config.segment_length:
        raise ProtocolError(
            f"a recording of {n_samples} samples is too short for a {config.segment_length}-sample segment on each "
            f"side of a {config.gap}-sample gap"
        )
    return (0, train_stop), (test_start, n_samples)


def cut_segments(recordings: list[Recording], bounds: dict[str, tuple[int, int]], length: int) -> SegmentSet:
    """Non-overlapping segments of ``length`` samples inside each recording's block ``[start, stop)``."""
    xs, ys, ids, starts = [], [], [], []
    for recording in recordings:
        start, stop = bounds[recording.asset_id]
        offsets = np.arange(start, stop - length + 1, length)
        if offsets.size == 0:
            continue
        xs.append(np.stack([recording.samples[o : o + length] for o in offsets])[:, None, :])  # (n, 1, length)
        ys.extend([recording.label] * offsets.size)
        ids.extend([recording.asset_id] * offsets.size)
        starts.append(offsets)
    if not xs:
        raise ProtocolError("no segment fits in the recordings")
    return SegmentSet(np.concatenate(xs), np.array(ys), np.array(ids), np.concatenate(starts))


def within_recording_split(recordings: list[Recording], config: CwruConfig) -> tuple[SegmentSet, SegmentSet]:
    """Training and test segments: first block of each recording for training, last block for testing."""
    train_bounds, test_bounds = {}, {}
    for recording in recordings:
        train_bounds[recording.asset_id], test_bounds[recording.asset_id] = block_bounds(len(recording.samples), config)
    return (
        cut_segments(recordings, train_bounds, config.segment_length),
        cut_segments(recordings, test_bounds, config.segment_length),
    )


def run_cwru(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, config: CwruConfig | None = None
) -> ProtocolResult:
    """Run the within-recording 10-class protocol.

    Returns:
        ``accuracy`` and ``macro_f1`` on the test blocks, and per-class F1 and segment counts in details.
    """
    config = config or CwruConfig()
    recordings = load_recordings(dataset, config)
    notes = coverage_notes(dataset, recordings, config)
    train, test = within_recording_split(recordings, config)
    classes = sorted(set(train.y))
    _, scores = fit_and_score(factory, seed, train, test, classes)
    return _within_recording_result(config, recordings, notes, train, test, scores)


def _within_recording_result(
    config: CwruConfig,
    recordings: list[Recording],
    notes: list[str],
    train: SegmentSet,
    test: SegmentSet,
    scores: ClassificationScores,
    **counts: int,
) -> ProtocolResult:
    classes = sorted(set(train.y))
    details = {
        "config": asdict(config),
        "classes": classes,
        "loads_hp": sorted({r.load_hp for r in recordings if r.load_hp is not None}),
        "sample_rate_hz": recordings[0].sample_rate_hz,
        "n_train_segments": len(train.y),
        **counts,
        "n_test_segments": len(test.y),
        "test_segments_per_class": dict(Counter(test.y.tolist())),
        "per_class_f1": scores.per_class_f1,
    }
    metrics = {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1, "n_classes": float(len(classes))}
    return ProtocolResult(metrics=metrics, details=details, notes=tuple(notes))


def bundle_split(recordings: list[Recording], config: CwruConfig) -> dict[str, SegmentSet]:
    """The segments a bundle trains on (``train``), is validated on (``val``: the end of each recording's
    training block, a gap after the training part) and is scored on (``test``: the estimators' test segments).

    Raises:
        ProtocolError: if a training block is too short for a training and a validation segment with the gap.
    """
    bounds: dict[str, dict[str, tuple[int, int]]] = {"train": {}, "val": {}, "test": {}}
    for recording in recordings:
        (_, train_stop), test = block_bounds(len(recording.samples), config)
        bounds["train"][recording.asset_id], bounds["val"][recording.asset_id] = validation_bounds(
            recording, train_stop, config
        )
        bounds["test"][recording.asset_id] = test
    return {part: cut_segments(recordings, spans, config.segment_length) for part, spans in bounds.items()}


def validation_bounds(recording: Recording, stop: int, config: CwruConfig) -> tuple[tuple[int, int], tuple[int, int]]:
    """A bundle's training and validation parts of a recording's block ``[0, stop)``: the last
    ``validation_fraction`` of it (at least one segment) validates, after a gap of ``gap`` samples.

    Raises:
        ProtocolError: if the block is too short for a training and a validation segment with the gap.
    """
    length = config.segment_length
    val_start = stop - max(length, round(config.validation_fraction * stop))
    if val_start - config.gap < length:
        raise ProtocolError(
            f"recording {recording.asset_id}: its training block of {stop} samples is too short for a "
            f"{length}-sample training and validation segment on each side of a {config.gap}-sample gap"
        )
    return (0, val_start - config.gap), (val_start, stop)


def segment_ends(recordings: list[Recording], segments: SegmentSet) -> pd.DataFrame:
    """Anchors at the segments' ends: columns ``asset_id`` and ``ts``, the time of each segment's last sample
    rounded up to the microsecond, so that ``WaveformWindow(align="anchor")`` windows cut exactly the segments.

    Raises:
        ProtocolError: if a recording was read from several waveform rows (a window holds one row's samples).
    """
    by_id = {recording.asset_id: recording for recording in recordings}
    several = sorted(asset for asset in set(segments.asset_ids.tolist()) if by_id[asset].rows > 1)
    if several:
        raise ProtocolError(
            f"recording {several[0]} is stored as {by_id[several[0]].rows} waveform rows of its channel; a bundle "
            "reads each recording as one row (as the CWRU importer writes it)"
        )
    last = segments.starts + segments.X.shape[-1] - 1
    ends = [
        by_id[asset].start_us + ceil(int(k) * Fraction(1_000_000) / Fraction(by_id[asset].sample_rate_hz))
        for asset, k in zip(segments.asset_ids.tolist(), last.tolist(), strict=True)
    ]
    return pd.DataFrame(
        {"asset_id": segments.asset_ids.astype(object), "ts": pd.to_datetime(np.asarray(ends), unit="us", utc=True)}
    )


def cwru_inputs(dataset: Dataset, seed: int = 0, config: CwruConfig | None = None) -> dict[str, ProtocolInputs]:
    """What a bundle is trained (``train``), early-stopped (``val``) and scored (``test``) on: the ends of the
    segments of :func:`bundle_split`. The split is fixed, so ``seed`` changes nothing."""
    config = config or CwruConfig()
    recordings = load_recordings(dataset, config)
    return {
        part: ProtocolInputs(dataset, segment_ends(recordings, segments), part)
        for part, segments in bundle_split(recordings, config).items()
    }


def score_cwru_bundle(
    dataset: Dataset, predictor: Predictor, seed: int = 0, config: CwruConfig | None = None
) -> ProtocolResult:
    """Score a bundle on the test segments, as :func:`run_cwru` scores an estimator: the prediction is the
    likeliest of the classes the training segments hold (those the protocol scores).

    Raises:
        ProtocolError: if the bundle lacks some of those classes.
    """
    config = config or CwruConfig()
    recordings = load_recordings(dataset, config)
    notes = coverage_notes(dataset, recordings, config)
    segments = bundle_split(recordings, config)
    train, test = segments["train"], segments["test"]
    classes = sorted(set(train.y))
    scores = classification_scores(test.y, bundle_predictions(dataset, predictor, recordings, test, classes), classes)
    return _within_recording_result(
        config, recordings, notes, train, test, scores, n_val_segments=len(segments["val"].y)
    )


def bundle_predictions(
    dataset: Dataset,
    predictor: Predictor,
    recordings: list[Recording],
    test: SegmentSet,
    classes: list[str],
    windows: WindowedDataset | None = None,
) -> np.ndarray:
    """A bundle's class of each test segment: the likeliest of ``classes`` (``windows``: those of the segments,
    when the caller has cut them already).

    Raises:
        ProtocolError: if the bundle lacks some of those classes.
    """
    known = predictor.bundle.preprocessor.vocab.fault_classes
    missing = [name for name in classes if name not in known]
    if missing:
        raise ProtocolError(f"{predictor.bundle.path}: the bundle knows no fault types {missing} (it knows {known})")
    if windows is None:
        windows = predictor.windows(dataset, anchors=segment_ends(recordings, test))
    output = predictor.predict_windows(windows, batch_size=256, progress=True, description="scoring test segments")
    columns = [known.index(name) for name in classes]
    return np.asarray(classes)[output.fault_probabilities[:, columns].argmax(axis=1)]
