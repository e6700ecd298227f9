"""The alarm engine: N-of-M raising, deadband and off-delay clearing, cool-down, one alarm per key, shelving,
the state's JSON round trip; and its store: transitions, operator actions and their refusals, the audit trail
and the KPIs, on SQLite (and on PostgreSQL when a driver and a server are there)."""

from __future__ import annotations

import importlib.util
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from omnimaint.service.alarms import (
    AlarmActionError,
    AlarmCleared,
    AlarmEngine,
    AlarmNotFoundError,
    AlarmPeak,
    AlarmRaised,
    AlarmReturned,
    AlarmRule,
    AlarmRules,
    AlarmStateError,
    AlarmTransition,
    AssetAlarmState,
    ScoredWindow,
    acknowledge,
    alarm_kpis,
    apply_transitions,
    audit_trail,
    list_alarms,
    load_state,
    resolve,
    save_state,
    shelve,
    unshelve,
)
from omnimaint.service.db import alarm_audit, alarms, assets, make_engine, metadata

HOUR = 3_600_000_000
MINUTE = 60_000_000
T0 = 1_700_000_000_000_000  # data time of the first window
WALL = 1_800_000_000_000_000  # wall clock of the store calls
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def make_engine_for(threshold: float = 0.5, **rule: Any) -> AlarmEngine:
    return AlarmEngine(AlarmRules(horizon_hours=24.0, default=AlarmRule(threshold=threshold, **rule)))


def feed(
    engine: AlarmEngine,
    probabilities: Sequence[float],
    state: AssetAlarmState | None = None,
    *,
    asset_id: str = "a1",
    fault: str = "bearing_wear",
    start_us: int = T0,
    now_us: int | None = None,
) -> tuple[AssetAlarmState, list[list[AlarmTransition]]]:
    """Observe one window per probability, hourly from ``start_us``; the transitions of each window."""
    state = state if state is not None else AssetAlarmState()
    per_window = []
    for i, probability in enumerate(probabilities):
        window = ScoredWindow(asset_id, start_us + i * HOUR, {"motor": probability}, fault)
        state, transitions = engine.observe(state, window, now_us=now_us)
        per_window.append(transitions)
    return state, per_window


def kinds(per_window: Sequence[Sequence[AlarmTransition]]) -> list[tuple[int, str]]:
    return [(i, t.kind) for i, transitions in enumerate(per_window) for t in transitions]


# --- rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("on_count", "window", "highs", "raised_at"),
    [
        (2, 3, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1], None),  # never 2 of any 3: N-1 of M does not raise
        (2, 3, [1, 0, 1], 2),  # 2 of 3
        (2, 3, [1, 1], 1),  # 2 of the 2 windows seen so far
        (3, 5, [1, 0, 1, 0, 0, 0, 1, 0, 1, 0], None),  # at most 2 of any 5
        (3, 5, [1, 0, 0, 1, 1], 4),  # 3 of 5, the first high still inside the window
        (3, 5, [1, 0, 0, 1, 0, 1], None),  # the first high left the window as the third came
        (3, 5, [1, 0, 0, 0, 1, 1, 0, 1], 7),
        (1, 1, [0, 0, 1], 2),
    ],
)
def test_n_of_m_raises_on_the_nth_high_window_of_m(
    on_count: int, window: int, highs: list[int], raised_at: int | None
) -> None:
    engine = make_engine_for(on_count=on_count, window=window)
    _, per_window = feed(engine, [0.8 if high else 0.2 for high in highs])
    assert kinds(per_window) == ([] if raised_at is None else [(raised_at, "raised")])


def test_threshold_itself_counts_as_abnormal() -> None:
    engine = make_engine_for(threshold=0.5)
    assert kinds(feed(engine, [0.5, 0.5])[1]) == [(1, "raised")]
    assert kinds(feed(engine, [0.4999, 0.4999, 0.4999])[1]) == []


