"""Vibration evidence: the spectral bands of the newest burst that deviate from the asset's baseline spectrum.

Two spectra of each burst (Randall, *Vibration-based Condition Monitoring*, 2011, ch. 5):

- the amplitude spectrum (Hann window), where imbalance shows at 1× running speed and misalignment at 2×;
- the envelope spectrum: the burst band-passed around the housing resonance (``resonance_hz`` of the asset's
  metadata ±30 %, else the top half of the band), its Hilbert envelope, and that envelope's spectrum, where
  the impacts of a damaged bearing show at its defect frequency and harmonics long before the RMS moves.

Bands are named when they can be: 1× and 2× running speed (speed from the window's ``speed`` channel at the
burst's time) and the bearing defect frequencies BPFO, BPFI, BSF, FTF (sum of harmonics 1–3) from the bearing
geometry in ``assets.metadata['bearing']``; besides them, eight equal-width bands of the amplitude spectrum.
Each band's amplitude is compared with the same band of the baseline bursts (each at its own speed):
``z = (log a − mean log a_baseline) / max(std log a_baseline, 0.1)``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.windows import Batch, micros
from omnimaint.inference.predictor import Predictor
from omnimaint.sim.bearings import BearingGeometry

GENERIC_BANDS = 8
HARMONICS = 3
TOLERANCE = 0.03
"""Half-width of a named band, relative to its frequency (at least two frequency bins)."""
MIN_LOG_STD = 0.1
CARD_POINTS = 256
SPEED_CHANNEL = "speed"
"""The telemetry channel (rpm) that gives the running speed of the bursts."""


@dataclass(frozen=True)
class SpectralBand:
    """One band of the burst's spectrum against the baseline.

    Attributes:
        name: ``1x``, ``2x``, ``BPFO``, ``BPFI``, ``BSF``, ``FTF`` or ``band 512-1024 Hz``.
        spectrum: ``amplitude`` or ``envelope``.
        low_hz: Lower edge (of the fundamental, for a named band).
        high_hz: Upper edge.
        amplitude: Peak (named band, summed over harmonics) or RMS (generic band) in the channel's unit.
        baseline_amplitude: The same over the baseline bursts (geometric mean); ``None`` without a baseline.
        z_score: Deviation in log amplitude; ``None`` without a baseline of at least two bursts.
    """

    name: str
    spectrum: str
    low_hz: float
    high_hz: float
    amplitude: float
    baseline_amplitude: float | None
    z_score: float | None


@dataclass(frozen=True)
class SpectrumEvidence:
    """The newest burst of one waveform channel, its spectra and bands (largest deviation first).

    ``frequencies_hz``/``amplitude``/``baseline_amplitude`` and their ``envelope_*`` counterparts are reduced
    to at most 256 points (peak per group of bins) for plotting; ``baseline_*`` are empty without a baseline.
    """

    channel: str
    burst_time: str
    sample_rate_hz: float
    shaft_hz: float | None
    bearing: str | None
    bands: tuple[SpectralBand, ...]
    frequencies_hz: tuple[float, ...]
    amplitude: tuple[float, ...]
    baseline_amplitude: tuple[float, ...]
    envelope_frequencies_hz: tuple[float, ...]
    envelope: tuple[float, ...]
    baseline_envelope: tuple[float, ...]

    def deviating(self, z: float = 3.0) -> tuple[SpectralBand, ...]:
        """Bands at least ``z`` above their baseline."""
        return tuple(b for b in self.bands if b.z_score is not None and b.z_score >= z)


@dataclass(frozen=True)
class Machine:
    """What the asset's metadata says about its vibration: bearing geometry and housing resonance."""

    bearing: BearingGeometry | None = None
    resonance_hz: float | None = None

    @classmethod
    def of(cls, metadata: dict[str, object]) -> Machine:
        raw = metadata.get("bearing")
        bearing = BearingGeometry.from_dict(raw) if isinstance(raw, dict) else None
        resonance = metadata.get("resonance_hz")
        return cls(bearing, float(resonance) if isinstance(resonance, int | float) else None)


