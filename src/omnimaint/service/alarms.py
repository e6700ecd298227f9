"""The alarm engine: scored windows in, alarms an operator can act on out (in the spirit of ISA-18.2, EEMUA 191).

What the rules mean for an operator:

- **One alarm per problem.** An alarm belongs to a key (asset, component, fault): the component whose failure
  probability crossed the threshold and the likeliest fault type when it was raised. While an alarm is active
  (open or acknowledged) the component raises no second one, however long the probability stays high.
- **Raised on evidence, not on one spike** (N of M). A window at or above the threshold raises an alarm when,
  counting it, at least ``on_count`` of the last ``window`` scored windows were at or above the threshold.
- **Cleared with hysteresis** (deadband, off-delay). The condition returns to normal only after ``off_count``
  consecutive windows below ``threshold - deadband``; a probability inside the deadband neither raises nor
  clears. A cleared alarm stays in the list until an operator resolves it (ISA-18.2 "return to normal"); if its
  condition comes back first, the same alarm *returns* (it is re-opened for acknowledgement, not duplicated).
- **Priority** follows the alarm's peak probability through ``priority_bands`` (default ``high`` from 0.9,
  ``medium`` below); it only ever rises while the alarm is active.
- **Notifications** go out for a new alarm, a returned one and a rise in priority; not for a higher peak of the
  same priority nor for a cleared condition (shown in the list, nothing to do yet); none while shelved.
- **Operators close alarms.** Acknowledge ("I have seen it"), shelve (mute its notifications until an expiry,
  with a reason), unshelve, resolve (optionally naming the work order). Every change, by the system or by a
  person, is written to the audit trail with who and when.
- **Cool-down.** After an alarm is resolved, its key stays quiet for ``cooldown`` of data time, counted from
  the newest scored window at the moment of resolution; a different fault diagnosis on the same component is
  a different key and may open at once.

Times: ``*_us`` are microseconds since the epoch, UTC. Window anchors, ``opened_at_us`` and cool-downs are in
data time (the time of the scored window); ``now_us`` of the store functions and shelving expiries are wall-clock
time (equal to data time in live operation, not in a replay).

The scorer runs, in the transaction that stores the scores: ``state = load_state(c, asset)``; for each window
``state, changes = engine.observe(state, window, now_us=now)``; ``apply_transitions(c, asset, changes, now)``;
``save_state(c, asset, state)``. :func:`load_state` locks the asset's state row (PostgreSQL), and the operator
actions take that lock first too, so a resolution and a scoring sweep never overwrite each other.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeAlias

import numpy as np
from sqlalchemy import Connection, Engine, RowMapping, func, insert, select, update

from omnimaint.data.windows import micros
from omnimaint.inference.predictor import HealthOutput
from omnimaint.service.alarm_engine import (
    ACTIVE_STATES,
    DAY_US,
    SYSTEM_ACTOR,
    TEN_MINUTES_US,
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
)
from omnimaint.service.clock import iso_us, now_us
from omnimaint.service.db import alarm_audit, alarm_state, alarms, assets

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIVE_STATES",
    "SYSTEM_ACTOR",
    "AlarmActionError",
    "AlarmEngine",
    "AlarmNotFoundError",
    "AlarmRecorder",
    "AlarmRule",
    "AlarmRules",
    "AlarmStateError",
    "AssetAlarmState",
    "ScoredWindow",
    "acknowledge",
    "alarm_kpis",
    "apply_transitions",
    "audit_trail",
    "list_alarms",
    "load_state",
    "resolve",
    "save_state",
    "shelve",
    "unshelve",
]
# --- store -------------------------------------------------------------------------------------------------

Bind: TypeAlias = Connection | Engine
"""A connection (its transaction is used) or an engine (each call runs in a transaction of its own)."""


@contextmanager
def _transaction(bind: Bind) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            yield connection
    else:
        yield bind


def load_state(connection: Bind, asset_id: str) -> AssetAlarmState:
    """The engine's memory of ``asset_id`` (empty if it has none), its row locked until the transaction ends.

    Raises:
        AlarmStateError: if the stored memory cannot be read.
    """
    query = select(alarm_state.c.state).where(alarm_state.c.asset_id == asset_id).with_for_update()
    with _transaction(connection) as c:
        stored = c.execute(query).scalar_one_or_none()
    if stored is None:
        return AssetAlarmState()
    try:
        return AssetAlarmState.from_json(stored)
    except (ValueError, AttributeError) as exc:
        raise AlarmStateError(f"alarm_state of asset {asset_id!r}: {exc}") from exc


def save_state(connection: Bind, asset_id: str, state: AssetAlarmState) -> None:
    """Store ``state`` as the engine's memory of ``asset_id``, replacing the previous one."""
    document = state.to_json()
    with _transaction(connection) as c:
        changed = c.execute(update(alarm_state).where(alarm_state.c.asset_id == asset_id).values(state=document))
        if changed.rowcount == 0:
            c.execute(insert(alarm_state).values(asset_id=asset_id, state=document))