def test_values_inside_the_deadband_neither_raise_nor_clear() -> None:
    engine = make_engine_for(threshold=0.5, deadband=0.05, off_count=2)
    assert kinds(feed(engine, [0.47] * 50)[1]) == []
    state, per_window = feed(engine, [0.6, 0.6] + [0.47, 0.451, 0.499] * 30)
    assert kinds(per_window) == [(1, "raised")]
    active = state.components["motor"].active
    assert active is not None and active.in_alarm
    # The clearing boundary is exclusive: exactly threshold - deadband does not count towards clearing.
    boundary = engine.rules.default.clear_below
    assert kinds(feed(engine, [0.6, 0.6, boundary, boundary, boundary])[1]) == [(1, "raised")]
    assert kinds(feed(engine, [0.6, 0.6, boundary - 1e-9, boundary - 1e-9])[1]) == [(1, "raised"), (3, "cleared")]


@pytest.mark.parametrize("off_count", [1, 2, 4])
def test_clearing_needs_off_count_consecutive_windows_below_the_deadband(off_count: int) -> None:
    engine = make_engine_for(off_count=off_count)
    # off_count - 1 low windows, then one in the deadband: the run restarts.
    interrupted = [0.7, 0.7] + [0.1] * (off_count - 1) + [0.47] + [0.1] * (off_count - 1)
    assert kinds(feed(engine, interrupted)[1]) == [(1, "raised")]
    _, per_window = feed(engine, [*interrupted, 0.1, 0.1])
    assert kinds(per_window) == [(1, "raised"), (len(interrupted), "cleared")]


def test_cleared_alarm_returns_as_the_same_alarm_and_needs_n_of_m_again() -> None:
    engine = make_engine_for()
    state, per_window = feed(engine, [0.7, 0.7, 0.1, 0.1, 0.8, 0.1, 0.8, 0.85])
    assert kinds(per_window) == [(1, "raised"), (3, "cleared"), (6, "returned"), (7, "peak")]
    returned = per_window[6][0]
    assert isinstance(returned, AlarmReturned) and returned.notify and returned.peak == 0.8
    active = state.components["motor"].active
    assert active is not None and active.opened_at_us == T0 + HOUR and active.in_alarm


def test_peak_notifies_only_when_the_priority_rises() -> None:
    engine = make_engine_for(threshold=0.5)
    _, per_window = feed(engine, [0.6, 0.6, 0.7, 0.95, 0.97, 0.5])
    assert kinds(per_window) == [(1, "raised"), (2, "peak"), (3, "peak"), (4, "peak")]
    raised = per_window[1][0]
    assert isinstance(raised, AlarmRaised) and raised.priority == "medium" and raised.notify
    peaks = [t for transitions in per_window[2:] for t in transitions if isinstance(t, AlarmPeak)]
    assert [(t.peak, t.priority, t.notify) for t in peaks] == [
        (0.7, "medium", False),
        (0.95, "high", True),
        (0.97, "high", False),
    ]


def test_one_alarm_per_key_under_a_flood_of_1000_high_windows() -> None:
    engine = make_engine_for()
    probabilities = [0.95 + 0.04 * ((i * 7919) % 1000) / 1000 for i in range(1000)]
    state, per_window = feed(engine, probabilities)
    raised = [kind for _, kind in kinds(per_window) if kind == "raised"]
    assert raised == ["raised"]
    assert all(kind == "peak" for _, kind in kinds(per_window)[1:])
    assert state.components["motor"].active is not None


def test_cooldown_after_resolution_blocks_the_key_for_its_data_time_only() -> None:
    engine = make_engine_for(cooldown=timedelta(hours=6))
    state, per_window = feed(engine, [0.9, 0.9])
    assert kinds(per_window) == [(1, "raised")]
    state = state.with_resolution("motor", "bearing_wear")
    assert state.components["motor"].active is None
    assert state.components["motor"].cooldown_until_us == {"bearing_wear": T0 + HOUR + 6 * HOUR}
    # Still high: nothing for 5 hours of data time, a new alarm at 6 hours.
    state, per_window = feed(engine, [0.9] * 8, state, start_us=T0 + 2 * HOUR)
    assert kinds(per_window) == [(5, "raised")]
    assert per_window[5][0].at_us == T0 + 7 * HOUR


