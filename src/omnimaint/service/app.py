"""The service's FastAPI app: :func:`create_app` builds it from :class:`ServiceSettings`.

Routes (OpenAPI at ``/docs``; every route but ``/health`` takes an API key, ``X-API-Key`` or Bearer):

- ``GET /health`` (no key), ``GET /ready``, ``GET /metrics`` (Prometheus);
- ``PUT /api/assets`` (admin) registers assets; ``GET /api/assets`` lists them with their progress;
- ``POST /api/ingest`` (operator) stores a batch of telemetry, events, work orders and waveform bursts whole
  or not at all; ``POST /api/assets/{asset_id}/frames`` (operator) stores one camera image;
- ``GET /api/assets/{asset_id}/scores`` the stored outputs of every head over time;
- ``/ui/…``: the dashboard (:mod:`omnimaint.service.ui`; a session cookie from sign-in instead of a key).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, StringConstraints
from sqlalchemy import select, text

from omnimaint import __version__
from omnimaint.data.windows import micros
from omnimaint.errors import ConfigError
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import Predictor
from omnimaint.service import alarms, db
from omnimaint.service.alarms import AlarmActionError, AlarmNotFoundError
from omnimaint.service.auth import Principal, Role, require
from omnimaint.service.bus import Bus, announce
from omnimaint.service.clock import Instant, iso_us, now_us, optional_us
from omnimaint.service.ingest import (
    Accepted,
    AssetIn,
    IngestBatch,
    IngestRejected,
)
from omnimaint.service.intake import Intake
from omnimaint.service.limits import BodySizeLimit
from omnimaint.service.metrics import ServiceMetrics
from omnimaint.service.mqtt import MqttIngester
from omnimaint.service.opcua import OpcuaIngester, load_map
from omnimaint.service.runtime import build_scorer
from omnimaint.service.scorer import ScorerThread
from omnimaint.service.scorer_process import ScorerProcess
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import TIMED, LiveStore
from omnimaint.service.ui import mount_ui

logger = logging.getLogger(__name__)

AlarmId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1, description="The alarm's id.")]
ViewerKey = Annotated[Principal, Depends(require(Role("viewer")))]
OperatorKey = Annotated[Principal, Depends(require(Role("operator")))]
AdminKey = Annotated[Principal, Depends(require(Role("admin")))]


@dataclass
class Services:
    """What the routes share, built in the app's lifespan."""

    settings: ServiceSettings
    store: LiveStore
    predictor: Predictor
    metrics: ServiceMetrics
    scorer: ScorerThread | ScorerProcess | None
    intake: Intake


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service app; its lifespan opens (and migrates) the store, loads the bundle and starts the scorer."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = db.open_store(settings.db_url)
        app.state.engine = engine
        bundle = Bundle.load(settings.bundle)
        predictor = Predictor(bundle, settings.backend, threads=1)
        await asyncio.to_thread(predictor.preprocessor.load_text_model)
        store = LiveStore(engine, settings.data_dir)
        if bundle.window.telemetry is not None:  # scorers here or in workers read telemetry at the bundle's step
            await asyncio.to_thread(store.track_steps, micros(bundle.window.telemetry.step))
        metrics = ServiceMetrics(store, ("telemetry",) if bundle.window.telemetry is not None else TIMED)
        scorer: ScorerThread | ScorerProcess | None = None
        notifier = None
        if settings.scorer and settings.bus is None and settings.scorer_process:
            scorer = ScorerProcess(settings, store, predictor, metrics)
            scorer.start()
        elif settings.scorer and settings.bus is None:
            streaming, notifier = build_scorer(
                store,
                predictor,
                settings,
                on_scored=metrics.scored,
            )
            scorer = ScorerThread(streaming, settings.score_interval, on_round=metrics.rounds.observe)
            scorer.start()
        bus = Bus(settings.bus, stream=settings.bus_stream) if settings.bus is not None else None

        def on_stored(newest: list[tuple[str, str, int]]) -> None:
            metrics.stored(newest)
            if scorer is not None:
                scorer.wake()
            if bus is not None:
                announce(bus, settings.site, newest)

        intake = Intake(store, predictor.bundle.preprocessor.vocab, settings, metrics, on_stored)
        app.state.services = Services(settings, store, predictor, metrics, scorer, intake)
        subscriber = None
        if settings.mqtt is not None:
            subscriber = MqttIngester(
                settings.mqtt, settings.mqtt_site, intake.batch, intake.frame, client_id=settings.mqtt_client_id
            )
            subscriber.start()
        app.state.mqtt = subscriber
        opcua_stop = asyncio.Event()
        opcua_task = None
        if settings.opcua_map is not None:
            mapping = load_map(settings.opcua_map)
            unread = sorted(
                {n.channel for n in mapping.nodes} - set(predictor.bundle.preprocessor.vocab.telemetry_channels)
            )
            if unread:
                raise ConfigError(f"{settings.opcua_map}: channel {unread[0]!r} is not one the bundle reads")
            opcua_task = asyncio.create_task(OpcuaIngester(mapping, intake.batch).run(opcua_stop))
        logger.info("serving %s on %s", settings.bundle, engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            if opcua_task is not None:
                opcua_stop.set()
                await opcua_task
            if subscriber is not None:
                await asyncio.to_thread(subscriber.stop)
            if scorer is not None:
                await asyncio.to_thread(scorer.stop)
            if bus is not None:
                await asyncio.to_thread(bus.close)
            if notifier is not None:
                await asyncio.to_thread(notifier.stop, 10.0)
            engine.dispose()

    app = FastAPI(
        title="omnimaint",
        version=__version__,
        summary="Equipment-health monitoring: live ingestion, scoring through the bundle, alarms.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # One line naming the first problem and where; never the offending input (it may be NaN, or huge).
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ())) or "request"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}{more}"}, status_code=422)

    @app.exception_handler(AlarmActionError)
    async def _alarm_refused(_request: Request, exc: AlarmActionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404 if isinstance(exc, AlarmNotFoundError) else 409)

    @app.exception_handler(IngestRejected)
    async def _rejected(_request: Request, exc: IngestRejected) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 429 else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)

    _routes(app)
    _alarm_routes(app)
    mount_ui(app, settings)
    return app


