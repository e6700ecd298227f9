"""The controller event log of one asset.

State changes and operator actions follow the regime schedule; work orders lock the machine out;
failures raise their trip. Fault precursors reach the log with their own timing: electrical faults
announce themselves mainly here (intermittent overcurrent trips and earth-leakage warnings whose
rate grows with severity), overheating, vibration and belt-slip warnings come late (fixed
controller limits on the true values, which also fire on healthy machines at high load on hot days),
and nuisance alarms unrelated to any fault keep the log honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from omnimaint.sim.clock import DAY, HOUR, Clock, FloatArray
from omnimaint.sim.event_codes import (
    CHANNEL_NAMES_EN,
    CHANNEL_NAMES_ZH,
    EVENT_CODES,
    FAILURE_CODES,
    NUISANCE_CODES,
    message,
)
from omnimaint.sim.history import AssetHistory
from omnimaint.sim.profile import AssetProfile
from omnimaint.sim.regimes import BoolArray, OperatingSchedule, interval_mask
from omnimaint.sim.telemetry import FaultSeverity, belt_slip

BASE_TRIPS_PER_DAY = 0.02
FAULT_TRIPS_PER_DAY = 6.0
INRUSH_TRIP_PROB = 0.02
START_VIB_WARNING_PROB = 0.01
BELT_SLIP_LIMIT = 0.03
ALARM_COOLDOWN_S = 2 * HOUR
TEMP_LIMITS = {"coolant_temp": 30.0, "motor_temp": 62.0}


@dataclass
class EventLog:
    """Events collected in any order; :meth:`table` sorts them by time."""

    lang: str
    t_s: list[float] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def add(self, t_s: float, code: str, **values: str) -> None:
        self.t_s.append(float(t_s))
        self.codes.append(code)
        self.messages.append(message(code, self.lang, **values))

    def table(self, asset_id: str, clock: Clock, silent: list[tuple[float, float]]) -> pa.Table:
        """Rows inside the observed period and outside ``silent`` intervals (controller isolated)."""
        t = np.asarray(self.t_s, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        t = t[order]
        keep = (t >= 0) & (t < clock.duration_s)
        for begin, end in silent:
            keep &= ~((t > begin) & (t < end))
        index = order[keep]
        codes = [self.codes[i] for i in index]
        return pa.table(
            {
                "asset_id": pa.array([asset_id] * len(codes), type=pa.string()),
                "ts": clock.timestamps(t[keep]),
                "code": pa.array(codes, type=pa.string()),
                "severity": pa.array([EVENT_CODES[c].severity for c in codes], type=pa.string()),
                "message": pa.array([self.messages[i] for i in index], type=pa.string()),
            }
        )


def overcurrent_trips(
    schedule: OperatingSchedule, electrical: FloatArray, nuisance_scale: float, rng: np.random.Generator
) -> BoolArray:
    """Ticks holding an overcurrent trip: rare when healthy, growing with the electrical severity."""
    rate = BASE_TRIPS_PER_DAY * nuisance_scale + FAULT_TRIPS_PER_DAY * electrical**2
    chance = 1 - np.exp(-rate * schedule.period_s / DAY)
    return np.asarray(schedule.running & (rng.random(schedule.t_s.size) < chance), dtype=bool)


def _rising(values: FloatArray, limit: float, rearm: float, t_s: FloatArray) -> list[int]:
    """Ticks at which ``values`` crosses ``limit`` upwards (re-armed below ``rearm``, with a cool-down)."""
    out: list[int] = []
    armed, last = True, -np.inf
    for k in np.flatnonzero((values > limit) | (values < rearm)):
        if values[k] > limit and armed and t_s[k] - last >= ALARM_COOLDOWN_S:
            out.append(int(k))
            armed, last = False, t_s[k]
        elif values[k] < rearm:
            armed = True
    return out


def build_events(
    profile: AssetProfile,
    schedule: OperatingSchedule,
    history: AssetHistory,
    values: dict[str, FloatArray],
    severity: FaultSeverity,
    trips: BoolArray,
    intrusions: FloatArray,
    power_dips: tuple[tuple[float, float], ...],
    *,
    clock: Clock,
    lang: str,
    nuisance_scale: float,
    rng: np.random.Generator,
) -> EventLog:
    """Collect every controller event of one asset (see the module docstring)."""
    log = EventLog(lang)
    t, period = schedule.t_s, schedule.period_s
    jitter = rng.uniform(0.0, period, size=t.size)
    for k in schedule.starts:
        log.add(t[k] - jitter[k], "ST-START")
        if rng.random() < INRUSH_TRIP_PROB * nuisance_scale:
            amps = values["motor_current"][k] * rng.uniform(2.5, 4.0)
            log.add(t[k] - jitter[k] + 2.0, "AL-OVERCURRENT", amps=f"{amps:.0f}")
            log.add(t[k] - jitter[k] + rng.uniform(60, 300), "OP-RESET")
        elif rng.random() < START_VIB_WARNING_PROB * nuisance_scale:
            log.add(t[k] - jitter[k] + 20.0, "WN-VIB-HIGH", value=f"{profile.vib_alarm_mm_s * 1.1:.1f}")
    for k in schedule.stops:
        log.add(t[k] - jitter[k], "ST-STOP")
    changes = np.flatnonzero(schedule.running[1:] & (np.diff(schedule.setpoint_rpm) != 0)) + 1
    for k in changes:
        log.add(t[k] - jitter[k], "OP-SETPT", rpm=f"{schedule.setpoint_rpm[k]:.0f}")
    for action in history.actions:
        if action.stops_machine:
            log.add(action.open_s + 30.0, "MT-LOCKOUT")
            log.add(action.close_s, "MT-RELEASE")
    for failure in history.failures:
        log.add(failure.t_s, FAILURE_CODES[failure.fault_type])
    for k in np.flatnonzero(trips):
        when = t[k] + jitter[k]
        amps = max(values["motor_current"][k], 1.0) * rng.uniform(2.5, 4.0)
        log.add(when, "AL-OVERCURRENT", amps=f"{amps:.0f}")
        log.add(when + rng.uniform(120, 600), "OP-RESET")
        log.add(when + rng.uniform(660, 900), "ST-START")
    leak_rate = 0.01 * nuisance_scale + 3.0 * severity.electrical**1.5
    leak_ticks = np.flatnonzero(schedule.running & (rng.random(t.size) < 1 - np.exp(-leak_rate * period / DAY)))
    for k in leak_ticks:
        log.add(t[k] + jitter[k], "WN-GND-FAULT", ma=f"{30 + 250 * severity.electrical[k] + rng.uniform(0, 20):.0f}")
    names = CHANNEL_NAMES_ZH if lang == "zh" else CHANNEL_NAMES_EN
    for channel in ("bearing_temp", "coolant_temp", "motor_temp"):
        if channel in values:
            limit = TEMP_LIMITS.get(channel, profile.temp_alarm_c)
            for k in _rising(values[channel], limit, limit - 3.0, t):
                log.add(t[k] + jitter[k], "WN-TEMP-HIGH", channel=names[channel], value=f"{values[channel][k]:.1f}")
    vib_limit = profile.vib_alarm_mm_s
    for k in _rising(values["vibration_rms"], vib_limit, 0.9 * vib_limit, t):
        log.add(t[k] + jitter[k], "WN-VIB-HIGH", value=f"{values['vibration_rms'][k]:.1f}")
    if profile.asset_type == "conveyor_drive":
        slip = np.where(schedule.running, belt_slip(schedule.load, severity.belt), 0.0)
        for k in _rising(slip, BELT_SLIP_LIMIT, 0.8 * BELT_SLIP_LIMIT, t):
            log.add(t[k] + jitter[k], "AL-BELT-SLIP", value=f"{100 * slip[k]:.1f}")
    days = clock.duration_s / DAY
    for code, per_day in NUISANCE_CODES[profile.asset_type]:
        for when in rng.uniform(0.0, clock.duration_s, size=int(rng.poisson(per_day * days * nuisance_scale))):
            log.add(when, code)
            if EVENT_CODES[code].severity == "alarm":
                log.add(when + rng.uniform(60, 600), "OP-RESET")
    for begin, length in power_dips:
        if schedule.running[schedule.tick_of(np.array([begin]))[0]]:
            log.add(begin, "AL-UNDERVOLT")
            log.add(begin + length, "OP-RESET")
    maintenance = interval_mask(t, history.intervals(power_off=False))
    for when in intrusions:
        if not maintenance[schedule.tick_of(np.array([when]))[0]]:
            log.add(when, "SF-ZONE-INTRUSION")
    return log