def amplitude_spectrum(x: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Single-sided amplitude spectrum of ``x`` (Hann window, amplitude-corrected)."""
    window = np.hanning(x.size)
    amplitude = 2 * np.abs(np.fft.rfft((x - x.mean()) * window)) / window.sum()
    return np.fft.rfftfreq(x.size, 1 / rate), amplitude


def envelope_spectrum(x: np.ndarray, rate: float, band: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectrum of the Hilbert envelope of ``x`` band-passed to ``band`` (Hz)."""
    spectrum = np.fft.fft(x - x.mean())
    freqs = np.abs(np.fft.fftfreq(x.size, 1 / rate))
    keep = (freqs >= band[0]) & (freqs <= band[1])
    analytic = np.where(keep, spectrum, 0) * np.where(np.fft.fftfreq(x.size) > 0, 2.0, 0.0)
    envelope = np.abs(np.fft.ifft(analytic))
    return amplitude_spectrum(envelope, rate)


def _peak(freqs: np.ndarray, amplitude: np.ndarray, f: float) -> float:
    half = max(TOLERANCE * f, 2 * (freqs[1] - freqs[0]))
    inside = (freqs >= f - half) & (freqs <= f + half)
    return float(amplitude[inside].max()) if inside.any() else 0.0


class BurstFeatures:
    """Band amplitudes of one burst (the same bands for the diagnosed burst and each baseline burst)."""

    def __init__(self, x: np.ndarray, rate: float, shaft_hz: float | None, machine: Machine) -> None:
        nyquist = rate / 2
        self.freqs, self.amplitude = amplitude_spectrum(x, rate)
        if machine.resonance_hz is not None and machine.resonance_hz < nyquist:
            band = (0.7 * machine.resonance_hz, min(1.3 * machine.resonance_hz, 0.98 * nyquist))
        else:
            band = (nyquist / 2, 0.98 * nyquist)
        self.envelope_freqs, self.envelope = envelope_spectrum(x, rate, band)
        self.bands: dict[str, tuple[str, float, float, float]] = {}  # name -> (spectrum, low, high, amplitude)
        edges = np.linspace(0, nyquist, GENERIC_BANDS + 1)
        for lo, hi in itertools.pairwise(edges):
            inside = (self.freqs >= lo) & (self.freqs < hi)
            rms = float(np.sqrt(np.sum(self.amplitude[inside] ** 2) / 2))
            self.bands[f"band {lo:.0f}-{hi:.0f} Hz"] = ("amplitude", float(lo), float(hi), rms)
        if shaft_hz is None or shaft_hz <= 0:
            return
        for order in (1, 2):
            f = order * shaft_hz
            if f < nyquist:
                peak = _peak(self.freqs, self.amplitude, f)
                self.bands[f"{order}x"] = ("amplitude", f * (1 - TOLERANCE), f * (1 + TOLERANCE), peak)
        if machine.bearing is None:
            return
        geometry = machine.bearing
        for name, defect in (
            ("BPFO", geometry.bpfo(shaft_hz)),
            ("BPFI", geometry.bpfi(shaft_hz)),
            ("BSF", geometry.bsf(shaft_hz)),
            ("FTF", geometry.ftf(shaft_hz)),
        ):
            f = float(defect)
            harmonics = [h * f for h in range(1, HARMONICS + 1) if h * f < nyquist]
            if harmonics:
                total = sum(_peak(self.envelope_freqs, self.envelope, h) for h in harmonics)
                self.bands[name] = ("envelope", f * (1 - TOLERANCE), f * (1 + TOLERANCE), total)


def _reduce(values: np.ndarray, points: int = CARD_POINTS) -> tuple[float, ...]:
    group = max(1, math.ceil(values.size / points))
    padded = np.pad(values, (0, (-values.size) % group), constant_values=-np.inf)
    return tuple(float(v) for v in padded.reshape(-1, group).max(axis=1))


def newest_burst(batch: Batch, row: int, channel: int) -> int | None:
    """Slot of the newest burst of ``channel`` in window ``row`` (``None`` when it has none)."""
    assert batch.waveform_mask is not None
    slots = np.flatnonzero(batch.waveform_mask[row, :, channel])
    return int(slots[-1]) if slots.size else None


def spectrum_evidence(
    channel_name: str,
    diagnosed: BurstFeatures,
    burst_time: str,
    rate: float,
    shaft_hz: float | None,
    machine: Machine,
    baseline: list[BurstFeatures],
) -> SpectrumEvidence:
    """Compare the diagnosed burst's bands with the baseline bursts' (module docstring)."""
    bands = []
    for name, (spectrum, lo, hi, value) in diagnosed.bands.items():
        reference = [b.bands[name][3] for b in baseline if name in b.bands]
        logs = np.log(np.asarray(reference) + 1e-12)
        base = float(np.exp(logs.mean())) if logs.size else None
        z = None
        if logs.size >= 2:
            z = float((math.log(value + 1e-12) - logs.mean()) / max(float(logs.std()), MIN_LOG_STD))
        bands.append(SpectralBand(name, spectrum, lo, hi, value, base, z))
    bands.sort(key=lambda b: -np.inf if b.z_score is None else -b.z_score)
    base_amp = np.mean([b.amplitude for b in baseline], axis=0) if baseline else np.zeros(0)
    base_env = np.mean([b.envelope for b in baseline], axis=0) if baseline else np.zeros(0)
    return SpectrumEvidence(
        channel=channel_name,
        burst_time=burst_time,
        sample_rate_hz=rate,
        shaft_hz=shaft_hz,
        bearing=machine.bearing.designation if machine.bearing is not None else None,
        bands=tuple(bands),
        frequencies_hz=_reduce(diagnosed.freqs),
        amplitude=_reduce(diagnosed.amplitude),
        baseline_amplitude=_reduce(base_amp) if base_amp.size else (),
        envelope_frequencies_hz=_reduce(diagnosed.envelope_freqs),
        envelope=_reduce(diagnosed.envelope),
        baseline_envelope=_reduce(base_env) if base_env.size else (),
    )


def _shaft_hz(predictor: Predictor, batch: Batch, row: int, age_hours: float) -> float | None:
    """Running speed (Hz) at the grid step holding a burst ``age_hours`` before the window's end."""
    spec = predictor.bundle.window.telemetry
    channels = predictor.bundle.preprocessor.vocab.telemetry_channels
    if spec is None or batch.telemetry is None or batch.telemetry_mask is None or SPEED_CHANNEL not in channels:
        return None
    c = channels.index(SPEED_CHANNEL)
    seen = np.flatnonzero(batch.telemetry_mask[row, :, c])
    if not seen.size:
        return None
    step = spec.length - 1 - int(age_hours * 3600e6 // micros(spec.step))
    nearest = seen[np.argmin(np.abs(seen - step))]
    rpm = float(batch.telemetry[row, nearest, c])
    return rpm / 60 if rpm > 0 else None


def burst_spectra(
    predictor: Predictor, dataset: Dataset, window: Batch, baseline: Batch | None, machine: Machine
) -> tuple[SpectrumEvidence, ...]:
    """One spectrum per waveform channel with a burst in the window, against the baseline windows' newest bursts."""
    spec = predictor.bundle.window.waveforms
    assert spec is not None and window.waveforms is not None and window.waveform_age_hours is not None
    rates = {c.name: c.sampling_rate_hz for c in dataset.manifest.channels if c.kind == "waveform"}
    out = []
    for c, name in enumerate(predictor.bundle.preprocessor.vocab.waveform_channels):
        rate = spec.sample_rate_hz or rates.get(name)
        slot = newest_burst(window, 0, c)
        if rate is None or slot is None:
            continue

        def features(
            batch: Batch, row: int, slot: int, c: int = c, rate: float = rate
        ) -> tuple[BurstFeatures, float | None]:
            assert batch.waveforms is not None and batch.waveform_age_hours is not None
            shaft = _shaft_hz(predictor, batch, row, float(batch.waveform_age_hours[row, slot]))
            return BurstFeatures(batch.waveforms[row, slot, c].astype(np.float64), rate, shaft, machine), shaft

        diagnosed, shaft = features(window, 0, slot)
        reference = []
        if baseline is not None and baseline.waveforms is not None:
            for row in range(len(baseline)):
                other = newest_burst(baseline, row, c)
                if other is not None:
                    reference.append(features(baseline, row, other)[0])
        when = pd.Timestamp(window.anchors[0], tz="UTC") - pd.Timedelta(hours=float(window.waveform_age_hours[0, slot]))
        out.append(spectrum_evidence(name, diagnosed, when.isoformat(), rate, shaft, machine, reference))
    return tuple(out)