def test_cooldown_is_per_key_so_another_fault_opens_at_once() -> None:
    engine = make_engine_for(cooldown=timedelta(hours=6))
    state, _ = feed(engine, [0.9, 0.9])
    state = state.with_resolution("motor", "bearing_wear")
    _, per_window = feed(engine, [0.9], state, start_us=T0 + 2 * HOUR, fault="misalignment")
    assert [(t.kind, t.fault) for t in per_window[0]] == [("raised", "misalignment")]


def test_the_fault_of_a_key_is_the_likeliest_when_raised() -> None:
    engine = make_engine_for()
    state, _ = feed(engine, [0.9, 0.9], fault="overheating")
    state, per_window = feed(engine, [0.95], state, start_us=T0 + 2 * HOUR, fault="misalignment")
    assert [(t.kind, t.fault) for t in per_window[0]] == [("peak", "overheating")]


def test_per_asset_override_changes_only_that_asset() -> None:
    rules = AlarmRules(horizon_hours=24.0, default=AlarmRule(threshold=0.5), overrides={"a2": {"threshold": 0.8}})
    engine = AlarmEngine(rules)
    assert rules.rule_for("a2").threshold == 0.8 and rules.rule_for("a2").on_count == 2
    assert rules.rule_for("a1") == rules.default
    assert kinds(feed(engine, [0.7, 0.7], asset_id="a1")[1]) == [(1, "raised")]
    assert kinds(feed(engine, [0.7, 0.7], asset_id="a2")[1]) == []
    assert kinds(feed(engine, [0.85, 0.85], asset_id="a2")[1]) == [(1, "raised")]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"threshold": 0.5, "on_count": 4, "window": 3}, "on_count 4 exceeds window 3"),
        ({"threshold": 0.5, "deadband": 0.5}, "could never clear"),
        ({"threshold": 0.5, "priority_bands": [[0.6, "medium"], [0.9, "high"]]}, "highest bound first"),
        ({"threshold": 0.5, "priority_bands": [[0.9, "high"], [0.6, "medium"]]}, "above threshold 0.5"),
        ({"threshold": 0.5, "priority_bands": []}, "priority_bands is empty"),
        ({"threshold": 0.5, "cooldown": -60}, "negative"),
        ({"threshold": float("nan")}, "finite"),
        ({"threshold": 0.5, "typo": 1}, "typo"),
    ],
)
def test_invalid_rules_are_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlarmRule.model_validate(rule)


def test_invalid_override_names_the_asset() -> None:
    with pytest.raises(ValidationError, match=r"override of asset 'press-7'.*deadband"):
        AlarmRules(horizon_hours=24.0, default=AlarmRule(threshold=0.5), overrides={"press-7": {"threshold": 0.01}})


@pytest.mark.parametrize("probability", [float("nan"), 1.5, -0.1])
def test_scored_window_refuses_probabilities_outside_0_1(probability: float) -> None:
    with pytest.raises(ValueError, match="component 'motor'"):
        ScoredWindow("a1", T0, {"motor": probability}, "wear")


# --- memory ------------------------------------------------------------------------------------------------


def test_state_json_round_trip() -> None:
    engine = make_engine_for(cooldown=timedelta(hours=6))
    state, _ = feed(engine, [0.9, 0.9, 0.2])
    state = state.with_resolution("motor", "bearing_wear")
    state, _ = feed(engine, [0.9, 0.95], state, start_us=T0 + 3 * HOUR, fault="misalignment")
    state = state.with_shelving("motor", "misalignment", WALL + HOUR)
    stored = json.loads(json.dumps(state.to_json()))
    restored = AssetAlarmState.from_json(stored)
    assert restored == state
    assert restored.components["motor"].active is not None
    assert restored.components["motor"].active.shelved_until_us == WALL + HOUR
    assert restored.components["motor"].cooldown_until_us == {"bearing_wear": T0 + 8 * HOUR}
    assert AssetAlarmState.from_json(AssetAlarmState().to_json()) == AssetAlarmState()


@pytest.mark.parametrize("document", [{"version": 99}, {"version": 1}, {"version": 1, "components": {"m": {}}}])
def test_state_from_json_refuses_other_documents(document: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"version|not an alarm state"):
        AssetAlarmState.from_json(document)


