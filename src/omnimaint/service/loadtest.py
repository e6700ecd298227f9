"""The service's load benchmark: telemetry at full speed into a running service, every point accounted for.

Synthetic readings of every telemetry channel the bundle reads, one per minute of data time per asset and
channel, are sent by ``senders`` threads in batches over REST (each batch acknowledged by the service once
stored) or MQTT (acknowledged by the broker; the service acknowledges to the broker once stored). At the end
the service's own counter of stored telemetry must equal what was sent. Measured: sustained points/s (stored
points over the time until the last was stored), and, from the service's store, the scoring lag (a window's
score stored after the batch that completed it was acknowledged) and the alarm latency (an alarm stored after
the batch whose reading pushed its window over the threshold was acknowledged), p50 and p99. Over MQTT the
senders are paced at a set rate (see ``rate``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, select

from omnimaint.service import db

START = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class LoadReport:
    """What a load run measured."""

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

    @property
    def points_per_s(self) -> float:
        return self.points_stored / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "points_per_s": round(self.points_per_s, 1)}


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
    acks: list[tuple[int, int, float]] = []  # (sender, newest data µs in the batch, wall time acknowledged)
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    rng = np.random.default_rng(0)
    stored_before = _stored(url, api_key)

    def send(k: int) -> None:
        mine = assets[k::senders]
        client = httpx.Client(base_url=url, headers={"X-API-Key": api_key}, timeout=120)
        publisher = _publisher(mqtt, f"load-{k}") if mqtt else None
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
                ts = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
                values = rng.random(len(mine) * len(channels))
                rows.extend(
                    {"asset_id": a, "ts": ts, "channel": c, "value": float(values[i * len(channels) + j])}
                    for i, a in enumerate(mine)
                    for j, c in enumerate(channels)
                )
                minute += 1
            newest = int((START + timedelta(minutes=minute - 1)).timestamp() * 1e6)
            sequence += 1
            key = f"load-{k}-{sequence}"
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


def _stored(url: str, api_key: str) -> int:
    """The service's counter of stored telemetry rows (from /metrics)."""
    import httpx

    text = httpx.get(f"{url}/metrics", headers={"X-API-Key": api_key}, timeout=30).text
    for line in text.splitlines():
        if line.startswith('omnimaint_rows_ingested_total{table="telemetry"}'):
            return int(float(line.split()[-1]))
    return 0


def _latencies(report: LoadReport, engine: Engine, acks: list[tuple[int, int, float]], sender: dict[str, int]) -> None:
    """Scoring lag and alarm latency: from the acknowledgement of the first batch (of the asset's sender) whose
    newest reading is past the window's anchor."""
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
        alarms = connection.execute(
            select(db.alarms.c.asset_id, db.alarms.c.opened_at_us, db.alarms.c.raised_us).where(
                db.alarms.c.asset_id.in_(list(sender))
            )
        ).all()
    lags = [s / 1e6 - t for a, ts, s in scores if (t := completed_at(a, ts)) is not None]
    latencies = [r / 1e6 - t for a, o, r in alarms if (t := completed_at(a, o)) is not None]
    report.windows, report.alarms = len(scores), len(alarms)
    report.scoring_lag_s = _percentiles(lags)
    report.alarm_latency_s = _percentiles(latencies)
