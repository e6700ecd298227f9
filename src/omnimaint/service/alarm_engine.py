"""The alarm engine's rules and memory: scored windows in, alarm transitions out (pure; no store).

The rules are described for operators in :mod:`omnimaint.service.alarms`, which stores what this decides.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from itertools import pairwise
from typing import Any, ClassVar, TypeAlias, TypedDict

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from omnimaint.data.windows import micros
from omnimaint.errors import OmnimaintError, describe_validation_error
from omnimaint.service.clock import iso_us

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
ACTIVE_STATES = ("open", "acknowledged")
"""An alarm in one of these states is active: it blocks a second alarm of its key and counts as standing."""
_STATE_VERSION = 1
TEN_MINUTES_US = 600_000_000
DAY_US = 86_400_000_000


class AlarmActionError(OmnimaintError):
    """An operator action that the alarm's state does not allow (e.g. acknowledging a resolved alarm)."""


class AlarmNotFoundError(AlarmActionError):
    """No alarm has the id an action or query named."""


class AlarmStateError(OmnimaintError):
    """The engine's stored memory of an asset and the ``alarms`` table disagree, or the memory is unreadable."""


# --- rules -------------------------------------------------------------------------------------------------


class AlarmRule(BaseModel):
    """When one component of one asset raises, clears and re-raises an alarm.

    Attributes:
        threshold: Failure probability at the alarm horizon at or above which a window counts as abnormal
            (usually the bundle's calibrated threshold; one above 1 never alarms).
        on_count: N: abnormal windows among the last ``window`` needed to raise an alarm.
        window: M: how many of the latest windows are counted.
        deadband: The condition clears only below ``threshold - deadband`` (absolute probability).
        off_count: Consecutive windows below ``threshold - deadband`` that clear the condition.
        cooldown: Data time after a resolution during which no new alarm of the same key opens.
        priority_bands: ``(lower bound, name)`` pairs, highest bound first; an alarm takes the name of the
            first band its peak probability reaches (default: ``high`` from 0.9, ``medium`` below). The last
            bound must not exceed the threshold, so that every alarm has a priority.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    threshold: float = Field(gt=0.0)
    on_count: int = Field(default=2, ge=1)
    window: int = Field(default=3, ge=1)
    deadband: float = Field(default=0.05, ge=0.0)
    off_count: int = Field(default=2, ge=1)
    cooldown: timedelta = timedelta(hours=6)
    priority_bands: tuple[tuple[float, str], ...] = ((0.9, "high"), (0.0, "medium"))

    @model_validator(mode="after")
    def _consistent(self) -> AlarmRule:
        if self.on_count > self.window:
            raise ValueError(f"on_count {self.on_count} exceeds window {self.window}: no alarm could ever be raised")
        if self.deadband >= self.threshold:
            raise ValueError(
                f"deadband {self.deadband} must be below threshold {self.threshold}: the condition could never clear"
            )
        if self.cooldown < timedelta(0):
            raise ValueError(f"cooldown {self.cooldown} is negative")
        bounds = [bound for bound, _ in self.priority_bands]
        if not bounds:
            raise ValueError("priority_bands is empty: give at least one (lower bound, name) pair")
        if any(upper <= lower for upper, lower in pairwise(bounds)):
            raise ValueError(f"priority_bands must be listed highest bound first, got bounds {bounds}")
        if bounds[-1] > self.threshold:
            raise ValueError(
                f"the lowest priority band starts at {bounds[-1]}, above threshold {self.threshold}: "
                "alarms between the two would have no priority"
            )
        if any(not 1 <= len(name) <= 20 for _, name in self.priority_bands):
            raise ValueError("priority names must be 1 to 20 characters long")
        return self

    @property
    def clear_below(self) -> float:
        """The probability below which a window counts towards clearing the condition."""
        return self.threshold - self.deadband

    def priority(self, probability: float) -> str:
        """The priority of an alarm whose peak probability is ``probability`` (at or above the threshold)."""
        return next((name for bound, name in self.priority_bands if probability >= bound), self.priority_bands[-1][1])


class AlarmRules(BaseModel):
    """The rules of the alarm horizon: a default rule and per-asset partial overrides.

    Attributes:
        horizon_index: Which horizon of the model's failure probabilities the alarms watch.
        horizon_hours: That horizon's length, recorded on every alarm.
        default: The rule of every asset without an override.
        overrides: asset id → fields that differ from ``default`` for that asset (e.g. ``{"threshold": 0.7}``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    horizon_index: int = Field(default=0, ge=0)
    horizon_hours: float = Field(gt=0.0)
    default: AlarmRule
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    _rules: dict[str, AlarmRule] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _build_overrides(self) -> AlarmRules:
        # Every override is validated here, once, so a bad one is refused at start-up rather than mid-scoring.
        rules = {}
        for asset_id, changes in self.overrides.items():
            try:
                rules[asset_id] = AlarmRule.model_validate({**self.default.model_dump(), **changes})
            except ValidationError as exc:
                raise ValueError(f"override of asset {asset_id!r}: {describe_validation_error(exc)}") from exc
        self._rules = rules
        return self

    def rule_for(self, asset_id: str) -> AlarmRule:
        """The rule of ``asset_id``: its override applied to the default, or the default."""
        return self._rules.get(asset_id, self.default)


# --- engine memory -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveAlarm:
    """The engine's memory of a component's active alarm.

    Attributes:
        fault: The fault of its key (the likeliest fault when it was raised).
        opened_at_us: Data time of the window that raised it.
        peak: Highest failure probability seen while it was active.
        priority: Priority of ``peak``.
        in_alarm: Whether the condition is abnormal now (``False`` once it cleared, until it returns).
        cooldown_us: Cool-down its key starts when it is resolved (the rule's at raise time).
        shelved_until_us: Wall-clock expiry of its shelving, or ``None``.
    """

    fault: str
    opened_at_us: int
    peak: float
    priority: str
    in_alarm: bool
    cooldown_us: int
    shelved_until_us: int | None = None

    def shelved(self, now_us: int) -> bool:
        """Whether the alarm is shelved at wall-clock time ``now_us`` (its notifications muted)."""
        return self.shelved_until_us is not None and now_us < self.shelved_until_us


@dataclass(frozen=True)
class ComponentAlarmState:
    """The engine's memory of one component: recent flags, clear run, active alarm and cool-downs.

    Attributes:
        flags: Whether each of the last (up to M) windows was at or above the threshold, oldest first.
        clear_run: Consecutive latest windows below ``threshold - deadband``.
        active: The component's active alarm, or ``None``.
        cooldown_until_us: fault → data time until which no alarm of key (asset, component, fault) opens.
    """

    flags: tuple[bool, ...] = ()
    clear_run: int = 0
    active: ActiveAlarm | None = None
    cooldown_until_us: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AssetAlarmState:
    """The engine's memory of one asset, stored as JSON in ``alarm_state.state``.

    Attributes:
        last_anchor_us: Data time of the newest window observed; older or repeated windows are ignored.
        components: component → its memory.
    """

    last_anchor_us: int | None = None
    components: Mapping[str, ComponentAlarmState] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """This memory as plain JSON types (what ``alarm_state.state`` holds)."""
        return {
            "version": _STATE_VERSION,
            "last_anchor_us": self.last_anchor_us,
            "components": {
                name: {
                    "flags": list(memory.flags),
                    "clear_run": memory.clear_run,
                    "active": None if memory.active is None else asdict(memory.active),
                    "cooldown_until_us": dict(memory.cooldown_until_us),
                }
                for name, memory in self.components.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssetAlarmState:
        """The memory that :meth:`to_json` wrote.

        Raises:
            ValueError: if ``data`` is not such a memory (wrong version or shape).
        """
        if data.get("version") != _STATE_VERSION:
            raise ValueError(f"alarm state version {data.get('version')!r}, expected {_STATE_VERSION}")
        try:
            components = {
                str(name): ComponentAlarmState(
                    flags=tuple(bool(flag) for flag in memory["flags"]),
                    clear_run=int(memory["clear_run"]),
                    active=None if memory["active"] is None else ActiveAlarm(**memory["active"]),
                    cooldown_until_us={str(f): int(t) for f, t in memory["cooldown_until_us"].items()},
                )
                for name, memory in data["components"].items()
            }
            last = data["last_anchor_us"]
            return cls(last_anchor_us=None if last is None else int(last), components=components)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not an alarm state: {type(exc).__name__}: {exc}") from exc

    def active_alarm(self, component: str, fault: str) -> ActiveAlarm | None:
        """The active alarm of key (component, fault) in this memory, or ``None``."""
        memory = self.components.get(component)
        active = None if memory is None else memory.active
        return active if active is not None and active.fault == fault else None

    def with_shelving(self, component: str, fault: str, until_us: int | None) -> AssetAlarmState:
        """This memory with the active alarm of (component, fault) shelved until ``until_us`` (``None``: unshelved)."""
        active = self.active_alarm(component, fault)
        if active is None:
            return self
        memory = replace(self.components[component], active=replace(active, shelved_until_us=until_us))
        return replace(self, components={**self.components, component: memory})

    def with_resolution(self, component: str, fault: str) -> AssetAlarmState:
        """This memory with the alarm of (component, fault) resolved: gone, and its key cooling down.

        The cool-down ends ``cooldown`` after the newest window observed, in data time.
        """
        active = self.active_alarm(component, fault)
        if active is None:
            return self
        start = active.opened_at_us if self.last_anchor_us is None else self.last_anchor_us
        previous = self.components[component]
        memory = replace(
            previous,
            active=None,
            cooldown_until_us={**previous.cooldown_until_us, fault: start + active.cooldown_us},
        )
        return replace(self, components={**self.components, component: memory})


# --- engine ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredWindow:
    """What the alarm engine reads of one scored window.

    Attributes:
        asset_id: The asset.
        anchor_us: Data time of the window's anchor.
        component_probability: component → failure probability within the alarm horizon.
        fault: The window's likeliest fault type (the fault of any alarm it raises).
    """

    asset_id: str
    anchor_us: int
    component_probability: Mapping[str, float]
    fault: str

    def __post_init__(self) -> None:
        for component, probability in self.component_probability.items():
            if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
                raise ValueError(
                    f"asset {self.asset_id!r} at {iso_us(self.anchor_us)}: failure probability of component "
                    f"{component!r} is {probability}, expected a number in [0, 1]"
                )


class _Where(TypedDict):
    asset_id: str
    component: str
    at_us: int


@dataclass(frozen=True)
class _Change:
    asset_id: str
    component: str
    fault: str
    at_us: int  # data time of the window that caused the change
    notify: bool  # False while the alarm is shelved, and for changes that need no one's attention


@dataclass(frozen=True)
class AlarmRaised(_Change):
    """A new alarm: its key had none active and the N-of-M condition held. Notifies."""

    kind: ClassVar[str] = "raised"
    probability: float
    priority: str
    threshold: float
    horizon_hours: float


@dataclass(frozen=True)
class AlarmPeak(_Change):
    """The active alarm's peak probability rose; notifies only if that raised its priority."""

    kind: ClassVar[str] = "peak"
    peak: float
    priority: str


@dataclass(frozen=True)
class AlarmCleared(_Change):
    """The condition returned to normal; the alarm stays until resolved. Does not notify."""

    kind: ClassVar[str] = "cleared"
    probability: float


@dataclass(frozen=True)
class AlarmReturned(_Change):
    """The cleared condition of an unresolved alarm came back: a re-alarm of the same alarm. Notifies."""

    kind: ClassVar[str] = "returned"
    probability: float
    peak: float
    priority: str


AlarmTransition: TypeAlias = AlarmRaised | AlarmPeak | AlarmCleared | AlarmReturned


class AlarmEngine:
    """Turns an asset's scored windows into alarm transitions; pure: no clock, no database.

    Args:
        rules: The alarm rules (default and per-asset overrides).
    """

    def __init__(self, rules: AlarmRules) -> None:
        self.rules = rules

    def observe(
        self, state: AssetAlarmState, window: ScoredWindow, *, now_us: int | None = None
    ) -> tuple[AssetAlarmState, list[AlarmTransition]]:
        """The asset's memory after ``window``, and the alarm changes it caused (components in name order).

        Args:
            state: The asset's memory before the window (not modified).
            window: The newest scored window of the asset; one not newer than ``state.last_anchor_us`` is
                ignored, so that re-scoring or replaying a window changes nothing.
            now_us: Wall-clock time, compared with shelving expiries; ``None``: the window's anchor.

        Returns:
            The new memory and the transitions, each with ``notify`` false while its alarm is shelved.
        """
        if state.last_anchor_us is not None and window.anchor_us <= state.last_anchor_us:
            return state, []
        rule = self.rules.rule_for(window.asset_id)
        clock = window.anchor_us if now_us is None else now_us
        components = dict(state.components)
        transitions: list[AlarmTransition] = []
        for component in sorted(window.component_probability):
            previous = components.get(component, ComponentAlarmState())
            components[component], changes = self._step(rule, previous, window, component, clock)
            transitions.extend(changes)
        return AssetAlarmState(last_anchor_us=window.anchor_us, components=components), transitions

    def _step(
        self, rule: AlarmRule, previous: ComponentAlarmState, window: ScoredWindow, component: str, clock: int
    ) -> tuple[ComponentAlarmState, list[AlarmTransition]]:
        probability = window.component_probability[component]
        flags = (*previous.flags, probability >= rule.threshold)[-rule.window :]
        clear_run = previous.clear_run + 1 if probability < rule.clear_below else 0
        cooldowns = {fault: end for fault, end in previous.cooldown_until_us.items() if end > window.anchor_us}
        # Raised on an abnormal window only, so an alarm's peak is always at or above its threshold.
        condition = flags[-1] and sum(flags) >= rule.on_count
        active = previous.active
        where = _Where(asset_id=window.asset_id, component=component, at_us=window.anchor_us)
        changes: list[AlarmTransition] = []
        if active is None:
            if condition and window.fault not in cooldowns:
                priority = rule.priority(probability)
                active = ActiveAlarm(window.fault, window.anchor_us, probability, priority, True, micros(rule.cooldown))
                changes.append(
                    AlarmRaised(
                        **where,
                        fault=active.fault,
                        notify=True,
                        probability=probability,
                        priority=priority,
                        threshold=rule.threshold,
                        horizon_hours=self.rules.horizon_hours,
                    )
                )
        elif active.in_alarm:
            if probability > active.peak:
                priority = rule.priority(probability)
                notify = priority != active.priority and not active.shelved(clock)  # escalations only
                active = replace(active, peak=probability, priority=priority)
                changes.append(
                    AlarmPeak(**where, fault=active.fault, notify=notify, peak=probability, priority=priority)
                )
            elif clear_run >= rule.off_count:
                active = replace(active, in_alarm=False)
                changes.append(AlarmCleared(**where, fault=active.fault, notify=False, probability=probability))
        elif condition:
            peak = max(active.peak, probability)
            active = replace(active, in_alarm=True, peak=peak, priority=rule.priority(peak))
            changes.append(
                AlarmReturned(
                    **where,
                    fault=active.fault,
                    notify=not active.shelved(clock),
                    probability=probability,
                    peak=peak,
                    priority=active.priority,
                )
            )
        return ComponentAlarmState(flags, clear_run, active, cooldowns), changes
