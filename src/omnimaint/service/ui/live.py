"""Live updates: a server-sent-event stream that tells open pages when alarms or scores changed.

The feed polls the store, not the scorer: scores written by ``omnimaint worker`` processes show up as well as the
service's own. One query per tick whatever the number of open pages (:class:`LiveFeed` keeps the last answer for
the tick): the newest ``alarm_audit`` id (its primary key; every alarm change, by the engine or by a person,
writes one) and the sum over the assets of their last scored anchor in seconds (one small table; any new score
moves it). Only when the audit id moved does it count the active alarms, for the header's badge.

The stream sends ``alarms`` and ``scores`` events (``static/app.js`` turns them into htmx triggers that reload
the parts of a page that show them) and closes after ``stream_s``; the browser's ``EventSource`` reconnects by
itself and sends the last event id it saw, so that nothing that happened in between is missed. A bounded stream
lets the server shut down promptly: uvicorn waits for open responses to finish before it stops.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from omnimaint.service import db
from omnimaint.service.alarm_engine import ACTIVE_STATES

RETRY_MS = 1000
"""How soon a browser reconnects after a stream closes."""


@dataclass(frozen=True)
class Cursor:
    """Where the store stands: its newest alarm change and the sum of the assets' last scored anchors (s)."""

    audit_id: int
    scored_s: int

    @property
    def token(self) -> str:
        """The cursor as an event id (``Last-Event-ID`` brings it back on reconnection)."""
        return f"{self.audit_id}-{self.scored_s}"

    @classmethod
    def parse(cls, token: str | None) -> Cursor | None:
        """The cursor of an event id, or ``None`` for anything else."""
        audit, _, scored = (token or "").partition("-")
        if not (audit.isdigit() and scored.isdigit()):
            return None
        return cls(int(audit), int(scored))


class LiveFeed:
    """The store's change cursor, read at most once per ``tick_s`` (thread-safe).

    Args:
        engine: The store.
        tick_s: How long a read cursor is reused.
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, engine: Engine, tick_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.tick_s = tick_s
        self.clock = clock
        self._lock = threading.Lock()
        self._read_at = -float("inf")
        self._cursor = Cursor(0, 0)

    def cursor(self) -> Cursor:
        """The store's cursor, at most ``tick_s`` old."""
        with self._lock:
            if self.clock() - self._read_at >= self.tick_s:
                newest_change = select(func.coalesce(func.max(db.alarm_audit.c.id), 0)).scalar_subquery()
                # Seconds, so that the sum of thousands of assets' anchors stays far inside 64 bits.
                scored = select(func.coalesce(func.sum(db.assets.c.scored_us / 1_000_000), 0)).scalar_subquery()
                with self.engine.connect() as connection:
                    audit_id, scored_s = connection.execute(select(newest_change, scored)).one()
                self._cursor = Cursor(int(audit_id), int(scored_s))
                self._read_at = self.clock()
            return self._cursor

    def active_alarms(self) -> int:
        """How many alarms are active (open or acknowledged) now."""
        query = select(func.count()).select_from(db.alarms).where(db.alarms.c.state.in_(ACTIVE_STATES))
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())


def _event(name: str, cursor: Cursor, data: dict[str, object]) -> str:
    return f"id: {cursor.token}\nevent: {name}\ndata: {json.dumps(data)}\n\n"


async def changes(
    feed: LiveFeed,
    last: Cursor | None,
    *,
    tick_s: float,
    lifetime_s: float,
    disconnected: Callable[[], Awaitable[bool]],
) -> AsyncIterator[str]:
    """The event stream: a ``hello`` (or what changed since ``last``), then each change, for ``lifetime_s``."""
    yield f"retry: {RETRY_MS}\n\n"
    current = await asyncio.to_thread(feed.cursor)
    if last is None:
        yield _event("hello", current, {})
        last = current
    deadline = time.monotonic() + lifetime_s
    while True:
        if current.audit_id != last.audit_id:
            yield _event("alarms", current, {"active": await asyncio.to_thread(feed.active_alarms)})
        if current.scored_s != last.scored_s:
            yield _event("scores", current, {})
        last = current
        if time.monotonic() >= deadline or await disconnected():
            return
        await asyncio.sleep(tick_s)
        current = await asyncio.to_thread(feed.cursor)
