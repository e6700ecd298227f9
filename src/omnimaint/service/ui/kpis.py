"""The alarm-KPI page's reads: :func:`omnimaint.service.alarms.alarm_kpis` (the function behind
``/api/alarm-kpis``) over the last days of data time, and the alarms raised per 10 minutes and per day for its
charts (one grouped query).

The period ends at the newest scored window, as the API's does: in a replay, data time is not wall-clock time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from omnimaint.service import db
from omnimaint.service.alarm_engine import DAY_US, TEN_MINUTES_US
from omnimaint.service.alarms import alarm_kpis
from omnimaint.service.store import LiveStore

PERIODS = (1, 7, 30)
"""The periods (days) the page offers."""
FLOOD_ABOVE = 10
"""More alarms than this in 10 minutes is a flood (EEMUA 191), as ``alarm_kpis`` counts by default."""


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of ``[since_us, until_us)`` and the alarms raised per interval (interval starts, counts)."""

    kpis: dict[str, Any]
    since_us: int
    until_us: int
    per_10_minutes: tuple[list[int], list[int]]
    per_day: tuple[list[int], list[int]]
    flood_above: int = FLOOD_ABOVE


def read_kpis(store: LiveStore, days: int) -> KpiReport | None:
    """The alarm KPIs of the last ``days`` days of data time (``None`` while nothing is scored)."""
    a = db.alarms.c
    with store.engine.connect() as connection:
        until = connection.execute(select(func.max(db.assets.c.scored_us))).scalar_one_or_none()
        if until is None:
            return None
        since = until - days * DAY_US
        bucket = ((a.opened_at_us - since) // TEN_MINUTES_US).label("bucket")
        counted = select(bucket, func.count()).where(a.opened_at_us >= since, a.opened_at_us < until).group_by(bucket)
        buckets = {int(b): int(n) for b, n in connection.execute(counted).all()}
    kpis = alarm_kpis(store.engine, until, since_us=since, flood_above=FLOOD_ABOVE)
    tens = -(-(until - since) // TEN_MINUTES_US)
    per_ten = [buckets.get(i, 0) for i in range(tens)]
    per_day_bucket = DAY_US // TEN_MINUTES_US
    per_day = [sum(per_ten[i : i + per_day_bucket]) for i in range(0, tens, per_day_bucket)]
    return KpiReport(
        kpis=kpis,
        since_us=since,
        until_us=until,
        per_10_minutes=([since + i * TEN_MINUTES_US for i in range(tens)], per_ten),
        per_day=([since + i * DAY_US for i in range(len(per_day))], per_day),
    )
