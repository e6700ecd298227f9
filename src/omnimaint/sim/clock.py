"""Simulation time: seconds since the plant start, and the calendar those seconds fall on.

Inside the simulator every time is a float64 number of seconds since ``PlantConfig.start`` (negative
during the warm-up); it becomes a UTC timestamp only when a table is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from omnimaint.sim.config import PlantConfig

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HOUR = 3600.0
DAY = 86400.0
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)
TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Clock:
    """Maps simulation seconds to calendar facts and UTC timestamps.

    Attributes:
        start_us: Plant start as microseconds since the Unix epoch (UTC).
        duration_s: Length of the observed period.
    """

    start_us: int
    duration_s: float

    @classmethod
    def from_config(cls, config: PlantConfig) -> Clock:
        start = config.start_datetime
        return cls(start_us=round(start.timestamp() * 1e6), duration_s=config.days * DAY)

    def grid(self, period_s: float, offset_s: float = 0.0) -> FloatArray:
        """Regular sample times ``offset, offset + period, ...`` inside the observed period."""
        count = int(np.floor((self.duration_s - offset_s) / period_s - 1e-9)) + 1
        return offset_s + period_s * np.arange(max(count, 0), dtype=np.float64)

    def _epoch_s(self, t_s: FloatArray) -> FloatArray:
        return self.start_us / 1e6 + np.asarray(t_s, dtype=np.float64)

    def hour_of_day(self, t_s: FloatArray) -> FloatArray:
        """Hour of the UTC day, in [0, 24)."""
        return np.mod(self._epoch_s(t_s), DAY) / HOUR

    def weekday(self, t_s: FloatArray) -> IntArray:
        """Day of the week, Monday = 0."""
        return ((np.floor(self._epoch_s(t_s) / DAY).astype(np.int64) + _EPOCH_WEEKDAY) % 7).astype(np.int64)

    def day_index(self, t_s: FloatArray) -> IntArray:
        """Calendar-day number relative to the start day (negative in the warm-up)."""
        start_day = np.floor(self.start_us / 1e6 / DAY)
        return (np.floor(self._epoch_s(t_s) / DAY) - start_day).astype(np.int64)

    def to_work_hours(self, t_s: float, rng: np.random.Generator) -> float:
        """Move a planned task to the next weekday morning shift (07:00-13:00), as planners do."""
        day = float(np.floor((self.start_us / 1e6 + t_s) / DAY))
        hour = float(self.hour_of_day(np.array([t_s]))[0])
        if hour > 13.0:
            day += 1
        while int((day + _EPOCH_WEEKDAY) % 7) >= 5:
            day += 1
        return day * DAY + float(rng.uniform(7.0, 13.0)) * HOUR - self.start_us / 1e6

    def timestamps(self, t_s: FloatArray) -> pa.Array:
        """UTC timestamps (microsecond resolution) for simulation seconds; NaN becomes null."""
        t = np.asarray(t_s, dtype=np.float64)
        missing = np.isnan(t)
        micros = np.round(np.where(missing, 0.0, t) * 1e6).astype(np.int64) + self.start_us
        return pa.array(micros, type=pa.int64(), mask=missing if missing.any() else None).cast(TIMESTAMP)
