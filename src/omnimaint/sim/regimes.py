"""Operating regimes: when each machine runs, at what speed and load.

Pumps run around the clock with the speed following a demand that changes every day or two and
with the hour and weekday; spindles run machining jobs (a program = a speed, a cutting load) on the
shift calendar with tool-change gaps; conveyors run on the shift calendar with product changeovers
(belt-speed setpoints) and hour-to-hour throughput. Unplanned line stops, plant-wide power dips and
work orders stop machines. Every sensor baseline follows these regimes, so fixed thresholds both
miss faults and raise false alarms.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

from omnimaint.sim.clock import DAY, HOUR, Clock, FloatArray, IntArray
from omnimaint.sim.profile import AssetProfile

BoolArray = npt.NDArray[np.bool_]

UNPLANNED_STOPS_PER_DAY = 0.08
LOAD_SLIP = 0.015
"""Induction-motor speed droop at full load (fraction of setpoint)."""


@dataclass(frozen=True)
class OperatingSchedule:
    """One machine's operating state at each telemetry tick.

    Attributes:
        period_s: Tick spacing.
        t_s: Tick times, ``(n,)``.
        running: Motor turning.
        powered: Controller powered (``False`` while isolated for a corrective repair: no telemetry).
        maintenance: Stopped for a work order.
        setpoint_rpm: Commanded speed (kept while stopped).
        speed_rpm: Actual shaft speed (0 when stopped).
        load: Load as a fraction of rated (0 when stopped).
    """

    period_s: float
    t_s: FloatArray
    running: BoolArray
    powered: BoolArray
    maintenance: BoolArray
    setpoint_rpm: FloatArray
    speed_rpm: FloatArray
    load: FloatArray

    def tick_of(self, t_s: FloatArray) -> IntArray:
        """Index of the tick whose interval ``[t, t + period)`` holds each time."""
        index = np.floor(np.asarray(t_s, dtype=np.float64) / self.period_s).astype(np.int64)
        return np.clip(index, 0, self.t_s.size - 1)

    @property
    def starts(self) -> IntArray:
        """Ticks at which the machine starts."""
        return np.flatnonzero(self.running[1:] & ~self.running[:-1]).astype(np.int64) + 1

    @property
    def stops(self) -> IntArray:
        """Ticks at which the machine stops."""
        return np.flatnonzero(~self.running[1:] & self.running[:-1]).astype(np.int64) + 1


def interval_mask(t_s: FloatArray, intervals: Iterable[tuple[float, float]]) -> BoolArray:
    """Which times fall inside any ``[begin, end)`` interval."""
    mask = np.zeros(t_s.shape, dtype=bool)
    for begin, end in intervals:
        lo, hi = np.searchsorted(t_s, [begin, end])
        mask[lo:hi] = True
    return mask


def segments(n: int, length_ticks: tuple[int, int], rng: np.random.Generator) -> tuple[IntArray, int]:
    """Split ``n`` ticks into consecutive segments of random length; returns (segment id per tick, count)."""
    lengths = rng.integers(length_ticks[0], length_ticks[1] + 1, size=n // max(length_ticks[0], 1) + 2)
    bounds = np.cumsum(lengths)
    ids = np.searchsorted(bounds, np.arange(n), side="right").astype(np.int64)
    return ids, int(ids[-1]) + 1 if n else 0


def ar_noise(n: int, sigma: float, memory: float, rng: np.random.Generator) -> FloatArray:
    """First-order autoregressive noise with stationary standard deviation ``sigma``."""
    white = rng.standard_normal(n) * sigma * np.sqrt(1 - memory**2)
    return np.asarray(lfilter([1.0], [1.0, -memory], white), dtype=np.float64)


def _ticks(hours: float, period_s: float) -> int:
    return max(1, round(hours * HOUR / period_s))


def shift_calendar(t_s: FloatArray, clock: Clock, rng: np.random.Generator) -> BoolArray:
    """Two shifts (06-22) Monday to Friday, plus a Saturday morning shift in about half the weeks."""
    hour, weekday, day = clock.hour_of_day(t_s), clock.weekday(t_s), clock.day_index(t_s)
    week = (day - day.min()) // 7 if day.size else day
    overtime = rng.random(int(week.max()) + 1 if week.size else 1) < 0.5
    weekday_shift = (weekday < 5) & (hour >= 6) & (hour < 22)
    saturday = (weekday == 5) & (hour >= 6) & (hour < 14) & overtime[week]
    return np.asarray(weekday_shift | saturday, dtype=bool)


def build_schedule(
    profile: AssetProfile,
    clock: Clock,
    period_s: float,
    *,
    stops: Iterable[tuple[float, float]],
    power_off: Iterable[tuple[float, float]],
    power_dips: Iterable[tuple[float, float]],
    rng: np.random.Generator,
) -> OperatingSchedule:
    """Build the operating schedule of one asset.

    Args:
        profile: The asset.
        clock: Simulation clock.
        period_s: Telemetry tick.
        stops: Work-order intervals during which the machine is stopped.
        power_off: Intervals during which it is isolated (corrective repairs).
        power_dips: Plant-wide grid disturbances (``start, duration``).
        rng: The asset's regime stream.
    """
    t = clock.grid(period_s)
    n = t.size
    lo, hi = profile.model.speed_range_rpm
    hour, weekday = clock.hour_of_day(t), clock.weekday(t)
    if profile.asset_type == "centrifugal_pump":
        on = np.ones(n, dtype=bool)
        demand_id, count = segments(n, (_ticks(12, period_s), _ticks(72, period_s)), rng)
        level = rng.uniform(0.45, 0.95, size=count)[demand_id]
        daily = 0.10 * np.sin(2 * np.pi * (hour - 9.0) / 24.0) - 0.12 * (weekday >= 5)
        load = np.clip(level + daily + ar_noise(n, 0.03, 0.9, rng), 0.15, 1.0)
        setpoint = np.round(lo + (hi - lo) * level, -1)  # the operator sets the drive per demand level
    elif profile.asset_type == "cnc_spindle":
        on = shift_calendar(t, clock, rng)
        job_id, count = segments(n, (_ticks(0.5, period_s), _ticks(6, period_s)), rng)
        programs = rng.integers(len(profile.setpoints_rpm), size=count)
        setpoint = np.asarray(profile.setpoints_rpm, dtype=np.float64)[programs][job_id]
        idle_job = rng.random(count) < 0.12
        changeover = np.r_[True, job_id[1:] != job_id[:-1]]  # first tick of a job: tool change
        on &= ~idle_job[job_id] & ~changeover
        load = np.clip(rng.uniform(0.2, 0.9, size=count)[job_id] + ar_noise(n, 0.05, 0.5, rng), 0.05, 1.0)
    else:
        on = shift_calendar(t, clock, rng)
        product_id, count = segments(n, (_ticks(8, period_s), _ticks(48, period_s)), rng)
        setpoint = np.asarray(profile.setpoints_rpm, dtype=np.float64)[
            rng.integers(len(profile.setpoints_rpm), size=count)
        ]
        setpoint = setpoint[product_id]
        flow_id, flows = segments(n, (_ticks(1, period_s), _ticks(4, period_s)), rng)
        load = np.clip(rng.uniform(0.35, 1.0, size=flows)[flow_id] + ar_noise(n, 0.04, 0.7, rng), 0.1, 1.0)
    n_stops = int(rng.poisson(UNPLANNED_STOPS_PER_DAY * clock.duration_s / DAY))
    begins = rng.uniform(0.0, clock.duration_s, size=n_stops)
    unplanned = [(float(b), float(b + rng.uniform(1 / 3, 6.0) * HOUR)) for b in begins]
    maintenance = interval_mask(t, stops)
    dips = [(begin, begin + length) for begin, length in power_dips]
    running = on & ~maintenance & ~interval_mask(t, unplanned) & ~interval_mask(t, dips)
    speed = setpoint * (1 - LOAD_SLIP * load) * (1 + ar_noise(n, 0.002, 0.8, rng))
    return OperatingSchedule(
        period_s=period_s,
        t_s=t,
        running=running,
        powered=~interval_mask(t, power_off),
        maintenance=maintenance,
        setpoint_rpm=setpoint,
        speed_rpm=np.where(running, speed, 0.0),
        load=np.where(running, load, 0.0),
    )
