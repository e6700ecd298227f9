"""Per-asset constants: which model a machine is, its bearing, resonance, baselines and alarm limits.

A profile is drawn once per asset from the asset's own random stream, before any signal is made;
the parent process writes it to the ``assets`` table (``metadata`` JSON holds the bearing geometry
so that the expected defect frequencies can be computed from the dataset alone) and the worker that
generates the asset's signals receives the same object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from omnimaint.sim.bearings import BEARINGS, BearingGeometry
from omnimaint.sim.catalog import ASSET_TYPES, CAMERA, MODELS, TYPE_PREFIX, MachineModel, telemetry_channels

SITE = "plant-1"
ASSETS_PER_LINE = 6


@dataclass(frozen=True)
class VibrationModel:
    """Drive-end vibration of one machine.

    Attributes:
        bearing: Drive-end bearing geometry.
        resonance_hz: Natural frequency of the bearing housing / structure.
        damping_ratio: Damping of that resonance.
        vib_1x_mm_s: Healthy 1x (running speed) velocity RMS at top speed.
        vib_2x_mm_s: Healthy 2x velocity RMS at top speed.
        vib_floor_mm_s: Broadband velocity RMS at full load (flow, cutting, rollers).
        noise_g: Broadband acceleration noise (sensor and process), RMS in g.
        impulse_g: Peak acceleration of a fully developed outer-race defect impact in g.
        top_speed_rpm: Speed at which the 1x/2x levels are given.
    """

    bearing: BearingGeometry
    resonance_hz: float
    damping_ratio: float
    vib_1x_mm_s: float
    vib_2x_mm_s: float
    vib_floor_mm_s: float
    noise_g: float
    impulse_g: float
    top_speed_rpm: float


@dataclass(frozen=True)
class AssetProfile:
    """Everything constant about one simulated machine.

    Attributes:
        index: Position in the plant (0-based).
        asset_id: Type letter and 1-based index, e.g. ``P001``.
        asset_type: One of :data:`~omnimaint.sim.catalog.ASSET_TYPES`.
        model: Machine model.
        line: Production line.
        age_days: Age at the start of the simulation.
        vibration: Drive-end vibration model.
        setpoints_rpm: Speeds of the asset's products / programs.
        temp_alarm_c: Fixed high-temperature warning limit of the controller.
        vib_alarm_mm_s: Fixed high-vibration warning limit of the controller.
        nominal_flow_m3h: Pump flow at top speed and full demand (pumps only, else 0).
        nominal_pressure_bar: Pump shut-off pressure at top speed (pumps only, else 0).
    """

    index: int
    asset_id: str
    asset_type: str
    model: MachineModel
    line: str
    age_days: float
    vibration: VibrationModel
    setpoints_rpm: tuple[float, ...]
    temp_alarm_c: float
    vib_alarm_mm_s: float
    nominal_flow_m3h: float
    nominal_pressure_bar: float

    def metadata_json(self) -> str:
        """The ``assets.metadata`` JSON: ratings, bearing geometry, resonance, channels, camera."""
        vib = self.vibration
        meta = {
            "rated_power_kw": self.model.rated_power_kw,
            "rated_current_a": self.model.rated_current_a,
            "speed_range_rpm": list(self.model.speed_range_rpm),
            "bearing": vib.bearing.to_dict(),
            "bearing_position": "drive end",
            "resonance_hz": round(vib.resonance_hz, 1),
            "temp_alarm_c": self.temp_alarm_c,
            "vib_alarm_mm_s": self.vib_alarm_mm_s,
            "channels": list(telemetry_channels(self.asset_type)),
            "cameras": [CAMERA],
        }
        return json.dumps(meta, sort_keys=True)


def asset_type_of(index: int) -> str:
    """The deterministic type mix: pumps, spindles and conveyors in turn."""
    return ASSET_TYPES[index % len(ASSET_TYPES)]


def asset_id_of(index: int, n_assets: int) -> str:
    """``P001``, ``S002``, ``C003`` ...: type letter and 1-based plant index (wider past 999 assets)."""
    width = max(3, len(str(n_assets)))
    return f"{TYPE_PREFIX[asset_type_of(index)]}{index + 1:0{width}d}"


_TYPE_BASELINES = {
    # 1x, 2x, floor (mm/s), noise (g), impulse (g), vibration alarm (mm/s)
    "centrifugal_pump": (2.0, 0.8, 0.9, 0.03, 2.5, 7.1),
    "cnc_spindle": (0.8, 0.3, 0.4, 0.02, 1.5, 4.5),
    "conveyor_drive": (1.6, 0.7, 0.8, 0.03, 2.0, 7.1),
}


def draw_profile(index: int, n_assets: int, rng: np.random.Generator) -> AssetProfile:
    """Draw the constants of asset ``index`` from its own random stream."""
    asset_type = asset_type_of(index)
    models = MODELS[asset_type]
    model = models[int(rng.integers(len(models)))]
    bearing = BEARINGS[model.bearings[int(rng.integers(len(model.bearings)))]]
    v1, v2, floor, noise, impulse, vib_alarm = _TYPE_BASELINES[asset_type]
    spread = rng.uniform(0.8, 1.25, size=5)
    lo, hi = model.speed_range_rpm
    vibration = VibrationModel(
        bearing=bearing,
        resonance_hz=float(rng.uniform(*model.resonance_hz)),
        damping_ratio=float(rng.uniform(*model.damping)),
        vib_1x_mm_s=v1 * float(spread[0]),
        vib_2x_mm_s=v2 * float(spread[1]),
        vib_floor_mm_s=floor * float(spread[2]),
        noise_g=noise * float(spread[3]),
        impulse_g=impulse * float(spread[4]),
        top_speed_rpm=hi,
    )
    n_programs = int(rng.integers(3, 7))
    setpoints = tuple(float(round(s, -1)) for s in np.sort(rng.uniform(lo, hi, size=n_programs)))
    is_pump = asset_type == "centrifugal_pump"
    return AssetProfile(
        index=index,
        asset_id=asset_id_of(index, n_assets),
        asset_type=asset_type,
        model=model,
        line=f"L{index // ASSETS_PER_LINE + 1}",
        age_days=float(rng.uniform(180, 8 * 365)),
        vibration=vibration,
        setpoints_rpm=setpoints,
        temp_alarm_c=float(round(25.0 + model.temp_rise_c)),
        vib_alarm_mm_s=vib_alarm,
        nominal_flow_m3h=float(round(model.rated_power_kw * rng.uniform(5.0, 7.0), 1)) if is_pump else 0.0,
        nominal_pressure_bar=float(round(rng.uniform(4.0, 9.0), 1)) if is_pump else 0.0,
    )
