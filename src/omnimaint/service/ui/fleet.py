"""The fleet page's reads: every asset with its latest score and its active alarms, in two queries whatever the
fleet's size.

The latest score of an asset is the one at ``assets.scored_us`` (the scorer moves it in the transaction that
stores the score), so it is found by a join on the scores' primary key rather than by a per-asset ``MAX``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, RowMapping, and_, select

from omnimaint.data.windows import HEALTH_STATES
from omnimaint.service import db
from omnimaint.service.alarm_engine import ACTIVE_STATES
from omnimaint.service.ui.labels import priority_rank


@dataclass(frozen=True)
class FleetFilter:
    """Which assets the fleet page shows (``None``: any)."""

    site: str | None = None
    line: str | None = None
    asset_type: str | None = None


@dataclass(frozen=True)
class FleetRow:
    """One asset as the fleet page shows it.

    Attributes:
        asset_id: The asset.
        asset_type: Its type.
        site: Its site (``None`` when not given).
        line: Its line.
        scored_us: The window of its latest score (``None``: not scored yet).
        failure_probability: P(failure within each horizon) of that window (empty when not scored).
        rul_hours: Its remaining useful life.
        health: Its likeliest health state, or ``unscored``.
        alarms: Active alarms by priority, most urgent first.
    """

    asset_id: str
    asset_type: str
    site: str | None
    line: str | None
    scored_us: int | None
    failure_probability: tuple[float, ...]
    rul_hours: float | None
    health: str
    alarms: tuple[tuple[str, int], ...] = ()

    @property
    def risk(self) -> tuple[float, ...]:
        """Sort key: failure probability, shortest horizon first (unscored assets last)."""
        return self.failure_probability or (-1.0,)


@dataclass(frozen=True)
class FleetChoices:
    """The values the filters offer: every site, line and type of the registered assets."""

    sites: tuple[str, ...]
    lines: tuple[str, ...]
    asset_types: tuple[str, ...]


@dataclass(frozen=True)
class Fleet:
    """The fleet page: assets by risk, and the counts its summary shows."""

    rows: tuple[FleetRow, ...]
    by_health: dict[str, int] = field(default_factory=dict)
    alarms_by_priority: tuple[tuple[str, int], ...] = ()


def fleet_choices(engine: Engine) -> FleetChoices:
    """Every site, line and asset type of the registered assets (one query)."""
    a = db.assets.c
    with engine.connect() as connection:
        rows = connection.execute(select(a.site, a.line, a.asset_type).distinct()).all()
    return FleetChoices(
        sites=tuple(sorted({r.site for r in rows if r.site})),
        lines=tuple(sorted({r.line for r in rows if r.line})),
        asset_types=tuple(sorted({r.asset_type for r in rows})),
    )


def read_fleet(engine: Engine, chosen: FleetFilter) -> Fleet:
    """The assets ``chosen`` selects, riskiest first, with their latest score and active alarms."""
    a, s, al = db.assets.c, db.scores.c, db.alarms.c
    latest = db.assets.outerjoin(db.scores, and_(s.asset_id == a.asset_id, s.ts_us == a.scored_us))
    columns = (a.asset_id, a.asset_type, a.site, a.line, a.scored_us, s.failure_probability, s.rul_hours)
    query = select(*columns, s.health_probabilities).select_from(latest)
    for column, value in ((a.site, chosen.site), (a.line, chosen.line), (a.asset_type, chosen.asset_type)):
        if value is not None:
            query = query.where(column == value)
    counts = select(al.asset_id, al.priority, al.id).where(al.state.in_(ACTIVE_STATES))
    with engine.connect() as connection:
        assets = connection.execute(query).mappings().all()
        active = connection.execute(counts).all()
    by_asset: dict[str, Counter[str]] = {}
    for asset_id, priority, _ in active:
        by_asset.setdefault(asset_id, Counter())[priority] += 1
    rows = [_row(r, by_asset.get(r["asset_id"], Counter())) for r in assets]
    rows.sort(key=lambda row: (tuple(-p for p in row.risk), row.asset_id))
    shown = {row.asset_id for row in rows}
    priorities = Counter(priority for asset_id, priority, _ in active if asset_id in shown)
    return Fleet(
        rows=tuple(rows),
        by_health=dict(Counter(row.health for row in rows)),
        alarms_by_priority=_ordered(priorities),
    )


def _row(r: RowMapping, alarms: Counter[str]) -> FleetRow:
    scored = r["failure_probability"] is not None
    return FleetRow(
        asset_id=r["asset_id"],
        asset_type=r["asset_type"],
        site=r["site"],
        line=r["line"],
        scored_us=r["scored_us"] if scored else None,
        failure_probability=tuple(float(p) for p in r["failure_probability"]) if scored else (),
        rul_hours=float(r["rul_hours"]) if scored else None,
        health=_likeliest(r["health_probabilities"]) if scored else "unscored",
        alarms=_ordered(alarms),
    )


def _likeliest(probabilities: Sequence[float]) -> str:
    return HEALTH_STATES[max(range(len(probabilities)), key=lambda i: probabilities[i])]


def _ordered(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: priority_rank(item[0])))