def _audit(
    c: Connection, alarm_id: int, at_us: int, actor: str, action: str, detail: str | None, data_us: int | None = None
) -> None:
    c.execute(
        insert(alarm_audit).values(
            alarm_id=alarm_id, at_us=at_us, actor=actor, action=action, detail=detail, data_us=data_us
        )
    )


def _alarm_row(c: Connection, alarm_id: int, *, lock: bool = False) -> RowMapping:
    query = select(alarms).where(alarms.c.id == alarm_id)
    row = c.execute(query.with_for_update() if lock else query).mappings().first()
    if row is None:
        raise AlarmNotFoundError(f"alarm {alarm_id} does not exist")
    return row


def apply_transitions(
    connection: Bind, asset_id: str, transitions: Sequence[AlarmTransition], now_us: int
) -> list[dict[str, Any]]:
    """Write the engine's transitions of ``asset_id`` to ``alarms``, each audited with actor ``system``.

    ``raised`` inserts an open alarm; ``peak`` updates its peak and priority; ``cleared`` records when the
    condition returned to normal; ``returned`` clears that again and re-opens the alarm for acknowledgement.

    Args:
        connection: Where to write.
        asset_id: The asset whose windows caused the transitions.
        transitions: From :meth:`AlarmEngine.observe`, in order.
        now_us: Wall-clock time of the change.

    Returns:
        One dict per transition, in order: the alarm row after it, with ``transition`` (its kind) and
        ``notify`` added, for the notifier.

    Raises:
        ValueError: if a transition is of another asset.
        AlarmStateError: if a transition names an alarm that is not active in ``alarms``.
        sqlalchemy.exc.IntegrityError: if a raised alarm's key already has an active one in ``alarms`` (the
            unique index ``uq_alarms_active_key``; the engine's memory of the asset was lost).
    """
    changed: list[dict[str, Any]] = []
    with _transaction(connection) as c:
        for change in transitions:
            if change.asset_id != asset_id:
                raise ValueError(f"a transition of asset {change.asset_id!r} was given to asset {asset_id!r}")
            if isinstance(change, AlarmRaised):
                values = {
                    "asset_id": asset_id,
                    "component": change.component,
                    "fault": change.fault,
                    "state": "open",
                    "priority": change.priority,
                    "horizon_hours": change.horizon_hours,
                    "threshold": change.threshold,
                    "peak": change.probability,
                    "opened_at_us": change.at_us,
                    "raised_us": now_us,
                }
                alarm_id: int = c.execute(insert(alarms).values(**values).returning(alarms.c.id)).scalar_one()
                detail = (
                    f"probability {change.probability:.3f} at or above threshold {change.threshold:.3f} "
                    f"(horizon {change.horizon_hours:g} h), priority {change.priority}"
                )
            else:
                key = (alarms.c.asset_id == asset_id, alarms.c.component == change.component)
                active = (alarms.c.fault == change.fault, alarms.c.state.in_(ACTIVE_STATES))
                found = c.execute(select(alarms.c.id).where(*key, *active)).scalar_one_or_none()
                if found is None:
                    raise AlarmStateError(
                        f"asset {asset_id!r}: the engine's memory has an active {change.component}/{change.fault} "
                        f"alarm that the alarms table does not ({change.kind} at {iso_us(change.at_us)})"
                    )
                alarm_id, (values, detail) = found, _update_of(change)
                c.execute(update(alarms).where(alarms.c.id == alarm_id).values(**values))
            _audit(c, alarm_id, now_us, SYSTEM_ACTOR, change.kind, detail, data_us=change.at_us)
            changed.append({**_alarm_row(c, alarm_id), "transition": change.kind, "notify": change.notify})
    return changed


