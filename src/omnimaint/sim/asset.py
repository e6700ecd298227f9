"""Generate every table of one asset: the unit of work a worker process runs.

The asset's randomness comes from its own seed sequence, split into one named stream per part
(history, regime, telemetry, waveforms, frames, events, text) so that the output is a pure function
of the config and the asset index, whichever process runs it, and so that changing how one part is
drawn does not reshuffle the others. Frames are written to disk here (PNG files in the dataset's
staging folder); the other tables are returned to the parent, which appends them in asset order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np
import pyarrow as pa

from omnimaint.sim.catalog import CAMERA, WAVEFORM_CHANNEL
from omnimaint.sim.clock import DAY, HOUR, Clock, FloatArray
from omnimaint.sim.config import PlantConfig
from omnimaint.sim.context import PlantContext
from omnimaint.sim.events import build_events, overcurrent_trips
from omnimaint.sim.frames import (
    STATUS_ISOLATED,
    STATUS_MAINTENANCE,
    STATUS_OFF,
    STATUS_RUN,
    FrameConditions,
    lighting,
    render_frames,
    write_pngs,
)
from omnimaint.sim.history import AssetHistory, simulate_history
from omnimaint.sim.profile import AssetProfile
from omnimaint.sim.regimes import OperatingSchedule, build_schedule, interval_mask
from omnimaint.sim.scene import build_scene
from omnimaint.sim.telemetry import FaultSeverity, belt_slip, measure, true_values
from omnimaint.sim.waveforms import BurstConditions, synthesize_bursts
from omnimaint.sim.workorders import Readings, write_work_order

DAQ_OUTAGES_PER_DAY = 1 / 45
CAMERA_OUTAGES_PER_DAY = 1 / 40
FRAME_CHUNK_PIXELS = 1 << 18
UNSEEN_INTRUSIONS_PER_DAY = 0.02
ISOLATION_DELAY_S = 60.0
"""The controller logs the trip and the lockout, then goes dark for the repair."""


class Stream(IntEnum):
    """The named random streams of one asset."""

    PROFILE = 0
    HISTORY = 1
    REGIME = 2
    TELEMETRY = 3
    WAVEFORMS = 4
    FRAMES = 5
    EVENTS = 6
    TEXT = 7


def stream(seed: np.random.SeedSequence, which: Stream) -> np.random.Generator:
    """Generator of one named stream of ``seed`` (stateless: the same every time it is asked for)."""
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(which)), pool_size=seed.pool_size)
    return np.random.default_rng(child)


@dataclass(frozen=True)
class AssetTask:
    """Everything a worker needs to generate one asset (picklable).

    Attributes:
        config: The plant config.
        profile: The asset's constants.
        context: Plant-wide facts.
        seed: The asset's seed sequence.
        frames_dir: Folder (inside the dataset being written) that receives the asset's PNG frames.
    """

    config: PlantConfig
    profile: AssetProfile
    context: PlantContext
    seed: np.random.SeedSequence
    frames_dir: Path


@dataclass(frozen=True)
class AssetChunk:
    """The rows of one asset, by table (``maintenance`` lacks ``work_order_id``: the parent numbers them)."""

    asset_id: str
    tables: dict[str, pa.Table]


def fault_severity(history: AssetHistory, t_s: FloatArray) -> FaultSeverity:
    """Severity of every fault signature at ``t_s``."""
    return FaultSeverity(
        bearing=history.severity("bearing_wear", t_s),
        imbalance=history.severity("imbalance_misalignment", t_s, "imbalance"),
        misalignment=history.severity("imbalance_misalignment", t_s, "misalignment"),
        overheating=history.severity("overheating", t_s),
        seal=history.severity("seal_leak", t_s),
        belt=history.severity("belt_wear", t_s),
        electrical=history.severity("electrical_fault", t_s),
    )


def _outages(
    clock: Clock, per_day: float, hours: tuple[float, float], rng: np.random.Generator
) -> list[tuple[float, float]]:
    count = int(rng.poisson(per_day * clock.duration_s / DAY))
    begins = rng.uniform(0.0, clock.duration_s, size=count)
    return [(float(b), float(b + rng.uniform(*hours) * HOUR)) for b in begins]


def _offset(index: int, step: float, period: float) -> float:
    """Per-asset phase of a periodic acquisition, so that assets do not all sample at once."""
    return float((index * step) % min(period, 600.0))


def _waveforms(
    task: AssetTask, clock: Clock, schedule: OperatingSchedule, history: AssetHistory, rng: np.random.Generator
) -> pa.Table:
    config, profile = task.config, task.profile
    t = clock.grid(config.waveform_period_s, _offset(profile.index, 97.0, config.waveform_period_s))
    tick = schedule.tick_of(t)
    outage = interval_mask(t, _outages(clock, DAQ_OUTAGES_PER_DAY * config.dropout_scale, (6.0, 96.0), rng))
    keep = schedule.running[tick] & ~outage & (rng.random(t.size) >= 0.005 * config.dropout_scale)
    t, tick = t[keep], tick[keep]
    severity = fault_severity(history, t)
    conditions = BurstConditions(
        shaft_hz=schedule.speed_rpm[tick] / 60.0,
        load=schedule.load[tick],
        bearing=severity.bearing,
        imbalance=severity.imbalance,
        misalignment=severity.misalignment,
    )
    n_samples = config.burst_samples
    bursts = synthesize_bursts(
        profile.vibration, conditions, rate_hz=config.waveform_rate_hz, n_samples=n_samples, rng=rng
    )
    samples = pa.FixedSizeListArray.from_arrays(pa.array(bursts.reshape(-1)), n_samples).cast(pa.list_(pa.float32()))
    return pa.table(
        {
            "asset_id": pa.array([profile.asset_id] * t.size, type=pa.string()),
            "ts": clock.timestamps(t),
            "channel": pa.array([WAVEFORM_CHANNEL] * t.size, type=pa.string()),
            "sample_rate_hz": pa.array(np.full(t.size, config.waveform_rate_hz), type=pa.float64()),
            "samples": samples,
        }
    )


def _frames(
    task: AssetTask, clock: Clock, schedule: OperatingSchedule, history: AssetHistory, rng: np.random.Generator
) -> tuple[pa.Table, FloatArray]:
    """Render and write the asset's frames; returns the frames table and the times of safety-zone intrusions."""
    config, profile = task.config, task.profile
    size, nuisance = config.frame_size, config.nuisance_scale
    scene = build_scene(profile.asset_type, size, rng)
    grid = clock.grid(config.frame_period_s, _offset(profile.index, 53.0, config.frame_period_s))
    outage = interval_mask(grid, _outages(clock, CAMERA_OUTAGES_PER_DAY * config.dropout_scale, (3.0, 120.0), rng))
    number = np.flatnonzero(~outage & (rng.random(grid.size) >= 0.003 * config.dropout_scale))
    t = grid[number]
    tick = schedule.tick_of(t)
    n = t.size
    maintenance = schedule.maintenance[tick]
    status = np.where(schedule.running[tick], STATUS_RUN, STATUS_OFF)
    status = np.where(maintenance, STATUS_MAINTENANCE, status)
    status = np.where(~schedule.powered[tick], STATUS_ISOLATED, status)
    intruder = schedule.running[tick] & ~maintenance & (rng.random(n) < 0.004 * nuisance)
    light, noise = lighting(t, clock, rng)
    conditions = FrameConditions(
        light=light,
        noise=noise,
        leak=history.severity("seal_leak", t),
        heat=history.severity("overheating", t),
        belt=history.severity("belt_wear", t),
        status=status.astype(np.int64),
        person=intruder | (maintenance & (rng.random(n) < 0.6)),
        foreign_object=(profile.asset_type == "conveyor_drive") & (rng.random(n) < 0.01 * nuisance),
        blur=rng.random(n) < 0.02 * nuisance,
        occlusion=rng.random(n) < 0.01 * nuisance,
    )
    relative = [f"frames/{profile.asset_id}/{CAMERA}/{k:06d}.png" for k in number]
    per_chunk = max(1, FRAME_CHUNK_PIXELS // (size * size))
    for begin in range(0, n, per_chunk):
        part = slice(begin, begin + per_chunk)
        pixels = render_frames(scene, conditions.take(part), rng)
        write_pngs(pixels, [task.frames_dir / Path(p).name for p in relative[part]])
    table = pa.table(
        {
            "asset_id": pa.array([profile.asset_id] * n, type=pa.string()),
            "ts": clock.timestamps(t),
            "camera": pa.array([CAMERA] * n, type=pa.string()),
            "path": pa.array(relative, type=pa.string()),
        }
    )
    # The safety scanner logs an intruder shortly before the frame that shows them; others come and go
    # between frames (logged, never pictured).
    seen = t[intruder] - rng.uniform(0.02, 0.2, size=int(intruder.sum())) * min(config.frame_period_s, 300.0)
    count = int(rng.poisson(UNSEEN_INTRUSIONS_PER_DAY * nuisance * clock.duration_s / DAY))
    unseen = grid[rng.integers(grid.size, size=count)] + rng.uniform(0.1, 0.5, size=count) * config.frame_period_s
    return table, np.concatenate([seen, unseen])


def _maintenance(
    task: AssetTask,
    clock: Clock,
    history: AssetHistory,
    schedule: OperatingSchedule,
    values: dict[str, FloatArray],
    rng: np.random.Generator,
) -> pa.Table:
    config, profile = task.config, task.profile
    temp_channel = "motor_temp" if "motor_temp" in values else "bearing_temp"
    actions = [a for a in history.actions if 0 <= a.open_s < clock.duration_s]
    rows: dict[str, list[object]] = {
        k: [] for k in ("ts_open", "ts_close", "component", "kind", "problem", "cause", "action")
    }
    for action in actions:
        k = int(schedule.tick_of(np.array([action.open_s - schedule.period_s]))[0])
        ran = np.flatnonzero(schedule.running[: k + 1])
        k = int(ran[-1]) if ran.size else k  # the technician quotes the last reading under power
        slip = 100 * float(
            belt_slip(np.array([schedule.load[k]]), history.severity("belt_wear", np.array([action.open_s])))[0]
        )
        readings = Readings(vib=float(values["vibration_rms"][k]), temp=float(values[temp_channel][k]), slip=slip)
        technician = task.context.crew[int(rng.integers(len(task.context.crew)))]
        text = write_work_order(
            action, profile.asset_type, readings, technician, lang=config.lang, typo_rate=config.typo_rate, rng=rng
        )
        rows["ts_open"].append(action.open_s)
        rows["ts_close"].append(action.close_s if action.close_s < clock.duration_s else None)
        rows["component"].append(action.component)
        rows["kind"].append(action.kind)
        rows["problem"].append(text.problem)
        rows["cause"].append(text.cause)
        rows["action"].append(text.action)
    closes = np.array([np.nan if c is None else c for c in rows["ts_close"]], dtype=np.float64)
    return pa.table(
        {
            "asset_id": pa.array([profile.asset_id] * len(actions), type=pa.string()),
            "ts_open": clock.timestamps(np.asarray(rows["ts_open"], dtype=np.float64)),
            "ts_close": clock.timestamps(closes),
            **{k: pa.array(rows[k], type=pa.string()) for k in ("component", "kind", "problem", "cause", "action")},
        }
    )


def generate_asset(task: AssetTask) -> AssetChunk:
    """Simulate one asset and write its frames; returns its other tables.

    Args:
        task: The asset and where its frames go.

    Returns:
        The asset's ``telemetry``, ``waveforms``, ``frames``, ``events``, ``maintenance`` and
        ``failures`` rows.
    """
    config, profile, context = task.config, task.profile, task.context
    clock = Clock.from_config(config)
    history = simulate_history(profile, config, clock, stream(task.seed, Stream.HISTORY))
    schedule = build_schedule(
        profile,
        clock,
        config.telemetry_period_s,
        stops=history.intervals(power_off=False),
        power_off=history.intervals(power_off=True),
        power_dips=context.power_dips,
        rng=stream(task.seed, Stream.REGIME),
    )
    severity = fault_severity(history, schedule.t_s)
    events_rng = stream(task.seed, Stream.EVENTS)
    trips = overcurrent_trips(schedule, severity.electrical, config.nuisance_scale, events_rng)
    values = true_values(profile, schedule, severity, context.ambient_c(schedule.t_s, clock), trips)
    telemetry = measure(
        values,
        schedule,
        clock,
        asset_id=profile.asset_id,
        dropout_scale=config.dropout_scale,
        rng=stream(task.seed, Stream.TELEMETRY),
    )
    waveforms = _waveforms(task, clock, schedule, history, stream(task.seed, Stream.WAVEFORMS))
    frames, intrusions = _frames(task, clock, schedule, history, stream(task.seed, Stream.FRAMES))
    log = build_events(
        profile,
        schedule,
        history,
        values,
        severity,
        trips,
        intrusions,
        context.power_dips,
        clock=clock,
        lang=config.lang,
        nuisance_scale=config.nuisance_scale,
        rng=events_rng,
    )
    failures = [f for f in history.failures if 0 <= f.t_s < clock.duration_s]
    isolated = [(begin + ISOLATION_DELAY_S, end) for begin, end in history.intervals(power_off=True)]
    return AssetChunk(
        asset_id=profile.asset_id,
        tables={
            "telemetry": telemetry,
            "waveforms": waveforms,
            "frames": frames,
            "events": log.table(profile.asset_id, clock, isolated),
            "maintenance": _maintenance(task, clock, history, schedule, values, stream(task.seed, Stream.TEXT)),
            "failures": pa.table(
                {
                    "asset_id": pa.array([profile.asset_id] * len(failures), type=pa.string()),
                    "ts": clock.timestamps(np.array([f.t_s for f in failures], dtype=np.float64)),
                    "component": pa.array([f.component for f in failures], type=pa.string()),
                    "fault_type": pa.array([f.fault_type for f in failures], type=pa.string()),
                }
            ),
        },
    )
