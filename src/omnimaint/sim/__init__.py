"""The plant simulator: the embedded default data source (DESIGN.md §7).

Owns: a physically motivated plant of pumps, CNC spindles and conveyor drives whose hidden component
health degrades under a maintenance-dependent hazard and shows in every modality with its own
timing (telemetry, vibration bursts, camera frames, controller events, work orders), written as a
canonical dataset with :class:`omnimaint.data.DatasetWriter`. See ``docs/simulator.md``.

Must not import torch or any model, training, service or evaluation code; it depends only on
``omnimaint.data`` (for writing) and the numeric stack.
"""

from omnimaint.sim.bearings import BEARINGS, BearingGeometry
from omnimaint.sim.catalog import (
    ASSET_TYPES,
    CAMERA,
    COMPONENTS,
    FAULT_MODES,
    FAULT_TYPES,
    TELEMETRY_CHANNELS,
    WAVEFORM_CHANNEL,
    FaultMode,
    telemetry_channels,
)
from omnimaint.sim.config import PlantConfig
from omnimaint.sim.degradation import FaultEpisode, onset_hazard
from omnimaint.sim.history import AssetHistory, Failure, MaintenanceAction
from omnimaint.sim.plant import build_manifest, ground_truth, simulate
from omnimaint.sim.profile import VibrationModel
from omnimaint.sim.scene import CUES, cue_region
from omnimaint.sim.waveforms import BurstConditions, synthesize_bursts

__all__ = [
    "ASSET_TYPES",
    "BEARINGS",
    "CAMERA",
    "COMPONENTS",
    "CUES",
    "FAULT_MODES",
    "FAULT_TYPES",
    "TELEMETRY_CHANNELS",
    "WAVEFORM_CHANNEL",
    "AssetHistory",
    "BearingGeometry",
    "BurstConditions",
    "Failure",
    "FaultEpisode",
    "FaultMode",
    "MaintenanceAction",
    "PlantConfig",
    "VibrationModel",
    "build_manifest",
    "cue_region",
    "ground_truth",
    "onset_hazard",
    "simulate",
    "synthesize_bursts",
    "telemetry_channels",
]
