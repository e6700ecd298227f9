"""Telemetry evidence: which channels, over which hours of the window, drive the failure probability.

Patch occlusion (Zeiler & Fergus, 2014, on a time × channel grid): the window's telemetry is cut into
``n_segments`` consecutive time segments, and each channel and each segment is occluded in turn; then each
(channel, segment) patch of the channels of largest contribution (a second, smaller batch), which says over
which hours each of them matters. Occluding replaces the observed readings with the asset's healthy baseline level (the
median of the channel over the baseline windows of :mod:`omnimaint.diagnosis.baseline`), keeping them
observed; a ``drift_<channel>`` input derived from the channel is replaced with its own baseline level too.
Readings replaced by a flat "normal" value answer "what if this sensor had read normal here?"; with
``occlusion="mask"`` (and whenever the asset has no baseline) they are masked instead, as a sensor gap is.
The contribution is the fall in failure probability (positive: the channel raises the score).

Each channel also carries its deviation from the same baseline: ``z = (mean over the range − baseline
median) / baseline scale`` with a robust scale (IQR / 1.349), over its highlighted range (the segments
whose occlusion lowers the score by at least half the channel's largest fall), and ``deviation``, the
largest ``|z|`` of any segment: the "z-score only" ranking the occlusion ranking is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from omnimaint.data.windows import AGE_CHANNEL, DRIFT_PREFIX, REGIME_PREFIX, Batch
from omnimaint.diagnosis.occlusion import Edit, Occlusions, Row, Scores

TelemetryOcclusionMode = Literal["baseline", "mask"]
MIN_SCALE = 1e-6


@dataclass(frozen=True)
class TimeRange:
    """A span of the window, ISO-8601 UTC times (the start is the left edge of its first grid step)."""

    start: str
    end: str


@dataclass(frozen=True)
class ChannelEvidence:
    """One telemetry channel of the diagnosed window.

    Attributes:
        channel: Channel name.
        unit: Its unit (from the dataset manifest; empty when unknown).
        contribution: Fall in failure probability when the whole channel is occluded.
        segment_contributions: Fall when only that time segment of the channel is occluded (for the channels
            of largest contribution only; empty for the others).
        highlighted: The range that drives the score (``None`` when no segment raises it, or not measured).
        z_score: Deviation from the baseline over the highlighted range (the whole window when none);
            ``None`` without a baseline.
        deviation: Largest ``|z|`` over the segments (``None`` without a baseline).
        values: The readings at each grid step of the window (``None`` where missing): the card's series.
        baseline_median: The healthy level of the channel (``None`` without a baseline).
        baseline_scale: The robust spread of the healthy readings (``None`` without a baseline).
    """

    channel: str
    unit: str
    contribution: float
    segment_contributions: tuple[float, ...]
    highlighted: TimeRange | None
    z_score: float | None
    deviation: float | None
    values: tuple[float | None, ...]
    baseline_median: float | None
    baseline_scale: float | None


@dataclass(frozen=True)
class TelemetryEvidence:
    """Telemetry channels ranked by contribution, and the contribution of each time segment (all channels).

    Attributes:
        channels: Observed channels, largest contribution first.
        times: The right edge of each grid step of the window (ISO-8601 UTC).
        segments: The time segments occluded.
        segment_contributions: Fall in failure probability when every channel of a segment is occluded.
        occlusion: ``baseline`` or ``mask`` (what occluded readings were replaced with).
    """

    channels: tuple[ChannelEvidence, ...]
    times: tuple[str, ...]
    segments: tuple[TimeRange, ...]
    segment_contributions: tuple[float, ...]
    occlusion: TelemetryOcclusionMode

    def ranked_by_deviation(self) -> tuple[str, ...]:
        """Channel names by ``deviation``, largest first (the z-score-only ranking)."""
        known = [c for c in self.channels if c.deviation is not None]
        return tuple(c.channel for c in sorted(known, key=lambda c: -(c.deviation or 0.0)))


def _robust(values: np.ndarray) -> tuple[float, float]:
    q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    scale = max(float(q75 - q25) / 1.349, float(np.std(values)) * 0.1, abs(float(q50)) * 1e-3, MIN_SCALE)
    return float(q50), scale


class TelemetryOcclusion:
    """Registers the telemetry occlusions of one window and reads their scores back.

    Args:
        window: The diagnosed window (a batch of one).
        baseline: The asset's healthy baseline windows, or ``None``.
        input_channels: Names of the telemetry array's columns (readings, drift, age).
        step: The grid step of the window.
        n_segments: Time segments to occlude.
        occlusion: ``baseline`` or ``mask``.
    """

    def __init__(
        self,
        window: Batch,
        baseline: Batch | None,
        input_channels: tuple[str, ...],
        step: pd.Timedelta,
        *,
        n_segments: int = 6,
        occlusion: TelemetryOcclusionMode = "baseline",
    ) -> None:
        assert window.telemetry is not None and window.telemetry_mask is not None
        self.values = window.telemetry[0]  # (L, C)
        self.mask = window.telemetry_mask[0]  # (L, C)
        self.columns = input_channels
        length = self.values.shape[0]
        self.segments = [s for s in np.array_split(np.arange(length), min(n_segments, length)) if s.size]
        self.readings = [
            c for c, name in enumerate(input_channels) if name in _readings(input_channels) and self.mask[:, c].any()
        ]
        self.occlusion: TelemetryOcclusionMode = occlusion if baseline is not None else "mask"
        self.level: dict[int, tuple[float, float]] = {}
        if baseline is not None:
            assert baseline.telemetry is not None and baseline.telemetry_mask is not None
            for c in range(len(input_channels)):
                seen = baseline.telemetry[:, :, c][baseline.telemetry_mask[:, :, c]]
                if seen.size:
                    self.level[c] = _robust(seen.astype(np.float64))
        end = pd.Timestamp(window.anchors[0], tz="UTC")
        self.times = [end - (length - 1 - k) * step for k in range(length)]
        self.step = step

    def _linked(self, c: int) -> list[int]:
        """The columns occluded with reading ``c``: itself and its drift input."""
        drift = DRIFT_PREFIX + self.columns[c]
        return [c] + [j for j, name in enumerate(self.columns) if name == drift]

    def _edit(self, channels: list[int], steps: np.ndarray) -> Edit:
        def edit(row: Row) -> None:
            for c in channels:
                for j in self._linked(c):
                    observed = steps[row["telemetry_mask"][steps, j]]
                    if self.occlusion == "baseline" and j in self.level:
                        row["telemetry"][observed, j] = self.level[j][0]
                    else:
                        row["telemetry_mask"][observed, j] = False
                        row["telemetry"][observed, j] = 0.0

        return edit

    def occlude_channels(self, occlusions: Occlusions, key: object, channels: list[str]) -> None:
        """Add a copy with the named readings occluded over the whole window (a deletion-test step)."""
        wanted = [c for c in self.readings if self.columns[c] in channels]
        occlusions.add(key, self._edit(wanted, np.arange(self.values.shape[0])))

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The observed readings that can be occluded, in column order."""
        return tuple(self.columns[c] for c in self.readings)

    def register(self, occlusions: Occlusions) -> None:
        """Add the occlusion of each channel (whole window) and of each time segment (all channels)."""
        every = np.arange(self.values.shape[0])
        for c in self.readings:
            occlusions.add(("telemetry", c), self._edit([c], every))
        for s, steps in enumerate(self.segments):
            occlusions.add(("telemetry-segment", s), self._edit(self.readings, steps))

    def ranked(self, scores: Scores, rows: dict[object, int]) -> list[str]:
        """Channel names by contribution, largest first (once :meth:`register`'s copies are scored)."""
        p = scores.failure_probability
        falls = {self.columns[c]: p[0] - p[rows[("telemetry", c)]] for c in self.readings}
        return sorted(falls, key=lambda name: -falls[name])

    def register_ranges(self, occlusions: Occlusions, channels: list[str]) -> None:
        """Add the (channel, segment) patches of the named channels: where in time each one matters."""
        for c in self.readings:
            if self.columns[c] in channels:
                for s, steps in enumerate(self.segments):
                    occlusions.add(("telemetry", c, s), self._edit([c], steps))

    def _range(self, segments: list[int]) -> TimeRange:
        first, last = self.segments[min(segments)][0], self.segments[max(segments)][-1]
        return TimeRange((self.times[first] - self.step).isoformat(), self.times[last].isoformat())

    def _z(self, c: int, steps: np.ndarray) -> float | None:
        if c not in self.level:
            return None
        seen = self.values[steps, c][self.mask[steps, c]]
        if not seen.size:
            return None
        median, scale = self.level[c]
        return float((seen.mean() - median) / scale)

    def evidence(self, scores: Scores, rows: dict[object, int], units: dict[str, str]) -> TelemetryEvidence:
        """The evidence once the occlusions are scored."""
        p = scores.failure_probability
        channels = []
        for c in self.readings:
            fall = float(p[0] - p[rows[("telemetry", c)]])
            ranged = ("telemetry", c, 0) in rows
            by_segment = (
                [float(p[0] - p[rows[("telemetry", c, s)]]) for s in range(len(self.segments))] if ranged else []
            )
            top = max(by_segment, default=0.0)
            chosen = [s for s, v in enumerate(by_segment) if top > 0 and v >= 0.5 * top]
            steps = np.concatenate([self.segments[s] for s in range(min(chosen), max(chosen) + 1)]) if chosen else None
            z = self._z(c, steps if steps is not None else np.arange(len(self.times)))
            segment_z = [self._z(c, seg) for seg in self.segments]
            known_z = [abs(v) for v in segment_z if v is not None]
            level = self.level.get(c)
            name = self.columns[c]
            channels.append(
                ChannelEvidence(
                    channel=name,
                    unit=units.get(name, ""),
                    contribution=fall,
                    segment_contributions=tuple(by_segment),
                    highlighted=self._range(chosen) if chosen else None,
                    z_score=z,
                    deviation=max(known_z) if known_z else None,
                    values=tuple(
                        float(v) if m else None for v, m in zip(self.values[:, c], self.mask[:, c], strict=True)
                    ),
                    baseline_median=level[0] if level else None,
                    baseline_scale=level[1] if level else None,
                )
            )
        channels.sort(key=lambda e: -e.contribution)
        return TelemetryEvidence(
            channels=tuple(channels),
            times=tuple(t.isoformat() for t in self.times),
            segments=tuple(self._range([s]) for s in range(len(self.segments))),
            segment_contributions=tuple(
                float(p[0] - p[rows[("telemetry-segment", s)]]) for s in range(len(self.segments))
            ),
            occlusion=self.occlusion,
        )


def _readings(columns: tuple[str, ...]) -> set[str]:
    """The sensor readings among the telemetry columns (not their drift, not the regime indicators, not the age)."""
    return {c for c in columns if not c.startswith((DRIFT_PREFIX, REGIME_PREFIX)) and c != AGE_CHANNEL}
