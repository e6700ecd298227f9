"""The asset's own healthy baseline, and the windows a diagnosis reads.

A deviation means something only against what is normal *for this machine*: a pump at the top of its speed
range runs hotter than its neighbour, and a camera sees its own background. So every z-score, baseline
spectrum and baseline frame of a diagnosis comes from the diagnosed asset's own past:

1. candidates are the asset's windows on the bundle's stride grid that end at least ``degraded_within``
   (the bundle's "degrading" label horizon) before the diagnosed time, so that the run-up to the failure
   being diagnosed is not part of "normal" (when fewer than :data:`MIN_CANDIDATES` are that old, those ending
   at least the longest prediction horizon before it);
2. up to ``max_windows`` of them, evenly spread over that history, are scored with the bundle;
3. the healthy baseline is those the model scores below the calibrated alert threshold of the horizon read
   (when fewer than two are, the lower-scored half).

Nothing after the diagnosed time is read, so the live service can diagnose the same way. An asset with no
history old enough has no baseline: its z-scores are unknown and occlusion falls back to masking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from omnimaint.data.dataset import Dataset
from omnimaint.data.item_index import micros_of
from omnimaint.data.sample_builder import WindowedDataset, anchor_grid
from omnimaint.data.schema import MODALITY_TABLES, TABLES
from omnimaint.data.splits import Split
from omnimaint.data.windows import Batch, micros, timestamps_us
from omnimaint.diagnosis.occlusion import take
from omnimaint.errors import ConfigError
from omnimaint.inference.compatibility import ensure_fit
from omnimaint.inference.predictor import HealthOutput, Predictor

MIN_CANDIDATES = 4
MIN_HEALTHY = 2


@dataclass(frozen=True)
class AssetSpan:
    """First and last observation of an asset over every modality table (µs since the epoch)."""

    first_us: int
    last_us: int


@dataclass(frozen=True)
class Baseline:
    """The healthy windows of the asset that deviations are measured against.

    Attributes:
        windows: The healthy baseline windows (``None`` when the asset has no history old enough).
        failure_probability: (N,) their failure probability at the horizon read.
        candidates: How many windows were scored to choose them.
        rule: How they were chosen, in words (for the diagnosis card).
    """

    windows: Batch | None
    failure_probability: np.ndarray
    candidates: int
    rule: str

    @property
    def size(self) -> int:
        return 0 if self.windows is None else len(self.windows)


def asset_span(dataset: Dataset, asset_id: str) -> AssetSpan:
    """When ``asset_id`` was first and last observed in ``dataset``.

    Raises:
        ConfigError: if the dataset has no such asset, or no observation of it.
    """
    known = dataset.table("assets")["asset_id"].astype(str)
    if asset_id not in set(known):
        listed = ", ".join(sorted(known)[:8]) + (" …" if len(known) > 8 else "")
        raise ConfigError(f"{dataset.path}: no asset {asset_id!r} (assets: {listed})")
    first, last = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    for name in MODALITY_TABLES:
        column = TABLES[name].time_column
        assert column is not None
        if not dataset.has(name):
            continue
        table = dataset.arrow(name, columns=["asset_id", column])
        stamps = micros_of(table.filter(pc.equal(table.column("asset_id"), asset_id)).column(column))
        if stamps.size:
            first, last = min(first, int(stamps.min())), max(last, int(stamps.max()))
    if first > last:
        raise ConfigError(f"{dataset.path}: asset {asset_id!r} has no observations")
    return AssetSpan(first, last)


def baseline_anchors(predictor: Predictor, span: AssetSpan, at_us: int, max_windows: int) -> np.ndarray:
    """Candidate baseline anchors (µs) of an asset observed over ``span``, diagnosed at ``at_us`` (see module)."""
    spec = predictor.bundle.window
    for gap in (spec.degraded_within, spec.horizons[-1]):
        grid = anchor_grid(spec, span.first_us, min(span.last_us, at_us - micros(gap)))
        if grid.size >= MIN_CANDIDATES:
            break
    if grid.size > max_windows:
        grid = grid[np.unique(np.linspace(0, grid.size - 1, max_windows).round().astype(np.int64))]
    return grid


def read_windows(
    predictor: Predictor, dataset: Dataset, asset_id: str, anchors_us: np.ndarray, *, check: bool = True
) -> WindowedDataset:
    """The windows of ``asset_id`` ending at ``anchors_us``, cut as the bundle's model was trained on."""
    anchors = pd.DataFrame(
        {"asset_id": [asset_id] * len(anchors_us), "ts": pd.to_datetime(anchors_us, unit="us", utc=True)}
    )
    only = Split("diagnosis", asset_ids=frozenset({asset_id}))  # index this asset's rows only
    return predictor.windows(dataset, split=only, anchors=anchors, check=check)


