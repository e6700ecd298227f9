"""How big and how long a simulation will be, from its config alone, before any work is done.

Counts follow from the config (readings per channel, bursts and frames per period), thinned by the
shares the simulator actually keeps (telemetry dropouts, bursts only while a machine runs, camera
outages). Bytes and CPU seconds per item were measured on 6 machines x 20 days (one process, Python
3.11, a shared 2-core x86 VM): 11 bytes and 1.1 µs per telemetry row, 5.1 bytes and 0.21 µs per burst
sample, 2.1 bytes and 0.07 µs per frame pixel plus 0.22 ms per frame, 45 ms per machine. With workers,
each machine's tables also travel to the parent, which checks and writes them: the default plant (12
machines x 30 days, 2 workers) used 1.5 times that CPU, and took 13.7 s with the cores partly busy
(estimate: 8 s). Sizes come within 10 %; the time assumes idle cores and is a guide, not a promise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from omnimaint.sim.catalog import telemetry_channels
from omnimaint.sim.config import PlantConfig
from omnimaint.sim.profile import asset_type_of

DAY_S = 86_400.0

# Shares of the scheduled items that the simulator writes (6 machines x 20 days, 2 of each type).
TELEMETRY_KEPT = 0.97  # readings lost to sensor dropouts
BURSTS_KEPT = {"centrifugal_pump": 0.81, "cnc_spindle": 0.37, "conveyor_drive": 0.46}  # bursts only while running
FRAMES_KEPT = 0.9  # camera outages

# Bytes and CPU seconds per item (see the module docstring).
TELEMETRY_ROW_BYTES = 11.0
TELEMETRY_ROW_S = 1.1e-6
BURST_SAMPLE_BYTES = 5.1
BURST_SAMPLE_S = 2.1e-7
FRAME_PIXEL_BYTES = 2.1
FRAME_PIXEL_S = 7e-8
FRAME_S = 2.2e-4
MACHINE_S = 0.045
WORKER_OVERHEAD = 1.5  # passing each machine's tables to the parent, which checks and writes them
START_UP_S = 3.0  # importing the simulator and spawning the workers

# A run at least this long or this large is announced before it starts.
LARGE_SECONDS = 30.0
LARGE_BYTES = 1e9


@dataclass(frozen=True)
class PlantEstimate:
    """Expected size and duration of one simulation.

    Attributes:
        telemetry_rows: Scalar readings.
        bursts: Vibration bursts.
        frames: Camera frames.
        bytes: Size on disk (tables and PNG frames).
        seconds: Wall time on idle cores.
        workers: Processes that generate machines in parallel.
    """

    telemetry_rows: float
    bursts: float
    frames: float
    bytes: float
    seconds: float
    workers: int

    @property
    def large(self) -> bool:
        """Worth announcing before it starts."""
        return self.seconds >= LARGE_SECONDS or self.bytes >= LARGE_BYTES

    def describe(self, config: PlantConfig) -> str:
        """One line: ``simulating 50 machines × 90 days: ~4.4 M telemetry rows, … ~1.6 GB, ~45 s on 2 workers``."""
        workers = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        return (
            f"simulating {config.n_assets} machines × {config.days:g} days: ~{_count(self.telemetry_rows)} telemetry "
            f"rows, ~{_count(self.bursts)} vibration bursts, ~{_count(self.frames)} frames; "
            f"~{_size(self.bytes)}, ~{_duration(self.seconds)} on {workers}"
        )


def estimate(config: PlantConfig, cpus: int | None = None) -> PlantEstimate:
    """Expected size and duration of simulating ``config`` on ``cpus`` cores (default: this machine's)."""
    types = [asset_type_of(i) for i in range(config.n_assets)]
    seconds_simulated = config.days * DAY_S
    readings = seconds_simulated / config.telemetry_period_s
    telemetry_rows = sum(len(telemetry_channels(t)) for t in types) * readings * TELEMETRY_KEPT
    bursts = sum(BURSTS_KEPT.get(t, 1.0) for t in types) * seconds_simulated / config.waveform_period_s
    frames = config.n_assets * seconds_simulated / config.frame_period_s * FRAMES_KEPT
    pixels = config.frame_size**2
    size = (
        telemetry_rows * TELEMETRY_ROW_BYTES
        + bursts * config.burst_samples * BURST_SAMPLE_BYTES
        + frames * pixels * FRAME_PIXEL_BYTES
    )
    cpu = (
        telemetry_rows * TELEMETRY_ROW_S
        + bursts * config.burst_samples * BURST_SAMPLE_S
        + frames * (FRAME_S + pixels * FRAME_PIXEL_S)
        + config.n_assets * MACHINE_S
    )
    workers = min(config.workers, config.n_assets)
    parallel = max(1, min(workers, cpus if cpus is not None else os.cpu_count() or 1))
    if workers > 1:
        cpu *= WORKER_OVERHEAD
    return PlantEstimate(telemetry_rows, bursts, frames, size, START_UP_S + cpu / parallel, workers)


def _count(n: float) -> str:
    for scale, unit in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if n >= scale:
            return f"{n / scale:.2g}{unit}" if n < 10 * scale else f"{n / scale:.0f}{unit}"
    return f"{n:.0f}"


def _size(n_bytes: float) -> str:
    for scale, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB")):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2g} {unit}" if n_bytes < 10 * scale else f"{n_bytes / scale:.0f} {unit}"
    return f"{n_bytes / 1e3:.0f} kB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
