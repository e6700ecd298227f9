"""Rolling-element bearing geometry and its defect frequencies.

The defect frequencies follow the textbook kinematics (e.g. Randall, *Vibration-based Condition
Monitoring*, 2011, §5.5): with ``n`` rolling elements of diameter ``d`` on a pitch diameter ``D`` and
contact angle ``φ``, and shaft frequency ``f_r``::

    BPFO = n/2 · f_r · (1 − d/D · cos φ)        ball pass, outer race
    BPFI = n/2 · f_r · (1 + d/D · cos φ)        ball pass, inner race
    BSF  = D/(2d) · f_r · (1 − (d/D · cos φ)²)  ball spin
    FTF  = f_r/2 · (1 − d/D · cos φ)            cage (fundamental train)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BearingGeometry:
    """Geometry of one rolling-element bearing.

    Attributes:
        designation: Catalogue designation (approximate public catalogue values).
        n_balls: Number of rolling elements.
        ball_diameter_mm: Rolling-element diameter ``d``.
        pitch_diameter_mm: Pitch diameter ``D``.
        contact_angle_deg: Contact angle ``φ`` (0 for deep-groove ball bearings).
    """

    designation: str
    n_balls: int
    ball_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float = 0.0

    @property
    def _ratio(self) -> float:
        return self.ball_diameter_mm / self.pitch_diameter_mm * math.cos(math.radians(self.contact_angle_deg))

    def bpfo(self, shaft_hz: float | FloatArray) -> float | FloatArray:
        """Outer-race ball-pass frequency in Hz for a shaft frequency in Hz."""
        return self.n_balls / 2 * shaft_hz * (1 - self._ratio)

    def bpfi(self, shaft_hz: float | FloatArray) -> float | FloatArray:
        """Inner-race ball-pass frequency in Hz."""
        return self.n_balls / 2 * shaft_hz * (1 + self._ratio)

    def bsf(self, shaft_hz: float | FloatArray) -> float | FloatArray:
        """Ball-spin frequency in Hz."""
        return self.pitch_diameter_mm / (2 * self.ball_diameter_mm) * shaft_hz * (1 - self._ratio**2)

    def ftf(self, shaft_hz: float | FloatArray) -> float | FloatArray:
        """Cage (fundamental train) frequency in Hz."""
        return shaft_hz / 2 * (1 - self._ratio)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BearingGeometry:
        """Inverse of :meth:`to_dict` (reads ``assets.metadata['bearing']``)."""
        return cls(**raw)


BEARINGS: Final[dict[str, BearingGeometry]] = {
    b.designation: b
    for b in (
        BearingGeometry("6205", 9, 7.94, 39.04),
        BearingGeometry("6206", 9, 9.525, 46.5),
        BearingGeometry("6207", 9, 11.112, 53.5),
        BearingGeometry("6308", 8, 15.081, 65.0),
        BearingGeometry("6309", 8, 17.462, 72.5),
        BearingGeometry("6310", 8, 19.05, 80.0),
        BearingGeometry("7012C", 18, 9.525, 77.5, 15.0),
        BearingGeometry("7014C", 19, 11.112, 92.5, 15.0),
    )
}
"""Bearings fitted at the drive end, by designation."""
