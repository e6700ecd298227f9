"""The service's load benchmark: telemetry at full speed into a running service, every point accounted for.

Synthetic readings of every telemetry channel the bundle reads, one per minute of data time per asset and
channel, are sent by ``senders`` threads in batches over REST (each batch acknowledged by the service once
stored) or MQTT (acknowledged by the broker; the service acknowledges to the broker once stored). At the end
the service's own counter of stored telemetry must equal what was sent. Measured: sustained points/s (stored
points over the time until the last was stored), and, from the service's store, the scoring lag (a window's
score stored after the batch that completed it was acknowledged) and the alarm latency (an alarm raised, or
returned to alarm, stored after the batch whose reading pushed its window over the threshold was
acknowledged), p50 and p99. Over MQTT the senders are paced at a set rate (see ``rate``).

For alarms to come and go all through a run, :func:`chattering_threshold` picks the threshold at the median
failure probability that the bundle gives windows of such readings: about half the windows of one component
are over it, so with a rule of one window and no cool-down its alarms clear and return every few windows.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, select

from omnimaint.service import db

if TYPE_CHECKING:
    from omnimaint.inference.predictor import Predictor

START = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class LoadReport:
    """What a load run measured (``alarms``: times an alarm was raised or returned; ``scoring_round_s``: the mean
    duration of the service's scoring rounds that scored something)."""

    transport: str
    points_sent: int = 0
    points_acknowledged: int = 0
    points_stored: int = 0
    seconds: float = 0.0
    refusals: int = 0
    scoring_lag_s: dict[str, float] = field(default_factory=dict)
    alarm_latency_s: dict[str, float] = field(default_factory=dict)
    windows: int = 0
    alarms: int = 0
    scoring_rounds: int = 0
    scoring_round_s: float = 0.0

    @property
    def points_per_s(self) -> float:
        return self.points_stored / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "points_per_s": round(self.points_per_s, 1)}


def readings(
    assets: list[str], channels: tuple[str, ...], minute: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """One minute of the load: a reading of every channel of every asset, uniform in [0, 1)."""
    ts = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = rng.random(len(assets) * len(channels))
    return [
        {"asset_id": a, "ts": ts, "channel": c, "value": float(values[i * len(channels) + j])}
        for i, a in enumerate(assets)
        for j, c in enumerate(channels)
    ]


def chattering_threshold(predictor: Predictor, asset_types: dict[str, str], *, windows: int = 8) -> float:
    """The median probability, at the alarm horizon, of the component the bundle rates highest, over ``windows``
    windows per asset of the load's readings (the assets and their types as registered for the run)."""
    from omnimaint.data.dataset import MemoryDataset
    from omnimaint.data.manifest import Manifest
    from omnimaint.data.schema import SCHEMA_VERSION

    spec = predictor.bundle.window
    history = spec.history or timedelta(days=2)
    minutes = int((history + spec.stride * windows) / timedelta(minutes=1))
    rng = np.random.default_rng(1)
    assets = list(asset_types)
    channels = predictor.bundle.preprocessor.vocab.telemetry_channels
    rows = pd.DataFrame([r for m in range(minutes) for r in readings(assets, channels, m, rng)])
    rows["ts"] = pd.to_datetime(rows["ts"], utc=True)
    tables = {
        "assets": pa.table({"asset_id": assets, "asset_type": [asset_types[a] for a in assets]}),
        "telemetry": pa.Table.from_pandas(rows, preserve_index=False),
    }
    dataset = MemoryDataset(Manifest(schema_version=SCHEMA_VERSION, name="load"), tables, Path(), source="load")
    first = START + history
    anchors = pd.DataFrame(
        [(a, first + spec.stride * k) for a in assets for k in range(windows)], columns=["asset_id", "ts"]
    )
    output = predictor.predict_windows(predictor.windows(dataset, anchors=anchors, check=False))
    medians = np.median(output.component_failure_probability[:, 0, :], axis=0)  # (P,) at the alarm horizon
    return float(medians.max())


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(float(np.percentile(values, 50)), 3), "p99": round(float(np.percentile(values, 99)), 3)}


