"""The dashboard: server-rendered pages of the monitoring service under ``/ui`` (DESIGN.md §6, issue 20).

Owns the pages (fleet → asset → alarm, the alarm list and KPIs, the case search, the admin's API keys), their
reads of the live store (bounded queries: :mod:`.fleet`, :mod:`.asset`, :mod:`.kpis`), sign-in with an API key
turned into a signed session cookie with CSRF tokens on every form (:mod:`.session`, :mod:`.access`), live
updates by server-sent events polled from the store (:mod:`.live`), the alarm diagnosis computed on demand
(:mod:`.diagnosis`), English and Chinese from gettext catalogues (:mod:`.i18n`, ``locale/``), and the
``Server-Timing`` and security headers (:mod:`.headers`). Templates are Jinja2, interactivity htmx, charts uPlot,
both vendored in ``static/vendor`` (nothing is fetched from a CDN). docs/dashboard.md describes it for users.

It reads the service through ``app.state.services`` and calls its alarm functions (:mod:`omnimaint.service.
alarms`) and key functions (:mod:`omnimaint.service.auth`); it never imports :mod:`omnimaint.service.app`, which
mounts it. Like the rest of the service it must not import :mod:`omnimaint.training` or
:mod:`omnimaint.evaluation`: the diagnosis card is rendered here from :class:`~omnimaint.diagnosis.Diagnosis`
(the diagnosis package's HTML card draws with the evaluation report's kit).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from omnimaint.service.settings import ServiceSettings
from omnimaint.service.ui import access, account, alarm_pages, headers, pages
from omnimaint.service.ui.state import Dashboard
from omnimaint.service.ui.templating import PREFIX

__all__ = ["PREFIX", "Dashboard", "mount_ui"]

STATIC = Path(__file__).parent / "static"


def mount_ui(app: FastAPI, settings: ServiceSettings) -> Dashboard:
    """Serve the dashboard from ``app`` under :data:`PREFIX` (its routes stay out of the API's OpenAPI schema).

    Returns:
        The dashboard's state, also at ``app.state.dashboard``.
    """
    dashboard = Dashboard(settings.data_dir)
    app.state.dashboard = dashboard
    for router in (account.router, pages.router, alarm_pages.router):
        app.include_router(router, prefix=PREFIX, include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_middleware(headers.DashboardHeaders, prefix=PREFIX)

    @app.exception_handler(access.LoginRequired)
    async def _sign_in_first(request: Request, exc: access.LoginRequired) -> Response:
        if request.headers.get("hx-request"):  # htmx swaps responses into the page: tell it to go instead
            return Response(status_code=200, headers={"HX-Redirect": exc.login_url})
        if request.url.path == f"{PREFIX}/events":
            return Response("sign in first", status_code=401, media_type="text/plain")
        return RedirectResponse(exc.login_url, status_code=303)

    @app.exception_handler(access.NotAllowed)
    async def _not_allowed(request: Request, exc: access.NotAllowed) -> Response:
        context = {"status": 403, "message": exc.reason, "subject": "", "user": exc.user, "active_alarms": 0}
        return dashboard.pages.render(request, "error.html", context, status=403)

    return dashboard
