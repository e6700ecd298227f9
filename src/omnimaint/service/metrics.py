"""Prometheus metrics of one service instance (its own registry, so that several apps in one process — the
tests — do not share counters)."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Connection, func, select

from omnimaint.inference.predictor import HealthOutput
from omnimaint.service import db
from omnimaint.service.clock import now_us
from omnimaint.service.ingest import Accepted
from omnimaint.service.store import LiveStore


class ServiceMetrics:
    """Counters and gauges the service exposes at ``/metrics``."""

    def __init__(self, store: LiveStore) -> None:
        self.store = store
        self.registry = CollectorRegistry()
        self.rows = Counter("omnimaint_rows_ingested", "Rows stored, by table", ["table"], registry=self.registry)
        self.duplicates = Counter(
            "omnimaint_rows_duplicate", "Resent rows acknowledged without storing", registry=self.registry
        )
        self.refused = Counter(
            "omnimaint_batches_refused_busy", "Batches answered 429 (saturated)", registry=self.registry
        )
        self.windows = Counter("omnimaint_windows_scored", "Windows scored", registry=self.registry)
        self.lag = Histogram(
            "omnimaint_scoring_lag_seconds",
            "Wall time from a window's newest stored row to its stored score",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.pending = Gauge(
            "omnimaint_assets_behind", "Assets with data newer than their last scored anchor", registry=self.registry
        )
        self.alarm_changes = Counter(
            "omnimaint_alarm_transitions", "Alarm transitions by kind", ["kind"], registry=self.registry
        )
        self.alarms = Gauge("omnimaint_alarms", "Alarms by state", ["state"], registry=self.registry)
        self._last_ingest_us = now_us()

    def ingested(self, accepted: Accepted) -> None:
        for table, count in accepted.stored.items():
            self.rows.labels(table).inc(count)
        self.duplicates.inc(accepted.duplicates)
        self._last_ingest_us = now_us()

    def observe_scores(self, _connection: Connection, output: HealthOutput) -> None:
        self.windows.inc(len(output))
        self.lag.observe(max(0.0, (now_us() - self._last_ingest_us) / 1e6))

    def render(self) -> tuple[bytes, str]:
        start = time.perf_counter()
        with self.store.engine.connect() as connection:
            a = db.assets.c
            behind = connection.execute(
                select(func.count()).where(a.watermark_us.is_not(None), func.coalesce(a.scored_us, 0) < a.watermark_us)
            ).scalar_one()
            states: dict[str, int] = dict(
                connection.execute(select(db.alarms.c.state, func.count()).group_by(db.alarms.c.state)).all()
            )
        self.pending.set(behind)
        for state in ("open", "acknowledged", "resolved"):
            self.alarms.labels(state).set(states.get(state, 0))
        del start
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
