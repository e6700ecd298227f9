"""Hidden component health: the onset hazard and the degradation path from onset to failure.

A component's health is 1 until a degradation onset, drawn from a hazard that rises with the
component's age, with time since its last preventive task (sharply once the task is overdue), and
for a while after a repair (infant mortality, much more after a sloppy one). From the onset the
fault's severity grows as a power law of elapsed time, ``((t - onset) / duration) ** shape``,
reaching 1 (functional failure) after a fault-mode-specific, log-normally varying duration. Health
is ``1 - severity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from omnimaint.sim.catalog import FaultMode

FloatArray = npt.NDArray[np.float64]

DAY = 86400.0
DESIGN_LIFE_DAYS = 3 * 365.0
PM_RESET_FACTOR = 0.6
"""Hazard right after a preventive task relative to its value when the task falls due."""
OVERDUE_GROWTH = 1.2
"""Exponential growth of the hazard per interval a preventive task is overdue."""
MAX_OVERDUE_FACTOR = 20.0
POOR_REPAIR_EXCESS = 10.0
POOR_REPAIR_TAU_DAYS = 10.0
NEW_PART_EXCESS = 1.0
NEW_PART_TAU_DAYS = 3.0
ONSET_GRID_S = 3600.0


def onset_hazard(
    mode: FaultMode,
    *,
    age_days: npt.ArrayLike,
    since_pm_days: npt.ArrayLike,
    pm_interval_days: float,
    since_repair_days: npt.ArrayLike,
    poor_repair: bool,
    rate_scale: float = 1.0,
) -> FloatArray:
    """Degradation-onset hazard of one component, in onsets per day.

    Args:
        mode: The component's fault mode (gives the base rate).
        age_days: Time since the component was last replaced.
        since_pm_days: Time since its last preventive task (or replacement).
        pm_interval_days: The task's nominal interval; beyond it the task is overdue.
        since_repair_days: Time since the last corrective repair (``inf`` if none).
        poor_repair: Whether that repair was sloppy.
        rate_scale: Plant-wide multiplier (``PlantConfig.fault_rate_scale``).

    Returns:
        The hazard, broadcast over the array arguments.
    """
    age = np.asarray(age_days, dtype=np.float64)
    ratio = np.asarray(since_pm_days, dtype=np.float64) / pm_interval_days
    since_repair = np.asarray(since_repair_days, dtype=np.float64)
    aging = 1.0 + 0.5 * (age / DESIGN_LIFE_DAYS) ** 2
    overdue = (PM_RESET_FACTOR + (1 - PM_RESET_FACTOR) * np.minimum(ratio, 1.0)) * np.exp(
        OVERDUE_GROWTH * np.maximum(ratio - 1.0, 0.0)
    )
    excess, tau = (POOR_REPAIR_EXCESS, POOR_REPAIR_TAU_DAYS) if poor_repair else (NEW_PART_EXCESS, NEW_PART_TAU_DAYS)
    infant = 1.0 + excess * np.exp(-np.maximum(since_repair, 0.0) / tau)
    hazard: FloatArray = mode.onset_rate_per_day * rate_scale * aging * np.minimum(overdue, MAX_OVERDUE_FACTOR) * infant
    return hazard


@dataclass(frozen=True)
class ComponentState:
    """What the hazard of a component depends on (all times in simulation seconds).

    Attributes:
        renewed_s: When the component was last replaced.
        pm_s: When it last had a preventive task (or was replaced).
        repaired_s: When it last had a corrective repair (``-inf``: never).
        poor_repair: Whether that repair was sloppy.
    """

    renewed_s: float
    pm_s: float
    repaired_s: float = -np.inf
    poor_repair: bool = False


def draw_onset(
    mode: FaultMode,
    state: ComponentState,
    *,
    begin_s: float,
    end_s: float,
    pm_interval_days: float,
    rate_scale: float,
    rng: np.random.Generator,
) -> float | None:
    """Draw the first degradation onset in ``[begin_s, end_s)`` by inverting the cumulative hazard.

    Returns:
        The onset time, or ``None`` when the component stays healthy through the interval.
    """
    if end_s <= begin_s or rate_scale == 0:
        return None
    grid = np.arange(begin_s, end_s, ONSET_GRID_S)  # hourly grid, (n,)
    hazard = onset_hazard(
        mode,
        age_days=(grid - state.renewed_s) / DAY,
        since_pm_days=(grid - state.pm_s) / DAY,
        pm_interval_days=pm_interval_days,
        since_repair_days=(grid - state.repaired_s) / DAY,
        poor_repair=state.poor_repair,
        rate_scale=rate_scale,
    )
    cumulative = np.cumsum(hazard * (ONSET_GRID_S / DAY))
    threshold = rng.exponential()
    step = int(np.searchsorted(cumulative, threshold))
    if step >= grid.size:
        return None
    return float(min(grid[step] + rng.uniform(0.0, ONSET_GRID_S), end_s))


@dataclass(frozen=True)
class FaultEpisode:
    """One degradation of one component, from onset to failure or to the repair that caught it.

    Attributes:
        mode: Fault type.
        component: Damaged component.
        variant: Sub-type that changes the symptoms (``imbalance`` or ``misalignment`` for the rotor;
            the fault type otherwise).
        onset_s: Degradation onset.
        duration_s: Time from onset to functional failure.
        shape: Severity exponent.
        end_s: When the episode ended: the failure, or the repair after an inspection found it.
        outcome: ``failure`` or ``found``.
    """

    mode: str
    component: str
    variant: str
    onset_s: float
    duration_s: float
    shape: float
    end_s: float
    outcome: Literal["failure", "found"]

    @property
    def failure_s(self) -> float:
        """When the component would fail (or failed) if nobody intervened."""
        return self.onset_s + self.duration_s

    def severity(self, t_s: FloatArray) -> FloatArray:
        """Severity in [0, 1] at ``t_s``; 0 outside ``[onset, end)``."""
        t = np.asarray(t_s, dtype=np.float64)
        elapsed = np.clip((t - self.onset_s) / self.duration_s, 0.0, 1.0)
        active = (t >= self.onset_s) & (t < self.end_s)
        return np.where(active, elapsed**self.shape, 0.0)

    def severity_at(self, t_s: float) -> float:
        """Severity at one instant."""
        return float(self.severity(np.array([t_s]))[0])