def _update_of(change: AlarmPeak | AlarmCleared | AlarmReturned) -> tuple[dict[str, Any], str]:
    if isinstance(change, AlarmPeak):
        return {"peak": change.peak, "priority": change.priority}, f"peak {change.peak:.3f}, priority {change.priority}"
    if isinstance(change, AlarmCleared):
        return {"cleared_at_us": change.at_us}, f"condition returned to normal (probability {change.probability:.3f})"
    values = {"state": "open", "cleared_at_us": None, "peak": change.peak, "priority": change.priority}
    return values, f"condition returned (probability {change.probability:.3f}), priority {change.priority}"


# --- operator actions --------------------------------------------------------------------------------------


def _locked_alarm(c: Connection, alarm_id: int) -> tuple[RowMapping, AssetAlarmState]:
    # Lock order: the asset's engine memory, then the alarm row, as the scorer does (no deadlock).
    asset_id = c.execute(select(alarms.c.asset_id).where(alarms.c.id == alarm_id)).scalar_one_or_none()
    if asset_id is None:
        raise AlarmNotFoundError(f"alarm {alarm_id} does not exist")
    state = load_state(c, asset_id)
    return _alarm_row(c, alarm_id, lock=True), state


def _require_active(row: RowMapping, verb: str) -> None:
    if row["state"] not in ACTIVE_STATES:
        raise AlarmActionError(f"alarm {row['id']} is {row['state']}: a {row['state']} alarm cannot be {verb}")


def _require_actor(actor: str) -> None:
    if not actor.strip():
        raise AlarmActionError("an operator action needs the actor's name")


def _store_memory(c: Connection, row: RowMapping, before: AssetAlarmState, after: AssetAlarmState) -> None:
    if after is before:
        logger.warning("alarm %s: the engine's memory of asset %r has no such active alarm", row["id"], row["asset_id"])
        return
    save_state(c, row["asset_id"], after)


def acknowledge(connection: Bind, alarm_id: int, actor: str, now_us: int, note: str | None = None) -> dict[str, Any]:
    """Acknowledge an open alarm: an operator has seen it. It stays active until resolved.

    Returns:
        The alarm row after the change.

    Raises:
        AlarmNotFoundError: if there is no such alarm.
        AlarmActionError: if it is already acknowledged or resolved, or ``actor`` is empty.
    """
    _require_actor(actor)
    with _transaction(connection) as c:
        row, _ = _locked_alarm(c, alarm_id)
        _require_active(row, "acknowledged")
        if row["state"] == "acknowledged":
            raise AlarmActionError(f"alarm {alarm_id} is already acknowledged")
        c.execute(update(alarms).where(alarms.c.id == alarm_id).values(state="acknowledged"))
        _audit(c, alarm_id, now_us, actor, "acknowledged", note)
        return dict(_alarm_row(c, alarm_id))


