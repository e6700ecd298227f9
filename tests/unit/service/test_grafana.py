"""The Grafana dashboard (deploy/grafana): well formed and on the provisioned data source, and every panel's SQL,
its macros and variables replaced as Grafana replaces them, runs on a PostgreSQL store as the read-only role of
docs/grafana.md and returns the rows it is meant to show."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import ProgrammingError

from omnimaint.service import db
from omnimaint.yamlfile import read_yaml

REPO = Path(__file__).resolve().parents[3]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "omnimaint.json").read_text(encoding="utf-8"))
PANELS: list[dict[str, Any]] = DASHBOARD["panels"]
VARIABLES: list[dict[str, Any]] = DASHBOARD["templating"]["list"]
MACROS = re.compile(r"\$__unixEpoch(From|To)\(\)|\$\{(asset|channel):sqlstring\}|\$\{step\}")
"""What the queries may use of Grafana's: the time range in epoch seconds, and the variables (a step in µs)."""

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00Z, µs
SECOND, MINUTE, HOUR = 1_000_000, 60_000_000, 3_600_000_000
STEP = 30 * MINUTE


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


def _render(raw: str, since_us: int, until_us: int, variables: dict[str, list[str]]) -> str:
    """``raw`` as Grafana sends it: ``$__unixEpochFrom()``/``To()`` are whole seconds, ``${v:sqlstring}`` each
    value quoted (quotes doubled) and comma-separated, ``${v}`` the values as they are."""
    sql = raw.replace("$__unixEpochFrom()", str(since_us // SECOND)).replace(
        "$__unixEpochTo()", str(until_us // SECOND)
    )
    for name, values in variables.items():
        quoted = ",".join("'" + value.replace("'", "''") + "'" for value in values)
        sql = sql.replace(f"${{{name}:sqlstring}}", quoted).replace(f"${{{name}}}", ",".join(values))
    assert "$" not in sql, f"a macro or variable is left: {sql}"
    return sql


def _rows(connection: Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.exec_driver_sql(sql).fetchall()]


def _same(rows: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> bool:
    """Row by row, value by value; numbers (float, numeric, integer) to within 1e-9."""

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal) and not isinstance(a, bool):
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
        return bool(a == b)

    return len(rows) == len(expected) and all(
        len(r) == len(e) and all(same(a, b) for a, b in zip(r, e, strict=True))
        for r, e in zip(rows, expected, strict=True)
    )


def test_every_panel_is_laid_out_on_the_provisioned_source_and_uses_only_the_known_macros() -> None:
    source = read_yaml(GRAFANA / "provisioning" / "datasources" / "omnimaint.yaml", "the data source")["datasources"]
    assert len(source) == 1
    wanted = {"type": source[0]["type"], "uid": source[0]["uid"]}
    provider = read_yaml(GRAFANA / "provisioning" / "dashboards" / "omnimaint.yaml", "the provider")["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"]
    ids = [p["id"] for p in PANELS]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    taken: set[tuple[int, int]] = set()
    for panel in PANELS:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "xywh") and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        cells = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"panel {panel['title']!r} overlaps another"
        taken |= cells
        assert panel["datasource"] == wanted and panel["description"]
        assert len(panel["targets"]) == 1
        for target in panel["targets"]:
            assert (
                target["datasource"] == wanted and target["rawQuery"] and target["format"] in ("table", "time_series")
            )
            leftover = MACROS.sub("", target["rawSql"])
            assert "$" not in leftover, f"panel {panel['title']!r} uses a macro the test does not emulate"
    for variable in VARIABLES:
        assert variable["datasource"] == wanted and "$" not in MACROS.sub("", variable["query"])


# --- on PostgreSQL --------------------------------------------------------------------------------------------


@pytest.fixture
def store(postgres_url: str) -> Iterator[Engine]:
    engine = db.open_store(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def reader(store: Engine) -> Iterator[str]:
    """The read-only role of docs/grafana.md, under a name of its own, created in the test database."""
    docs = (REPO / "docs" / "grafana.md").read_text(encoding="utf-8")
    found = re.search(r"```sql\n(.*?)```", docs, re.S)
    assert found, "docs/grafana.md gives the read-only role's SQL"
    role = f"omnimaint_grafana_{uuid.uuid4().hex[:8]}"
    statements = (
        found.group(1)
        .replace("omnimaint_grafana", role)
        .replace("DATABASE omnimaint", f'DATABASE "{store.url.database}"')
    )
    with store.begin() as connection:
        connection.exec_driver_sql(statements)
    try:
        yield role
    finally:
        with store.begin() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
            connection.exec_driver_sql(f'DROP ROLE "{role}"')


@contextmanager
def _as(store: Engine, role: str) -> Iterator[Connection]:
    """A connection acting as ``role``: SET ROLE in its transaction, undone by the rollback when it closes."""
    with store.connect() as connection:
        connection.exec_driver_sql(f'SET ROLE "{role}"')
        yield connection


def _small_plant(engine: Engine) -> None:
    """Three assets (A3 has data but no score yet), three scored windows, five alarms and their audit trail,
    telemetry roll-up steps of two channels."""
    assets = [
        {"asset_id": "A1", "asset_type": "centrifugal_pump", "site": "north", "line": "L1",
         "first_us": T0 - 24 * HOUR, "watermark_us": T0 + 6 * HOUR + 30 * MINUTE, "telemetry_us": T0 + 6 * HOUR + 30 * MINUTE,
         "scored_us": T0 + 6 * HOUR},
        {"asset_id": "A2", "asset_type": "cnc_spindle", "site": "south", "line": "L2",
         "first_us": T0 - 24 * HOUR, "watermark_us": T0 + 8 * HOUR, "telemetry_us": T0 + 8 * HOUR, "scored_us": T0 + 6 * HOUR},
        {"asset_id": "A3", "asset_type": "conveyor_drive", "site": "north", "line": "L1",
         "first_us": T0, "watermark_us": T0 + 2 * HOUR, "telemetry_us": T0 + 2 * HOUR, "scored_us": None},
    ]  # fmt: skip

    def score(
        asset: str, ts: int, failure: list[float], health: list[float], rul: float, anomaly: float, lag_s: int
    ) -> dict[str, Any]:
        return {"asset_id": asset, "ts_us": ts, "failure_probability": failure,
                "component_failure_probability": [[p / 2, p / 2] for p in failure], "rul_hours": rul,
                "fault_probabilities": [0.5, 0.5], "health_probabilities": health, "anomaly_score": anomaly,
                "modality_weights": [0.2] * 5, "scored_at_us": ts + lag_s * SECOND, "scored_by": "service"}  # fmt: skip

    scores = [
        score("A1", T0, [0.05, 0.1], [0.9, 0.05, 0.05], 100.0, 1.0, 10),
        score("A1", T0 + 6 * HOUR, [0.2, 0.5], [0.1, 0.7, 0.2], 40.0, 2.0, 10),
        score("A2", T0 + 6 * HOUR, [0.9, 0.95], [0.05, 0.15, 0.8], 5.0, 6.0, 30),
    ]

    def alarm(
        alarm_id: int,
        asset: str,
        component: str,
        fault: str,
        state: str,
        priority: str,
        peak: float,
        opened: int,
        **more: Any,
    ) -> dict[str, Any]:
        return {"id": alarm_id, "asset_id": asset, "component": component, "fault": fault, "state": state,
                "priority": priority, "horizon_hours": 24.0, "threshold": 0.5, "peak": peak, "opened_at_us": opened,
                "raised_us": opened + MINUTE, "resolved_us": None, "shelved_until_us": None, "shelve_reason": None, **more}  # fmt: skip

    alarms = [
        alarm(1, "A1", "seal", "seal_leak", "resolved", "medium", 0.6, T0 - 2 * HOUR, resolved_us=T0 - 90 * MINUTE),
        alarm(2, "A1", "seal", "seal_leak", "resolved", "medium", 0.6, T0 - HOUR, resolved_us=T0 - 30 * MINUTE),
        alarm(3, "A1", "seal", "seal_leak", "open", "medium", 0.7, T0 + HOUR),
        alarm(4, "A2", "bearing", "bearing_wear", "open", "high", 0.95, T0 + HOUR + 5 * MINUTE,
              shelved_until_us=(T0 + 100 * 365 * 24 * HOUR), shelve_reason="spare part on order"),
        alarm(5, "A2", "rotor", "imbalance_misalignment", "acknowledged", "medium", 0.65, T0 + 3 * HOUR),
    ]  # fmt: skip
    audit = [(a["id"], a["raised_us"], "system", "raised") for a in alarms]
    audit += [(1, T0 - 100 * MINUTE, "ana", "acknowledged"), (1, T0 - 90 * MINUTE, "ana", "resolved")]
    audit += [(2, T0 - 30 * MINUTE, "wei", "resolved"), (4, T0 + 2 * HOUR, "wei", "shelved")]
    audit += [(5, T0 + 3 * HOUR + 10 * MINUTE, "sam", "acknowledged")]
    steps = [("A1", "bearing_temp", k) for k in range(T0 // STEP, (T0 + 6 * HOUR + 30 * MINUTE) // STEP + 1)]
    steps += [
        ("A1", "motor_current", (T0 + 6 * HOUR + 30 * MINUTE) // STEP),
        ("A2", "bearing_temp", (T0 + 8 * HOUR) // STEP),
    ]
    with engine.begin() as connection:
        connection.execute(insert(db.assets), assets)
        connection.execute(insert(db.scores), scores)
        connection.execute(insert(db.alarms), alarms)
        connection.execute(
            insert(db.alarm_audit),
            [{"alarm_id": i, "at_us": at, "actor": who, "action": what} for i, at, who, what in audit],
        )
        connection.execute(insert(db.rollups).values(step_us=STEP, created_us=T0))
        connection.execute(
            insert(db.telemetry_steps),
            [{"step_us": STEP, "asset_id": a, "k": k, "channel": c, "n": 3, "total": 3.0 * (k % 100), "last_us": k * STEP}
             for a, c, k in steps],
        )  # fmt: skip
        # The store's serial ids were bypassed: move the sequence on, as a service writing after this would need.
        connection.exec_driver_sql("SELECT setval('alarms_id_seq', 5)")


SINCE, UNTIL = T0 - 3 * HOUR, T0 + 7 * HOUR
"""The time picker's range in the exact checks."""


def _expected() -> dict[str, list[tuple[Any, ...]]]:
    """What each panel shows of :func:`_small_plant` over (SINCE, UNTIL), assets A1 and A2, bearing_temp."""
    a1_steps = range(T0 // STEP, (T0 + 6 * HOUR + 30 * MINUTE) // STEP + 1)
    return {
        "Fleet health": [("critical", 1), ("degrading", 1), ("not scored", 1)],
        "Active alarms by priority": [("high", 0, 0, 1), ("medium", 1, 1, 0)],
        "Alarms raised per 10 minutes": [
            (_at(T0 - 2 * HOUR), 1), (_at(T0 - HOUR), 1), (_at(T0 + HOUR), 2), (_at(T0 + 3 * HOUR), 1)
        ],
        "Fleet": [
            ("A2", "cnc_spindle", "south", "L2", "critical", 0.9, 0.95, 5.0, 6.0, 2, 1, _at(T0 + 6 * HOUR)),
            ("A1", "centrifugal_pump", "north", "L1", "degrading", 0.2, 0.5, 40.0, 2.0, 1, 0, _at(T0 + 6 * HOUR)),
            ("A3", "conveyor_drive", "north", "L1", "not scored", None, None, None, None, 0, 0, None),
        ],
        "Failure probability": [
            (_at(T0), "A1 · horizon 1", 0.05), (_at(T0), "A1 · horizon 2", 0.1),
            (_at(T0 + 6 * HOUR), "A1 · horizon 1", 0.2), (_at(T0 + 6 * HOUR), "A1 · horizon 2", 0.5),
            (_at(T0 + 6 * HOUR), "A2 · horizon 1", 0.9), (_at(T0 + 6 * HOUR), "A2 · horizon 2", 0.95),
        ],
        "Remaining useful life": [(_at(T0), "A1", 100.0), (_at(T0 + 6 * HOUR), "A1", 40.0), (_at(T0 + 6 * HOUR), "A2", 5.0)],
        "Anomaly score": [(_at(T0), "A1", 1.0), (_at(T0 + 6 * HOUR), "A1", 2.0), (_at(T0 + 6 * HOUR), "A2", 6.0)],
        "Telemetry: $channel": [(_at(k * STEP), "A1", float(k % 100)) for k in a1_steps],  # A2's step is after UNTIL
        "Top-10 bad actors": [
            ("A1", "seal", "seal_leak", 3, 1, _at(T0 + HOUR)),
            ("A2", "bearing", "bearing_wear", 1, 1, _at(T0 + HOUR + 5 * MINUTE)),
            ("A2", "rotor", "imbalance_misalignment", 1, 1, _at(T0 + 3 * HOUR)),
        ],
        "Alarm activity": [
            (_at(T0 + 3 * HOUR + 10 * MINUTE), "A2", "rotor", "imbalance_misalignment", 5, "acknowledged", "sam", None),
            (_at(T0 + 3 * HOUR + MINUTE), "A2", "rotor", "imbalance_misalignment", 5, "raised", "system", None),
        ],
        "Scoring lag": [(_at(T0), 10.0, 10.0, 10.0), (_at(T0 + 6 * HOUR), 20.0, 29.0, 30.0)],
        "Scoring backlog": [(2.0, 1)],
    }  # fmt: skip


def test_every_panel_returns_what_it_shows_as_the_read_only_role(store: Engine, reader: str) -> None:
    _small_plant(store)
    expected = _expected()
    assert set(expected) == {p["title"] for p in PANELS}, "every panel has its expectation"
    chosen = {"asset": ["A1", "A2"], "step": [str(STEP)], "channel": ["bearing_temp"]}
    with _as(store, reader) as connection:
        variables = {v["name"]: _rows(connection, _render(v["query"], SINCE, UNTIL, chosen)) for v in VARIABLES}
        assert variables == {
            "asset": [("A1",), ("A2",), ("A3",)],
            "step": [(STEP, "30 min")],
            "channel": [("bearing_temp",), ("motor_current",)],  # what A1 and A2 sent last
        }
        for panel in PANELS:
            rows = _rows(connection, _render(panel["targets"][0]["rawSql"], SINCE, UNTIL, chosen))
            if panel["title"] == "Alarm activity":
                rows = rows[:2]  # newest first; all ten audit rows are in the range
            assert _same(rows, expected[panel["title"]]), f"{panel['title']}: {rows}"
        # The time picker's range bounds what the panels read: from T0 on, the alarms of T0 - 2 h and - 1 h are out.
        late = _rows(connection, _render(PANELS[2]["targets"][0]["rawSql"], T0, UNTIL, chosen))
        assert _same(late, [(_at(T0 + HOUR), 2), (_at(T0 + 3 * HOUR), 1)])
        with pytest.raises(ProgrammingError, match="permission denied"):
            connection.exec_driver_sql("SELECT * FROM api_keys")


def test_every_panel_reads_a_synthetic_plant(store: Engine, reader: str, trained_bundle: Path) -> None:
    from omnimaint.inference.bundle import Bundle
    from omnimaint.service.synthetic import fill_store

    bundle = Bundle.load(trained_bundle)
    filled = fill_store(store, bundle, assets=10, days=4, episodes_per_asset_day=1.0)
    step = str(int(bundle.window.telemetry.step.total_seconds() * SECOND)) if bundle.window.telemetry else "0"
    chosen = {
        "asset": list(filled.asset_ids),
        "step": [step],
        "channel": [bundle.preprocessor.vocab.telemetry_channels[0]],
    }
    with _as(store, reader) as connection:
        for variable in VARIABLES:
            assert _rows(connection, _render(variable["query"], filled.start_us, filled.end_us, chosen)), variable[
                "name"
            ]
        for panel in PANELS:
            rows = _rows(connection, _render(panel["targets"][0]["rawSql"], filled.start_us, filled.end_us, chosen))
            assert rows, f"{panel['title']} shows nothing of a month of a plant"
            if panel["title"] == "Fleet":
                assert sorted(r[0] for r in rows) == sorted(filled.asset_ids), "one row per asset"
                assert all(0 <= r[5] <= r[6] <= 1 for r in rows), "risk grows with the horizon"
