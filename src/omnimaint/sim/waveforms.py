"""Drive-end acceleration bursts from a structural model of the machine.

Each burst is the sum of

* shaft orders: 1x, 2x, 3x sinusoids at running speed (imbalance raises 1x, misalignment raises 2x
  and 3x), with accelerations consistent with the velocity RMS telemetry;
* a structural resonance of the bearing housing, excited by broadband process forces and, when the
  outer race is damaged, by one impact per ball pass (at BPFO from the asset's bearing geometry,
  with 1 % slip jitter) whose strength grows with ``sqrt(severity)`` (visible weeks before the slow
  RMS channel moves, classic envelope-analysis territory), plus broadband noise late in the fault;
* sensor noise.

All bursts of an asset are generated together as one ``(n_bursts, n_samples)`` array; the
resonance is applied in the frequency domain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnimaint.sim.clock import FloatArray
from omnimaint.sim.profile import VibrationModel

G = 9.80665
PRE_ROLL = 256
"""Samples simulated before each burst so that the resonance has no start-up transient."""
CHUNK_BURSTS = 256
SLIP_JITTER = 0.01
STRUCTURAL_SHARE = 0.6
"""RMS of the resonance excited by process forces, relative to the sensor noise."""


@dataclass(frozen=True)
class BurstConditions:
    """The machine state during each burst (each ``(n,)``).

    Attributes:
        shaft_hz: Shaft frequency (speed / 60).
        load: Load fraction.
        bearing: Outer-race defect severity.
        imbalance: Imbalance severity.
        misalignment: Misalignment severity.
    """

    shaft_hz: FloatArray
    load: FloatArray
    bearing: FloatArray
    imbalance: FloatArray
    misalignment: FloatArray

    def __len__(self) -> int:
        return int(self.shaft_hz.size)

    def take(self, index: slice | npt.NDArray[np.intp]) -> BurstConditions:
        return BurstConditions(
            self.shaft_hz[index], self.load[index], self.bearing[index], self.imbalance[index], self.misalignment[index]
        )


def order_velocities(
    model: VibrationModel, speed_ratio: FloatArray, imbalance: FloatArray, misalignment: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Velocity RMS (mm/s) of the 1x and 2x orders: shared by the waveforms and the RMS telemetry."""
    v1 = model.vib_1x_mm_s * speed_ratio * (1 + 4 * imbalance + 0.8 * misalignment)
    v2 = model.vib_2x_mm_s * speed_ratio * (1 + 6 * misalignment)
    return v1, v2


def resonance_response(model: VibrationModel, rate_hz: float, n: int) -> npt.NDArray[np.complex128]:
    """Frequency response of the housing resonance on an ``rfft`` grid of ``n`` samples (peak gain 1)."""
    ratio = np.fft.rfftfreq(n, d=1.0 / rate_hz) / model.resonance_hz
    zeta = model.damping_ratio
    return np.asarray(2 * zeta / (1 - ratio**2 + 2j * zeta * ratio), dtype=np.complex128)


def _velocity_to_accel_g(v_rms_mm_s: FloatArray, freq_hz: FloatArray) -> FloatArray:
    return np.sqrt(2) * v_rms_mm_s * 1e-3 * 2 * np.pi * freq_hz / G