def test_observe_is_pure_and_ignores_old_or_repeated_windows() -> None:
    engine = make_engine_for()
    state, _ = feed(engine, [0.9, 0.9])
    before = state.to_json()
    again, transitions = engine.observe(state, ScoredWindow("a1", T0 + HOUR, {"motor": 0.1}, "x"))
    assert (again, transitions) == (state, [])
    newer, transitions = engine.observe(state, ScoredWindow("a1", T0 + 2 * HOUR, {"motor": 0.99}, "x"))
    assert [t.kind for t in transitions] == ["peak"]
    assert state.to_json() == before and newer != state


def test_a_shelved_alarm_does_not_notify_until_its_expiry() -> None:
    engine = make_engine_for()
    state, _ = feed(engine, [0.6, 0.6, 0.1, 0.1])
    state = state.with_shelving("motor", "bearing_wear", WALL + HOUR)
    _, muted = feed(engine, [0.95, 0.95], state, start_us=T0 + 4 * HOUR, now_us=WALL)
    assert [(t.kind, t.notify) for w in muted for t in w] == [("returned", False)]
    _, loud = feed(engine, [0.95, 0.95], state, start_us=T0 + 4 * HOUR, now_us=WALL + HOUR)
    assert [(t.kind, t.notify) for w in loud for t in w] == [("returned", True)]


_PROBABILITIES = st.one_of(
    st.sampled_from([0.0, 0.3, 0.449, 0.45, 0.46, 0.499, 0.5, 0.7, 0.9, 0.97, 1.0]), st.floats(0, 1)
)
_STEPS = st.lists(
    st.one_of(st.tuples(_PROBABILITIES, st.sampled_from(["wear", "crack"])), st.just("resolve")), max_size=80
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_STEPS, on_count=st.integers(1, 3), extra=st.integers(0, 2), off_count=st.integers(1, 3))
def test_engine_matches_the_rules_for_any_sequence(
    steps: list[tuple[float, str] | str], on_count: int, extra: int, off_count: int
) -> None:
    """A reference reading of the rules, window by window: when each transition must (and must not) happen.

    It holds at most one active alarm per component (so per key), raises only without one and outside the key's
    cool-down, and peaks, clears or returns only the alarm it raised: every ``cleared`` follows a ``raised``.
    """
    rule = AlarmRule(
        threshold=0.5, on_count=on_count, window=on_count + extra, off_count=off_count, cooldown=timedelta(hours=3)
    )
    engine = AlarmEngine(AlarmRules(horizon_hours=24.0, default=rule))
    state, history, anchor = AssetAlarmState(), [], T0
    active: str | None = None  # fault of the active alarm
    in_alarm, peak = False, 0.0
    cooling: dict[str, int] = {}
    for step in steps:
        if isinstance(step, str):  # an operator resolves the active alarm, if any
            if active is not None:
                state = state.with_resolution("motor", active)
                cooling[active] = anchor + 3 * HOUR
                active = None
            continue
        probability, fault = step
        anchor += HOUR
        state, transitions = engine.observe(state, ScoredWindow("a1", anchor, {"motor": probability}, fault))
        history.append(probability)
        recent = history[-rule.window :]
        condition = probability >= 0.5 and sum(p >= 0.5 for p in recent) >= on_count
        cleared = len(history) >= off_count and all(p < rule.clear_below for p in history[-off_count:])
        got = [(t.kind, t.fault) for t in transitions]
        if active is None:
            expected = [("raised", fault)] if condition and cooling.get(fault, 0) <= anchor else []
            if expected:
                active, in_alarm, peak = fault, True, probability
        elif in_alarm and probability > peak:
            expected, peak = [("peak", active)], probability
        elif in_alarm and cleared:
            expected, in_alarm = [("cleared", active)], False
        elif not in_alarm and condition:
            expected, in_alarm, peak = [("returned", active)], True, max(peak, probability)
        else:
            expected = []
        assert got == expected, f"window {len(history)} ({probability}): {got} != {expected}"
        memory = state.components["motor"].active
        assert (memory and memory.fault) == active  # at most one active alarm for the component, hence per key
        assert memory is None or (memory.in_alarm == in_alarm and memory.peak == peak)


