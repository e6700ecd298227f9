"""The maintenance and failure history of one asset: an event-driven life of each component.

Each component lives from the start of the warm-up: between preventive tasks the onset hazard is
integrated; a degradation that starts runs towards failure unless a routine inspection or a
preventive task on that component finds it first (the chance grows with severity and with how
visible the fault mode is), in which case the part is replaced and no failure is recorded (the
censoring real plants have). A failure opens a corrective work order, stops the machine with power
isolated for the repair, and may leave a sloppy repair behind. Only what happens after ``start``
is emitted; the warm-up gives a steady state (faults already developing, tasks overdue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from omnimaint.sim.catalog import CARE, COMPONENT_FAULT, COMPONENTS, FAULT_MODES, FaultMode
from omnimaint.sim.clock import DAY, HOUR, Clock, FloatArray
from omnimaint.sim.config import PlantConfig
from omnimaint.sim.degradation import ComponentState, FaultEpisode, draw_onset
from omnimaint.sim.profile import AssetProfile

CATCH_REPAIR_HOURS = (2.0, 6.0)
INSPECTION_HOURS = (0.3, 1.0)


@dataclass(frozen=True)
class MaintenanceAction:
    """A work order as it happened (text is written later).

    Attributes:
        kind: ``preventive``, ``corrective`` or ``inspection``.
        component: The component worked on (``None`` for a routine inspection of the whole machine).
        open_s: When the order was opened.
        close_s: When it was closed.
        finding: Fault mode found or repaired (``None`` when nothing was wrong).
        variant: Fault variant (see :class:`FaultEpisode`).
        severity: Severity of the fault when found (1 for a failure, 0 when nothing was found).
        poor_repair: Whether the repair was sloppy.
        stops_machine: Whether the machine is stopped while the order is open.
        power_off: Whether the machine is isolated (no telemetry) while the order is open.
    """

    kind: Literal["preventive", "corrective", "inspection"]
    component: str | None
    open_s: float
    close_s: float
    finding: str | None = None
    variant: str | None = None
    severity: float = 0.0
    poor_repair: bool = False
    stops_machine: bool = True
    power_off: bool = False


@dataclass(frozen=True)
class Failure:
    """A functional failure (ground-truth label)."""

    t_s: float
    component: str
    fault_type: str


@dataclass(frozen=True)
class AssetHistory:
    """Ground truth of one asset over warm-up and observed period.

    Attributes:
        episodes: Every degradation episode, by onset.
        actions: Every work order (warm-up included), by opening time.
        failures: Every failure (warm-up included), by time.
    """

    episodes: tuple[FaultEpisode, ...]
    actions: tuple[MaintenanceAction, ...]
    failures: tuple[Failure, ...]

    def severity(self, mode: str, t_s: FloatArray, variant: str | None = None) -> FloatArray:
        """Severity of fault ``mode`` (optionally only its ``variant``) at ``t_s``, in [0, 1]."""
        out = np.zeros(np.shape(t_s), dtype=np.float64)
        for episode in self.episodes:
            if episode.mode == mode and (variant is None or episode.variant == variant):
                out = np.maximum(out, episode.severity(t_s))
        return out

    def health(self, component: str, t_s: FloatArray) -> FloatArray:
        """Hidden health of ``component`` at ``t_s``: 1 healthy, 0 failed."""
        return 1.0 - self.severity(COMPONENT_FAULT[component], t_s)

    def intervals(self, *, power_off: bool) -> list[tuple[float, float]]:
        """Intervals during which the machine is stopped (or, with ``power_off``, isolated)."""
        return [(a.open_s, a.close_s) for a in self.actions if a.stops_machine and (a.power_off or not power_off)]


@dataclass
class _Life:
    """Mutable bookkeeping of one component's simulated life."""

    episodes: list[FaultEpisode] = field(default_factory=list)
    actions: list[MaintenanceAction] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def _pm_schedule(
    component: str,
    since_pm_s: float,
    begin_s: float,
    end_s: float,
    config: PlantConfig,
    clock: Clock,
    rng: np.random.Generator,
) -> list[float]:
    interval = CARE[component].pm_interval_days * config.pm_interval_scale * DAY
    due = begin_s + interval - since_pm_s
    if due < begin_s:  # already overdue at the start of the warm-up
        due = begin_s + rng.uniform(0.0, 7.0) * DAY
    times: list[float] = []
    while due < end_s:
        if rng.random() >= config.pm_skip_prob:
            times.append(clock.to_work_hours(due, rng))
        due += interval * rng.uniform(0.9, 1.1)
    return sorted(times)


