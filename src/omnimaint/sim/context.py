"""Plant-wide facts shared by every asset: weather, power dips and the maintenance crew.

They are drawn once in the parent process from the plant's own random stream and handed to every
worker, so that all assets see the same ambient temperature, trip on the same power dips and get
their work orders written by the same technicians, whatever the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnimaint.sim.clock import DAY, HOUR, Clock, FloatArray
from omnimaint.sim.config import PlantConfig
from omnimaint.sim.technician import Technician, draw_crew

AMBIENT_MEAN_C = 21.0
AMBIENT_DAILY_SWING_C = 3.5
POWER_DIPS_PER_DAY = 1 / 20


@dataclass(frozen=True)
class PlantContext:
    """What all assets of the plant share.

    Attributes:
        weather_c: Daily ambient offset (degC) for calendar days ``-1 .. days + 1`` of the observed period.
        power_dips: ``(start_s, duration_s)`` of grid disturbances that trip every running machine.
        crew: The technicians who write work orders.
    """

    weather_c: FloatArray
    power_dips: tuple[tuple[float, float], ...]
    crew: tuple[Technician, ...]

    def ambient_c(self, t_s: FloatArray, clock: Clock) -> FloatArray:
        """Hall temperature: daily swing (peak mid-afternoon) plus a mean-reverting weather walk."""
        day_position = np.asarray(t_s, dtype=np.float64) / DAY + 1.0  # weather_c[0] is day -1
        weather = np.interp(day_position, np.arange(self.weather_c.size, dtype=np.float64), self.weather_c)
        hour = clock.hour_of_day(t_s)
        return AMBIENT_MEAN_C + AMBIENT_DAILY_SWING_C * np.sin(2 * np.pi * (hour - 9.0) / 24.0) + weather


def draw_context(config: PlantConfig, rng: np.random.Generator) -> PlantContext:
    """Draw the plant-wide facts from the plant stream."""
    n_days = int(np.ceil(config.days)) + 3
    weather = np.zeros(n_days)
    for day in range(1, n_days):  # AR(1) walk: persistent warm and cold spells
        weather[day] = 0.8 * weather[day - 1] + 1.2 * rng.standard_normal()
    n_dips = int(rng.poisson(POWER_DIPS_PER_DAY * config.days))
    starts = np.sort(rng.uniform(0.0, config.days * DAY, size=n_dips))
    dips = tuple((float(s), float(rng.uniform(0.1, 0.6) * HOUR)) for s in starts)
    return PlantContext(weather_c=weather, power_dips=dips, crew=draw_crew(config.lang, rng))
