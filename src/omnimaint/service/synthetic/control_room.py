"""The synthetic plant's alarms: the service's alarm engine over an asset's scores, and operators acting on
what it raises through the service's own operator actions (:mod:`omnimaint.service.alarms`)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
from sqlalchemy import Connection

from omnimaint.service import alarms
from omnimaint.service.alarm_engine import AlarmEngine, AssetAlarmState, ScoredWindow
from omnimaint.service.synthetic.heads import Scores
from omnimaint.service.synthetic.plant import HOUR_US, MINUTE_US, Episode, Plant

OPERATORS = ("operator-ana", "operator-wei", "operator-sam")
SHELVE_REASONS = (
    "spare part on order",
    "repair planned at the next stop",
    "known, watched by the reliability engineer",
)

Action: TypeAlias = Callable[[Connection, int], None]
"""An operator action on the store, taken at a wall-clock time (µs)."""


class ControlRoom:
    """Raises the plant's alarms and acts on them, in time order with the scored windows.

    An alarm is acknowledged minutes after it is raised and resolved once its episode is over: after the
    repair, naming the work order, or after the inspection of a wear that faded. An alarm whose episode runs
    past the end stays active, in turn open, acknowledged, acknowledged and shelved, or shelved, so that every
    state is there to be shown.

    Args:
        plant: The plant (its alarm rules).
        end_us: The end of the history: actions due later are not taken.
        rng: Draws the operators' delays.
    """

    def __init__(self, plant: Plant, end_us: int, rng: np.random.Generator) -> None:
        self.plant = plant
        self.end_us = end_us
        self.rng = rng
        self.raised = 0
        self._staying = 0  # alarms so far that stay active at the end
        self._order = itertools.count()  # ties of the action queue, first planned first

    def watch(
        self, connection: Connection, asset_id: str, scores: Scores, episodes: list[Episode], orders: dict[Episode, str]
    ) -> None:
        """Run the alarm engine over an asset's scores, act on what it raises, and store its memory at the end.

        Args:
            connection: The store, in a transaction.
            asset_id: The asset.
            scores: Its scores, oldest first.
            episodes: Its wear episodes (what an alarm is about).
            orders: The work order that closed each episode over before the end.
        """
        engine = AlarmEngine(self.plant.rules)
        components = self.plant.vocab.components
        state = AssetAlarmState()
        due: list[tuple[int, int, Action]] = []
        for i, anchor in enumerate(scores.anchors.tolist()):
            now = int(scores.scored_at[i])
            state = self._act(connection, asset_id, state, due, until=now)
            probability = dict(zip(components, scores.alarm_probability[i].tolist(), strict=True))
            window = ScoredWindow(asset_id, anchor, probability, scores.likely_fault[i])
            state, changes = engine.observe(state, window, now_us=now)
            for row in alarms.apply_transitions(connection, asset_id, changes, now) if changes else ():
                if row["transition"] == "raised":
                    self.raised += 1
                    for when, action in self._plan(row, episodes, orders):
                        heapq.heappush(due, (when, next(self._order), action))
        state = self._act(connection, asset_id, state, due, until=self.end_us)
        alarms.save_state(connection, asset_id, state)

    @staticmethod
    def _act(
        connection: Connection, asset_id: str, state: AssetAlarmState, due: list[tuple[int, int, Action]], until: int
    ) -> AssetAlarmState:
        """Take the actions due by ``until``: they read and change the engine's memory in the store."""
        if not due or due[0][0] > until:
            return state
        alarms.save_state(connection, asset_id, state)
        while due and due[0][0] <= until:
            when, _, action = heapq.heappop(due)
            action(connection, when)
        return alarms.load_state(connection, asset_id)

    def _plan(
        self, alarm: dict[str, Any], episodes: list[Episode], orders: dict[Episode, str]
    ) -> list[tuple[int, Action]]:
        """The actions on a raised ``alarm`` (its row), and when."""
        alarm_id, raised, rng = int(alarm["id"]), int(alarm["raised_us"]), self.rng
        operator = OPERATORS[int(rng.integers(len(OPERATORS)))]
        cause = next(
            (
                e
                for e in episodes
                if e.component == alarm["component"] and e.onset_us <= alarm["opened_at_us"] < e.end_us
            ),
            None,
        )
        acknowledge_at = raised + int(rng.uniform(3, 90) * MINUTE_US)

        def acknowledge(c: Connection, at: int) -> None:
            alarms.acknowledge(c, alarm_id, operator, at)

        if cause is not None and (resolve_at := cause.end_us + int(rng.uniform(0.25, 3) * HOUR_US)) <= self.end_us:
            order, note = orders.get(cause), ("inspected, no fault found" if cause.fades else None)

            def resolve(c: Connection, at: int) -> None:
                alarms.resolve(c, alarm_id, operator, at, order, note)

            return [(min(acknowledge_at, resolve_at - MINUTE_US), acknowledge), (resolve_at, resolve)]
        # Active at the end, in turn: open, acknowledged, acknowledged and shelved, shelved.
        turn, self._staying = self._staying % 4, self._staying + 1
        plan: list[tuple[int, Action]] = [(acknowledge_at, acknowledge)] if turn in (1, 2) else []
        if turn in (2, 3):
            # Shelved on the last day, until up to three days on (shelving is allowed for a week at most).
            shelve_at = max(raised, acknowledge_at if turn == 2 else 0, self.end_us - int(rng.uniform(1, 24) * HOUR_US))
            until = self.end_us + int(rng.uniform(12, 72) * HOUR_US)
            reason = SHELVE_REASONS[int(rng.integers(len(SHELVE_REASONS)))]

            def shelve(c: Connection, at: int) -> None:
                alarms.shelve(c, alarm_id, operator, at, until, reason)

            plan.append((shelve_at + MINUTE_US, shelve))
        return plan
