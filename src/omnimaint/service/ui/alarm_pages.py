"""The alarm pages: the list, one alarm (its state, the operator's actions, the audit trail and the diagnosis
card), and the actions themselves.

The actions are forms that call the service's own alarm functions (:mod:`omnimaint.service.alarms`, the ones
behind ``/api/alarms/{id}/…``) in a write transaction of the store, as the signed-in key's name. A form POST needs the
operator role and the session's CSRF token; it answers with a redirect back to the alarm (so a reload does not
repeat it), or, when the alarm changed meanwhile (someone else acted first), with the page and the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection, select

from omnimaint.data.windows import micros
from omnimaint.diagnosis import Diagnosis
from omnimaint.service import alarms, db
from omnimaint.service.auth import Role
from omnimaint.service.clock import now_us
from omnimaint.service.ui import charts
from omnimaint.service.ui.access import form_user, page_user
from omnimaint.service.ui.session import User
from omnimaint.service.ui.state import Dashboard, DashboardDep, ServiceParts, ServicesDep
from omnimaint.service.ui.templating import request_language, url

Viewer = Annotated[User, Depends(page_user(Role.viewer))]
Operator = Annotated[User, Depends(form_user(Role.operator))]
AlarmId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Note = Annotated[str, Form(max_length=2000)]

STATES = ("active", "open", "acknowledged", "resolved", "all")
StateFilter = Annotated[str, Query(pattern="^(" + "|".join(STATES) + ")$")]
LISTED = 200
SHELVE_HOURS = (1, 4, 8, 12, 24, 72, 168)
"""Shelving durations offered (hours): up to the 7 days ``alarms.shelve`` allows."""
WORK_ORDER_CHOICES = 20

router = APIRouter()


def _listing(services: ServiceParts, state: str, asset: str | None) -> dict[str, Any]:
    rows = alarms.list_alarms(
        services.store.engine, state=None if state == "all" else state, asset_id=asset or None, limit=LISTED
    )
    return {"alarms": rows, "state": state, "asset": asset or "", "now_us": now_us(), "limit": LISTED}


@router.get("/alarms", response_class=HTMLResponse)
def alarm_list(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: Viewer,
    state: StateFilter = "active",
    asset: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Alarms, newest first, by state and asset."""
    context = {**_listing(services, state, asset), "states": STATES, "assets": sorted(services.store.asset_types)}
    return dashboard.page(request, services, "alarms.html", context, user=user)


