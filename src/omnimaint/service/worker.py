"""``omnimaint worker``: one of several scorer processes of a plant (DESIGN.md §6, docs/service.md).

Each worker pulls the API's announcements from NATS JetStream (:mod:`omnimaint.service.bus`), holds leases
on its fair share of the assets (:mod:`omnimaint.service.leases`) and scores their pending windows with the
bundle's Predictor, exactly as the single-process service does (:class:`StreamingScorer`, the alarm engine
in the same transaction). All workers and the API share one PostgreSQL store and the API's data folder
(frames). Killed, a worker's leases expire after ``lease_s`` and its assets pass to the others, which resume
after the last anchor scored.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import Predictor
from omnimaint.service import leases
from omnimaint.service.bus import Bus
from omnimaint.service.clock import now_us
from omnimaint.service.db import open_store
from omnimaint.service.runtime import build_scorer
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import LiveStore

logger = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    rounds: int = 0
    windows: int = 0


def worker_id() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


def run_worker(
    settings: ServiceSettings,
    stop: threading.Event,
    *,
    name: str | None = None,
    lease_s: float = 10.0,
    sweep_s: float = 2.0,
) -> WorkerStats:
    """Score until ``stop`` is set.

    Args:
        settings: The service's settings (bundle, store, bus, alarm rules, data folder).
        stop: Set to stop after the current round.
        name: The worker's id (default: host name and a random suffix).
        lease_s: How long a lease lasts without renewal (a dead worker's assets wait this long).
        sweep_s: Seconds between sweeps over every asset's pending windows (besides the bus's announcements).
    """
    if settings.bus is None:
        from omnimaint.errors import ConfigError

        raise ConfigError("a worker needs the bus: give --bus nats://…")
    me = name or worker_id()
    engine = open_store(settings.db_url)
    bundle = Bundle.load(settings.bundle)
    predictor = Predictor(bundle, settings.backend, threads=1)
    predictor.preprocessor.load_text_model()
    store = LiveStore(engine, settings.data_dir)
    stats = WorkerStats()
    scorer, notifier = build_scorer(store, predictor, settings, name=me)
    bus = Bus(settings.bus, stream=settings.bus_stream)
    lease_us = int(lease_s * 1e6)
    next_sweep = 0.0
    logger.info("worker %s scoring %s from %s", me, settings.bundle, settings.bus)
    try:
        while not stop.is_set():
            announced = set(bus.fetch(timeout=min(sweep_s, 1.0)))
            now = now_us()
            leases.heartbeat(engine, me, now)
            if not announced and time.monotonic() < next_sweep:
                continue
            next_sweep = time.monotonic() + sweep_s
            progress = store.progress()
            pending = {p.asset_id for p in progress if scorer.pending(p).size}
            share = leases.fair_share(len(progress), leases.live_workers(engine, now, lease_us))
            mine = leases.claim(engine, me, pending, now, lease_us, share)
            todo = sorted(mine & pending)
            while todo and not stop.is_set():
                result = scorer.score_round(todo)
                stats.rounds += 1
                stats.windows += result.scored
                leases.claim(engine, me, (), now_us(), lease_us, share)  # renew while scoring
                if not result.more:
                    break
    finally:
        leases.release(engine, me)
        bus.close()
        notifier.stop(10.0)
        engine.dispose()
    return stats
