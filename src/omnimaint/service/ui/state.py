"""What the dashboard keeps between requests: templates, the session signer, the case library, the alarm
diagnoses and the live feed, each made once (the ones that need the store or the bundle on first use, since the
service's lifespan opens those after the app is built).

The dashboard reads the service through :class:`ServiceParts` (``app.state.services``): it never imports the
app module that mounts it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from omnimaint.inference.predictor import Predictor
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import LiveStore
from omnimaint.service.ui.cases import CaseLibrary
from omnimaint.service.ui.diagnosis import AlarmDiagnoses
from omnimaint.service.ui.live import LiveFeed
from omnimaint.service.ui.session import SessionSigner, User, load_secret
from omnimaint.service.ui.templating import Pages


class ServiceParts(Protocol):
    """The parts of the running service the dashboard reads."""

    settings: ServiceSettings
    store: LiveStore
    predictor: Predictor


class Dashboard:
    """The dashboard's long-lived parts.

    Args:
        data_dir: The service's data folder (the session secret is kept there).
        tick_s: How often the live feed polls the store.
        stream_s: How long one server-sent-event stream stays open before the browser reconnects (a server
            shutting down waits for open streams; this bounds the wait).
    """

    def __init__(self, data_dir: Path, *, tick_s: float = 1.0, stream_s: float = 15.0) -> None:
        self.pages = Pages()
        self.data_dir = data_dir
        self.tick_s = tick_s
        self.stream_s = stream_s
        self._lock = threading.Lock()
        self._signer: SessionSigner | None = None
        self._cases: CaseLibrary | None = None
        self._diagnoses: AlarmDiagnoses | None = None
        self._feed: LiveFeed | None = None

    def signer(self) -> SessionSigner:
        """The session signer (its secret read, or made, on first use)."""
        with self._lock:
            if self._signer is None:
                self._signer = SessionSigner(load_secret(self.data_dir))
            return self._signer

    def cases(self, services: ServiceParts) -> CaseLibrary:
        """The bundle's case base, loaded on first search or diagnosis."""
        with self._lock:
            if self._cases is None:
                self._cases = CaseLibrary(services.predictor.bundle)
            return self._cases

    def diagnoses(self, services: ServiceParts) -> AlarmDiagnoses:
        """Diagnoses of alarms, computed on demand and kept."""
        cases = self.cases(services)
        with self._lock:
            if self._diagnoses is None:
                self._diagnoses = AlarmDiagnoses(services.store, services.predictor, cases)
            return self._diagnoses

    def page(
        self,
        request: Request,
        services: ServiceParts,
        template: str,
        context: Mapping[str, Any],
        *,
        user: User | None,
        status: int = 200,
    ) -> HTMLResponse:
        """A full page: ``template`` with ``context``, the signed-in ``user`` and the count of active alarms that
        the header shows."""
        active = self.feed(services).active_alarms() if user is not None else 0
        return self.pages.render(request, template, {**context, "user": user, "active_alarms": active}, status=status)

    def feed(self, services: ServiceParts) -> LiveFeed:
        """The store's change cursor, polled at most once per tick however many browsers listen."""
        with self._lock:
            if self._feed is None:
                self._feed = LiveFeed(services.store.engine, self.tick_s)
            return self._feed


def _dashboard(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


def _services(request: Request) -> ServiceParts:
    services: ServiceParts = request.app.state.services
    return services


DashboardDep = Annotated[Dashboard, Depends(_dashboard)]
ServicesDep = Annotated[ServiceParts, Depends(_services)]