@router.get("/alarms/table", response_class=HTMLResponse)
def alarm_table(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: Viewer,
    state: StateFilter = "active",
    asset: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The alarm table alone (reloaded when alarms change)."""
    return dashboard.pages.render(request, "_alarm_table.html", {**_listing(services, state, asset), "user": user})


def _alarm_context(services: ServiceParts, alarm_id: int) -> dict[str, Any] | None:
    row = _alarm_row(services, alarm_id)
    if row is None:
        return None
    return {
        "alarm": row,
        "audit": alarms.audit_trail(services.store.engine, alarm_id),
        "now_us": now_us(),
        "shelve_hours": SHELVE_HOURS,
        "work_orders": _work_orders(services, row["asset_id"]),
    }


def _alarm_row(services: ServiceParts, alarm_id: int) -> dict[str, Any] | None:
    with services.store.engine.connect() as connection:
        row = connection.execute(select(db.alarms).where(db.alarms.c.id == alarm_id)).mappings().first()
    return dict(row) if row is not None else None


def _work_orders(services: ServiceParts, asset_id: str) -> list[str]:
    """The asset's newest work orders, offered when resolving (a plant may also name one not yet stored)."""
    m = db.maintenance.c
    query = (
        select(m.work_order_id).where(m.asset_id == asset_id).order_by(m.ts_open_us.desc()).limit(WORK_ORDER_CHOICES)
    )
    with services.store.engine.connect() as connection:
        return list(connection.execute(query).scalars())


def _not_found(request: Request, dashboard: Dashboard, services: ServiceParts, user: User, alarm_id: int) -> Response:
    context = {"status": 404, "message": "unknown alarm", "subject": str(alarm_id)}
    return dashboard.page(request, services, "error.html", context, user=user, status=404)


@router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(
    request: Request,
    alarm_id: AlarmId,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: Viewer,
    done: Annotated[str | None, Query(pattern="^(acknowledged|shelved|unshelved|resolved)$")] = None,
) -> Response:
    """One alarm: its state, the actions the user's role allows, the audit trail and (loaded after) the diagnosis."""
    context = _alarm_context(services, alarm_id)
    if context is None:
        return _not_found(request, dashboard, services, user, alarm_id)
    return dashboard.page(request, services, "alarm.html", {**context, "done": done, "error": None}, user=user)


@router.get("/alarms/{alarm_id}/panel", response_class=HTMLResponse)
def alarm_panel(
    request: Request, alarm_id: AlarmId, dashboard: DashboardDep, services: ServicesDep, user: Viewer
) -> Response:
    """The alarm's state and audit trail alone (reloaded when alarms change; the forms are left as they are, so
    that what an operator is typing is not wiped)."""
    context = _alarm_context(services, alarm_id)
    if context is None:
        return Response(status_code=404)
    return dashboard.pages.render(request, "_alarm_live.html", {**context, "user": user})


@router.get("/alarms/{alarm_id}/diagnosis", response_class=HTMLResponse)
async def alarm_diagnosis(
    request: Request, alarm_id: AlarmId, dashboard: DashboardDep, services: ServicesDep, user: Viewer
) -> HTMLResponse:
    """The diagnosis card of the alarm's window (computed on first request, then kept), or why there is none."""
    words = dashboard.pages.words(request)

    def render(diagnosis: Diagnosis) -> str:
        context = {"d": diagnosis, "charts": charts.evidence_charts(diagnosis, words.gettext), "user": user}
        return dashboard.pages.text(request, "_diagnosis.html", context)

    diagnoses = dashboard.diagnoses(services)
    outcome = await asyncio.to_thread(diagnoses.card, alarm_id, request_language(request), render)
    if outcome.html is not None:
        return HTMLResponse(outcome.html)
    return dashboard.pages.render(request, "_diagnosis_failed.html", {"error": outcome.error, "user": user})


@dataclass(frozen=True)
class AlarmAction:
    """An operator's form POST on an alarm: who, from which page, on which service."""

    request: Request
    dashboard: Dashboard
    services: ServiceParts
    user: User

    def run(self, alarm_id: int, done: str, action: Callable[[Connection], object]) -> Response:
        """Run ``action`` in a write transaction of the store (as the API's alarm routes do), then redirect back to
        the alarm (``?done=``); when the alarm is gone or refuses the action (someone acted first), show the
        alarm with the reason (409)."""
        try:
            with self.services.store.writing() as connection:
                action(connection)
        except alarms.AlarmNotFoundError:
            return _not_found(self.request, self.dashboard, self.services, self.user, alarm_id)
        except alarms.AlarmActionError as exc:
            context = _alarm_context(self.services, alarm_id)
            if context is None:
                return _not_found(self.request, self.dashboard, self.services, self.user, alarm_id)
            context = {**context, "done": None, "error": str(exc)}
            return self.dashboard.page(self.request, self.services, "alarm.html", context, user=self.user, status=409)
        return RedirectResponse(url(f"/alarms/{alarm_id}?done={done}"), status_code=303)


def _action(request: Request, dashboard: DashboardDep, services: ServicesDep, user: Operator) -> AlarmAction:
    return AlarmAction(request, dashboard, services, user)


Acting = Annotated[AlarmAction, Depends(_action)]


@router.post("/alarms/{alarm_id}/acknowledge")
def acknowledge(alarm_id: AlarmId, act: Acting, note: Note = "") -> Response:
    """Acknowledge the alarm ("I have seen it")."""
    return act.run(
        alarm_id,
        "acknowledged",
        lambda connection: alarms.acknowledge(connection, alarm_id, act.user.name, now_us(), note or None),
    )


@router.post("/alarms/{alarm_id}/shelve")
def shelve(
    alarm_id: AlarmId,
    act: Acting,
    hours: Annotated[int, Form(ge=1, le=168)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Shelve the alarm for ``hours`` with a reason (its notifications are muted until then)."""
    now = now_us()
    until = now + micros(timedelta(hours=hours))
    return act.run(
        alarm_id, "shelved", lambda connection: alarms.shelve(connection, alarm_id, act.user.name, now, until, reason)
    )


@router.post("/alarms/{alarm_id}/unshelve")
def unshelve(alarm_id: AlarmId, act: Acting, note: Note = "") -> Response:
    """End the alarm's shelving early."""
    return act.run(
        alarm_id,
        "unshelved",
        lambda connection: alarms.unshelve(connection, alarm_id, act.user.name, now_us(), note or None),
    )


@router.post("/alarms/{alarm_id}/resolve")
def resolve(
    alarm_id: AlarmId, act: Acting, work_order_id: Annotated[str, Form(max_length=200)] = "", note: Note = ""
) -> Response:
    """Resolve the alarm, naming the work order that fixed it (optional)."""
    order = work_order_id.strip() or None
    return act.run(
        alarm_id,
        "resolved",
        lambda connection: alarms.resolve(connection, alarm_id, act.user.name, now_us(), order, note or None),
    )
