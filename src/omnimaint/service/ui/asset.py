"""The asset page's reads, each bounded whatever the asset's history: telemetry from the store's roll-up at the
bundle's step (further averaged in SQL so that a chart never holds more than :data:`MAX_POINTS` points), the
scores of the period, the newest frames, the newest vibration burst of each channel, the newest events and work
orders. Each is one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, RowMapping, Table, func, select

from omnimaint.data.windows import micros
from omnimaint.diagnosis.spectrum import amplitude_spectrum
from omnimaint.service import db

RANGES: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
"""The periods the page offers, ending at the asset's newest data."""
DEFAULT_RANGE = "7d"
MAX_POINTS = 720
"""Points per telemetry or score series at most (about one per two pixels of a wide chart)."""
SPECTRUM_POINTS = 512
FRAMES_PER_CAMERA = 4
EVENTS = 50
WORK_ORDERS = 20


@dataclass(frozen=True)
class Series:
    """Values of one channel at times (µs), ``None`` where a time has no value."""

    name: str
    times_us: tuple[int, ...]
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class ScoreTimeline:
    """The asset's scores of the period: per window, P(failure) per horizon, health probabilities and RUL."""

    times_us: tuple[int, ...]
    failure_probability: tuple[tuple[float, ...], ...]  # (T, horizons)
    health_probabilities: tuple[tuple[float, ...], ...]  # (T, states)
    rul_hours: tuple[float, ...]


@dataclass(frozen=True)
class Spectrum:
    """The amplitude spectrum of a channel's newest burst (reduced to at most :data:`SPECTRUM_POINTS` peaks)."""

    channel: str
    ts_us: int
    sample_rate_hz: float
    rms: float
    frequencies_hz: tuple[float, ...]
    amplitude: tuple[float, ...]


@dataclass(frozen=True)
class AssetPage:
    """Everything the asset page shows of ``asset`` over ``[start_us, end_us]``."""

    asset: dict[str, Any]
    range_key: str
    start_us: int
    end_us: int
    telemetry: tuple[Series, ...]
    scores: ScoreTimeline
    frames: tuple[tuple[str, int], ...]  # (camera, ts_us), newest first
    spectra: tuple[Spectrum, ...]
    events: tuple[dict[str, Any], ...]
    work_orders: tuple[dict[str, Any], ...]


def read_asset(engine: Engine, asset_id: str, range_key: str, step_us: int | None) -> AssetPage | None:
    """The asset page of ``asset_id`` over the period ``range_key`` names (``None``: no such asset).

    Args:
        engine: The store.
        asset_id: The asset.
        range_key: A key of :data:`RANGES` (an unknown one reads the default).
        step_us: The bundle's telemetry step (the roll-up read), or ``None`` when the bundle reads no telemetry.
    """
    range_key = range_key if range_key in RANGES else DEFAULT_RANGE
    with engine.connect() as connection:
        asset = connection.execute(select(db.assets).where(db.assets.c.asset_id == asset_id)).mappings().first()
        if asset is None:
            return None
        end = asset["telemetry_us"] or asset["watermark_us"] or asset["scored_us"] or 0
        start = end - micros(RANGES[range_key])
        telemetry = _telemetry(connection, asset_id, step_us, start, end) if step_us else ()
        return AssetPage(
            asset=dict(asset),
            range_key=range_key,
            start_us=start,
            end_us=end,
            telemetry=telemetry,
            scores=_scores(connection, asset_id, start, end),
            frames=_frames(connection, asset_id, end),
            spectra=_spectra(connection, asset_id, end),
            events=tuple(dict(r) for r in _newest(connection, db.events, asset_id, start, end, EVENTS)),
            work_orders=tuple(dict(r) for r in _work_orders(connection, asset_id)),
        )