def choose_healthy(predictor: Predictor, windows: Batch, assessed: HealthOutput, horizon: int) -> Baseline:
    """Keep the windows the model scores healthy (module docstring, step 3)."""
    thresholds = predictor.bundle.thresholds.failure_probability
    threshold = float(thresholds[horizon]) if thresholds else 0.5
    p = assessed.failure_probability[:, horizon].astype(np.float64)
    rule = f"windows of the asset's own history scored below the alert threshold P = {threshold:.3g}"
    keep = np.flatnonzero(p < threshold)
    if keep.size < MIN_HEALTHY:
        keep = np.argsort(p, kind="stable")[: max(1, len(p) // 2)]
        rule = "the lower-scored half of the asset's own history (too few windows below the alert threshold)"
    keep = np.sort(keep)
    return Baseline(windows=take(windows, keep), failure_probability=p[keep], candidates=len(p), rule=rule)


def no_baseline() -> Baseline:
    return Baseline(
        windows=None,
        failure_probability=np.zeros(0),
        candidates=0,
        rule="none: the asset has no history old enough before the diagnosed time",
    )


def parse_time(at: str | datetime | pd.Timestamp, option: str = "--at") -> pd.Timestamp:
    """A time as a UTC timestamp (naive times read as UTC).

    Raises:
        ConfigError: if it is not a time, naming the ``option`` it was given as.
    """
    try:
        stamp = pd.Timestamp(at)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{option} {at!r}: not a time; give ISO-8601, e.g. 2024-01-14T12:00Z") from exc
    if pd.isna(stamp):
        raise ConfigError(f"{option} {at!r}: not a time; give ISO-8601, e.g. 2024-01-14T12:00Z")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def read_scene(
    predictor: Predictor, dataset: Dataset, asset_id: str, stamp: pd.Timestamp, *, horizon: int, max_baseline: int
) -> tuple[Batch, Baseline]:
    """The window of ``asset_id`` ending at ``stamp`` and the asset's healthy baseline, in one ``predict`` call.

    Raises:
        ConfigError: for an unknown asset, a time outside the asset's data, a window with no data, or a
            horizon index the bundle lacks.
        IncompatibleDataError: if the dataset does not fit the bundle.
    """
    horizons = predictor.bundle.window.horizons
    if not 0 <= horizon < len(horizons):
        raise ConfigError(f"horizon index {horizon} out of range: the bundle has {len(horizons)} horizons")
    span = asset_span(dataset, asset_id)
    at_us = int(timestamps_us([stamp])[0])
    if not span.first_us <= at_us <= span.last_us:
        first, last = (pd.Timestamp(v, unit="us", tz="UTC").isoformat() for v in (span.first_us, span.last_us))
        raise ConfigError(
            f"{dataset.path}: asset {asset_id} has data from {first} to {last}; {stamp.isoformat()} is outside it"
        )
    ensure_fit(predictor.bundle, dataset, assets=[asset_id], warn=False)
    candidates = baseline_anchors(predictor, span, at_us, max_baseline)
    windows = read_windows(predictor, dataset, asset_id, np.concatenate([[at_us], candidates]), check=False)
    everything = windows.batch(np.arange(len(windows)))
    window = take(everything, np.array([0]))
    if not window.presence[0].any():
        raise ConfigError(f"{dataset.path}: asset {asset_id} has no data in the window ending {stamp.isoformat()}")
    if not candidates.size:
        return window, no_baseline()
    rest = np.arange(1, len(everything))
    history = take(everything, rest)
    return window, choose_healthy(predictor, history, predictor.predict(history, frame_anomaly=False), horizon)
