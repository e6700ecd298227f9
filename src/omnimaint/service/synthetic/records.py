"""What a synthetic asset sends besides its scores: telemetry (as the store's roll-up), controller events,
vibration bursts, and the work orders of its maintenance. Rows are tuples in the store table's column order
(without an autoincremented id)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from omnimaint.service.synthetic.plant import DAY_US, HOUR_US, READING_PERIOD_US, Episode, Plant, worst_wear
from omnimaint.sim import text_en
from omnimaint.sim.event_codes import EVENT_CODES

Row = tuple[Any, ...]
PREVENTIVE_EVERY_US = 21 * DAY_US
WAVEFORM_RATE_HZ = 4096.0
"""Sampling rate of a burst when the bundle does not resample to one (the simulator's)."""


def telemetry_steps(
    plant: Plant,
    asset_id: str,
    asset_type: str,
    episodes: list[Episode],
    first_us: int,
    end_us: int,
    rng: np.random.Generator,
) -> list[Row]:
    """``telemetry_steps`` rows of the asset's channels, from the step of ``first_us`` to that of ``end_us``:
    around each channel's centre and scale in training, a daily cycle, noise, and a drift with the wear."""
    channels = tuple(sorted(plant.channels(asset_type)))  # in the order of the table's primary key
    if plant.bundle.window.telemetry is None or not channels:
        return []
    state, everyone = plant.bundle.preprocessor, plant.vocab.telemetry_channels
    at = [everyone.index(c) for c in channels]
    center = np.asarray(state.telemetry_center or [0.0] * len(everyone))[at]  # (C,)
    scale = np.asarray(state.telemetry_scale or [1.0] * len(everyone))[at]  # (C,)
    step = plant.step_us
    ks = np.arange(first_us // step, end_us // step + 1)  # step k holds (k·step - step, k·step]
    times = ks * step  # (T,) the newest reading of each step
    daily = 0.25 * np.sin(2 * np.pi * (times % DAY_US) / DAY_US + rng.uniform(0, 2 * np.pi))  # (T,)
    drift = rng.uniform(0, 1.5, len(channels)) * worst_wear(episodes, times)[:, None]  # (T, C)
    mean = center + scale * (daily[:, None] + 0.08 * rng.standard_normal(drift.shape) + drift)  # (T, C)
    readings = max(1, step // READING_PERIOD_US)
    return list(
        zip(
            itertools.repeat(step),
            itertools.repeat(asset_id),
            np.repeat(ks, len(channels)).tolist(),
            channels * ks.size,
            itertools.repeat(readings),
            (mean * readings).ravel().tolist(),  # the sum of the step's readings
            np.repeat(times, len(channels)).tolist(),
        )
    )


def events(
    plant: Plant, asset_id: str, episodes: list[Episode], start_us: int, end_us: int, rng: np.random.Generator
) -> list[Row]:
    """Controller events of the codes the bundle knows, oldest first: a start and a stop a day, set-point
    changes, a temperature warning on days of heavy wear, now and then an overcurrent trip."""
    days = np.arange(start_us // DAY_US, end_us // DAY_US + 1) * DAY_US
    heavy_wear = worst_wear(episodes, days + 12 * HOUR_US) > 0.5
    drawn: list[tuple[int, str]] = []
    for day, heavy in zip(days.tolist(), heavy_wear.tolist(), strict=True):
        drawn.append((day + int(rng.uniform(6, 6.5) * HOUR_US), "ST-START"))
        drawn.append((day + int(rng.uniform(22, 22.5) * HOUR_US), "ST-STOP"))
        if rng.random() < 0.3:
            drawn.append((day + int(rng.uniform(7, 21) * HOUR_US), "OP-SETPT"))
        if heavy:
            drawn.append((day + 12 * HOUR_US, "WN-TEMP-HIGH"))
        if rng.random() < 0.02:
            drawn.append((day + int(rng.uniform(0, 24) * HOUR_US), "AL-OVERCURRENT"))
    known = set(plant.vocab.event_codes)
    rows: list[Row] = []
    for ts, code in sorted(drawn):
        if start_us < ts <= end_us and code in known:
            event = EVENT_CODES[code]
            values = {"rpm": int(rng.integers(1000, 3000)), "amps": round(rng.uniform(20, 40), 1)}
            message = event.en.format(channel="bearing_temp", value=round(rng.uniform(80, 95), 1), **values)
            rows.append((asset_id, ts, code, event.severity, message))
    return rows


def waveforms(
    plant: Plant, asset_id: str, episodes: list[Episode], start_us: int, end_us: int, rng: np.random.Generator
) -> list[Row]:
    """A vibration burst at noon each day per waveform channel the bundle reads: running speed, and a bearing
    tone that grows with the wear, in noise (little-endian float32 samples, as the store keeps them)."""
    window, channels = plant.bundle.window.waveforms, plant.vocab.waveform_channels
    if window is None or not channels:
        return []
    rate = window.sample_rate_hz or WAVEFORM_RATE_HZ
    times = np.arange(start_us // DAY_US, end_us // DAY_US + 1) * DAY_US + 12 * HOUR_US
    times = times[(times > start_us) & (times <= end_us)]
    t = np.arange(window.length) / rate  # (L,) seconds
    shaft_hz = rng.uniform(20, 50)
    rows: list[Row] = []
    for ts, wear in zip(times.tolist(), worst_wear(episodes, times).tolist(), strict=True):
        tone = 0.3 * np.sin(2 * np.pi * shaft_hz * t) + (0.02 + 0.5 * wear) * np.sin(2 * np.pi * 5.3 * shaft_hz * t)
        for channel in channels:
            samples = (tone + 0.05 * rng.standard_normal(t.size)).astype("<f4").tobytes()
            rows.append((asset_id, ts, channel, rate, samples))
    return rows


def work_orders(
    asset_id: str,
    asset_type: str,
    components: tuple[str, ...],
    episodes: list[Episode],
    start_us: int,
    end_us: int,
    rng: np.random.Generator,
) -> tuple[list[Row], dict[Episode, str]]:
    """``maintenance`` rows in the technicians' words (the simulator's phrasings): a corrective order closed
    at each repair, an inspection closed when a wear that faded is over, a preventive service every three
    weeks; and the order of each episode over by ``end_us``."""
    parts = text_en.PARTS.get(asset_type, {"machine": "machine", "rotor": "rotor", "cooler": "cooler"})

    def say(bank: dict[str, tuple[str, ...]] | None, field: str, otherwise: str | None) -> str | None:
        phrases = (bank or {}).get(field)
        return otherwise if not phrases else phrases[int(rng.integers(len(phrases)))].format(**parts)

    rows: list[Row] = []
    orders: dict[Episode, str] = {}
    text: tuple[str | None, str | None, str | None]  # problem, cause, action
    for e in episodes:
        if e.end_us > end_us:
            continue
        orders[e] = f"WO-{asset_id}-{len(rows) + 1:03d}"
        opened = max(e.onset_us, e.end_us - int(rng.uniform(4, 48) * HOUR_US))
        if e.fades:
            text = (f"Alarm on {e.component}: inspect", None, f"Inspected {e.component}, no fault found")
        else:
            found = text_en.FOUND.get(e.fault) or text_en.FOUND.get(e.fault.split("_")[0])
            text = (
                say(found, "problem", f"{e.component} worn"),
                say(found, "cause", None),
                say(found, "action", f"Repaired {e.component}"),
            )
        kind = "inspection" if e.fades else "corrective"
        rows.append((orders[e], asset_id, opened, e.end_us, e.component, kind, *text))
    service = start_us + int(rng.uniform(0, 21) * DAY_US)
    while service + 2 * HOUR_US <= end_us:
        component = components[int(rng.integers(len(components)))]
        bank = text_en.PREVENTIVE.get(component)
        text = (say(bank, "problem", f"Service {component}"), None, say(bank, "action", "Done"))
        rows.append(
            (
                f"WO-{asset_id}-{len(rows) + 1:03d}",
                asset_id,
                service,
                service + 2 * HOUR_US,
                component,
                "preventive",
                *text,
            )
        )
        service += PREVENTIVE_EVERY_US
    return rows, orders
