"""Waveform bursts at another gain and another running speed, drawn at random per burst for training.

A machine under another load runs a few per cent slower and its vibration is louder or quieter: bearing
defect frequencies and shaft harmonics move with the speed, every amplitude with the load and the sensor's
mounting. Showing the model each training burst at a random gain and a random speed
(``optim.waveform_gain_db``, ``optim.waveform_speed``) teaches it that neither is the fault (Zhang et al.,
Sensors 2017, train on one load and test on others the same way).

A speed factor ``r`` reads the burst at ``c + (t - c) r`` around its middle ``c`` (linear interpolation):
``r < 1`` stretches it (lower frequencies, a slower machine), ``r > 1`` compresses it; reads beyond an end
are reflected back into the burst, which keeps the power spectrum of a stationary signal.
"""

from __future__ import annotations

import torch


def random_waveform_views(
    waveforms: torch.Tensor, gain_db: float, speed: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Each burst of ``waveforms`` ``(B, K, C, S)`` at a gain drawn uniformly within ±``gain_db`` dB and a speed
    factor within ``1 ± speed`` (every channel of a burst alike); from ``generator``, or torch's global one.
    Absent bursts (zeros) stay zeros."""
    batch, slots, channels, samples = waveforms.shape
    bursts = waveforms.reshape(batch * slots, channels, samples)
    n = bursts.shape[0]
    gains = 10 ** ((torch.rand(n, generator=generator) * 2 - 1) * gain_db / 20)
    rates = 1 + (torch.rand(n, generator=generator) * 2 - 1) * speed
    middle = (samples - 1) / 2
    positions = (torch.arange(samples, dtype=torch.float32)[None, :] - middle) * rates[:, None] + middle  # (n, S)
    last = samples - 1
    positions = last - (last - positions.abs()).abs()  # reflected into [0, last]
    low = positions.floor().clamp(0, last - 1)
    weight = (positions - low).to(waveforms.dtype).to(waveforms.device)[:, None, :]
    low_index = low.long().to(waveforms.device)[:, None, :].expand(n, channels, samples)
    read = torch.gather(bursts, 2, low_index) * (1 - weight) + torch.gather(bursts, 2, low_index + 1) * weight
    return (read * gains.to(waveforms.device)[:, None, None]).reshape(batch, slots, channels, samples)
