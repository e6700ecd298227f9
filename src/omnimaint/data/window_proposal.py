"""A working WindowSpec from the data's own clock, and why a spec leaves no windows.

The default :class:`WindowSpec` (24 h of telemetry on a 10-minute grid, an anchor every 6 h, warnings
24 h and 72 h ahead, RUL capped at 14 days) fits months of 10-minute data. A labelled sensor CSV of
three days of one-minute readings gets no window with a known label from it, and hourly readings
over a year get 24 readings per window. When a training config sets none of the window's durations,
:func:`propose_window` derives them from the data:

- ``S``: the median span of an asset's history; ``P``: the median time between two readings of one
  telemetry channel; ``F``: the median time from an asset's first observation to its first failure and
  between its consecutive failures.
- Longest horizon ``H = min(72 h, S/6, F/3)``, at least two readings (``2P``). Three days is the
  planning horizon of maintenance (and the default); ``S/6`` keeps the windows whose horizon runs past
  the end of the data (unknown negatives) to a sixth of the history; ``F/3`` keeps the warning period
  before each failure to about a third of the time between failures, so that positives stay a
  minority and a model cannot score by calling everything positive.
- Horizons ``(H/3, H)``, as the default 24 h / 72 h.
- Telemetry lookback ``L = H/3`` (the default 24 h for 72 h), at least 16 readings, at most ``S/4`` so
  that windows can end over three quarters of the history.
- Step: the reading period, or ``L/144`` when that is coarser (the default 144 steps), so the grid is
  never finer than the data and a window never longer than the default's.
- Stride ``H/12`` (the default 6 h): twelve anchors in the longest warning period of each failure; finer
  (down to the step) when that leaves fewer than 500 training windows, so that a short history still
  gives the anomaly head more healthy windows than its embedding has dimensions.
- ``degraded_within = max(H, min(7 d, S/4))`` and ``rul_cap = 2 · degraded_within`` (the default 7 d
  and 14 d), so that "healthy" and RUL labels are known for most of a short history.
- Waveform and frame lookbacks: three times ``max_bursts`` (``max_frames``) bursts (frames) of their own
  period (the default 6 h for hourly bursts), events ``3L`` (the default 72 h), at most ``max(L, S/6)``; work
  orders keep their lookback (history by nature). Modalities the dataset holds no data of are switched
  off.

Every duration is rounded down to a round value (1, 2, 5, 10, 15, 30 minutes, 1, 2, 3, 6, 12 hours, 1,
2, 3, 7, 14 days …), so that ten-minute data over a month or more get exactly the default spec. When the
config does not set the split strategy either, the first of ``asset``, ``time`` and ``asset_time``
whose training, validation and test windows hold failures is chosen, else the one that comes closest
(a single machine cannot be split by asset). :func:`explain_no_windows` says which setting to change
when a spec leaves a split without windows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from omnimaint.data.dataset import Dataset
from omnimaint.data.item_index import micros_of
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.schema import MODALITY_TABLES, TABLES
from omnimaint.data.splits import SPLIT_NAMES, Split, SplitStrategy, make_splits
from omnimaint.data.windows import WindowSpec, micros
from omnimaint.errors import ConfigError

logger = logging.getLogger(__name__)

_S, _MIN, _H, _D = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
ROUND_DURATIONS: tuple[timedelta, ...] = (
    *(n * _S for n in (1, 2, 5, 10, 15, 30)),
    *(n * _MIN for n in (1, 2, 5, 10, 15, 30)),
    *(n * _H for n in (1, 2, 3, 6, 12)),
    *(n * _D for n in (1, 2, 3, 7, 14, 30, 60, 90, 180, 365)),
)
"""The values a proposed duration is rounded to."""
MIN_TRAINING_WINDOWS = 500
"""A proposed stride is fine enough for about this many training windows: more than the embedding width of
healthy ones for the anomaly head, a few dozen batches per epoch."""

_DURATIONS = {"stride", "horizons", "rul_cap", "degraded_within"}
_MODALITY_DURATIONS = {
    "telemetry": {"lookback", "step"},
    "waveforms": {"lookback"},
    "frames": {"lookback"},
    "events": {"lookback"},
    "maintenance": {"lookback", "since_cap"},
}


def sets_durations(spec: WindowSpec) -> bool:
    """Whether a spec was given any duration (lookback, step, stride, horizon, cap) rather than defaulted.

    Switching modalities off, choosing channels or slot counts does not count: those are kept by a proposal.
    """
    if spec.model_fields_set & _DURATIONS:
        return True
    return any(
        getattr(spec, name) is not None and getattr(spec, name).model_fields_set & fields
        for name, fields in _MODALITY_DURATIONS.items()
    )


def _down(value: timedelta) -> timedelta:
    """The largest round duration not above ``value`` (the smallest one when all are above)."""
    below = [d for d in ROUND_DURATIONS if d <= value]
    return below[-1] if below else ROUND_DURATIONS[0]


def _up(value: timedelta) -> timedelta:
    """The smallest round duration not below ``value`` (``value`` itself beyond the largest)."""
    above = [d for d in ROUND_DURATIONS if d >= value]
    return above[0] if above else value


def typical_period(series: np.ndarray, ts_us: np.ndarray) -> timedelta | None:
    """Median positive time between consecutive items of the same series (``series``: any integer key)."""
    if ts_us.size < 2:
        return None
    order = np.lexsort((ts_us, series))
    same = np.diff(series[order]) == 0
    gaps = np.diff(ts_us[order])[same]
    gaps = gaps[gaps > 0]
    return timedelta(microseconds=float(np.median(gaps))) if gaps.size else None


def _keys(table: pa.Table, columns: list[str]) -> np.ndarray:
    return table.select(columns).to_pandas().groupby(columns, sort=False, observed=True).ngroup().to_numpy()


@dataclass(frozen=True)
class DataTiming:
    """When each asset was observed, how often its signals come, and when it failed.

    Attributes:
        asset_ids: Assets, in the order of the arrays below.
        first_us: (A,) first observation of each asset in any modality table, µs (int64 max when none).
        last_us: (A,) last observation, µs (int64 min when none).
        failures_us: Sorted failure times of each asset, µs.
        modalities: Modalities with at least one row.
        telemetry_period: Median time between readings of one channel of one asset.
        burst_period: Median time between waveform bursts of one asset.
        frame_period: Median time between frames of one asset.
    """

    asset_ids: tuple[str, ...]
    first_us: np.ndarray
    last_us: np.ndarray
    failures_us: tuple[np.ndarray, ...]
    modalities: frozenset[str]
    telemetry_period: timedelta | None = None
    burst_period: timedelta | None = None
    frame_period: timedelta | None = None

    @classmethod
    def of(cls, dataset: Dataset, *, periods: bool = True) -> DataTiming:
        """Read the time columns of every modality table (and, with ``periods``, the signal rates)."""
        assets = tuple(str(a) for a in dataset.table("assets")["asset_id"])
        first = np.full(len(assets), np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(len(assets), np.iinfo(np.int64).min, dtype=np.int64)
        present: set[str] = set()
        rates: dict[str, timedelta | None] = {}
        for name in MODALITY_TABLES:
            column = TABLES[name].time_column
            assert column is not None
            extra = {"telemetry": ["channel"]}.get(name, []) if periods else []
            table = dataset.arrow(name, columns=["asset_id", column, *extra])
            if table.num_rows == 0:
                continue
            present.add(name)  # the modality tables are named after their modalities
            index = pd.Index(assets).get_indexer(table.column("asset_id").to_pandas())
            ts = micros_of(table.column(column))
            keep = index >= 0
            np.minimum.at(first, index[keep], ts[keep])
            np.maximum.at(last, index[keep], ts[keep])
            if periods and name in ("telemetry", "waveforms", "frames"):
                rates[name] = typical_period(_keys(table, ["asset_id", *extra]), ts)
        failures = dataset.table("failures")
        by_asset = {str(a): np.sort(micros_of(pa.array(g["ts"]))) for a, g in failures.groupby("asset_id")}
        empty = np.zeros(0, dtype=np.int64)
        return cls(
            asset_ids=assets,
            first_us=first,
            last_us=last,
            failures_us=tuple(by_asset.get(a, empty) for a in assets),
            modalities=frozenset(present),
            telemetry_period=rates.get("telemetry"),
            burst_period=rates.get("waveforms"),
            frame_period=rates.get("frames"),
        )

    @property
    def observed(self) -> np.ndarray:
        """(A,) bool: assets with any observation."""
        return self.first_us <= self.last_us

    @property
    def span(self) -> timedelta:
        """Median span of an observed asset's history."""
        spans = (self.last_us - self.first_us)[self.observed]
        return timedelta(microseconds=float(np.median(spans))) if spans.size else timedelta(0)

    def history(self, lookback: timedelta) -> timedelta:
        """Total time, over the assets, in which a window with ``lookback`` of history can end."""
        spans = np.clip(self.last_us - self.first_us - micros(lookback), 0, None)[self.observed]
        return timedelta(microseconds=float(spans.sum()))

    @property
    def n_failures(self) -> int:
        return int(sum(f.size for f in self.failures_us))

    @property
    def failure_spacing(self) -> timedelta | None:
        """Median time from an asset's first observation to its first failure, and between its failures."""
        gaps = [
            np.diff(np.concatenate([[self.first_us[a]], f[f > self.first_us[a]]]))
            for a, f in enumerate(self.failures_us)
            if f.size and self.observed[a]
        ]
        joined = np.concatenate(gaps) if gaps else np.zeros(0)
        joined = joined[joined > 0]
        return timedelta(microseconds=float(np.median(joined))) if joined.size else None


