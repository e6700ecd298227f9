"""The dashboard's reading pages: fleet, asset (and its camera frames), alarm KPIs, cases, the language switch
and the live event stream. Routes only read and render: the reads are :mod:`.fleet`, :mod:`.asset`,
:mod:`.kpis` and :mod:`.cases`, the drawing :mod:`.charts` and the templates."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from omnimaint.data.windows import micros
from omnimaint.errors import ConfigError
from omnimaint.service import db
from omnimaint.service.alarms import list_alarms
from omnimaint.service.auth import Role
from omnimaint.service.ui import charts
from omnimaint.service.ui.access import page_user, safe_next
from omnimaint.service.ui.asset import RANGES, read_asset
from omnimaint.service.ui.fleet import FleetFilter, fleet_choices, read_fleet
from omnimaint.service.ui.i18n import LANG_COOKIE, is_language
from omnimaint.service.ui.kpis import PERIODS, read_kpis
from omnimaint.service.ui.live import Cursor, changes
from omnimaint.service.ui.session import User
from omnimaint.service.ui.state import DashboardDep, ServiceParts, ServicesDep

Viewer = Annotated[User, Depends(page_user(Role.viewer))]
Choice = Annotated[str | None, Query(max_length=200)]
LANG_COOKIE_SECONDS = 365 * 86_400
ASSET_ALARMS = 20

router = APIRouter()


def _horizons(services: ServiceParts) -> tuple[tuple[float, ...], float | None]:
    """The bundle's horizons (hours) and the calibrated alert threshold of the shortest (the model's own, which
    `--alarm-rules` may override for alarms)."""
    bundle = services.predictor.bundle
    hours = tuple(h.total_seconds() / 3600 for h in bundle.window.horizons)
    thresholds = bundle.thresholds.failure_probability
    return hours, (float(thresholds[0]) if thresholds else None)


def _fleet_filter(
    site: Choice = None,
    line: Choice = None,
    asset_type: Annotated[str | None, Query(alias="type", max_length=200)] = None,
) -> FleetFilter:
    """The fleet page's filters from its query (an empty choice is none)."""
    return FleetFilter(site or None, line or None, asset_type or None)


Chosen = Annotated[FleetFilter, Depends(_fleet_filter)]


def _fleet_context(services: ServiceParts, chosen: FleetFilter) -> dict[str, Any]:
    horizons, threshold = _horizons(services)
    return {
        "fleet": read_fleet(services.store.engine, chosen),
        "chosen": chosen,
        "horizons": horizons,
        "threshold": threshold,
    }


@router.get("/", response_class=HTMLResponse)
def fleet_page(
    request: Request, dashboard: DashboardDep, services: ServicesDep, user: Viewer, chosen: Chosen
) -> HTMLResponse:
    """Every asset's health, failure risk per horizon, RUL and active alarms, riskiest first."""
    context = _fleet_context(services, chosen)
    context["choices"] = fleet_choices(services.store.engine)
    return dashboard.page(request, services, "fleet.html", context, user=user)


@router.get("/fleet/table", response_class=HTMLResponse)
def fleet_table(
    request: Request, dashboard: DashboardDep, services: ServicesDep, user: Viewer, chosen: Chosen
) -> HTMLResponse:
    """The fleet table alone (reloaded when scores or alarms change)."""
    context = _fleet_context(services, chosen)
    return dashboard.pages.render(request, "_fleet_table.html", {**context, "user": user})


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(
    request: Request,
    asset_id: str,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: Viewer,
    period: Annotated[str, Query(alias="range", pattern="^(24h|7d|30d)$")] = "7d",
) -> HTMLResponse:
    """One asset: telemetry over the risk and health timeline on one time axis, frames, spectrum, logs."""
    window = services.predictor.bundle.window
    step = micros(window.telemetry.step) if window.telemetry is not None else None
    page = read_asset(services.store.engine, asset_id, period, step)
    if page is None:
        context = {"status": 404, "message": "unknown asset", "subject": asset_id}
        return dashboard.page(request, services, "error.html", context, user=user, status=404)
    words = dashboard.pages.words(request)
    horizons, threshold = _horizons(services)
    context = {
        "page": page,
        "ranges": list(RANGES),
        "horizons": horizons,
        "threshold": threshold,
        "charts": charts.asset_charts(page, horizons, threshold, words.gettext, words.numbers.hours),
        "spectra": [(s, charts.spectrum_chart(s, words.gettext)) for s in page.spectra],
        "alarms": list_alarms(services.store.engine, asset_id=asset_id, limit=ASSET_ALARMS),
    }
    return dashboard.page(request, services, "asset.html", context, user=user)


@router.get("/assets/{asset_id}/frames/{camera}/{ts_us}")
def frame(asset_id: str, camera: str, ts_us: int, services: ServicesDep, _user: Viewer) -> Response:
    """One stored camera frame (only a file the service wrote under its data folder is ever served)."""
    f = db.frames.c
    query = select(f.path).where(f.asset_id == asset_id, f.camera == camera, f.ts_us == ts_us)
    with services.store.engine.connect() as connection:
        relative = connection.execute(query).scalar_one_or_none()
    root = Path(services.store.root).resolve()
    path = (root / relative).resolve() if relative else None
    if path is None or not path.is_relative_to(root) or not path.is_file():
        return Response("no such frame", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.get("/kpis", response_class=HTMLResponse)
def kpis_page(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: Viewer,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> HTMLResponse:
    """Alarm-system performance (ISA-18.2 / EEMUA 191): rates, floods, standing, stale, chattering, bad actors."""
    gettext = dashboard.pages.words(request).gettext
    report = read_kpis(services.store, days)
    context: dict[str, Any] = {"report": report, "periods": PERIODS, "days": days}
    if report is not None:
        context["per_day"] = charts.counts_chart(*report.per_day, gettext("alarms per day"))
        flood = (float(report.flood_above), gettext("flood"))
        context["per_10_minutes"] = charts.counts_chart(*report.per_10_minutes, gettext("alarms per 10 minutes"), flood)
    return dashboard.page(request, services, "kpis.html", context, user=user)


@router.get("/cases", response_class=HTMLResponse)
async def cases_page(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: Viewer,
    q: Annotated[str, Query(max_length=2000)] = "",
) -> HTMLResponse:
    """Free-text search over the plant's past work orders, in any language, with the fixes that worked."""
    library = dashboard.cases(services)
    found, error = None, None
    if q.strip():
        try:
            found = await asyncio.to_thread(library.search, q)
        except ConfigError as exc:
            error = str(exc)
    else:
        await asyncio.to_thread(library.case_base)
    context = {"q": q, "found": found, "error": error, "library": library, "assets": services.store.asset_types}
    return await asyncio.to_thread(dashboard.page, request, services, "cases.html", context, user=user)


@router.get("/lang/{lang}")
def switch_language(
    lang: str, next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    """Show the dashboard in ``lang`` from now on (a cookie), back on the page the switch was used on."""
    response = RedirectResponse(safe_next(next_url), status_code=303)
    if is_language(lang):
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_SECONDS, samesite="lax", httponly=True)
    return response


@router.get("/events")
async def events(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    _user: Viewer,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-sent events: ``alarms`` (with the count of active alarms) and ``scores``, as the store changes."""
    stream = changes(
        dashboard.feed(services),
        Cursor.parse(last_event_id),
        tick_s=dashboard.tick_s,
        lifetime_s=dashboard.stream_s,
        disconnected=request.is_disconnected,
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # a proxy must not buffer a live stream
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
