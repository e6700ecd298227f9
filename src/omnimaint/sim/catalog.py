"""What the simulated plant is made of: machine types, components, fault modes, channels, models.

Everything here is static data; it is the single place where the simulator's vocabulary (asset
types, components, fault types, channel names and units) is defined, and the manifest is built
from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ASSET_TYPES: Final = ("centrifugal_pump", "cnc_spindle", "conveyor_drive")
TYPE_PREFIX: Final = {"centrifugal_pump": "P", "cnc_spindle": "S", "conveyor_drive": "C"}

FAULT_TYPES: Final = (
    "bearing_wear",
    "imbalance_misalignment",
    "overheating",
    "seal_leak",
    "belt_wear",
    "electrical_fault",
)

COMPONENTS: Final[dict[str, tuple[str, ...]]] = {
    "centrifugal_pump": ("bearing", "rotor", "cooling", "seal", "motor"),
    "cnc_spindle": ("bearing", "rotor", "cooling", "motor"),
    "conveyor_drive": ("bearing", "rotor", "cooling", "belt", "motor"),
}
"""Components per asset type; each carries exactly one fault mode (see :data:`FAULT_MODES`)."""

WAVEFORM_CHANNEL: Final = "accel_de"
CAMERA: Final = "cam0"


@dataclass(frozen=True)
class FaultMode:
    """How one fault mode starts, develops and is found.

    Attributes:
        name: Fault type as written to ``failures.fault_type``.
        component: The component it damages.
        onset_rate_per_day: Base hazard of a degradation onset for a component at nominal age and PM.
        median_duration_days: Median time from onset to functional failure.
        duration_spread: Log-normal sigma of that time.
        shape: Severity exponent: severity = (elapsed / duration) ** shape (> 1 accelerates late).
        inspection_detectability: Chance that a routine inspection finds a fully developed fault
            (scaled down by severity ** 1.5 for earlier stages).
        pm_detectability: Same, for a preventive task on the damaged component.
        repair_hours: Range of corrective downtime.
    """

    name: str
    component: str
    onset_rate_per_day: float
    median_duration_days: float
    duration_spread: float
    shape: float
    inspection_detectability: float
    pm_detectability: float
    repair_hours: tuple[float, float]


FAULT_MODES: Final[dict[str, FaultMode]] = {
    m.name: m
    for m in (
        FaultMode("bearing_wear", "bearing", 1 / 220, 21.0, 0.35, 2.5, 0.6, 0.5, (4.0, 12.0)),
        FaultMode("imbalance_misalignment", "rotor", 1 / 260, 12.0, 0.35, 1.5, 0.4, 0.6, (3.0, 8.0)),
        FaultMode("overheating", "cooling", 1 / 240, 7.0, 0.3, 2.0, 0.5, 0.7, (2.0, 6.0)),
        FaultMode("seal_leak", "seal", 1 / 220, 10.0, 0.35, 1.5, 0.9, 0.8, (3.0, 8.0)),
        FaultMode("belt_wear", "belt", 1 / 200, 14.0, 0.3, 2.0, 0.8, 0.8, (2.0, 6.0)),
        FaultMode("electrical_fault", "motor", 1 / 260, 10.0, 0.35, 2.0, 0.15, 0.3, (2.0, 10.0)),
    )
}

COMPONENT_FAULT: Final = {mode.component: mode.name for mode in FAULT_MODES.values()}


@dataclass(frozen=True)
class FaultSignature:
    """Where a fault mode shows before it fails (docs/simulator.md, "Fault modes and where they show"; a test
    keeps the two in step): the truth the diagnosis benchmark checks evidence against.

    Attributes:
        first: The modality that shows it earliest.
        shows_in: Every modality that shows it before it fails (work orders aside).
    """

    first: str
    shows_in: frozenset[str]


FAULT_SIGNATURES: Final[dict[str, FaultSignature]] = {
    "bearing_wear": FaultSignature("waveforms", frozenset({"waveforms", "telemetry", "events"})),
    "imbalance_misalignment": FaultSignature("waveforms", frozenset({"waveforms", "telemetry", "events"})),
    "overheating": FaultSignature("telemetry", frozenset({"telemetry", "frames", "events"})),
    "seal_leak": FaultSignature("frames", frozenset({"telemetry", "frames", "events"})),
    "belt_wear": FaultSignature("frames", frozenset({"waveforms", "telemetry", "frames", "events"})),
    "electrical_fault": FaultSignature("events", frozenset({"telemetry", "events"})),
}


@dataclass(frozen=True)
class CarePolicy:
    """Preventive maintenance of one component.

    Attributes:
        component: Component name.
        pm_interval_days: Nominal interval between preventive tasks.
        pm_hours: Range of the machine stop a task needs.
    """

    component: str
    pm_interval_days: float
    pm_hours: tuple[float, float]


CARE: Final[dict[str, CarePolicy]] = {
    c.component: c
    for c in (
        CarePolicy("bearing", 30.0, (1.0, 2.0)),
        CarePolicy("rotor", 60.0, (1.5, 3.0)),
        CarePolicy("cooling", 30.0, (0.5, 1.5)),
        CarePolicy("seal", 45.0, (1.0, 2.0)),
        CarePolicy("belt", 21.0, (0.5, 1.5)),
        CarePolicy("motor", 90.0, (1.0, 3.0)),
    )
}


@dataclass(frozen=True)
class ChannelSpec:
    """A telemetry channel: name, unit, meaning, the asset types that carry it, and its manifest ``role``
    (``operating_setting`` for the channels that set the operating regime: speed and load)."""

    name: str
    unit: str
    description: str
    asset_types: tuple[str, ...] | None = None
    role: Literal["reading", "operating_setting"] = "reading"


TELEMETRY_CHANNELS: Final = (
    ChannelSpec("motor_current", "A", "motor phase current, 10-min mean"),
    ChannelSpec("vibration_rms", "mm/s", "velocity RMS 10-1000 Hz at the drive-end bearing (ISO 10816)"),
    ChannelSpec("bearing_temp", "degC", "drive-end bearing housing temperature"),
    ChannelSpec("speed", "rpm", "shaft speed", role="operating_setting"),
    ChannelSpec(
        "load", "%", "load relative to rated (flow demand, cutting load or throughput)", role="operating_setting"
    ),
    ChannelSpec("flow", "m3/h", "discharge flow", ("centrifugal_pump",)),
    ChannelSpec("discharge_pressure", "bar", "discharge pressure", ("centrifugal_pump",)),
    ChannelSpec("coolant_temp", "degC", "spindle coolant return temperature", ("cnc_spindle",)),
    ChannelSpec("spindle_power", "kW", "spindle drive power", ("cnc_spindle",)),
    ChannelSpec("belt_speed", "m/s", "belt surface speed (tail-pulley encoder)", ("conveyor_drive",)),
    ChannelSpec("motor_temp", "degC", "motor winding temperature (PT100)", ("conveyor_drive",)),
)


def telemetry_channels(asset_type: str) -> tuple[str, ...]:
    """Telemetry channel names of one asset type, in catalogue order."""
    return tuple(c.name for c in TELEMETRY_CHANNELS if c.asset_types is None or asset_type in c.asset_types)


def fault_modes_of(asset_type: str, active: tuple[str, ...] = FAULT_TYPES) -> tuple[FaultMode, ...]:
    """The fault modes an asset type can suffer (one per component), restricted to ``active``."""
    return tuple(FAULT_MODES[COMPONENT_FAULT[c]] for c in COMPONENTS[asset_type] if COMPONENT_FAULT[c] in set(active))


@dataclass(frozen=True)
class MachineModel:
    """A machine model: ratings and the parts fitted.

    Attributes:
        name: Model designation (fictitious).
        rated_power_kw: Motor rating.
        rated_current_a: Motor full-load current.
        speed_range_rpm: Speeds the drive runs at.
        bearings: Drive-end bearing designations this model is built with.
        resonance_hz: Range of the drive-end structural resonance (excited by bearing impacts).
        temp_rise_c: Bearing-housing temperature rise over ambient at full load.
        damping: Range of the damping ratio of that resonance.
    """

    name: str
    rated_power_kw: float
    rated_current_a: float
    speed_range_rpm: tuple[float, float]
    bearings: tuple[str, ...]
    resonance_hz: tuple[float, float]
    temp_rise_c: float
    damping: tuple[float, float] = (0.04, 0.07)


MODELS: Final[dict[str, tuple[MachineModel, ...]]] = {
    "centrifugal_pump": (
        MachineModel("CP-50-160", 7.5, 14.5, (2000, 2960), ("6308",), (1100, 1500), 28.0),
        MachineModel("CP-65-200", 15.0, 28.0, (2000, 2960), ("6309",), (1000, 1400), 32.0),
        MachineModel("CP-80-250", 22.0, 41.0, (1800, 2960), ("6310",), (900, 1300), 35.0),
    ),
    "cnc_spindle": (
        MachineModel("MS-24-6000", 11.0, 24.0, (3000, 6000), ("7012C",), (1500, 1800), 22.0, (0.08, 0.12)),
        MachineModel("MS-30-6000", 15.0, 31.0, (2500, 6000), ("7014C",), (1400, 1750), 24.0, (0.08, 0.12)),
    ),
    "conveyor_drive": (
        MachineModel("CD-5.5", 5.5, 11.0, (1000, 1480), ("6206",), (1200, 1600), 25.0),
        MachineModel("CD-7.5", 7.5, 15.0, (1000, 1480), ("6207",), (1100, 1500), 27.0),
        MachineModel("CD-4.0", 4.0, 8.2, (1000, 1480), ("6205",), (1300, 1700), 24.0),
    ),
}

CONVEYOR_GEAR_RATIO: Final = 20.0
CONVEYOR_PULLEY_DIAMETER_M: Final = 0.4
