"""Hidden health and maintenance history: hazard, preventive maintenance, inspections, repairs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from omnimaint.sim import FAULT_MODES, AssetHistory, FaultEpisode, PlantConfig, onset_hazard
from omnimaint.sim.clock import Clock
from omnimaint.sim.history import simulate_history
from omnimaint.sim.profile import draw_profile

BEARING = FAULT_MODES["bearing_wear"]
DAY = 86400.0


def _hazard(
    *,
    age_days: float = 300.0,
    since_pm_days: float = 15.0,
    since_repair_days: float = np.inf,
    poor_repair: bool = False,
    rate_scale: float = 1.0,
) -> float:
    hazard = onset_hazard(
        BEARING,
        age_days=age_days,
        since_pm_days=since_pm_days,
        pm_interval_days=30.0,
        since_repair_days=since_repair_days,
        poor_repair=poor_repair,
        rate_scale=rate_scale,
    )
    return float(hazard)


def test_hazard_grows_once_preventive_maintenance_is_overdue() -> None:
    due = _hazard(since_pm_days=30.0)
    assert _hazard(since_pm_days=0.0) < due
    assert _hazard(since_pm_days=60.0) > 3 * due
    assert _hazard(since_pm_days=90.0) > _hazard(since_pm_days=60.0)
    since = np.linspace(0, 120, 50)
    hazard = onset_hazard(
        BEARING, age_days=300.0, since_pm_days=since, pm_interval_days=30.0, since_repair_days=np.inf, poor_repair=False
    )
    assert np.all(np.diff(hazard) >= 0)


def test_sloppy_repairs_raise_infant_mortality_for_weeks() -> None:
    good, poor = _hazard(since_repair_days=2.0), _hazard(since_repair_days=2.0, poor_repair=True)
    assert poor > 4 * good
    assert _hazard(since_repair_days=60.0, poor_repair=True) < 1.1 * _hazard()
    assert _hazard(age_days=3000.0) > _hazard(age_days=100.0)


def test_hazard_scales_with_the_plant_fault_rate() -> None:
    assert _hazard(rate_scale=3.0) == pytest.approx(3 * _hazard())
    assert _hazard(rate_scale=0.0) == 0.0


def test_episode_severity_grows_to_failure_and_vanishes_after_repair() -> None:
    episode = FaultEpisode("seal_leak", "seal", "seal_leak", 10 * DAY, 8 * DAY, 1.5, 18 * DAY, "failure")
    t = np.array([5, 10, 12, 14, 16, 17.99, 18, 30]) * DAY
    severity = episode.severity(t)
    assert severity[0] == 0 and severity[1] == 0 and severity[-1] == 0 and severity[-2] == 0
    assert np.all(np.diff(severity[1:6]) > 0) and severity[5] == pytest.approx(1.0, abs=0.01)
    assert episode.failure_s == 18 * DAY


def _fleet(config: PlantConfig, n: int = 30) -> list[AssetHistory]:
    clock = Clock.from_config(config)
    histories = []
    for i in range(n):
        rng = np.random.default_rng([config.seed, i])
        histories.append(simulate_history(draw_profile(i, n, rng), config, clock, rng))
    return histories


def _observed_failures(histories: list[AssetHistory], config: PlantConfig) -> int:
    return sum(1 for h in histories for f in h.failures if 0 <= f.t_s < config.days * DAY)


def test_frequent_preventive_maintenance_prevents_failures() -> None:
    base = PlantConfig(n_assets=30, days=180, seed=1, inspection_period_days=1000.0)
    maintained = _observed_failures(_fleet(replace(base, pm_interval_scale=0.5, pm_skip_prob=0.0)), base)
    neglected = _observed_failures(_fleet(replace(base, pm_skip_prob=1.0)), base)
    assert neglected > 2 * maintained


def test_inspections_find_faults_before_they_fail() -> None:
    base = PlantConfig(n_assets=30, days=180, seed=2, pm_skip_prob=1.0)
    rare = _fleet(replace(base, inspection_period_days=1000.0))
    often = _fleet(replace(base, inspection_period_days=3.0))

    def found_share(histories: list[AssetHistory]) -> float:
        episodes = [e for h in histories for e in h.episodes if e.end_s > 0]
        return sum(e.outcome == "found" for e in episodes) / len(episodes)

    assert found_share(often) > found_share(rare) + 0.2
    assert _observed_failures(often, base) < _observed_failures(rare, base)


def test_history_is_consistent() -> None:
    config = PlantConfig(n_assets=12, days=90, seed=3, fault_rate_scale=3.0)
    for history in _fleet(config, n=12):
        by_component: dict[str, list[FaultEpisode]] = {}
        for episode in history.episodes:
            by_component.setdefault(episode.component, []).append(episode)
            assert FAULT_MODES[episode.mode].component == episode.component
            assert episode.onset_s <= episode.end_s <= episode.failure_s + 1e-6
        for episodes in by_component.values():
            ends = [e.end_s for e in episodes]
            assert all(later.onset_s >= end for later, end in zip(episodes[1:], ends, strict=False))
        corrective = {(a.open_s, a.component) for a in history.actions if a.kind == "corrective"}
        assert corrective == {(f.t_s, f.component) for f in history.failures}
        found = {(a.open_s, a.component) for a in history.actions if a.finding and a.kind != "corrective"}
        assert found == {(e.end_s, e.component) for e in history.episodes if e.outcome == "found"}
        assert all(a.close_s > a.open_s for a in history.actions)
        t = np.linspace(-30 * DAY, 90 * DAY, 500)
        health = history.health("bearing", t)
        assert np.all((health >= 0) & (health <= 1))