# --- store -------------------------------------------------------------------------------------------------


def _postgres_engine() -> Engine:
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        pytest.skip(f"no PostgreSQL driver (psycopg or psycopg2) is installed, so {POSTGRES_URL} is not tried")
    url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    if importlib.util.find_spec("psycopg") is None:
        url = POSTGRES_URL
    try:
        base = make_engine(url)
        with base.connect():
            pass
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}: {str(exc.orig).splitlines()[0]}")
    return base


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def store(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh store: in-memory SQLite, or a throw-away schema of the PostgreSQL test database."""
    if request.param == "sqlite":
        engine = make_engine("sqlite://")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    base = _postgres_engine()
    schema = f"alarms_test_{uuid.uuid4().hex[:12]}"
    with base.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = base.execution_options(schema_translate_map={None: schema})
    try:
        metadata.create_all(engine)
        yield engine
    finally:
        with base.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        base.dispose()


def raised(asset_id: str, component: str, at_us: int, fault: str = "wear", probability: float = 0.9) -> AlarmRaised:
    return AlarmRaised(asset_id, component, fault, at_us, True, probability, "high", 0.5, 24.0)


def cleared(asset_id: str, component: str, at_us: int, fault: str = "wear") -> AlarmCleared:
    return AlarmCleared(asset_id, component, fault, at_us, False, 0.1)


def returned(asset_id: str, component: str, at_us: int, fault: str = "wear") -> AlarmReturned:
    return AlarmReturned(asset_id, component, fault, at_us, True, 0.9, 0.9, "high")


def score(
    store: Engine, engine: AlarmEngine, probabilities: Sequence[float], *, start_us: int, now_us: int = WALL
) -> list[dict[str, object]]:
    """What the scorer does: load the memory, observe, apply the transitions, save the memory; one transaction."""
    with store.begin() as connection:
        state = load_state(connection, "a1")
        state, per_window = feed(engine, probabilities, state, start_us=start_us, now_us=now_us)
        rows = apply_transitions(connection, "a1", [t for w in per_window for t in w], now_us)
        save_state(connection, "a1", state)
    return rows


def test_transitions_become_rows_and_system_audit_entries(store: Engine) -> None:
    engine = make_engine_for()
    rows = score(store, engine, [0.6, 0.7, 0.95, 0.2, 0.2, 0.8, 0.8], start_us=T0)
    assert [(r["transition"], r["notify"]) for r in rows] == [
        ("raised", True), ("peak", True), ("cleared", False), ("returned", True),
    ]  # fmt: skip
    [alarm] = list_alarms(store)
    assert alarm["id"] == rows[0]["id"] and alarm["state"] == "open" and alarm["priority"] == "high"
    assert (alarm["opened_at_us"], alarm["raised_us"], alarm["peak"]) == (T0 + HOUR, WALL, 0.95)
    assert (alarm["component"], alarm["fault"], alarm["threshold"], alarm["horizon_hours"]) == (
        "motor", "bearing_wear", 0.5, 24.0,
    )  # fmt: skip
    assert alarm["cleared_at_us"] is None  # cleared at T0 + 4 h, then returned
    trail = audit_trail(store, alarm["id"])
    assert [(e["action"], e["actor"], e["data_us"]) for e in trail] == [
        ("raised", "system", T0 + HOUR),
        ("peak", "system", T0 + 2 * HOUR),
        ("cleared", "system", T0 + 4 * HOUR),
        ("returned", "system", T0 + 6 * HOUR),
    ]
    assert load_state(store, "a1").last_anchor_us == T0 + 6 * HOUR


def test_operator_lifecycle_is_audited_and_returned_reopens_an_acknowledged_alarm(store: Engine) -> None:
    engine = make_engine_for()
    alarm_id = score(store, engine, [0.9, 0.9], start_us=T0)[0]["id"]
    assert isinstance(alarm_id, int)
    assert acknowledge(store, alarm_id, "ana", WALL + 1, note="checking")["state"] == "acknowledged"
    score(store, engine, [0.1, 0.1], start_us=T0 + 2 * HOUR)
    assert list_alarms(store)[0]["cleared_at_us"] == T0 + 3 * HOUR
    score(store, engine, [0.9, 0.9], start_us=T0 + 4 * HOUR)
    assert list_alarms(store)[0]["state"] == "open"  # a re-alarm asks to be acknowledged again
    acknowledge(store, alarm_id, "ana", WALL + 2)
    row = shelve(store, alarm_id, "bo", WALL + 3, WALL + 8 * HOUR, "sensor under repair")
    assert (row["shelved_until_us"], row["shelve_reason"]) == (WALL + 8 * HOUR, "sensor under repair")
    assert unshelve(store, alarm_id, "bo", WALL + 4)["shelved_until_us"] is None
    row = resolve(store, alarm_id, "cy", WALL + 5, work_order_id="WO-17", note="bearing replaced")
    assert (row["state"], row["resolved_us"], row["work_order_id"]) == ("resolved", WALL + 5, "WO-17")
    trail = [(e["action"], e["actor"], e["at_us"], e["detail"]) for e in audit_trail(store, alarm_id)]
    assert [t[:2] for t in trail] == [
        ("raised", "system"), ("acknowledged", "ana"), ("cleared", "system"), ("returned", "system"),
        ("acknowledged", "ana"), ("shelved", "bo"), ("unshelved", "bo"), ("resolved", "cy"),
    ]  # fmt: skip
    assert trail[1][2:] == (WALL + 1, "checking")
    assert trail[-1][2:] == (WALL + 5, "work order WO-17; bearing replaced")
    assert "sensor under repair" in str(trail[5][3])


def test_shelving_in_the_store_mutes_the_engine_until_expiry(store: Engine) -> None:
    engine = make_engine_for()
    alarm_id = score(store, engine, [0.6, 0.6, 0.1, 0.1], start_us=T0)[0]["id"]
    assert isinstance(alarm_id, int)
    shelve(store, alarm_id, "bo", WALL, WALL + HOUR, "known leak")
    rows = score(store, engine, [0.9, 0.9], start_us=T0 + 4 * HOUR, now_us=WALL + HOUR - 1)
    assert [(r["transition"], r["notify"]) for r in rows] == [("returned", False)]
    score(store, engine, [0.1, 0.1], start_us=T0 + 6 * HOUR, now_us=WALL + HOUR - 1)
    rows = score(store, engine, [0.9, 0.9], start_us=T0 + 8 * HOUR, now_us=WALL + HOUR)
    assert [(r["transition"], r["notify"]) for r in rows] == [("returned", True)]


def test_resolving_in_the_store_starts_the_cooldown(store: Engine) -> None:
    engine = make_engine_for(cooldown=timedelta(hours=6))
    first = score(store, engine, [0.9, 0.9], start_us=T0)[0]["id"]
    assert isinstance(first, int)
    resolve(store, first, "cy", WALL)
    assert score(store, engine, [0.9] * 5, start_us=T0 + 2 * HOUR) == []
    [row] = score(store, engine, [0.9], start_us=T0 + 7 * HOUR)
    assert row["transition"] == "raised" and row["id"] != first
    assert [a["state"] for a in list_alarms(store)] == ["open", "resolved"]


def test_a_flood_of_1000_windows_stores_one_alarm(store: Engine) -> None:
    rows = score(store, make_engine_for(), [0.97] * 1000, start_us=T0)
    assert [r["transition"] for r in rows] == ["raised"]
    with store.connect() as connection:
        assert connection.execute(select(func.count()).select_from(alarms)).scalar_one() == 1
        assert connection.execute(select(func.count()).select_from(alarm_audit)).scalar_one() == 1


def test_the_database_refuses_a_second_active_alarm_of_a_key(store: Engine) -> None:
    apply_transitions(store, "a1", [raised("a1", "motor", T0)], WALL)
    with pytest.raises(IntegrityError):
        apply_transitions(store, "a1", [raised("a1", "motor", T0 + HOUR)], WALL)
    apply_transitions(store, "a1", [raised("a1", "motor", T0 + HOUR, fault="crack")], WALL)
    assert len(list_alarms(store, state="active")) == 2


def test_apply_transitions_refuses_what_the_table_does_not_know(store: Engine) -> None:
    with pytest.raises(AlarmStateError, match="motor/wear"):
        apply_transitions(store, "a1", [cleared("a1", "motor", T0)], WALL)
    with pytest.raises(ValueError, match="asset 'a2' was given to asset 'a1'"):
        apply_transitions(store, "a1", [raised("a2", "motor", T0)], WALL)


def test_changes_roll_back_with_the_callers_transaction(store: Engine) -> None:
    with store.connect() as connection:
        transaction = connection.begin()
        apply_transitions(connection, "a1", [raised("a1", "motor", T0)], WALL)
        save_state(connection, "a1", AssetAlarmState(last_anchor_us=T0))
        assert len(list_alarms(connection)) == 1
        transaction.rollback()
    assert list_alarms(store) == []
    assert load_state(store, "a1") == AssetAlarmState()


def test_state_is_saved_and_replaced(store: Engine) -> None:
    state, _ = feed(make_engine_for(), [0.9, 0.9])
    save_state(store, "a1", AssetAlarmState(last_anchor_us=1))
    save_state(store, "a1", state)
    assert load_state(store, "a1") == state
    assert load_state(store, "other") == AssetAlarmState()


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ("resolved", lambda s, i: resolve(s, i, "cy", WALL), "resolved alarm cannot be resolved again"),
        ("resolved", lambda s, i: acknowledge(s, i, "ana", WALL), "resolved alarm cannot be acknowledged"),
        ("resolved", lambda s, i: shelve(s, i, "bo", WALL, WALL + HOUR, "x"), "resolved alarm cannot be shelved"),
        ("acknowledged", lambda s, i: acknowledge(s, i, "ana", WALL), "already acknowledged"),
        ("open", lambda s, i: unshelve(s, i, "bo", WALL), "is not shelved"),
        ("open", lambda s, i: shelve(s, i, "bo", WALL, WALL + HOUR, "  "), "needs a reason"),
        ("open", lambda s, i: shelve(s, i, "bo", WALL, WALL, "x"), "not after now"),
        ("open", lambda s, i: shelve(s, i, "bo", WALL, WALL + 7 * 24 * HOUR + 1, "x"), "at most 7 days"),
        ("open", lambda s, i: acknowledge(s, i, " ", WALL), "actor's name"),
        ("open", lambda s, i: resolve(s, i + 99, "cy", WALL), "alarm 1\\d\\d does not exist"),
    ],
)
def test_invalid_operator_actions_are_refused_and_change_nothing(
    store: Engine, setup: str, action: Callable[[Engine, int], object], message: str
) -> None:
    [row] = apply_transitions(store, "a1", [raised("a1", "motor", T0)], WALL)
    alarm_id = row["id"]
    if setup == "resolved":
        resolve(store, alarm_id, "cy", WALL)
    elif setup == "acknowledged":
        acknowledge(store, alarm_id, "ana", WALL)
    before = (list_alarms(store), audit_trail(store, alarm_id))
    with pytest.raises(AlarmActionError, match=message):
        action(store, alarm_id)
    assert (list_alarms(store), audit_trail(store, alarm_id)) == before


def test_shelving_expired_is_not_shelved_and_max_duration_is_a_parameter(store: Engine) -> None:
    [row] = apply_transitions(store, "a1", [raised("a1", "motor", T0)], WALL)
    shelve(store, row["id"], "bo", WALL, WALL + 30 * 24 * HOUR, "outage", max_duration=timedelta(days=31))
    with pytest.raises(AlarmActionError, match="not shelved"):
        unshelve(store, row["id"], "bo", WALL + 30 * 24 * HOUR)


def test_queries_filter_and_refuse_unknowns(store: Engine) -> None:
    apply_transitions(store, "a1", [raised("a1", "motor", T0), raised("a1", "fan", T0 + HOUR)], WALL)
    [a2] = apply_transitions(store, "a2", [raised("a2", "motor", T0 + 2 * HOUR)], WALL)
    resolve(store, a2["id"], "cy", WALL)
    assert [(a["asset_id"], a["component"]) for a in list_alarms(store)] == [
        ("a2", "motor"),
        ("a1", "fan"),
        ("a1", "motor"),
    ]
    assert [a["component"] for a in list_alarms(store, state="active", asset_id="a1", limit=1)] == ["fan"]
    assert [a["asset_id"] for a in list_alarms(store, state="resolved")] == ["a2"]
    assert list_alarms(store, state="acknowledged") == []
    with pytest.raises(ValueError, match="unknown alarm state 'closed'"):
        list_alarms(store, state="closed")
    with pytest.raises(AlarmNotFoundError, match="alarm 999 does not exist"):
        audit_trail(store, 999)


def test_alarm_kpis(store: Engine) -> None:
    now = T0 + 48 * HOUR
    # a1: a flood, 12 alarms within one 10-minute interval, all resolved; one key raised again later.
    flood = [raised("a1", f"c{k:02d}", T0 + k * 10_000_000) for k in range(12)]
    for row in apply_transitions(store, "a1", flood, WALL):
        resolve(store, row["id"], "cy", WALL)
    apply_transitions(store, "a1", [raised("a1", "c00", T0 + 20 * MINUTE)], WALL)
    # a2: one key annunciated 3 times in 40 minutes (chattering); a3: 3 times, an hour or more apart (not).
    for asset, gap in (("a2", 20 * MINUTE), ("a3", 65 * MINUTE)):
        start = T0 + HOUR
        changes: list[AlarmTransition] = [
            raised(asset, "pump", start),
            cleared(asset, "pump", start + gap // 2),
            returned(asset, "pump", start + gap),
            cleared(asset, "pump", start + gap + gap // 2),
            returned(asset, "pump", start + 2 * gap),
        ]
        apply_transitions(store, asset, changes, WALL)
    apply_transitions(store, "a4", [raised("a4", "fan", now - HOUR)], WALL)  # standing, not stale
    apply_transitions(store, "a5", [raised("a5", "fan", T0 - HOUR)], WALL)  # before the period, still active

    kpis = alarm_kpis(store, now, since_us=T0)
    assert kpis["alarms"] == 16 and kpis["asset_count"] == 4  # no assets rows: the assets with alarms
    assert kpis["alarms_per_asset_day"] == pytest.approx(16 / (4 * 2))
    assert kpis["alarms_per_10_minutes"] == {"mean": pytest.approx(16 / 288), "max": 12}
    assert kpis["flood_intervals"] == [{"start_us": T0, "alarms": 12}]
    assert kpis["time_in_flood"] == pytest.approx(1 / 288)
    assert (kpis["standing"], kpis["stale"]) == (5, 4)  # a1/c00, a2, a3, a4, a5; all but a4 for over 24 h
    assert kpis["chattering"] == [{"asset_id": "a2", "component": "pump", "fault": "wear", "annunciations": 3}]
    keys = kpis["bad_actors"]["keys"]
    assert len(keys) == 10 and keys[0] == {"asset_id": "a1", "component": "c00", "fault": "wear", "alarms": 2}
    assert [k["component"] for k in keys[1:]] == [f"c{k:02d}" for k in range(1, 10)]
    assert kpis["bad_actors"]["assets"] == [
        {"asset_id": "a1", "alarms": 13}, {"asset_id": "a2", "alarms": 1},
        {"asset_id": "a3", "alarms": 1}, {"asset_id": "a4", "alarms": 1},
    ]  # fmt: skip

    with store.begin() as connection:
        connection.execute(insert(assets), [{"asset_id": f"a{i}", "asset_type": "pump"} for i in range(8)])
    assert alarm_kpis(store, now, since_us=T0)["alarms_per_asset_day"] == pytest.approx(16 / (8 * 2))
    assert alarm_kpis(store, now, since_us=now - HOUR)["alarms"] == 1
    with pytest.raises(ValueError, match="must be before now_us"):
        alarm_kpis(store, now, since_us=now)