def _simulate_component(
    mode: FaultMode,
    *,
    active: bool,
    profile: AssetProfile,
    inspections: FloatArray,
    begin_s: float,
    end_s: float,
    config: PlantConfig,
    clock: Clock,
    rng: np.random.Generator,
) -> _Life:
    care = CARE[mode.component]
    interval_days = care.pm_interval_days * config.pm_interval_scale
    since_pm = rng.uniform(0.0, 1.3) * interval_days * DAY
    age = rng.uniform(0.2, 1.0) * profile.age_days * DAY
    state = ComponentState(renewed_s=begin_s - age, pm_s=begin_s - since_pm)
    pm_times = _pm_schedule(mode.component, since_pm, begin_s, end_s, config, clock, rng)
    scale = config.fault_rate_scale if active else 0.0
    life = _Life()

    def preventive(t: float, finding: str | None = None, variant: str | None = None, severity: float = 0.0) -> float:
        hours = rng.uniform(*(CATCH_REPAIR_HOURS if finding else care.pm_hours))
        life.actions.append(
            MaintenanceAction("preventive", mode.component, t, t + hours * HOUR, finding, variant, severity)
        )
        return t + hours * HOUR

    t, next_pm = begin_s, 0
    while t < end_s:
        while next_pm < len(pm_times) and pm_times[next_pm] < t:
            next_pm += 1  # tasks that fell inside a repair are dropped
        segment_end = pm_times[next_pm] if next_pm < len(pm_times) else end_s
        onset = draw_onset(
            mode, state, begin_s=t, end_s=segment_end, pm_interval_days=interval_days, rate_scale=scale, rng=rng
        )
        if onset is None:
            if next_pm >= len(pm_times):
                break
            pm_t = pm_times[next_pm]
            t = preventive(pm_t)
            state = ComponentState(state.renewed_s, pm_t, state.repaired_s, state.poor_repair)
            next_pm += 1
            continue
        duration = mode.median_duration_days * DAY * float(np.exp(mode.duration_spread * rng.standard_normal()))
        variant = mode.name
        if mode.name == "imbalance_misalignment":
            variant = "imbalance" if rng.random() < 0.5 else "misalignment"
        failure_s = onset + duration
        chances = sorted(
            [(s, "inspection") for s in inspections if onset < s < failure_s]
            + [(s, "preventive") for s in pm_times[next_pm:] if onset < s < failure_s]
        )
        found: tuple[float, str, float] | None = None
        for when, kind in chances:
            severity = ((when - onset) / duration) ** mode.shape
            chance = (
                mode.inspection_detectability * severity**1.5
                if kind == "inspection"
                else mode.pm_detectability * severity
            )
            if rng.random() < chance:
                found = (when, kind, severity)
                break
            if kind == "preventive":
                preventive(when)
        if found is not None:
            when, kind, severity = found
            if kind == "preventive":
                back = preventive(when, mode.name, variant, severity)
            else:
                back = when + rng.uniform(*CATCH_REPAIR_HOURS) * HOUR
                life.actions.append(
                    MaintenanceAction("inspection", mode.component, when, back, mode.name, variant, severity)
                )
            life.episodes.append(
                FaultEpisode(mode.name, mode.component, variant, onset, duration, mode.shape, when, "found")
            )
            state = ComponentState(renewed_s=back, pm_s=back)
            t = back
            continue
        back = failure_s + rng.uniform(*mode.repair_hours) * HOUR
        poor = bool(rng.random() < config.poor_repair_prob)
        life.episodes.append(
            FaultEpisode(mode.name, mode.component, variant, onset, duration, mode.shape, failure_s, "failure")
        )
        life.failures.append(Failure(failure_s, mode.component, mode.name))
        life.actions.append(
            MaintenanceAction("corrective", mode.component, failure_s, back, mode.name, variant, 1.0, poor, True, True)
        )
        state = ComponentState(renewed_s=back, pm_s=back, repaired_s=back, poor_repair=poor)
        t = back
    return life


def inspection_times(
    begin_s: float, end_s: float, config: PlantConfig, clock: Clock, rng: np.random.Generator
) -> FloatArray:
    """Routine inspection rounds of one asset: roughly every ``inspection_period_days``, in work hours."""
    period = config.inspection_period_days * DAY
    times: list[float] = []
    due = begin_s + rng.uniform(0.0, period)
    while due < end_s:
        times.append(clock.to_work_hours(due, rng))
        due += period * rng.uniform(0.7, 1.3)
    return np.array(sorted(times), dtype=np.float64)


def simulate_history(
    profile: AssetProfile, config: PlantConfig, clock: Clock, rng: np.random.Generator
) -> AssetHistory:
    """Simulate the life of every component of one asset through warm-up and observed period.

    Args:
        profile: The asset.
        config: Plant config (rates, PM policy, warm-up).
        clock: Simulation clock.
        rng: The asset's history stream (consumed in a fixed order).

    Returns:
        Ground-truth episodes, work orders (routine inspections included) and failures.
    """
    begin_s, end_s = -config.warmup_days * DAY, clock.duration_s
    inspections = inspection_times(begin_s, end_s, config, clock, rng)
    active = set(config.active_fault_modes)
    lives = [
        _simulate_component(
            FAULT_MODES[COMPONENT_FAULT[component]],
            active=COMPONENT_FAULT[component] in active,
            profile=profile,
            inspections=inspections,
            begin_s=begin_s,
            end_s=end_s,
            config=config,
            clock=clock,
            rng=child,
        )
        for component, child in zip(
            COMPONENTS[profile.asset_type], rng.spawn(len(COMPONENTS[profile.asset_type])), strict=True
        )
    ]
    actions = [a for life in lives for a in life.actions]
    found_at = {a.open_s for a in actions if a.kind == "inspection"}
    for when in inspections:
        if when not in found_at:
            hours = rng.uniform(*INSPECTION_HOURS)
            actions.append(
                MaintenanceAction("inspection", None, float(when), float(when) + hours * HOUR, stops_machine=False)
            )
    return AssetHistory(
        episodes=tuple(sorted((e for life in lives for e in life.episodes), key=lambda e: e.onset_s)),
        actions=tuple(sorted(actions, key=lambda a: (a.open_s, a.component or ""))),
        failures=tuple(sorted((f for life in lives for f in life.failures), key=lambda f: f.t_s)),
    )
