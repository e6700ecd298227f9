"""An asset's alerts as an operator sees them, and each of its failures with how it was warned about.

The definitions are those of :mod:`omnimaint.evaluation.early_warning` (the warning window ``[f - H, f)``,
episodes split where an alert run crosses into or out of a warning window, the lead time from the
first alert step in the window), so that the report's tables add up to the early-warning figures of
``metrics.json`` (a test checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from omnimaint.evaluation.model_eval import Evaluation

Outcome = Literal["detected", "repeat", "false_alarm", "unconfirmed"]

US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True)
class AlertEpisode:
    """One alarm: a run of consecutive alert steps of one asset and horizon.

    Attributes:
        asset: Asset id.
        horizon_hours: The horizon whose threshold the probability crossed.
        start: First alert step (window end time, UTC).
        end: Last alert step.
        steps: Alert steps in the episode.
        peak_probability: Highest P(failure within the horizon) during the episode.
        component: Likeliest component to fail at the peak, and its probability.
        fault: Likeliest fault other than ``none`` at the peak, and its probability.
        outcome: ``detected`` (the first alert before a failure), ``repeat`` (a later one before the same
            failure), ``false_alarm`` (no failure followed within the horizon), ``unconfirmed`` (the labels
            end less than a horizon after it; the early-warning figures count it as a false alarm).
        failure_at: The failure it preceded (detected and repeat alerts).
        lead_hours: Hours from ``start`` to that failure.
    """

    asset: str
    horizon_hours: float
    start: pd.Timestamp
    end: pd.Timestamp
    steps: int
    peak_probability: float
    component: tuple[str, float]
    fault: tuple[str, float]
    outcome: Outcome
    failure_at: pd.Timestamp | None
    lead_hours: float | None

    @property
    def false_alarms(self) -> int:
        """False alarms it counts for in the early-warning figures: once, and once more per further horizon."""
        if self.outcome in ("detected", "repeat"):
            return 0
        return 1 + int((self.end - self.start) / pd.Timedelta(hours=self.horizon_hours))


@dataclass(frozen=True)
class FailureWarning:
    """How one failure was warned about at one horizon.

    Attributes:
        counted: Its warning window overlaps the asset's scored period (it counts toward the detection rate).
        lead_hours: Hours from the first alert step in the warning window to the failure; ``None`` when missed.
        diagnosis: Likeliest fault (other than ``none``) at that first alert step.
    """

    counted: bool
    lead_hours: float | None
    diagnosis: str | None


@dataclass(frozen=True)
class FailureRecord:
    """A failure of an evaluated asset, with its warning per horizon (in the order of the horizons)."""

    asset: str
    ts: pd.Timestamp
    component: str
    fault_type: str
    warnings: tuple[FailureWarning, ...]


def first_warning(record: FailureRecord) -> tuple[pd.Timestamp, int] | None:
    """The first alert step in the failure's warning window over all horizons, and the index of the horizon that
    alerted then (``None`` when it was missed): the moment a maintenance engineer would first have looked, and
    what its diagnosis card explains."""
    leads = [(w.lead_hours, h) for h, w in enumerate(record.warnings) if w.lead_hours is not None]
    if not leads:
        return None
    lead, horizon = max(leads)
    return (record.ts - pd.Timedelta(hours=lead)).round("1s"), horizon  # steps are whole seconds


@dataclass(frozen=True)
class AssetAlerts:
    """One asset: its windows (rows of the evaluation, in time order), failures and alerts.

    Attributes:
        asset: Asset id.
        rows: (n,) rows of the evaluation's output, in time order.
        anchors_us: (n,) their window end times, µs since the epoch (UTC).
        failures: The asset's failures, in time order.
        alerts: The asset's alerts, every horizon.
    """

    asset: str
    rows: np.ndarray
    anchors_us: np.ndarray
    failures: tuple[FailureRecord, ...]
    alerts: tuple[AlertEpisode, ...]


def stamp(us: int) -> pd.Timestamp:
    """A UTC timestamp from µs since the epoch."""
    return pd.Timestamp(us * 1000, tz="UTC")


def _us(ts: Any) -> int:
    value = pd.Timestamp(ts)
    value = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    return int(value.value // 1000)


def failure_table(failures: pd.DataFrame) -> pd.DataFrame:
    """Failure records as ``asset_id, us, component, fault_type``, by asset and time (absent columns empty)."""
    n = len(failures)
    frame = pd.DataFrame(
        {
            "asset_id": failures["asset_id"].astype(str).to_numpy() if n else [],
            "us": np.array([_us(ts) for ts in failures["ts"]], dtype=np.int64) if n else np.zeros(0, np.int64),
            "component": failures["component"].astype(str).to_numpy() if "component" in failures else "",
            "fault_type": failures["fault_type"].astype(str).to_numpy() if "fault_type" in failures else "",
        }
    )
    return frame.sort_values(["asset_id", "us"], kind="stable").reset_index(drop=True)


class _Steps:
    """One asset's windows in time order, with its failure times."""

    def __init__(self, evaluation: Evaluation, rows: np.ndarray, failure_us: np.ndarray) -> None:
        anchors = evaluation.output.anchors[rows].astype("datetime64[us]").astype(np.int64)
        order = np.argsort(anchors, kind="stable")
        self.evaluation = evaluation
        self.rows, self.us, self.failure_us = rows[order], anchors[order], failure_us

    def covered(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Per step: whether it lies in the warning window of a failure at horizon ``h``, and that failure."""
        following = np.searchsorted(self.failure_us, self.us, side="right")
        has_next = following < len(self.failure_us)
        gap = np.full(len(self.us), np.iinfo(np.int64).max, dtype=np.int64)
        gap[has_next] = self.failure_us[following[has_next]] - self.us[has_next]
        covered = gap <= self.evaluation.output.horizons_hours[h] * US_PER_HOUR
        return covered, np.where(covered, following, -1)

    def warning(self, h: int, failure_us: int) -> tuple[FailureWarning, int | None]:
        """The warning of a failure at horizon ``h``, and the time of its first alert step (``None`` if missed)."""
        output = self.evaluation.output
        window_us = int(output.horizons_hours[h] * US_PER_HOUR)
        counted = bool(len(self.us)) and failure_us - window_us <= self.us[-1] and failure_us > self.us[0]
        alert = output.alerts[self.rows, h].astype(bool)
        inside = np.flatnonzero(alert & (self.us >= failure_us - window_us) & (self.us < failure_us))
        if not counted or not inside.size:
            return FailureWarning(counted=counted, lead_hours=None, diagnosis=None), None
        first = int(inside[0])
        diagnosis = output.fault_classes[int(output.likely_fault[self.rows[first]])]
        lead = (failure_us - int(self.us[first])) / US_PER_HOUR
        return FailureWarning(counted=True, lead_hours=lead, diagnosis=diagnosis), int(self.us[first])

    def episodes(self, asset: str, h: int, first_alert_us: dict[int, int]) -> list[AlertEpisode]:
        """The alert episodes at horizon ``h``; ``first_alert_us`` maps each warned failure to its first alert."""
        output, labels = self.evaluation.output, self.evaluation.labels
        covered, target = self.covered(h)
        steps = np.flatnonzero(output.alerts[self.rows, h])
        if not steps.size:
            return []
        # A run goes on while the next step alerts too and lies on the same side of a warning window.
        continues = np.r_[False, (steps[1:] == steps[:-1] + 1) & (covered[steps[1:]] == covered[steps[:-1]])]
        firsts = np.flatnonzero(~continues)
        lasts = np.r_[firsts[1:] - 1, steps.size - 1]
        episodes = []
        for first, last in zip(steps[firsts].tolist(), steps[lasts].tolist(), strict=True):
            run = self.rows[first : last + 1]
            peak = run[int(np.argmax(output.failure_probability[run, h]))]
            component = int(np.argmax(output.component_failure_probability[peak, h]))
            fault = int(output.likely_fault[peak])
            failure_at, lead, outcome = None, None, "false_alarm"
            if covered[first]:
                failure_us = int(self.failure_us[target[first]])
                failure_at, lead = stamp(failure_us), (failure_us - int(self.us[first])) / US_PER_HOUR
                outcome = "detected" if first_alert_us.get(failure_us) == int(self.us[first]) else "repeat"
            elif labels.failure_within_known[self.rows[first], h] <= 0:
                outcome = "unconfirmed"
            episodes.append(
                AlertEpisode(
                    asset=asset,
                    horizon_hours=float(output.horizons_hours[h]),
                    start=stamp(int(self.us[first])),
                    end=stamp(int(self.us[last])),
                    steps=last - first + 1,
                    peak_probability=float(output.failure_probability[peak, h]),
                    component=(
                        output.components[component],
                        float(output.component_failure_probability[peak, h, component]),
                    ),
                    fault=(output.fault_classes[fault], float(output.fault_probabilities[peak, fault])),
                    outcome=outcome,  # type: ignore[arg-type]
                    failure_at=failure_at,
                    lead_hours=lead,
                )
            )
        return episodes


def asset_alerts(evaluation: Evaluation, asset: str, rows: np.ndarray, failures: pd.DataFrame) -> AssetAlerts:
    """An asset's alerts and warned or missed failures.

    Args:
        evaluation: The evaluation.
        asset: The asset.
        rows: Its rows in the evaluation's output.
        failures: Its failures, as :func:`failure_table` gives them.
    """
    steps = _Steps(evaluation, rows, failures["us"].to_numpy(dtype=np.int64))
    horizons = range(len(evaluation.output.horizons_hours))
    first_alert: list[dict[int, int]] = [{} for _ in horizons]
    records = []
    columns = (failures[name].tolist() for name in ("us", "component", "fault_type"))
    for failure_us, component, fault_type in zip(*columns, strict=True):
        warnings = []
        for h in horizons:
            warning, first_us = steps.warning(h, int(failure_us))
            warnings.append(warning)
            if first_us is not None:
                first_alert[h][int(failure_us)] = first_us
        records.append(FailureRecord(asset, stamp(int(failure_us)), str(component), str(fault_type), tuple(warnings)))
    episodes = tuple(e for h in horizons for e in steps.episodes(asset, h, first_alert[h]))
    return AssetAlerts(asset, steps.rows, steps.us, tuple(records), episodes)