def shelve(
    connection: Bind,
    alarm_id: int,
    actor: str,
    now_us: int,
    until_us: int,
    reason: str,
    *,
    max_duration: timedelta = timedelta(days=7),
) -> dict[str, Any]:
    """Shelve an active alarm: its changes notify no one until ``until_us`` (wall clock); it stays listed.

    Shelving a shelved alarm replaces its expiry and reason.

    Args:
        connection: Where the alarm is.
        alarm_id: The alarm.
        actor: Who shelves it.
        now_us: Wall-clock time of the action.
        until_us: When the shelving expires: after ``now_us``, at most ``max_duration`` later.
        reason: Why (required: a shelved alarm is a known risk someone accepted).
        max_duration: The longest shelving allowed.

    Returns:
        The alarm row after the change.

    Raises:
        AlarmNotFoundError: if there is no such alarm.
        AlarmActionError: if it is resolved, the reason or actor is empty, or the expiry is not in
            ``(now_us, now_us + max_duration]``.
    """
    _require_actor(actor)
    if not reason.strip():
        raise AlarmActionError(f"shelving alarm {alarm_id} needs a reason")
    if until_us <= now_us:
        raise AlarmActionError(
            f"shelving alarm {alarm_id}: expiry {iso_us(until_us)} is not after now ({iso_us(now_us)})"
        )
    if until_us - now_us > micros(max_duration):
        raise AlarmActionError(
            f"shelving alarm {alarm_id}: expiry {iso_us(until_us)} is more than {max_duration} after now "
            f"({iso_us(now_us)}); shelve for at most {max_duration}"
        )
    with _transaction(connection) as c:
        row, state = _locked_alarm(c, alarm_id)
        _require_active(row, "shelved")
        c.execute(update(alarms).where(alarms.c.id == alarm_id).values(shelved_until_us=until_us, shelve_reason=reason))
        _audit(c, alarm_id, now_us, actor, "shelved", f"until {iso_us(until_us)}: {reason}")
        _store_memory(c, row, state, state.with_shelving(row["component"], row["fault"], until_us))
        return dict(_alarm_row(c, alarm_id))


def unshelve(connection: Bind, alarm_id: int, actor: str, now_us: int, note: str | None = None) -> dict[str, Any]:
    """End a shelving before its expiry: the alarm's changes notify again.

    Returns:
        The alarm row after the change.

    Raises:
        AlarmNotFoundError: if there is no such alarm.
        AlarmActionError: if it is resolved or not shelved at ``now_us``, or ``actor`` is empty.
    """
    _require_actor(actor)
    with _transaction(connection) as c:
        row, state = _locked_alarm(c, alarm_id)
        _require_active(row, "unshelved")
        if row["shelved_until_us"] is None or row["shelved_until_us"] <= now_us:
            raise AlarmActionError(f"alarm {alarm_id} is not shelved")
        c.execute(update(alarms).where(alarms.c.id == alarm_id).values(shelved_until_us=None, shelve_reason=None))
        _audit(c, alarm_id, now_us, actor, "unshelved", note)
        _store_memory(c, row, state, state.with_shelving(row["component"], row["fault"], None))
        return dict(_alarm_row(c, alarm_id))