def _routes(app: FastAPI) -> None:
    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: the process answers (no key needed)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["service"])
    def ready(services: ServicesDep, _who: ViewerKey) -> JSONResponse:
        """Readiness: the store answers and the bundle is loaded."""
        try:
            with services.store.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure of the store means "not ready"
            return JSONResponse({"status": "store unavailable", "detail": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ready", "bundle": str(services.settings.bundle)})

    @app.get("/metrics", tags=["service"], response_class=Response)
    def metrics(services: ServicesDep, _who: ViewerKey) -> Response:
        """Prometheus metrics: points ingested, scoring latency, queue depth, alarms by state."""
        body, content_type = services.metrics.render()
        return Response(body, media_type=content_type)

    @app.put("/api/assets", tags=["assets"])
    def put_assets(assets: list[AssetIn], services: ServicesDep, _who: AdminKey) -> dict[str, int]:
        """Register assets (or update their description). Their type must be one the bundle knows."""
        known = services.predictor.bundle.preprocessor.vocab.asset_types
        for i, asset in enumerate(assets):
            if asset.asset_type not in known:
                raise IngestRejected(
                    422,
                    f"asset {i} ({asset.asset_id!r}): type {asset.asset_type!r} is not one the bundle knows "
                    f"{list(known)}",
                )
        return {"new": services.store.put_assets(assets), "assets": len(services.store.asset_types)}

    @app.get("/api/assets", tags=["assets"])
    def list_assets(services: ServicesDep, _who: ViewerKey) -> list[dict[str, Any]]:
        """Every asset with its type, first and newest observation and last anchor scored."""
        types = services.store.asset_types
        return [
            {"asset_id": p.asset_id, "asset_type": types[p.asset_id], **_times(p.first_us, p.watermark_us, p.scored_us)}
            for p in services.store.progress()
        ]

    @app.post("/api/ingest", tags=["ingest"])
    def ingest(
        batch: IngestBatch,
        services: ServicesDep,
        _who: OperatorKey,
        idempotency_key: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Accepted:
        """Store one batch whole or not at all. A resent batch (same ``key``) is answered as the first time; rows
        already stored exactly so are skipped. 429 with ``Retry-After`` when the service is saturated."""
        return services.intake.batch(batch, idempotency_key)

    @app.post("/api/assets/{asset_id}/frames", tags=["ingest"])
    async def ingest_frame(
        asset_id: str,
        services: ServicesDep,
        _who: OperatorKey,
        image: Annotated[UploadFile, File(description="PNG or JPEG")],
        ts: Annotated[datetime, Form(description="Capture time, ISO 8601 with offset")],
        camera: Annotated[str, Form(min_length=1, max_length=200)],
    ) -> Accepted:
        """Store one camera frame (PNG or JPEG, decoded safely: type and pixel-count checks before decoding)."""
        if ts.tzinfo is None:
            raise IngestRejected(422, "ts: give a time zone offset (e.g. 2026-01-01T00:00:00Z)")
        data = await image.read()
        return await asyncio.to_thread(services.intake.frame, asset_id, ts, camera, data)

    @app.get("/api/assets/{asset_id}/scores", tags=["scores"])
    def scores(
        asset_id: str,
        services: ServicesDep,
        _who: ViewerKey,
        since: Instant | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> list[dict[str, Any]]:
        """Every head's output per scored window, oldest first (from ``since`` on)."""
        if asset_id not in services.store.asset_types:
            raise IngestRejected(404, f"unknown asset {asset_id!r}")
        s = db.scores.c
        query = select(db.scores).where(s.asset_id == asset_id).order_by(s.ts_us).limit(limit)
        if since is not None:
            query = query.where(s.ts_us >= optional_us(since))
        with services.store.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [{**dict(r), "ts": iso_us(r["ts_us"])} for r in rows]


Note = Annotated[str, StringConstraints(max_length=2000)]


class AckIn(BaseModel):
    note: Note | None = None


class ShelveIn(BaseModel):
    until: Instant
    reason: Annotated[Note, StringConstraints(min_length=1)]


class ResolveIn(BaseModel):
    work_order_id: Annotated[str, StringConstraints(max_length=200)] | None = None
    note: Note | None = None


def _alarm_routes(app: FastAPI) -> None:
    @app.get("/api/alarms", tags=["alarms"])
    def list_alarms(
        services: ServicesDep,
        _who: ViewerKey,
        state: Annotated[str | None, Query(pattern="^(open|acknowledged|resolved|active)$")] = None,
        asset_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        """Alarms, newest first: all, or those of one state (``active``: open or acknowledged) or asset."""
        return alarms.list_alarms(services.store.engine, state=state, asset_id=asset_id, limit=limit)

    @app.get("/api/alarms/{alarm_id}/audit", tags=["alarms"])
    def audit(alarm_id: AlarmId, services: ServicesDep, _who: ViewerKey) -> list[dict[str, Any]]:
        """Every change of an alarm: who, when, what."""
        return alarms.audit_trail(services.store.engine, alarm_id)

    @app.post("/api/alarms/{alarm_id}/acknowledge", tags=["alarms"])
    def acknowledge(alarm_id: AlarmId, body: AckIn, services: ServicesDep, who: OperatorKey) -> dict[str, Any]:
        """Acknowledge an open alarm ("I have seen it")."""
        with services.store.writing() as connection:
            return alarms.acknowledge(connection, alarm_id, who.name, now_us(), body.note)

    @app.post("/api/alarms/{alarm_id}/shelve", tags=["alarms"])
    def shelve(alarm_id: AlarmId, body: ShelveIn, services: ServicesDep, who: OperatorKey) -> dict[str, Any]:
        """Mute an active alarm's notifications until ``until``, with a reason."""
        until = optional_us(body.until)
        assert until is not None
        with services.store.writing() as connection:
            return alarms.shelve(connection, alarm_id, who.name, now_us(), until, body.reason)

    @app.post("/api/alarms/{alarm_id}/unshelve", tags=["alarms"])
    def unshelve(alarm_id: AlarmId, body: AckIn, services: ServicesDep, who: OperatorKey) -> dict[str, Any]:
        """End an alarm's shelving early."""
        with services.store.writing() as connection:
            return alarms.unshelve(connection, alarm_id, who.name, now_us(), body.note)

    @app.post("/api/alarms/{alarm_id}/resolve", tags=["alarms"])
    def resolve(alarm_id: AlarmId, body: ResolveIn, services: ServicesDep, who: OperatorKey) -> dict[str, Any]:
        """Resolve an active alarm, optionally naming the work order that fixed it."""
        with services.store.writing() as connection:
            return alarms.resolve(connection, alarm_id, who.name, now_us(), body.work_order_id, body.note)

    @app.get("/api/alarm-kpis", tags=["alarms"])
    def kpis(
        services: ServicesDep, _who: ViewerKey, since: Instant | None = None, until: Instant | None = None
    ) -> dict[str, Any]:
        """Alarm-system performance (EEMUA 191 style) over a period of data time (default: the last 30 days of
        the newest scored window): alarms per asset-day and per 10 minutes, floods, standing, stale and
        chattering alarms, the top-10 bad actors."""
        newest = max((p.scored_us or 0 for p in services.store.progress()), default=0)
        end = optional_us(until) if until is not None else newest
        start = optional_us(since) if since is not None else (end or 0) - 30 * 86_400_000_000
        assert end is not None and start is not None
        if start >= end:
            raise IngestRejected(422, "since: must be before until (or before the newest scored window)")
        return alarms.alarm_kpis(services.store.engine, end, since_us=start)


def _times(first: int | None, watermark: int | None, scored: int | None) -> dict[str, str | None]:
    def iso(us: int | None) -> str | None:
        return None if us is None else iso_us(us)

    return {"first": iso(first), "newest": iso(watermark), "scored_until": iso(scored)}
