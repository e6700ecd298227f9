"""Prometheus metrics of one service instance (its own registry, so that several apps in one process — the
tests — do not share counters)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from omnimaint.inference.predictor import HealthOutput
from omnimaint.service import db
from omnimaint.service.clock import now_us
from omnimaint.service.ingest import Accepted
from omnimaint.service.store import LiveStore


class ServiceMetrics:
    """Counters and gauges the service exposes at ``/metrics``.

    Args:
        store: The service's store.
        clock_tables: The tables whose rows move an asset's clock (see :mod:`omnimaint.service.scorer`): the
            scoring lag of a window runs from the first of them stored past its anchor.
    """

    def __init__(self, store: LiveStore, clock_tables: tuple[str, ...] = ("telemetry",)) -> None:
        self.store = store
        self.clock_tables = clock_tables
        self.registry = CollectorRegistry()
        self.rows = Counter("omnimaint_rows_ingested", "Rows stored, by table", ["table"], registry=self.registry)
        self.duplicates = Counter(
            "omnimaint_rows_duplicate", "Resent rows acknowledged without storing", registry=self.registry
        )
        self.resent = Counter(
            "omnimaint_batches_resent", "Batches whose idempotency key was stored before", registry=self.registry
        )
        self.refused = Counter(
            "omnimaint_batches_refused_busy", "Batches answered 429 (saturated)", registry=self.registry
        )
        self.windows = Counter("omnimaint_windows_scored", "Windows scored", registry=self.registry)
        buckets = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
        self.lag = Histogram(
            "omnimaint_scoring_lag_seconds",
            "Wall time from storing the row that completed a window (its asset's first past the anchor) to storing "
            "its score",
            buckets=buckets,
            registry=self.registry,
        )
        self.rounds = Histogram(
            "omnimaint_scoring_round_seconds",
            "Wall time of a scoring round: reading the windows, scoring them, storing scores and alarms",
            buckets=buckets,
            registry=self.registry,
        )
        self.pending = Gauge(
            "omnimaint_assets_behind", "Assets with data newer than their last scored anchor", registry=self.registry
        )
        self.alarm_changes = Counter(
            "omnimaint_alarm_transitions", "Alarm transitions by kind", ["kind"], registry=self.registry
        )
        self.alarms = Gauge("omnimaint_alarms", "Alarms by state", ["state"], registry=self.registry)
        self._arrivals: dict[str, deque[tuple[int, int]]] = {}  # asset → (newest row µs, wall µs stored)
        self._lock = threading.Lock()

    def ingested(self, accepted: Accepted) -> None:
        """Count what a batch stored (nothing for a resent batch: its answer repeats the first delivery's)."""
        if accepted.resent:
            self.resent.inc()
            return
        for table, count in accepted.stored.items():
            self.rows.labels(table).inc(count)
        self.duplicates.inc(accepted.duplicates)

    def stored(self, newest: list[tuple[str, str, int]]) -> None:
        """Remember when rows moved each asset's clock: ``(asset, table, newest µs)`` of a stored batch (the last
        4,096 per asset; a window scored later than that is not counted in the lag)."""
        now = now_us()
        with self._lock:
            for asset_id, table, ts_us in newest:
                if table in self.clock_tables:
                    self._arrivals.setdefault(asset_id, deque(maxlen=4096)).append((ts_us, now))

    def scored(self, output: HealthOutput, changed: Sequence[Mapping[str, Any]]) -> None:
        """Count a round just committed: its windows, each one's lag (from the row that completed it to now; an
        asset's windows are scored in anchor order) and its alarm transitions (``changed``: the alarm rows)."""
        now = now_us()
        self.windows.inc(len(output))
        anchors = output.anchors.astype("datetime64[us]").astype("int64")
        with self._lock:
            for asset_id, anchor in zip(output.asset_ids, anchors, strict=True):
                arrivals = self._arrivals.get(str(asset_id))
                while arrivals and arrivals[0][0] <= anchor:
                    arrivals.popleft()
                if arrivals:
                    self.lag.observe(max(0.0, (now - arrivals[0][1]) / 1e6))
        for row in changed:
            self.alarm_changes.labels(row["transition"]).inc()

    def render(self) -> tuple[bytes, str]:
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
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def parse_samples(text: str) -> dict[str, float]:
    """The samples of a ``/metrics`` page by name with labels
    (e.g. ``omnimaint_rows_ingested_total{table="telemetry"}``)."""
    return {
        name: float(value)
        for line in text.splitlines()
        if line and not line.startswith("#")
        for name, value in [line.rsplit(" ", 1)]
    }
