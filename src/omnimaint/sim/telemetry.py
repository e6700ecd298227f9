"""Slow telemetry: physically motivated channel values per tick, then the sensors that measure them.

True values follow the regime (temperatures lag load and ambient through first-order thermal
models, current follows load and speed, vibration RMS follows speed squared) plus each fault's
signature: bearing wear moves vibration RMS and temperature only in its last stage, imbalance raises
RMS through the 1x, overheating lifts temperatures relative to load, a seal leak drops pressure only
at the very end, belt wear makes the belt slip late, an electrical fault barely touches the current.
Sensors add noise, slow calibration drift, rare spikes, and dropouts (single channels for a stretch,
the whole asset during network outages, everything while the machine is isolated for a repair).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.signal import lfilter

from omnimaint.sim.catalog import CONVEYOR_GEAR_RATIO, CONVEYOR_PULLEY_DIAMETER_M
from omnimaint.sim.clock import DAY, HOUR, Clock, FloatArray
from omnimaint.sim.profile import AssetProfile
from omnimaint.sim.regimes import BoolArray, OperatingSchedule, interval_mask
from omnimaint.sim.waveforms import order_velocities

CHANNEL_GAPS_PER_DAY = 1 / 15
ASSET_OUTAGES_PER_DAY = 1 / 25
SPIKE_RATE = 2e-4
# Per channel: (relative noise, absolute noise, drift per sqrt(day) in the channel's unit).
_SENSOR = {
    "motor_current": (0.01, 0.05, 0.0),
    "vibration_rms": (0.04, 0.03, 0.0),
    "bearing_temp": (0.0, 0.3, 0.15),
    "speed": (0.002, 0.5, 0.0),
    "load": (0.0, 0.8, 0.0),
    "flow": (0.015, 0.1, 0.0),
    "discharge_pressure": (0.01, 0.02, 0.01),
    "coolant_temp": (0.0, 0.2, 0.1),
    "spindle_power": (0.02, 0.05, 0.0),
    "belt_speed": (0.004, 0.002, 0.0),
    "motor_temp": (0.0, 0.4, 0.15),
}


@dataclass(frozen=True)
class FaultSeverity:
    """Severity of each fault signature at a set of instants (each ``(n,)``, in [0, 1])."""

    bearing: FloatArray
    imbalance: FloatArray
    misalignment: FloatArray
    overheating: FloatArray
    seal: FloatArray
    belt: FloatArray
    electrical: FloatArray


def ramp(x: FloatArray, start: float) -> FloatArray:
    """0 below ``start``, rising linearly to 1 at ``x = 1``: a symptom that shows only late."""
    return np.clip((x - start) / (1.0 - start), 0.0, 1.0)


def thermal_lag(target: FloatArray, period_s: float, tau_s: float) -> FloatArray:
    """First-order lag (a thermal mass) sampled every ``period_s``, starting settled."""
    if target.size == 0:
        return target
    a = float(np.exp(-period_s / tau_s))
    out, _ = lfilter([1 - a], [1.0, -a], target, zi=[a * target[0]])
    return np.asarray(out, dtype=np.float64)


def true_values(
    profile: AssetProfile, schedule: OperatingSchedule, severity: FaultSeverity, ambient_c: FloatArray, trips: BoolArray
) -> dict[str, FloatArray]:
    """Noise-free channel values at each tick (the physics the sensors measure).

    Args:
        profile: The asset.
        schedule: Its operating schedule.
        severity: Fault severities at the ticks.
        ambient_c: Hall temperature at the ticks.
        trips: Ticks that contain an overcurrent trip (a short current spike, mostly averaged away).
    """
    run = schedule.running.astype(np.float64)
    vib = profile.vibration
    r = schedule.speed_rpm / vib.top_speed_rpm  # speed ratio, 0 when stopped
    load = schedule.load
    s = severity
    period = schedule.period_s
    rated = profile.model.rated_current_a
    current = rated * (0.28 + 0.67 * load) * (0.55 + 0.45 * r)
    current *= 1 + 0.04 * s.misalignment + 0.03 * s.bearing**3 + 0.02 * s.electrical + 0.03 * trips
    v1, v2 = order_velocities(vib, r, s.imbalance, s.misalignment)
    floor = vib.vib_floor_mm_s * (0.5 + 0.5 * load) * (0.4 + 0.6 * r) * (1 + 0.5 * s.belt)
    v_bearing = 1.3 * profile.vib_alarm_mm_s * ramp(s.bearing, 0.7) ** 1.5 * np.minimum(r * 1.5, 1.0)
    rms = np.sqrt(v1**2 + v2**2 + floor**2 + v_bearing**2) * run + 0.08
    heat = profile.model.temp_rise_c * (0.25 + 0.75 * load) * (0.5 + 0.5 * r) * run
    is_conveyor = profile.asset_type == "conveyor_drive"
    cooling_to_bearing = 8.0 if is_conveyor else 22.0
    bearing_target = ambient_c + heat + cooling_to_bearing * s.overheating + 12 * s.bearing**3 + 4 * s.misalignment
    values = {
        "motor_current": current * run,
        "vibration_rms": rms,
        "bearing_temp": thermal_lag(bearing_target, period, 40 * 60.0),
        "speed": schedule.speed_rpm,
        "load": 100 * load,
    }
    if profile.asset_type == "centrifugal_pump":
        leak = 1 - 0.04 * ramp(s.seal, 0.85)
        flow = profile.nominal_flow_m3h * r * (0.35 + 0.65 * load) * (1 - 0.03 * ramp(s.seal, 0.85))
        # Static head plus the speed-squared dynamic head; opening valves (demand) lowers it a little.
        head = profile.nominal_pressure_bar * (0.3 + 0.7 * r**2) * (1 - 0.15 * (load - 0.6)) * leak
        values["flow"] = flow
        values["discharge_pressure"] = np.where(schedule.running, head, 0.3)
    elif profile.asset_type == "cnc_spindle":
        coolant = ambient_c - 2 + 8 * load * r * run + 18 * s.overheating
        values["coolant_temp"] = thermal_lag(coolant, period, 20 * 60.0)
        friction = 0.05 * profile.model.rated_power_kw * r * (1 + 0.3 * s.bearing**2 + 0.2 * s.misalignment)
        values["spindle_power"] = (0.9 * profile.model.rated_power_kw * load * np.sqrt(r) + friction) * run
    else:
        values["belt_speed"] = belt_speed(schedule.speed_rpm, load, s.belt)
        motor = ambient_c + 45 * (current * run / rated) ** 2 + 30 * s.overheating + 3 * s.electrical
        values["motor_temp"] = thermal_lag(motor, period, 30 * 60.0)
    return values


def belt_slip(load: FloatArray, belt_severity: FloatArray) -> FloatArray:
    """Belt slip (fraction): creep under load, and real slip as the belt and lagging wear late."""
    return 0.004 + 0.006 * load + 0.06 * belt_severity**3


def belt_speed(speed_rpm: FloatArray, load: FloatArray, belt_severity: FloatArray) -> FloatArray:
    """Belt surface speed in m/s from motor speed through the gearbox and drive pulley, less slip."""
    pulley = speed_rpm / 60 / CONVEYOR_GEAR_RATIO * np.pi * CONVEYOR_PULLEY_DIAMETER_M
    return np.asarray(pulley * (1 - belt_slip(load, belt_severity)), dtype=np.float64)


def _gaps(n: int, rate_per_day: float, days: float, mean_ticks: float, rng: np.random.Generator) -> BoolArray:
    mask = np.zeros(n, dtype=bool)
    for _ in range(int(rng.poisson(rate_per_day * days))):
        begin = int(rng.integers(max(n, 1)))
        mask[begin : begin + int(rng.geometric(1 / mean_ticks))] = True
    return mask


def measure(
    values: dict[str, FloatArray],
    schedule: OperatingSchedule,
    clock: Clock,
    *,
    asset_id: str,
    dropout_scale: float,
    rng: np.random.Generator,
) -> pa.Table:
    """Measure true values with noisy, drifting, dropping-out sensors; long-format telemetry rows.

    Returns:
        ``asset_id, ts, channel, value`` rows (missing readings are absent rows).
    """
    n = schedule.t_s.size
    days = clock.duration_s / DAY
    outages = [
        (float(b), float(b + rng.uniform(1.0, 24.0) * HOUR))
        for b in rng.uniform(0.0, clock.duration_s, size=int(rng.poisson(ASSET_OUTAGES_PER_DAY * days * dropout_scale)))
    ]
    present = schedule.powered & ~interval_mask(schedule.t_s, outages)
    ticks, codes, readings = [], [], []
    names = list(values)  # catalogue order (true_values builds them in that order)
    day_grid = np.arange(int(np.ceil(days)) + 2, dtype=np.float64)
    for code, name in enumerate(names):
        relative, absolute, drift = _SENSOR[name]
        true = values[name]
        measured = true * (1 + relative * rng.standard_normal(n)) + absolute * rng.standard_normal(n)
        if drift:
            walk = np.cumsum(rng.standard_normal(day_grid.size)) * drift
            measured += np.interp(schedule.t_s / DAY, day_grid, walk)
        spikes = rng.random(n) < SPIKE_RATE
        measured[spikes] *= rng.uniform(1.5, 4.0, size=int(spikes.sum()))
        if name in ("motor_current", "speed", "load", "flow", "spindle_power", "belt_speed"):
            measured = np.maximum(measured, 0.0)
        keep = present & ~_gaps(n, CHANNEL_GAPS_PER_DAY * dropout_scale, days, 6.0, rng)
        index = np.flatnonzero(keep)
        ticks.append(index)
        codes.append(np.full(index.size, code, dtype=np.int32))
        readings.append(measured[index])
    tick = np.concatenate(ticks)
    rows = tick.size
    return pa.table(
        {
            "asset_id": pa.repeat(pa.scalar(asset_id), rows) if rows else pa.array([], pa.string()),
            "ts": clock.timestamps(schedule.t_s[tick]),
            "channel": pa.DictionaryArray.from_arrays(pa.array(np.concatenate(codes)), pa.array(names)).cast(
                pa.string()
            ),
            "value": pa.array(np.concatenate(readings), type=pa.float64()),
        }
    )
