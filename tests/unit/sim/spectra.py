"""Signal analysis the simulator tests use to check the physics: spectra and envelope spectra.

Every function works along the last axis, so a whole ``(n_bursts, n_samples)`` array is analysed at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import butter, hilbert, sosfiltfilt

FloatArray = npt.NDArray[np.float64]


def amplitude_spectrum(x: npt.ArrayLike, rate_hz: float) -> tuple[FloatArray, FloatArray]:
    """Single-sided amplitude spectrum with a Hann window: (frequencies, amplitudes per row)."""
    signal = np.asarray(x, dtype=np.float64)
    window = np.hanning(signal.shape[-1])
    centred = signal - signal.mean(axis=-1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(centred * window, axis=-1)) * 2 / window.sum()
    return np.fft.rfftfreq(signal.shape[-1], 1 / rate_hz), spectrum


def envelope_spectrum(x: npt.ArrayLike, rate_hz: float, band: tuple[float, float]) -> tuple[FloatArray, FloatArray]:
    """Spectrum of the Hilbert envelope of ``x`` band-passed to ``band`` (classic bearing diagnostics)."""
    sos = butter(4, band, btype="bandpass", fs=rate_hz, output="sos")
    envelope = np.abs(hilbert(sosfiltfilt(sos, np.asarray(x, dtype=np.float64), axis=-1), axis=-1))
    return amplitude_spectrum(envelope, rate_hz)


def amplitude_at(
    freqs: FloatArray, amplitudes: FloatArray, target_hz: npt.ArrayLike, tolerance_hz: float
) -> FloatArray:
    """Per row, the largest amplitude within ``tolerance_hz`` of that row's target frequency."""
    target = np.broadcast_to(np.asarray(target_hz, dtype=np.float64), amplitudes.shape[:-1])
    near = np.abs(freqs[None, :] - target.reshape(-1, 1)) <= tolerance_hz
    rows = amplitudes.reshape(-1, freqs.size)
    return np.where(near, rows, 0.0).max(axis=1).reshape(amplitudes.shape[:-1])


def peak_ratio(
    freqs: FloatArray, amplitudes: FloatArray, target_hz: npt.ArrayLike, tolerance_hz: float = 3.0
) -> FloatArray:
    """Per row, the amplitude near the target relative to the row's median over 5-1000 Hz."""
    floor = np.median(amplitudes[..., (freqs > 5) & (freqs < 1000)], axis=-1)
    return amplitude_at(freqs, amplitudes, target_hz, tolerance_hz) / floor