def _telemetry(connection: Connection, asset_id: str, step: int, start: int, end: int) -> tuple[Series, ...]:
    """Step means of ``(start, end]``, merged ``group`` steps at a time (sums and counts, so still exact means)."""
    first, last = -(-(start + 1) // step), -(-end // step)
    group = max(1, -(-(last - first + 1) // MAX_POINTS))
    t = db.telemetry_steps.c
    bucket = ((t.k - first) // group).label("bucket")
    query = (
        select(bucket, t.channel, (func.sum(t.total) / func.sum(t.n)).label("mean"))
        .where(t.step_us == step, t.asset_id == asset_id, t.k >= first, t.k <= last)
        .group_by(bucket, t.channel)
    )
    by_channel: dict[str, dict[int, float]] = {}
    for b, channel, mean in connection.execute(query).all():
        by_channel.setdefault(channel, {})[int(b)] = float(mean)
    buckets = sorted({b for values in by_channel.values() for b in values})
    # A bucket is drawn at its last step's right edge: the time of the newest reading it can hold.
    times = tuple(min(first + (b + 1) * group - 1, last) * step for b in buckets)
    return tuple(
        Series(channel, times, tuple(values.get(b) for b in buckets)) for channel, values in sorted(by_channel.items())
    )


def _scores(connection: Connection, asset_id: str, start: int, end: int) -> ScoreTimeline:
    s = db.scores.c
    query = (
        select(s.ts_us, s.failure_probability, s.health_probabilities, s.rul_hours)
        .where(s.asset_id == asset_id, s.ts_us > start, s.ts_us <= end)
        .order_by(s.ts_us)
    )
    rows = connection.execute(query).all()
    if len(rows) > MAX_POINTS:  # keep the riskiest window of each run of ``keep`` (a peak is never averaged away)
        keep = -(-len(rows) // MAX_POINTS)
        rows = [max(rows[i : i + keep], key=lambda r: r.failure_probability[0]) for i in range(0, len(rows), keep)]
    return ScoreTimeline(
        times_us=tuple(r.ts_us for r in rows),
        failure_probability=tuple(tuple(r.failure_probability) for r in rows),
        health_probabilities=tuple(tuple(r.health_probabilities) for r in rows),
        rul_hours=tuple(float(r.rul_hours) for r in rows),
    )


def _frames(connection: Connection, asset_id: str, end: int) -> tuple[tuple[str, int], ...]:
    f = db.frames.c
    cameras = connection.execute(select(f.camera).where(f.asset_id == asset_id).distinct()).scalars().all()
    newest: list[tuple[str, int]] = []
    for camera in sorted(cameras):
        query = (
            select(f.ts_us)
            .where(f.asset_id == asset_id, f.camera == camera, f.ts_us <= end)
            .order_by(f.ts_us.desc())
            .limit(FRAMES_PER_CAMERA)
        )
        newest.extend((camera, ts) for ts in connection.execute(query).scalars())
    return tuple(newest)


def _spectra(connection: Connection, asset_id: str, end: int) -> tuple[Spectrum, ...]:
    w = db.waveforms.c
    newest = (
        select(w.channel, func.max(w.ts_us).label("ts_us"))
        .where(w.asset_id == asset_id, w.ts_us <= end)
        .group_by(w.channel)
    )
    spectra = []
    for channel, ts in connection.execute(newest).all():
        burst = connection.execute(
            select(w.sample_rate_hz, w.samples).where(w.asset_id == asset_id, w.ts_us == ts, w.channel == channel)
        ).one()
        spectra.append(_spectrum(channel, ts, float(burst.sample_rate_hz), np.frombuffer(burst.samples, "<f4")))
    return tuple(spectra)


def _spectrum(channel: str, ts_us: int, rate: float, samples: np.ndarray) -> Spectrum:
    x = samples.astype(np.float64)
    freqs, amplitude = amplitude_spectrum(x, rate)
    group = max(1, -(-freqs.size // SPECTRUM_POINTS))
    usable = freqs.size - freqs.size % group
    if group > 1:  # the peak of each group of bins, at the group's first frequency: peaks survive the reduction
        freqs, amplitude = freqs[:usable:group], amplitude[:usable].reshape(-1, group).max(axis=1)
    return Spectrum(
        channel=channel,
        ts_us=ts_us,
        sample_rate_hz=rate,
        rms=float(np.sqrt(np.mean((x - x.mean()) ** 2))) if x.size else 0.0,
        frequencies_hz=tuple(float(f) for f in freqs),
        amplitude=tuple(float(a) for a in amplitude),
    )


def _newest(connection: Connection, table: Table, asset_id: str, start: int, end: int, limit: int) -> list[RowMapping]:
    query = (
        select(table)
        .where(table.c.asset_id == asset_id, table.c.ts_us > start, table.c.ts_us <= end)
        .order_by(table.c.ts_us.desc())
        .limit(limit)
    )
    return list(connection.execute(query).mappings().all())


def _work_orders(connection: Connection, asset_id: str) -> list[RowMapping]:
    m = db.maintenance.c
    query = select(db.maintenance).where(m.asset_id == asset_id).order_by(m.ts_open_us.desc()).limit(WORK_ORDERS)
    return list(connection.execute(query).mappings().all())