def resolve(
    connection: Bind,
    alarm_id: int,
    actor: str,
    now_us: int,
    work_order_id: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Resolve an active alarm (the problem was dealt with); its key then cools down (see the module docstring).

    Returns:
        The alarm row after the change.

    Raises:
        AlarmNotFoundError: if there is no such alarm.
        AlarmActionError: if it is already resolved, or ``actor`` is empty.
    """
    _require_actor(actor)
    with _transaction(connection) as c:
        row, state = _locked_alarm(c, alarm_id)
        _require_active(row, "resolved again")
        values = {"state": "resolved", "resolved_us": now_us, "work_order_id": work_order_id}
        c.execute(update(alarms).where(alarms.c.id == alarm_id).values(**values))
        detail = "; ".join(part for part in (work_order_id and f"work order {work_order_id}", note) if part)
        _audit(c, alarm_id, now_us, actor, "resolved", detail or None)
        _store_memory(c, row, state, state.with_resolution(row["component"], row["fault"]))
        return dict(_alarm_row(c, alarm_id))


# --- queries -----------------------------------------------------------------------------------------------


def list_alarms(
    connection: Bind, *, state: str | None = None, asset_id: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Alarms, newest raised first.

    Args:
        connection: Where the alarms are.
        state: ``open``, ``acknowledged``, ``resolved``, ``active`` (open or acknowledged) or ``None`` (all).
        asset_id: Only this asset's, or ``None``.
        limit: At most this many (at least 1).

    Raises:
        ValueError: for an unknown ``state`` or a ``limit`` below 1.
    """
    states = {"open": ("open",), "acknowledged": ("acknowledged",), "resolved": ("resolved",), "active": ACTIVE_STATES}
    if state is not None and state not in states:
        raise ValueError(f"unknown alarm state {state!r}; expected one of {sorted(states)}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(alarms).order_by(alarms.c.opened_at_us.desc(), alarms.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(alarms.c.state.in_(states[state]))
    if asset_id is not None:
        query = query.where(alarms.c.asset_id == asset_id)
    with _transaction(connection) as c:
        return [dict(row) for row in c.execute(query).mappings()]


def audit_trail(connection: Bind, alarm_id: int) -> list[dict[str, Any]]:
    """Every change of alarm ``alarm_id``, oldest first: ``at_us`` (wall clock), actor, action, detail, ``data_us``.

    Raises:
        AlarmNotFoundError: if there is no such alarm.
    """
    with _transaction(connection) as c:
        _alarm_row(c, alarm_id)
        query = select(alarm_audit).where(alarm_audit.c.alarm_id == alarm_id).order_by(alarm_audit.c.id)
        return [dict(row) for row in c.execute(query).mappings()]


def alarm_kpis(
    connection: Bind,
    now_us: int,
    *,
    since_us: int,
    stale_after: timedelta = timedelta(hours=24),
    chatter_count: int = 3,
    chatter_window: timedelta = timedelta(hours=1),
    flood_above: int = 10,
    top: int = 10,
) -> dict[str, Any]:
    """Alarm-system performance over ``[since_us, now_us)`` of data time (EEMUA 191 style).

    Alarms are counted by ``opened_at_us``. In live operation data time is wall-clock time; in a replay, pass
    the data time reached as ``now_us``.

    Returns:
        ``alarms`` (raised in the period); ``asset_count`` (rows of ``assets``, or assets with alarms if none);
        ``alarms_per_asset_day``; ``alarms_per_10_minutes`` (``mean`` over every 10-minute interval of the
        period, counted from ``since_us``, and ``max``); ``flood_intervals`` (those with more than
        ``flood_above`` alarms: ``start_us``, ``alarms``) and ``time_in_flood`` (their fraction of intervals);
        ``standing`` (active now) and ``stale`` (active and raised more than ``stale_after`` before ``now_us``);
        ``chattering`` (keys raised or returned at least ``chatter_count`` times within ``chatter_window`` of
        data time: ``asset_id``, ``component``, ``fault``, ``annunciations``, the most in one such window); and
        ``bad_actors``: the ``top`` ``keys`` and ``assets`` by alarms raised, most first.

    Raises:
        ValueError: if ``since_us`` is not before ``now_us``.
    """
    if since_us >= now_us:
        raise ValueError(f"since_us {since_us} ({iso_us(since_us)}) must be before now_us {now_us} ({iso_us(now_us)})")
    in_period = (alarms.c.opened_at_us >= since_us, alarms.c.opened_at_us < now_us)
    bucket = ((alarms.c.opened_at_us - since_us) // TEN_MINUTES_US).label("bucket")
    count = func.count().label("alarms")
    key = (alarms.c.asset_id, alarms.c.component, alarms.c.fault)
    active = alarms.c.state.in_(ACTIVE_STATES)
    with _transaction(connection) as c:
        total = c.execute(select(func.count()).where(*in_period)).scalar_one()
        asset_count = (
            c.execute(select(func.count()).select_from(assets)).scalar_one()
            or c.execute(select(func.count(alarms.c.asset_id.distinct())).where(*in_period)).scalar_one()
        )
        buckets = c.execute(select(bucket, count).where(*in_period).group_by(bucket)).all()
        standing = c.execute(select(func.count()).where(active)).scalar_one()
        stale = c.execute(
            select(func.count()).where(active, alarms.c.opened_at_us <= now_us - micros(stale_after))
        ).scalar_one()
        by_key = select(*key, count).where(*in_period).group_by(*key).order_by(count.desc(), *key).limit(top)
        by_asset = select(alarms.c.asset_id, count).where(*in_period).group_by(alarms.c.asset_id)
        annunciations = c.execute(
            select(*key, alarm_audit.c.data_us)
            .join(alarms, alarms.c.id == alarm_audit.c.alarm_id)
            .where(
                alarm_audit.c.action.in_(("raised", "returned")),
                alarm_audit.c.data_us >= since_us,
                alarm_audit.c.data_us < now_us,
            )
        ).all()
        bad_keys = [dict(row) for row in c.execute(by_key).mappings()]
        by_asset = by_asset.order_by(count.desc(), alarms.c.asset_id).limit(top)
        bad_assets = [dict(row) for row in c.execute(by_asset).mappings()]
    intervals = -(-(now_us - since_us) // TEN_MINUTES_US)
    floods = sorted((since_us + int(b) * TEN_MINUTES_US, int(n)) for b, n in buckets if n > flood_above)
    return {
        "since_us": since_us,
        "now_us": now_us,
        "alarms": total,
        "asset_count": asset_count,
        "alarms_per_asset_day": total / (asset_count * (now_us - since_us) / DAY_US) if asset_count else 0.0,
        "alarms_per_10_minutes": {"mean": total / intervals, "max": max((int(n) for _, n in buckets), default=0)},
        "flood_intervals": [{"start_us": start, "alarms": n} for start, n in floods],
        "time_in_flood": len(floods) / intervals,
        "standing": standing,
        "stale": stale,
        "chattering": _chattering(annunciations, chatter_count, micros(chatter_window)),
        "bad_actors": {"keys": bad_keys, "assets": bad_assets},
    }


def _chattering(annunciations: Sequence[Any], count: int, window_us: int) -> list[dict[str, Any]]:
    times: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for asset_id, component, fault, data_us in annunciations:
        times[(asset_id, component, fault)].append(int(data_us))
    found = []
    for (asset_id, component, fault), stamps in sorted(times.items()):
        stamps.sort()
        most, first = 0, 0
        for last, stamp in enumerate(stamps):  # the most annunciations within any window_us
            while stamp - stamps[first] >= window_us:
                first += 1
            most = max(most, last - first + 1)
        if most >= count:
            found.append({"asset_id": asset_id, "component": component, "fault": fault, "annunciations": most})
    return found


class AlarmRecorder:
    """The scorer's hook: runs the alarm engine over a round's windows and stores what it decides, in the
    transaction that stores the scores (so a restart neither loses nor repeats an alarm).

    Args:
        rules: The alarm rules (thresholds from the bundle's calibration, per-asset overrides).
        components: Component names, in the order of the predictor's component axis.
        fault_classes: Fault-class names, in the order of the predictor's fault axis (``none`` first).
        notify: Called after the transaction with the changed alarm rows that ask for a notification.
    """

    def __init__(
        self,
        rules: AlarmRules,
        components: Sequence[str],
        fault_classes: Sequence[str],
        notify: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.engine = AlarmEngine(rules)
        self.rules = rules
        self.components = tuple(components)
        self.fault_classes = tuple(fault_classes)
        self.notify = notify

    def __call__(self, connection: Connection, output: HealthOutput) -> list[dict[str, Any]]:
        """Run the engine over ``output`` (windows of several assets, each asset's in time order); returns the
        changed alarm rows."""
        now = now_us()
        h = self.rules.horizon_index
        anchors = output.anchors.astype("datetime64[us]").astype(np.int64)
        likely = output.likely_fault
        changed: list[dict[str, Any]] = []
        for asset_id in dict.fromkeys(str(a) for a in output.asset_ids):
            rows = np.flatnonzero(output.asset_ids == asset_id)
            state = load_state(connection, asset_id)
            transitions: list[AlarmTransition] = []
            for i in rows[np.argsort(anchors[rows], kind="stable")]:
                probability = output.component_failure_probability[i, h]
                window = ScoredWindow(
                    asset_id,
                    int(anchors[i]),
                    {c: float(p) for c, p in zip(self.components, probability, strict=True)},
                    self.fault_classes[int(likely[i])],
                )
                state, more = self.engine.observe(state, window, now_us=now)
                transitions.extend(more)
            changed.extend(apply_transitions(connection, asset_id, transitions, now))
            save_state(connection, asset_id, state)
        return changed