def run_load(
    url: str,
    api_key: str,
    engine: Engine,
    *,
    assets: list[str],
    channels: tuple[str, ...],
    seconds: float = 60.0,
    batch: int = 5000,
    senders: int = 2,
    mqtt: str | None = None,
    site: str = "plant",
    rate: float | None = None,
) -> LoadReport:
    """Send telemetry for ``seconds`` and measure (the assets must be registered; ``engine`` reads the store).

    Args:
        url: The service's REST URL (also used to read its stored-row counter).
        api_key: An operator key.
        engine: The service's store, to read scores and alarms after the run.
        assets: Registered assets to send for (split across the senders).
        channels: Telemetry channels to send.
        seconds: How long to send.
        batch: Points per batch.
        senders: Sending threads.
        mqtt: Send over this broker instead of REST.
        site: MQTT topics' site.
        rate: Points/s to send at (all senders together); ``None``: as fast as they are acknowledged. Over
            MQTT the broker acknowledges, not the service, and it queues what the service has not taken yet
            (a broker drops queued messages beyond its limit): a publisher faster than the service measures
            the broker, so MQTT runs are paced.
    """
    import httpx

    report = LoadReport("mqtt" if mqtt else "rest")
    run = uuid.uuid4().hex[:8]
    acks: list[tuple[int, int, float]] = []  # (sender, newest data µs in the batch, wall time acknowledged)
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    before = _metrics(url, api_key)
    stored_before = int(before.get(_STORED, 0))

    def send(k: int) -> None:
        mine = assets[k::senders]
        client = httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=120)
        publisher = _publisher(mqtt, f"load-{k}") if mqtt else None
        rng = np.random.default_rng(k)
        minute = 0
        sequence = 0
        sent = 0
        begun = time.perf_counter()
        while time.perf_counter() < deadline:
            if rate is not None:
                ahead = sent / (rate / senders) - (time.perf_counter() - begun)
                if ahead > 0:
                    time.sleep(ahead)
            rows: list[dict[str, Any]] = []
            while len(rows) < batch:
                rows.extend(readings(mine, channels, minute, rng))
                minute += 1
            newest = int((START + timedelta(minutes=minute - 1)).timestamp() * 1e6)
            sequence += 1
            key = f"load-{run}-{k}-{sequence}"  # new keys each run: a key stored before gets the first answer
            if publisher is not None:
                for a in mine:
                    asset_rows = [
                        {key_: v for key_, v in r.items() if key_ != "asset_id"} for r in rows if r["asset_id"] == a
                    ]
                    body = json.dumps({"key": f"{key}-{a}", "rows": asset_rows})
                    publisher.publish(f"omnimaint/{site}/{a}/telemetry", body, qos=1).wait_for_publish(120)
                acknowledged = len(rows)
            else:
                while True:
                    response = client.post("/api/ingest", json={"telemetry": rows}, params={"idempotency_key": key})
                    if response.status_code != 429:
                        break
                    with lock:
                        report.refusals += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")) / 10)
                response.raise_for_status()
                acknowledged = int(response.json()["stored"].get("telemetry", 0))
            sent += len(rows)
            with lock:
                report.points_sent += len(rows)
                report.points_acknowledged += acknowledged
                acks.append((k, newest, time.time()))
        if publisher is not None:
            publisher.loop_stop()
            publisher.disconnect()

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(k,)) for k in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    while _stored(url, api_key) - stored_before < report.points_sent and time.perf_counter() - started < seconds * 5:
        time.sleep(0.05)
    report.seconds = time.perf_counter() - started
    report.points_stored = _stored(url, api_key) - stored_before
    time.sleep(5)  # let the scorer finish what the last batches completed
    after = _metrics(url, api_key)
    rounds, busy = (after.get(name, 0.0) - before.get(name, 0.0) for name in _ROUNDS)
    report.scoring_rounds, report.scoring_round_s = int(rounds), round(busy / rounds, 3) if rounds else 0.0
    _latencies(report, engine, acks, {a: i % senders for i, a in enumerate(assets)})
    return report


def _publisher(url: str, client_id: str) -> Any:
    import paho.mqtt.client as mqtt

    from omnimaint.service.mqtt import Broker

    broker = Broker.parse(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.max_inflight_messages_set(200)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


_STORED = 'omnimaint_rows_ingested_total{table="telemetry"}'
_ROUNDS = ("omnimaint_scoring_round_seconds_count", "omnimaint_scoring_round_seconds_sum")


def _metrics(url: str, api_key: str) -> dict[str, float]:
    """The service's counters (from /metrics)."""
    import httpx

    from omnimaint.service.metrics import parse_samples

    return parse_samples(httpx.get(f"{url}/metrics", headers={"X-API-Key": api_key}, timeout=30).text)


def _stored(url: str, api_key: str) -> int:
    """The service's counter of stored telemetry rows."""
    return int(_metrics(url, api_key).get(_STORED, 0))


def _latencies(report: LoadReport, engine: Engine, acks: list[tuple[int, int, float]], sender: dict[str, int]) -> None:
    """Scoring lag and alarm latency: from the acknowledgement of the first batch (of the asset's sender) whose
    newest reading is past the window's anchor, to the score stored, and to each alarm raised or returned."""
    by_sender: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for k in set(sender.values()):
        mine = sorted((n, t) for s, n, t in acks if s == k)
        by_sender[k] = (np.array([m[0] for m in mine], dtype=np.int64), np.array([m[1] for m in mine]))

    def completed_at(asset_id: str, anchor_us: int) -> float | None:
        newest, acked = by_sender[sender[asset_id]]
        i = int(np.searchsorted(newest, anchor_us, side="right"))
        return float(acked[i]) if i < len(acked) else None

    with engine.connect() as connection:
        scores = connection.execute(
            select(db.scores.c.asset_id, db.scores.c.ts_us, db.scores.c.scored_at_us).where(
                db.scores.c.asset_id.in_(list(sender))
            )
        ).all()
        a, audit = db.alarms.c, db.alarm_audit.c
        alarms = connection.execute(  # every time an alarm was raised or returned to alarm
            select(a.asset_id, audit.data_us, audit.at_us)
            .join_from(db.alarm_audit, db.alarms, audit.alarm_id == a.id)
            .where(a.asset_id.in_(list(sender)), audit.action.in_(("raised", "returned")))
        ).all()
    lags = [s / 1e6 - t for a, ts, s in scores if (t := completed_at(a, ts)) is not None]
    latencies = [r / 1e6 - t for a, o, r in alarms if (t := completed_at(a, o)) is not None]
    report.windows, report.alarms = len(scores), len(alarms)
    report.scoring_lag_s = _percentiles(lags)
    report.alarm_latency_s = _percentiles(latencies)
