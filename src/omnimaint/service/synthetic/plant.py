"""What the synthetic plant is made of: the bundle's types, channels and components, and the wear episodes
that every signal of an asset follows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import micros
from omnimaint.inference.bundle import Bundle
from omnimaint.service.alarm_engine import AlarmRules
from omnimaint.service.rules import alarm_rules
from omnimaint.sim import catalog

MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
READING_PERIOD_US = 10 * MINUTE_US
"""Each telemetry channel is read every 10 minutes: a step of the roll-up holds ``step / 10 min`` readings."""
EPISODES_PER_ASSET_DAY = 0.025
"""Wear episodes begin at this rate by default: about 390 over 500 assets and 30 days, which raise about 300
alarms."""
FADING = 0.3
"""The share of episodes whose wear fades by itself (their alarm clears; an inspection finds nothing)."""


@dataclass(frozen=True)
class Plant:
    """What the bundle fixes about the plant.

    Attributes:
        bundle: The bundle.
        step_us: The telemetry roll-up's step (the bundle's telemetry step; 10 minutes without telemetry).
        rules: The alarm rules the service would run (the bundle's calibrated threshold).
        episodes_per_asset_day: The rate at which wear episodes begin.
    """

    bundle: Bundle
    step_us: int
    rules: AlarmRules
    episodes_per_asset_day: float = EPISODES_PER_ASSET_DAY

    @classmethod
    def of(cls, bundle: Bundle, episodes_per_asset_day: float = EPISODES_PER_ASSET_DAY) -> Plant:
        telemetry = bundle.window.telemetry
        step_us = micros(telemetry.step) if telemetry is not None else READING_PERIOD_US
        return cls(bundle, step_us, alarm_rules(bundle, None), episodes_per_asset_day)

    @property
    def vocab(self) -> Vocabulary:
        return self.bundle.preprocessor.vocab

    def channels(self, asset_type: str) -> tuple[str, ...]:
        """The telemetry channels an asset of ``asset_type`` sends."""
        known = catalog.telemetry_channels(asset_type) if asset_type in catalog.ASSET_TYPES else ()
        return tuple(c for c in self.vocab.telemetry_channels if not known or c in known)

    def components(self, asset_type: str) -> tuple[str, ...]:
        """The components an asset of ``asset_type`` is built of."""
        known = catalog.COMPONENTS.get(asset_type, ())
        return tuple(c for c in self.vocab.components if not known or c in known)

    def fault_of(self, component: str, rng: np.random.Generator) -> str:
        """The fault type that wears ``component`` (the catalogue's, else one of the bundle's at random)."""
        fault = catalog.COMPONENT_FAULT.get(component)
        faults = self.vocab.fault_types
        return fault if fault in faults else faults[int(rng.integers(len(faults)))]


@dataclass(frozen=True)
class Episode:
    """Wear of one component from ``onset_us``: it rises to ``peak`` at ``end_us``, where the component is
    repaired, or (``fades``) rises to ``peak`` halfway and falls back to nothing by ``end_us``."""

    component: str
    fault: str
    onset_us: int
    end_us: int
    peak: float
    fades: bool

    def wear(self, times_us: np.ndarray) -> np.ndarray:
        """(T,) the wear at each time: 0 outside the episode, at most ``peak``."""
        x = (times_us - self.onset_us) / (self.end_us - self.onset_us)
        shape = 1 - np.abs(2 * x - 1) if self.fades else x
        return np.where((x >= 0) & (x < 1), self.peak * shape, 0.0)


def draw_episodes(
    plant: Plant, components: tuple[str, ...], start_us: int, end_us: int, rng: np.random.Generator
) -> list[Episode]:
    """An asset's wear episodes, one at a time and a day apart at least; the first may have begun up to four
    days before the history, the last may run past its end."""
    lead = 4 * DAY_US
    count = rng.poisson(plant.episodes_per_asset_day * (end_us - start_us + lead) / DAY_US)
    episodes: list[Episode] = []
    free_from = start_us - lead
    for onset in np.sort(rng.uniform(start_us - lead, end_us, count)).astype(np.int64).tolist():
        if onset < free_from:
            continue
        fades = bool(rng.random() < FADING)
        days = rng.uniform(1, 3) if fades else rng.uniform(2, 8)
        component = components[int(rng.integers(len(components)))]
        peak = rng.uniform(0.5, 0.7) if fades else rng.uniform(0.75, 1.0)
        episode = Episode(component, plant.fault_of(component, rng), onset, onset + int(days * DAY_US), peak, fades)
        episodes.append(episode)
        free_from = episode.end_us + DAY_US
    return episodes


def worst_wear(episodes: list[Episode], times_us: np.ndarray) -> np.ndarray:
    """(T,) the asset's worst wear of any component at each time, in [0, 1]."""
    worst = np.zeros(times_us.size)
    for episode in episodes:
        worst = np.maximum(worst, episode.wear(times_us))
    return worst
