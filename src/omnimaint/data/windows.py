"""What a sample looks at (:class:`WindowSpec`) and what it holds (:class:`Sample`, :class:`Batch`).

A window for (asset, t) covers the half-open interval ``(t - lookback, t]`` of each modality: it
includes everything observed up to and including ``t`` and nothing after it. Telemetry is put on a
regular grid of ``step`` whose bins are labelled by their right edge (bin ``k`` holds readings in
``(k·step - step, k·step]`` counted from the Unix epoch), so that a window never averages a future
reading into the present. Waveform bursts, frames, events and work orders are the most recent
``max_*`` items inside the lookback, oldest first, right-aligned (the newest item is last), with a
mask saying which slots are filled.

Arrays are NumPy; the model package converts batches to tensors. Missing data is explicit: every
array has a mask, and ``presence`` says per modality whether a sample has any data of it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnimaint.data.regimes import OperatingRegimes, regime_indicators
from omnimaint.errors import ConfigError

MODALITIES = ("telemetry", "waveforms", "frames", "events", "maintenance")
Modality = Literal["telemetry", "waveforms", "frames", "events", "maintenance"]


def micros(delta: timedelta) -> int:
    """A duration in whole microseconds (the unit of every timestamp array in this package)."""
    return int(delta / timedelta(microseconds=1))


def timestamps_us(values: object) -> np.ndarray:
    """Timestamps (strings, datetimes, a Series or an index; naive ones read as UTC) as int64 µs since the epoch."""
    index = pd.DatetimeIndex(pd.to_datetime(values, utc=True))  # type: ignore[call-overload]
    return np.asarray(index.as_unit("us").asi8, dtype=np.int64)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


DRIFT_PREFIX = "drift_"
REGIME_PREFIX = "regime_"
AGE_CHANNEL = "age_hours"


class TelemetryWindow(_Frozen):
    """Telemetry on a regular grid.

    Attributes:
        lookback: How far back the window looks.
        step: Grid resolution; readings inside one step are averaged.
        channels: Channels in model order; ``None`` takes every telemetry channel of the manifest.
        before_start: What a window that reaches back before the asset's first grid step holds there:
            ``mask`` (nothing, masked) or ``first`` (the asset's first step repeated, observed: the
            front-padding of the run-to-failure literature, for assets whose whole life is recorded).
        drift_over: If set, each reading also enters as its departure from the asset's start, the reading
            minus its mean over the asset's first ``drift_over`` of data (the steps so far while the
            asset is younger), as the channel ``drift_<reading>``: assets start at different levels
            (manufacturing variation, initial wear) that a late window no longer shows.
        age: Add the asset's age, hours since its first grid step, as the last channel ``age_hours``.
        regimes: Normalise each reading per operating regime (:mod:`omnimaint.data.regimes`): the regimes are
            found by k-means on the channels the manifest declares as operating settings (read even when
            ``channels`` leaves them out), fitted on the rows of the training windows; each grid step's readings
            are z-scored with the statistics of its regime before the drift is taken, the settings are dropped,
            and the regime enters as the indicator channels ``regime_<k>`` (after the drift, before the age; none
            when a single regime is found).
        n_regimes: Number of regimes with ``regimes``; ``None`` chooses it from the training rows.
    """

    lookback: timedelta = timedelta(hours=24)
    step: timedelta = timedelta(minutes=10)
    channels: tuple[str, ...] | None = None
    before_start: Literal["mask", "first"] = "mask"
    drift_over: timedelta | None = None
    age: bool = False
    regimes: bool = False
    n_regimes: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _regimes_asked(self) -> TelemetryWindow:
        if self.n_regimes is not None and not self.regimes:
            raise ValueError("telemetry.n_regimes needs telemetry.regimes: true")
        return self

    @property
    def length(self) -> int:
        return int(self.lookback / self.step)

    @property
    def drift_steps(self) -> int:
        """Grid steps of the start the drift channels are taken from (0: no drift channels)."""
        return 0 if self.drift_over is None else max(1, int(self.drift_over / self.step))

    def input_channels(self, channels: tuple[str, ...], regimes: OperatingRegimes | None = None) -> tuple[str, ...]:
        """The channels of the telemetry array, in column order: the readings, their drift, the regime indicators,
        the age.

        Args:
            channels: The telemetry channels read (``Vocabulary.telemetry_channels``).
            regimes: The fitted regimes, with ``regimes``: the readings are then theirs (the settings dropped).

        Raises:
            ValueError: if ``regimes`` is given without the option, or missing with it.
        """
        if self.regimes != (regimes is not None):
            raise ValueError("the telemetry window's regimes option and the fitted regimes go together")
        readings = regimes.readings if regimes is not None else channels
        drift = tuple(DRIFT_PREFIX + c for c in readings) if self.drift_steps else ()
        indicators = tuple(f"{REGIME_PREFIX}{k}" for k in range(regime_indicators(regimes)))
        return (*readings, *drift, *indicators, *((AGE_CHANNEL,) if self.age else ()))


class WaveformWindow(_Frozen):
    """The most recent high-rate bursts.

    A burst is a waveform row: sample ``i`` of a row stored at ``ts`` with rate ``r`` (after resampling) was
    taken at ``ts + i / r``. Which ``length`` of its samples a slot holds is ``align``'s choice:

    - ``start``: the first ``length`` (a snapshot taken at ``ts``), zero-padded when the burst is shorter.
    - ``anchor``: the last ``length`` taken at or before the anchor, zero-padded in front when fewer were (a
      burst that ended before the anchor gives its last ``length``); the slot's age is then the time from its
      last sample to the anchor. One long recording stored as one row, such as a continuous vibration
      record, so gives each anchor the stretch of signal that ends there.

    With ``order_rpm``, a slot is read as if its asset ran at that speed (order normalisation, Randall,
    *Vibration-based Condition Monitoring*, 2011, §5.4): an asset at ``s`` rpm fills its ``length`` samples
    from the last ``length · order_rpm / s`` samples ending at the anchor, resampled through the Fourier
    transform (:func:`~omnimaint.data.bursts.fourier_resampled`), so that a component at a given multiple of
    the shaft speed (1×, 2×, a bearing defect frequency) falls on the same frequency whatever the speed. The
    speed is the ``rpm`` of the asset's metadata; an asset without one is read as stored. Needs ``align:
    anchor``.

    Attributes:
        lookback: Bursts that started this long before the anchor or earlier are not used.
        max_bursts: Slots per sample.
        length: Samples per slot.
        sample_rate_hz: Bursts at another rate are resampled to this one; ``None`` keeps rates as stored.
        channels: Waveform channels in model order; ``None`` takes every waveform channel of the manifest.
        align: Which samples of a burst a slot holds (above).
        order_rpm: The speed every burst is read at (above); ``None`` reads bursts as stored.
    """

    lookback: timedelta = timedelta(hours=6)
    max_bursts: int = Field(default=2, ge=1)
    length: int = Field(default=2048, ge=16)
    sample_rate_hz: float | None = Field(default=None, gt=0)
    channels: tuple[str, ...] | None = None
    align: Literal["start", "anchor"] = "start"
    order_rpm: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _order_needs_anchor(self) -> WaveformWindow:
        if self.order_rpm is not None and self.align != "anchor":
            raise ValueError("waveforms.order_rpm needs waveforms.align: anchor")
        return self


class FrameWindow(_Frozen):
    """The most recent camera frames.

    Attributes:
        lookback: Frames older than this are not used.
        max_frames: Slots per sample.
        size: Frames are resized to ``size`` × ``size`` RGB when they differ.
        cameras: Cameras in model order; ``None`` takes every camera of the manifest (or ``cam0``).
    """

    lookback: timedelta = timedelta(hours=6)
    max_frames: int = Field(default=2, ge=1)
    size: int = Field(default=64, ge=8)
    cameras: tuple[str, ...] | None = None


class EventWindow(_Frozen):
    """The most recent controller/log events."""

    lookback: timedelta = timedelta(hours=72)
    max_events: int = Field(default=32, ge=1)


class MaintenanceWindow(_Frozen):
    """The most recent closed work orders, and the time since each component's last maintenance.

    Attributes:
        lookback: Work orders older than this are not used as text (time-since features look further).
        max_orders: Slots per sample.
        since_cap: Cap of the time-since-maintenance features.
    """

    lookback: timedelta = timedelta(days=180)
    max_orders: int = Field(default=4, ge=1)
    since_cap: timedelta = timedelta(days=365)


class WindowSpec(_Frozen):
    """How samples are cut from a dataset and which labels they carry (DESIGN.md §3).

    A modality set to ``None`` is not used. The same spec serves training, evaluation, export and the
    live service, and is stored in the model bundle.

    Attributes:
        telemetry: Telemetry window, or ``None``.
        waveforms: Waveform window, or ``None``.
        frames: Frame window, or ``None``.
        events: Event window, or ``None``.
        maintenance: Work-order window, or ``None``.
        stride: Distance between consecutive anchors of one asset.
        horizons: Prediction horizons of the failure-within-horizon labels, shortest first.
        rul_cap: Remaining useful life is capped here (the piecewise-linear target).
        degraded_within: A sample is ``degrading`` when the next failure is within this, ``critical``
            when it is within the longest horizon.
        labels: What the dataset's ``failures`` rows are: ``failures`` (events that end a run; every label
            is derived from the time to the next one) or ``states`` (labelled states of a classification
            dataset, each holding from its time on: only the fault type is known, that of the latest state
            at or before the anchor; see :mod:`omnimaint.data.labels`).
    """

    telemetry: TelemetryWindow | None = TelemetryWindow()
    waveforms: WaveformWindow | None = WaveformWindow()
    frames: FrameWindow | None = FrameWindow()
    events: EventWindow | None = EventWindow()
    maintenance: MaintenanceWindow | None = MaintenanceWindow()
    stride: timedelta = timedelta(hours=6)
    horizons: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=72))
    rul_cap: timedelta = timedelta(days=14)
    degraded_within: timedelta = timedelta(days=7)
    labels: Literal["failures", "states"] = "failures"

    @model_validator(mode="after")
    def _consistent(self) -> WindowSpec:
        if not any(getattr(self, m) is not None for m in MODALITIES):
            raise ValueError("a WindowSpec needs at least one modality")
        if not self.horizons or any(h <= timedelta(0) for h in self.horizons):
            raise ValueError("horizons must be a non-empty list of positive durations")
        if tuple(sorted(self.horizons)) != self.horizons:
            raise ValueError("horizons must be sorted, shortest first")
        if self.stride <= timedelta(0):
            raise ValueError("stride must be positive")
        if self.telemetry is not None:
            step = self.telemetry.step
            if step <= timedelta(0) or self.telemetry.lookback < step:
                raise ValueError("telemetry.step must be positive and no longer than telemetry.lookback")
            if self.telemetry.lookback % step or self.stride % step:
                raise ValueError("telemetry.lookback and stride must be whole multiples of telemetry.step")
        if self.degraded_within < self.horizons[-1]:
            raise ValueError("degraded_within must be at least the longest horizon")
        return self

    @property
    def enabled(self) -> tuple[Modality, ...]:
        """Modalities this spec uses, in canonical order."""
        return tuple(m for m in MODALITIES if getattr(self, m) is not None)  # type: ignore[misc]

    @property
    def max_lookback(self) -> timedelta:
        """The longest lookback of any enabled modality (the gap that keeps time splits apart)."""
        return max(getattr(self, m).lookback for m in self.enabled)

    @property
    def signal_lookback(self) -> timedelta:
        """The longest lookback of the signal modalities (all but work-order history, which is history by nature)."""
        signals = [m for m in self.enabled if m != "maintenance"]
        return max((getattr(self, m).lookback for m in signals), default=timedelta(0))

    def reach(self, modality: Modality) -> timedelta | None:
        """How far before its anchor a window reads ``modality``'s rows (``None``: back to the asset's first
        observation, for the options that look there: ``before_start: first``, ``drift_over``, ``age``, bursts
        cut at the anchor from a long recording). Telemetry reaches one step more than its lookback, so that
        the oldest grid step is whole. Work orders are not bounded (time-since features look back up to
        ``since_cap``): ``None``.

        Raises:
            ValueError: if ``modality`` is not enabled.
        """
        if modality not in self.enabled:
            raise ValueError(f"{modality} is not enabled in this window spec")
        if modality == "maintenance":
            return None
        if modality == "telemetry":
            tel = self.telemetry
            assert tel is not None
            if tel.before_start == "first" or tel.drift_over is not None or tel.age:
                return None
            return tel.lookback + tel.step
        if modality == "waveforms" and self.waveforms is not None and self.waveforms.align == "anchor":
            return None
        lookback: timedelta = getattr(self, modality).lookback
        return lookback

    @property
    def history(self) -> timedelta | None:
        """How far before its anchor a window reads telemetry, bursts, frames and events: the longest
        :meth:`reach` of those (``None`` when one reaches back to the start)."""
        reaches = [self.reach(m) for m in self.enabled if m != "maintenance"]
        if any(r is None for r in reaches):
            return None
        return max((r for r in reaches if r is not None), default=timedelta(0))

    @property
    def label_reach(self) -> timedelta:
        """How far after an anchor its labels look."""
        return max(self.rul_cap, self.degraded_within, self.horizons[-1])

    def without(self, *modalities: Modality) -> WindowSpec:
        """A copy with some modalities switched off (for ablations)."""
        update: dict[str, None] = {}
        for name in modalities:
            if name not in MODALITIES:
                raise ConfigError(f"unknown modality {name!r}; modalities are {list(MODALITIES)}")
            update[name] = None
        return self.model_copy(update=update)


HEALTH_STATES = ("healthy", "degrading", "critical")


@dataclass(frozen=True)
class Labels:
    """Labels of one sample or a batch (leading batch axis). ``*_known`` is 1 where the label is known.

    Attributes:
        failure_within: (H,) 1 when any component fails within horizon h.
        failure_within_known: (H,)
        component_failure_within: (H, C) per component.
        component_failure_within_known: (H, C)
        rul_hours: () time to the next failure in hours, capped at ``rul_cap``.
        rul_known: ()
        fault_type: () index into ``("none", *fault_types)`` of the next failure within the longest
            horizon; -1 when unknown.
        health_state: () index into :data:`HEALTH_STATES`; -1 when unknown.
    """

    failure_within: np.ndarray
    failure_within_known: np.ndarray
    component_failure_within: np.ndarray
    component_failure_within_known: np.ndarray
    rul_hours: np.ndarray
    rul_known: np.ndarray
    fault_type: np.ndarray
    health_state: np.ndarray

    def take(self, index: int | np.ndarray) -> Labels:
        return Labels(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass(frozen=True)
class Batch:
    """A batch of windows: per-modality arrays with masks, labels, and where each sample came from.

    Shapes (B = batch, L = telemetry steps, C = channels, K = burst/frame slots, N = waveform samples,
    E = events, M = work orders, P = components). Arrays of a modality the spec does not use are
    ``None``.

    Attributes:
        asset_ids: (B,) asset of each sample.
        anchors: (B,) anchor time (datetime64[us], UTC).
        asset_type: (B,) index into ``vocab.asset_types``.
        presence: (B, 5) bool, one column per modality in :data:`MODALITIES` order.
        telemetry: (B, L, C) float32 raw values (0 where missing).
        telemetry_mask: (B, L, C) bool, True where observed.
        waveforms: (B, K, Cw, N) float32.
        waveform_mask: (B, K, Cw) bool.
        waveform_age_hours: (B, K) hours between burst and anchor.
        frames: (B, K, Cam, S, S, 3) uint8.
        frame_mask: (B, K, Cam) bool.
        frame_age_hours: (B, K)
        event_codes: (B, E) int64 index into ``vocab.event_codes`` (0 = padding, 1 = unknown code).
        event_severity: (B, E) int64 index into SEVERITIES (+1; 0 = padding).
        event_age_hours: (B, E) float32.
        event_text: (B, E) int64 index into ``texts`` (-1 = none).
        event_mask: (B, E) bool.
        maintenance_text: (B, M) int64 index into ``texts`` (-1 = none).
        maintenance_component: (B, M) int64 index into ``vocab.components`` (+1; 0 = none).
        maintenance_kind: (B, M) int64 index into MAINTENANCE_KINDS (+1; 0 = padding).
        maintenance_age_hours: (B, M) float32.
        maintenance_mask: (B, M) bool.
        since_maintenance_hours: (B, P) float32 time since each component's last work order, capped.
        since_maintenance_known: (B, P) bool.
        texts: The unique strings that ``event_text`` and ``maintenance_text`` index.
        labels: Labels with a leading batch axis.
    """

    asset_ids: np.ndarray
    anchors: np.ndarray
    asset_type: np.ndarray
    presence: np.ndarray
    labels: Labels
    texts: tuple[str, ...] = ()
    telemetry: np.ndarray | None = None
    telemetry_mask: np.ndarray | None = None
    waveforms: np.ndarray | None = None
    waveform_mask: np.ndarray | None = None
    waveform_age_hours: np.ndarray | None = None
    frames: np.ndarray | None = None
    frame_mask: np.ndarray | None = None
    frame_age_hours: np.ndarray | None = None
    event_codes: np.ndarray | None = None
    event_severity: np.ndarray | None = None
    event_age_hours: np.ndarray | None = None
    event_text: np.ndarray | None = None
    event_mask: np.ndarray | None = None
    maintenance_text: np.ndarray | None = None
    maintenance_component: np.ndarray | None = None
    maintenance_kind: np.ndarray | None = None
    maintenance_age_hours: np.ndarray | None = None
    maintenance_mask: np.ndarray | None = None
    since_maintenance_hours: np.ndarray | None = None
    since_maintenance_known: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.asset_ids)

    def __post_init__(self) -> None:
        size = len(self.asset_ids)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.shape[:1] != (size,):
                raise ValueError(f"Batch.{f.name}: expected a leading axis of {size}, got shape {value.shape}")
        if self.presence.shape != (size, len(MODALITIES)):
            raise ValueError(f"Batch.presence: expected shape ({size}, {len(MODALITIES)}), got {self.presence.shape}")

    def present(self, modality: Modality) -> np.ndarray:
        """(B,) bool: which samples have any data of ``modality``."""
        return self.presence[:, MODALITIES.index(modality)]


class Sample(Batch):
    """One window: a :class:`Batch` of exactly one sample (``builder[i]``).

    Keeping one container for one and many samples gives every consumer (training, the Predictor,
    the live scorer) a single code path; the batch axis is always there and always of length one.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.asset_ids) != 1:
            raise ValueError(f"a Sample holds exactly one window, got {len(self.asset_ids)}")
