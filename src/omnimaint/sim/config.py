"""The plant configuration: one frozen dataclass, checked once at the edge and passed down."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from omnimaint.data.schema import FUTURE_MARGIN
from omnimaint.errors import ConfigError
from omnimaint.sim.catalog import FAULT_TYPES

Language = Literal["en", "zh"]
MIN_FRAME_SIZE = 32
MAX_FRAME_SIZE = 1024
MIN_BURST_SAMPLES = 64
MIN_PERIOD_S = 1.0  # faster than 1 Hz is what vibration bursts are for, not scalar telemetry or frames


@dataclass(frozen=True)
class PlantConfig:
    """What plant to simulate and how densely to observe it.

    Attributes:
        n_assets: Number of machines (a deterministic, roughly equal mix of the three asset types).
        days: Length of the observed period.
        start: First timestamp, ISO-8601 with a UTC designator.
        seed: Root seed; the whole dataset is a deterministic function of the config.
        lang: Language of event messages and work-order text (``en`` or ``zh``).
        telemetry_period_s: Interval between scalar telemetry readings.
        waveform_period_s: Interval between vibration bursts.
        waveform_rate_hz: Sampling rate inside a burst.
        waveform_duration_s: Length of one burst.
        frame_period_s: Interval between camera frames.
        frame_size: Width and height of the square RGB frames, in pixels.
        workers: Processes generating assets in parallel (the output does not depend on it).
        name: Dataset name written to the manifest.
        fault_rate_scale: Multiplies every fault-onset hazard (0 gives a fault-free plant).
        fault_modes: Restrict the simulated fault modes to these (``None``: all of them).
        pm_interval_scale: Multiplies every preventive-maintenance interval.
        pm_skip_prob: Probability that a scheduled preventive task is skipped.
        poor_repair_prob: Probability that a corrective repair is sloppy (raising the hazard afterwards).
        inspection_period_days: Mean interval between routine inspections of an asset.
        dropout_scale: Multiplies the rates of sensor dropouts and modality outages (0 disables them).
        nuisance_scale: Multiplies the rates of nuisance alarms and visual distractors.
        warmup_days: Unobserved history simulated before ``start`` so that the plant starts in a
            steady state (some faults already developing, some PM overdue).
        typo_rate: Per-word typo probability in English work-order text.
    """

    n_assets: int = 12
    days: float = 30
    start: str = "2024-01-01T00:00:00Z"
    seed: int = 0
    lang: Language = "en"
    telemetry_period_s: float = 600
    waveform_period_s: float = 3600
    waveform_rate_hz: float = 4096
    waveform_duration_s: float = 0.5
    frame_period_s: float = 3600
    frame_size: int = 64
    workers: int = 2
    name: str = "omnimaint-sim"
    fault_rate_scale: float = 1.0
    fault_modes: tuple[str, ...] | None = None
    pm_interval_scale: float = 1.0
    pm_skip_prob: float = 0.1
    poor_repair_prob: float = 0.15
    inspection_period_days: float = 14
    dropout_scale: float = 1.0
    nuisance_scale: float = 1.0
    warmup_days: float = 120
    typo_rate: float = 0.03

    def __post_init__(self) -> None:
        if self.fault_modes is not None and not isinstance(self.fault_modes, tuple):
            object.__setattr__(self, "fault_modes", tuple(self.fault_modes))
        problems = list(self._problems())
        if problems:
            raise ConfigError("invalid plant config: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        out: list[str] = []
        if self.n_assets < 1:
            out.append(f"n_assets must be >= 1, got {self.n_assets}")
        positive = {
            "days": self.days,
            "telemetry_period_s": self.telemetry_period_s,
            "waveform_period_s": self.waveform_period_s,
            "waveform_rate_hz": self.waveform_rate_hz,
            "waveform_duration_s": self.waveform_duration_s,
            "frame_period_s": self.frame_period_s,
            "inspection_period_days": self.inspection_period_days,
        }
        out += [f"{name} must be > 0, got {value}" for name, value in positive.items() if not value > 0]
        out += [
            f"{name} must be finite, got {value}"
            for name, value in {**positive, "fault_rate_scale": self.fault_rate_scale}.items()
            if value > 0 and not math.isfinite(value)
        ]
        periods = {"telemetry_period_s": self.telemetry_period_s, "frame_period_s": self.frame_period_s}
        out += [
            f"{name} must be >= {MIN_PERIOD_S:g} s, got {value:g}"
            for name, value in periods.items()
            if 0 < value < MIN_PERIOD_S
        ]
        non_negative = {
            "fault_rate_scale": self.fault_rate_scale,
            "pm_interval_scale": self.pm_interval_scale,
            "dropout_scale": self.dropout_scale,
            "nuisance_scale": self.nuisance_scale,
            "warmup_days": self.warmup_days,
            "seed": self.seed,
        }
        out += [f"{name} must be >= 0, got {value}" for name, value in non_negative.items() if not value >= 0]
        if self.pm_interval_scale == 0:
            out.append("pm_interval_scale must be > 0 (use pm_skip_prob=1 for a plant without PM)")
        probabilities = {
            "pm_skip_prob": self.pm_skip_prob,
            "poor_repair_prob": self.poor_repair_prob,
            "typo_rate": self.typo_rate,
        }
        out += [
            f"{name} must be in [0, 1], got {value}" for name, value in probabilities.items() if not 0 <= value <= 1
        ]
        if self.lang not in ("en", "zh"):
            out.append(f"lang must be 'en' or 'zh', got {self.lang!r}")
        if not MIN_FRAME_SIZE <= self.frame_size <= MAX_FRAME_SIZE:
            out.append(f"frame_size must be in [{MIN_FRAME_SIZE}, {MAX_FRAME_SIZE}], got {self.frame_size}")
        if self.workers < 1:
            out.append(f"workers must be >= 1, got {self.workers}")
        if self.waveform_rate_hz > 0 and self.waveform_duration_s > 0 and self.burst_samples < MIN_BURST_SAMPLES:
            out.append(
                f"a burst must hold >= {MIN_BURST_SAMPLES} samples; waveform_rate_hz * waveform_duration_s "
                f"= {self.waveform_rate_hz * self.waveform_duration_s:g}"
            )
        if self.waveform_duration_s > self.waveform_period_s > 0:
            out.append("waveform_duration_s must not exceed waveform_period_s")
        if self.fault_modes is not None:
            unknown = [m for m in self.fault_modes if m not in FAULT_TYPES]
            if unknown or not self.fault_modes:
                out.append(
                    f"fault_modes must be a non-empty subset of {list(FAULT_TYPES)}, got {list(self.fault_modes)}"
                )
        try:
            start = self.start_datetime
        except ConfigError as exc:
            out.append(str(exc))
        else:
            out += self._period_problems(start)
        return out

    def _period_problems(self, start: datetime) -> list[str]:
        """The simulated period must end where a dataset may hold timestamps (up to a year from now)."""
        if not (self.days > 0 and math.isfinite(self.days)):
            return []
        latest = datetime.now(UTC) + FUTURE_MARGIN
        if self.days > (latest - start) / timedelta(days=1):
            return [
                f"days={self.days:g} from {start:%Y-%m-%d} ends after {latest:%Y-%m-%d}, the latest timestamp a "
                f"dataset may hold (a year from now); simulate at most {(latest - start).days} days from this start"
            ]
        return []

    @property
    def start_datetime(self) -> datetime:
        """``start`` as an aware UTC datetime.

        Raises:
            ConfigError: if ``start`` is not ISO-8601 or carries no UTC offset.
        """
        try:
            parsed = datetime.fromisoformat(self.start)
        except ValueError as exc:
            raise ConfigError(f"start {self.start!r} is not an ISO-8601 timestamp") from exc
        if parsed.tzinfo is None:
            raise ConfigError(f"start {self.start!r} has no time zone; write it in UTC, e.g. '2024-01-01T00:00:00Z'")
        return parsed.astimezone(UTC)

    @property
    def burst_samples(self) -> int:
        """Samples in one vibration burst."""
        return round(self.waveform_rate_hz * self.waveform_duration_s)

    @property
    def active_fault_modes(self) -> tuple[str, ...]:
        """Fault modes that may occur, in canonical order."""
        allowed = FAULT_TYPES if self.fault_modes is None else self.fault_modes
        return tuple(m for m in FAULT_TYPES if m in allowed)

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values (for provenance)."""
        raw = asdict(self)
        if raw["fault_modes"] is not None:
            raw["fault_modes"] = list(raw["fault_modes"])
        return raw