@dataclass(frozen=True)
class Census:
    """What a spec cuts from one split, counted without building a window.

    Attributes:
        assets: Assets with at least one window.
        windows: Anchors.
        positives: Windows followed by a failure within the longest horizon.
        failures: Failures with at least one window in the longest horizon before them.
    """

    assets: int
    windows: int
    positives: int
    failures: int


def census(timing: DataTiming, spec: WindowSpec, split: Split | None = None) -> Census:
    """Count the windows and positive windows that :class:`WindowedDataset` would cut (same anchor grid,
    same censoring at the split's end)."""
    stride = micros(spec.stride)
    history = micros(spec.telemetry.lookback) if spec.telemetry is not None else 0
    horizon = micros(spec.horizons[-1])
    assets = windows = positives = failures = 0
    for a, asset in enumerate(timing.asset_ids):
        if not timing.observed[a] or (
            split is not None and split.asset_ids is not None and asset not in split.asset_ids
        ):
            continue
        lo, hi = int(timing.first_us[a]) + history, int(timing.last_us[a])
        if split is not None and split.start is not None:
            lo = max(lo, split.start.value // 1000)
        if split is not None and split.end is not None:
            hi = min(hi, split.end.value // 1000)
        start = -(-max(lo, 0) // stride) * stride
        anchors = np.arange(start, hi + 1, stride, dtype=np.int64)
        if not anchors.size:
            continue
        observed = max(int(timing.last_us[a]), int(timing.failures_us[a].max(initial=timing.last_us[a])))
        if split is not None and split.end is not None:
            observed = min(observed, split.end.value // 1000)
        fails = timing.failures_us[a][timing.failures_us[a] <= observed]
        following = np.searchsorted(fails, anchors, side="right")
        has = following < fails.size
        hit = has & (fails[np.minimum(following, max(fails.size - 1, 0))] - anchors <= horizon) if fails.size else has
        assets += 1
        windows += anchors.size
        positives += int(hit.sum())
        failures += int(np.unique(following[hit]).size)
    return Census(assets, windows, positives, failures)


@dataclass(frozen=True)
class WindowProposal:
    """A spec (and split strategy) derived from the data, with the figures behind it.

    Attributes:
        spec: The proposed window spec.
        split: The split strategy (the configured one, or the one chosen).
        counts: Census of each split under ``spec`` and ``split``.
        basis: What the data showed, in words.
    """

    spec: WindowSpec
    split: SplitStrategy
    counts: dict[str, Census]
    basis: str

    def describe(self) -> str:
        """One line: what was chosen, from what, and what it cuts."""
        spec = self.spec
        parts = []
        if spec.telemetry is not None:
            lookback, step = format_duration(spec.telemetry.lookback), format_duration(spec.telemetry.step)
            parts.append(f"telemetry lookback {lookback} at {step} steps")
        parts += [
            f"stride {format_duration(spec.stride)}",
            f"horizons {' and '.join(format_duration(h) for h in spec.horizons)}",
            f"RUL cap {format_duration(spec.rul_cap)}",
            f"degraded within {format_duration(spec.degraded_within)}",
            f"modalities {', '.join(spec.enabled)}",
            f"{self.split} split",
        ]
        cut = ", ".join(f"{n} {c.windows} windows ({c.positives} before a failure)" for n, c in self.counts.items())
        return f"{'; '.join(parts)} (from {self.basis}): {cut}"


def format_duration(value: timedelta) -> str:
    """``10 min``, ``1.5 h``, ``45 d``: a duration in its largest whole unit, to three significant digits."""
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _round_multiple(value: timedelta, step: timedelta) -> timedelta:
    """The largest round duration not above ``value`` that is a whole number of ``step`` (``step`` if none)."""
    fitting = [d for d in ROUND_DURATIONS if step <= d <= value and d % step == timedelta(0)]
    return fitting[-1] if fitting else step


def _dividing_step(step: timedelta, lookback: timedelta) -> timedelta:
    """The first round duration from ``step`` up that divides ``lookback`` (``lookback`` itself if none)."""
    for candidate in ROUND_DURATIONS:
        if step <= candidate <= lookback and lookback % candidate == timedelta(0):
            return candidate
    return lookback


def scaled_spec(timing: DataTiming, base: WindowSpec, train_share: float = 0.6) -> WindowSpec:
    """``base`` with its durations derived from ``timing`` (the rule of the module docstring) and the
    modalities the data lack switched off; channels, slot counts and sizes are kept."""
    span = timing.span
    period = timing.telemetry_period
    spacing = timing.failure_spacing
    longest = min(timedelta(hours=72), span / 6, spacing / 3 if spacing is not None else timedelta.max)
    if period is not None:
        longest = max(longest, 2 * period)
    longest = _down(longest)
    short = _down(longest / 3)
    horizons = (short, longest) if short < longest else (longest,)
    lookback = _down(longest / 3)
    if period is not None:
        lookback = max(lookback, _up(16 * period))
    lookback = max(min(lookback, _down(span / 4)), period or ROUND_DURATIONS[0])
    step = _dividing_step(_up(max(period or ROUND_DURATIONS[0], lookback / 144)), lookback)
    lookback = lookback // step * step
    history = timing.history(lookback) * train_share
    stride = _round_multiple(min(longest / 12, history / MIN_TRAINING_WINDOWS), step)
    degraded = _down(max(longest, min(timedelta(days=7), span / 4)))
    update: dict[str, Any] = {
        "stride": stride,
        "horizons": horizons,
        "degraded_within": degraded,
        "rul_cap": 2 * degraded,
    }
    if base.telemetry is not None:
        update["telemetry"] = base.telemetry.model_copy(update={"lookback": lookback, "step": step})
    cap = max(lookback, _down(span / 6))
    for name, item_period, slots in (
        ("waveforms", timing.burst_period, base.waveforms.max_bursts if base.waveforms else 0),
        ("frames", timing.frame_period, base.frames.max_frames if base.frames else 0),
    ):
        window = getattr(base, name)
        if window is not None:
            reach = _up(3 * slots * item_period) if item_period is not None else _down(lookback / 4)
            update[name] = window.model_copy(update={"lookback": min(reach, cap)})
    if base.events is not None:
        update["events"] = base.events.model_copy(update={"lookback": min(3 * lookback, cap)})
    return without_absent(WindowSpec.model_validate({**base.model_dump(), **update}), timing)[0]


def without_absent(spec: WindowSpec, timing: DataTiming) -> tuple[WindowSpec, tuple[str, ...]]:
    """``spec`` without the modalities the dataset holds no row of (a model cannot size an encoder for no
    channel), and which those were; ``spec`` unchanged when it would keep none."""
    lacking = tuple(m for m in spec.enabled if m not in timing.modalities)
    if not lacking or len(lacking) == len(spec.enabled):
        return spec, ()
    return spec.without(*lacking), lacking


def propose_window(
    dataset: Dataset,
    base: WindowSpec,
    *,
    fractions: tuple[float, float, float],
    seed: int,
    split: SplitStrategy | None = None,
    timing: DataTiming | None = None,
) -> WindowProposal:
    """Derive a window spec from the data (and, when ``split`` is ``None``, choose the split strategy).

    Args:
        dataset: The training dataset.
        base: The configured spec: its modalities, channels and slot counts are kept, its durations replaced.
        fractions: Train/validation/test shares.
        seed: Seed of the asset split.
        split: The configured split strategy, or ``None`` to choose one.
        timing: The data's timing, when already read.
    """
    timing = timing if timing is not None else DataTiming.of(dataset)
    spec = scaled_spec(timing, base, fractions[0])
    best: tuple[tuple[int, ...], SplitStrategy, dict[str, Census]] | None = None
    for strategy in (split,) if split is not None else ("asset", "time", "asset_time"):
        splits = make_splits(dataset, spec, strategy, fractions, seed)
        counts = {name: census(timing, spec, splits[name]) for name in SPLIT_NAMES}
        quality = (
            *(int(counts[n].positives > 0) for n in SPLIT_NAMES),
            *(int(counts[n].windows > 0) for n in SPLIT_NAMES),
        )
        if best is None or quality > best[0]:
            best = (quality, strategy, counts)
    assert best is not None
    period = (
        f"telemetry every {format_duration(timing.telemetry_period)}, " if timing.telemetry_period is not None else ""
    )
    spacing = timing.failure_spacing
    failures = f"{timing.n_failures} failures" + (
        f" about {format_duration(spacing)} apart" if spacing is not None else ""
    )
    basis = f"{period}{format_duration(timing.span)} of history per asset, {failures}"
    return WindowProposal(spec=spec, split=best[1], counts=best[2], basis=basis)


def explain_no_windows(
    timing: DataTiming, spec: WindowSpec, split: Split | None, dataset: str, *, advice: bool = True
) -> str | None:
    """Why ``spec`` cuts no window from ``split``; ``None`` when it cuts some.

    Args:
        timing: The data's timing.
        spec: The window spec.
        split: The split (``None``: every asset and period).
        dataset: The dataset, for the message.
        advice: Name the training setting to change (a bundle's spec and split are not settings).
    """
    if census(timing, spec, split).windows:
        return None
    where = f"split '{split.name}'" if split is not None else "the dataset"
    mine = np.array(
        [split is None or split.asset_ids is None or a in split.asset_ids for a in timing.asset_ids], dtype=bool
    )
    mine &= timing.observed
    if not mine.any():
        hint = "; set data.split to time (one period per split), or change data.fractions" if advice else ""
        return f"{dataset}: {where} holds no asset with data (the dataset has {len(timing.asset_ids)} in all){hint}"
    spans = timing.last_us[mine] - timing.first_us[mine]
    longest = format_duration(timedelta(microseconds=int(spans.max())))
    if spec.telemetry is not None and micros(spec.telemetry.lookback) > spans.max():
        lookback = format_duration(spec.telemetry.lookback)
        hint = ": set it below that" if advice else ""
        return (
            f"{dataset}: every asset's history is shorter than the telemetry lookback "
            f"(data.window.telemetry.lookback, {lookback}; the longest is {longest}){hint}"
        )
    if split is not None and split.start is not None and split.start.value // 1000 > timing.last_us[mine].max():
        end = pd.Timestamp(int(timing.last_us[mine].max()), unit="us", tz="UTC")
        return f"{dataset}: {where} begins at {split.start}, after the data end ({end})"
    if split is not None and (split.start is not None or split.end is not None):
        period = f"{split.start or 'the start'} to {split.end or 'the end'}"
        hint = ": shorten it, or set data.split to asset" if advice else ""
        return (
            f"{dataset}: {where} ({period}) holds no time at which an asset has a full telemetry lookback "
            f"(data.window.telemetry.lookback) of history{hint}"
        )
    hint = ": set it below that" if advice else ""
    return (
        f"{dataset}: the stride (data.window.stride, {format_duration(spec.stride)}) leaves no anchor in any "
        f"asset's history (the longest is {longest}){hint}"
    )


def check_windows(dataset: Dataset, spec: WindowSpec, splits: dict[str, Split], timing: DataTiming) -> tuple[str, ...]:
    """Refuse a spec that cuts no training window.

    Returns:
        A warning for each validation or test split without windows, naming the setting to change.

    Raises:
        ConfigError: naming the setting to change.
    """
    problem = explain_no_windows(timing, spec, splits["train"], str(dataset.path))
    if problem is not None:
        raise ConfigError(f"no training windows: {problem}")
    warnings = []
    for name in SPLIT_NAMES[1:]:
        problem = explain_no_windows(timing, spec, splits[name], str(dataset.path))
        if problem is not None:
            warnings.append(f"no {'validation' if name == 'val' else name} windows: {problem}")
    return tuple(warnings)


def no_failure_warning(windows: WindowedDataset, what: str, consequence: str) -> str | None:
    """The loud one-line warning for windows none of which is followed by a failure within a horizon
    (``None`` when some are).

    Args:
        windows: The windows.
        what: Which windows, in words (``training``, ``evaluated (test)``).
        consequence: What it means for the caller.
    """
    labels = windows.labels
    if ((labels.failure_within > 0) & (labels.failure_within_known > 0)).any():
        return None
    total = len(windows.dataset.table("failures"))
    held = f"the dataset records {total} failures" if total else "the dataset records no failure"
    return (
        f"{windows.dataset.path}: none of the {len(windows)} {what} windows is followed by a failure within "
        f"{format_duration(windows.spec.horizons[-1])} ({held}): {consequence}"
    )
