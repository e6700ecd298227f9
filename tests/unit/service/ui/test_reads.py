"""The dashboard's reads stay bounded: the fleet of 500 assets in two queries with each asset's latest score, and
30 days of telemetry merged into at most MAX_POINTS exact means per channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, event, insert

from omnimaint.service import db
from omnimaint.service.ui.asset import MAX_POINTS, read_asset
from omnimaint.service.ui.fleet import FleetFilter, read_fleet

HOUR_US = 3_600_000_000
STEP_US = HOUR_US // 2
END_US = 1_704_067_200_000_000 + 40 * 24 * HOUR_US
ASSETS = 500


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = db.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


def _score(asset_id: str, ts_us: int, p: float) -> dict[str, object]:
    return {
        "asset_id": asset_id,
        "ts_us": ts_us,
        "failure_probability": [p, min(1.0, p + 0.1)],
        "component_failure_probability": [[p], [p]],
        "rul_hours": 100.0 - 50 * p,
        "fault_probabilities": [1.0],
        "health_probabilities": [0.1, 0.1, 0.8] if p > 0.9 else [1 - p, p, 0.0],
        "anomaly_score": p,
        "modality_weights": [1.0],
        "scored_at_us": ts_us,
    }


def _alarm(asset_id: str, component: str, state: str, priority: str) -> dict[str, object]:
    return {
        "asset_id": asset_id,
        "component": component,
        "fault": "wear",
        "state": state,
        "priority": priority,
        "horizon_hours": 24.0,
        "threshold": 0.5,
        "peak": 0.9,
        "opened_at_us": END_US,
        "raised_us": END_US,
    }


def _store_fleet(engine: Engine) -> dict[str, float]:
    """500 assets (the last one not scored yet), each with an older, riskier score than its latest one."""
    rng = np.random.default_rng(0)
    ids = [f"A{i:03d}" for i in range(ASSETS)]
    latest = {asset: float(rng.uniform(0, 0.9)) for asset in ids[:-1]}
    assets = [
        {
            "asset_id": asset,
            "asset_type": ("pump", "spindle")[i % 2],
            "site": "north" if i < ASSETS // 2 else "south",
            "line": f"L{i % 5}",
            "scored_us": END_US if asset in latest else None,
        }
        for i, asset in enumerate(ids)
    ]
    scores = [_score(a, END_US - HOUR_US, 0.99) for a in latest] + [_score(a, END_US, p) for a, p in latest.items()]
    alarms = [
        _alarm("A007", "seal", "open", "high"),
        _alarm("A007", "bearing", "acknowledged", "medium"),
        _alarm("A008", "bearing", "resolved", "high"),
    ]
    with engine.begin() as connection:
        connection.execute(insert(db.assets), assets)
        connection.execute(insert(db.scores), scores)
        connection.execute(insert(db.alarms), alarms)
    return latest


def _counting(engine: Engine) -> list[str]:
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_the_fleet_of_500_assets_is_two_queries_with_each_latest_score(engine: Engine) -> None:
    latest = _store_fleet(engine)
    statements = _counting(engine)
    fleet = read_fleet(engine, FleetFilter())
    assert len(statements) == 2, "one query for the assets and their latest scores, one for the active alarms"
    assert len(fleet.rows) == ASSETS
    risks = [row.failure_probability[0] for row in fleet.rows if row.failure_probability]
    assert risks == sorted(latest.values(), reverse=True), "riskiest first, from each asset's latest score"
    assert fleet.rows[-1].asset_id == "A499" and fleet.rows[-1].health == "unscored", "unscored assets last"
    a007 = next(row for row in fleet.rows if row.asset_id == "A007")
    assert a007.alarms == (("high", 1), ("medium", 1)), "active alarms by priority; resolved ones not counted"
    assert fleet.alarms_by_priority == (("high", 1), ("medium", 1))
    assert sum(fleet.by_health.values()) == ASSETS and fleet.by_health["unscored"] == 1


def test_the_fleet_filters_by_site_line_and_type(engine: Engine) -> None:
    _store_fleet(engine)
    chosen = read_fleet(engine, FleetFilter(site="south", line="L2", asset_type="pump"))
    assert chosen.rows and all(
        row.site == "south" and row.line == "L2" and row.asset_type == "pump" for row in chosen.rows
    )
    assert len(chosen.rows) == sum(1 for i in range(ASSETS // 2, ASSETS) if i % 5 == 2 and i % 2 == 0)


def test_thirty_days_of_telemetry_are_exact_means_of_at_most_max_points(engine: Engine) -> None:
    steps = 30 * 48 + 10  # more than 30 days of half-hour steps
    last_k = END_US // STEP_US
    rng = np.random.default_rng(1)
    counts = rng.integers(1, 5, size=steps)
    totals = rng.normal(50, 5, size=steps) * counts
    rows = [
        {"step_us": STEP_US, "asset_id": "P1", "k": int(last_k - i), "channel": channel, "n": int(counts[i])}
        | {"total": float(totals[i]) * (2 if channel == "b" else 1), "last_us": int((last_k - i) * STEP_US)}
        for i in range(steps)
        for channel in ("a", "b")
    ]
    with engine.begin() as connection:
        connection.execute(insert(db.assets), [{"asset_id": "P1", "asset_type": "pump", "telemetry_us": END_US}])
        connection.execute(insert(db.telemetry_steps), rows)
    statements = _counting(engine)
    page = read_asset(engine, "P1", "30d", STEP_US)
    assert page is not None and [s.name for s in page.telemetry] == ["a", "b"]
    assert len(statements) <= 8, "one query per part of the page"
    a, b = page.telemetry
    assert 0 < len(a.values) <= MAX_POINTS and a.times_us == b.times_us
    assert a.times_us[-1] == END_US and a.times_us[0] > END_US - 30 * 24 * HOUR_US
    # The newest merged point is the mean of every reading of its steps (not a mean of step means).
    group = -(-(30 * 48) // MAX_POINTS)
    newest = [i for i in range(steps) if (last_k - i) > last_k - group]
    assert a.values[-1] == pytest.approx(totals[newest].sum() / counts[newest].sum())
    assert a.values[-1] is not None and b.values[-1] == pytest.approx(2 * a.values[-1])
    day = read_asset(engine, "P1", "24h", STEP_US)
    assert day is not None and len(day.telemetry[0].values) == 48, "a day is drawn at the bundle's step"
    assert day.telemetry[0].values[-1] == pytest.approx(totals[0] / counts[0])
    assert read_asset(engine, "nope", "7d", STEP_US) is None