def _impacts(
    model: VibrationModel, cond: BurstConditions, rate_hz: float, m: int, rng: np.random.Generator
) -> FloatArray:
    """Outer-race impact train, one impact per ball pass, ``(n, m)``."""
    n = len(cond)
    shaft = np.maximum(cond.shaft_hz, 1e-3)
    bpfo = np.asarray(model.bearing.bpfo(shaft), dtype=np.float64)
    period = 1.0 / bpfo
    count = int(np.ceil(m / rate_hz * bpfo.max())) + 2
    gaps = period[:, None] * (1 + SLIP_JITTER * rng.standard_normal((n, count)))
    times = rng.uniform(0.0, 1.0, size=(n, 1)) * period[:, None] + np.cumsum(gaps, axis=1) - gaps[:, :1]
    strength = (
        model.impulse_g
        * np.sqrt(cond.bearing)
        * (0.6 + 0.4 * cond.load)
        * np.minimum(1.5 * cond.shaft_hz * 60 / model.top_speed_rpm, 1.0)
    )
    amplitude = strength[:, None] * np.clip(1 + 0.25 * rng.standard_normal((n, count)), 0.0, None)
    index = np.round(times * rate_hz).astype(np.int64)
    valid = (index < m) & (amplitude > 0)
    flat = (np.arange(n)[:, None] * m + index)[valid]
    return np.bincount(flat, weights=amplitude[valid], minlength=n * m).reshape(n, m).astype(np.float64)


def _synthesize_chunk(
    model: VibrationModel, cond: BurstConditions, rate_hz: float, n_samples: int, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    n, m = len(cond), n_samples + PRE_ROLL
    response = resonance_response(model, rate_hz, m)  # (m // 2 + 1,)
    impulse_peak = float(np.abs(np.fft.irfft(response, n=m)).max())
    white_gain = float(np.sqrt(np.mean(np.abs(response) ** 2)))
    structural = STRUCTURAL_SHARE * model.noise_g / white_gain * (0.7 + 0.3 * cond.load)  # (n,)
    sensor = model.noise_g * (0.7 + 0.3 * cond.load + 3 * cond.bearing**3)  # (n,)
    # One white draw serves both noise sources: white noise through the sum of the two filters.
    spectrum = np.fft.rfft(rng.standard_normal((n, m)), axis=1)  # (n, m // 2 + 1)
    spectrum *= structural[:, None] * response[None, :] + sensor[:, None]
    faulty = np.flatnonzero(cond.bearing > 0)
    if faulty.size:
        impacts = _impacts(model, cond.take(faulty), rate_hz, m, rng) / impulse_peak  # (k, m)
        spectrum[faulty] += np.fft.rfft(impacts, axis=1) * response[None, :]
    vibration = np.fft.irfft(spectrum, n=m, axis=1)[:, PRE_ROLL:].astype(np.float32)  # (n, n_samples)
    t = (np.arange(n_samples, dtype=np.float64) / rate_hz).astype(np.float32)[None, :]  # (1, n_samples)
    ratio = cond.shaft_hz * 60 / model.top_speed_rpm
    v1, v2 = order_velocities(model, ratio, cond.imbalance, cond.misalignment)
    a1 = _velocity_to_accel_g(v1, cond.shaft_hz)
    a2 = _velocity_to_accel_g(v2, 2 * cond.shaft_hz)
    a3 = 0.3 * a2 * (1 + 2 * cond.misalignment)
    omega = (2 * np.pi * cond.shaft_hz).astype(np.float32)[:, None]  # (n, 1)
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 3)).astype(np.float32)
    for order, amplitude in enumerate((a1, a2, a3), start=1):
        vibration += amplitude.astype(np.float32)[:, None] * np.sin(order * omega * t + phase[:, order - 1 : order])
    return vibration


def synthesize_bursts(
    model: VibrationModel, conditions: BurstConditions, *, rate_hz: float, n_samples: int, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """Generate acceleration bursts in g.

    Args:
        model: The machine's drive-end vibration model.
        conditions: Machine state during each burst.
        rate_hz: Sampling rate.
        n_samples: Samples per burst.
        rng: The asset's waveform stream.

    Returns:
        ``(n_bursts, n_samples)`` float32 array.
    """
    out = np.empty((len(conditions), n_samples), dtype=np.float32)
    for begin in range(0, len(conditions), CHUNK_BURSTS):
        part = slice(begin, begin + CHUNK_BURSTS)
        out[part] = _synthesize_chunk(model, conditions.take(part), rate_hz, n_samples, rng)
    return out
