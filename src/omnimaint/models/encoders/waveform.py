"""Waveform encoder: short-time power spectrum and envelope spectrum of each burst, a CNN over frequency."""

from __future__ import annotations

import math

import torch
from torch import nn

from omnimaint.models.blocks import AgeEncoding
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.registry import register_encoder


class LogSpectrum(nn.Module):
    """Average log power spectrum of a signal, as a strided convolution with a windowed DFT basis.

    A convolution (not ``torch.stft``) keeps the graph plain for ONNX and is fast on CPU.
    Output: (N, n_fft // 2 + 1) log power per frequency bin.
    """

    basis: torch.Tensor

    def __init__(self, n_fft: int) -> None:
        super().__init__()
        self.hop = n_fft // 2
        bins = n_fft // 2 + 1
        t = torch.arange(n_fft, dtype=torch.float64)
        k = torch.arange(bins, dtype=torch.float64)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        angle = 2 * math.pi * k[:, None] * t[None, :] / n_fft  # (F, n_fft)
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=0) * window / window.sum()
        self.register_buffer("basis", basis.to(torch.float32).unsqueeze(1), persistent=False)  # (2F, 1, n_fft)
        self.bins = bins

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """signal: (N, S) → (N, F)."""
        frames = nn.functional.conv1d(signal.unsqueeze(1), self.basis, stride=self.hop)  # (N, 2F, frames)
        real, imag = frames[:, : self.bins], frames[:, self.bins :]
        power = (real * real + imag * imag).mean(dim=-1)
        return torch.log(power + 1e-10)


@register_encoder("waveforms", "spectral_cnn")
class SpectralCNN(nn.Module):
    """One token per burst slot from its spectrum and envelope spectrum.

    The envelope (rectified, de-meaned signal) spectrum shows bearing defect frequencies, the power
    spectrum shows shaft harmonics (imbalance 1x, misalignment 2x) and resonance bands.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        cfg = config.waveform
        self.spectrum = LogSpectrum(cfg.n_fft)
        in_channels = 2 * config.n_waveform_channels
        width = cfg.channels
        self.cnn = nn.Sequential(
            nn.Conv1d(in_channels, width, kernel_size=7, stride=2, padding=3),
            nn.GroupNorm(4, width),
            nn.GELU(),
            nn.Conv1d(width, width, kernel_size=5, stride=2, padding=2),
            nn.GroupNorm(4, width),
            nn.GELU(),
            nn.Conv1d(width, width, kernel_size=5, stride=2, padding=2),
            nn.GELU(),
        )
        # The spectrum length is fixed by n_fft, so the CNN output length is too: flatten it into the
        # projection (a static shape that exports to ONNX; adaptive pooling does not).
        with torch.no_grad():
            out_length = self.cnn(torch.zeros(1, in_channels, self.spectrum.bins)).shape[-1]
        self.project = nn.Linear(out_length * width, config.d_model)
        self.age = AgeEncoding(config.d_model)
        self.norm = nn.LayerNorm(config.d_model)

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, K, D) and token_mask (B, K)."""
        assert x.waveforms is not None and x.waveform_mask is not None and x.waveform_age is not None
        batch, slots, channels, samples = x.waveforms.shape
        signal = x.waveforms.reshape(batch * slots * channels, samples)
        envelope = (signal - signal.mean(dim=-1, keepdim=True)).abs()
        envelope = envelope - envelope.mean(dim=-1, keepdim=True)
        present = x.waveform_mask.reshape(batch * slots * channels, 1).to(signal.dtype)
        spectra = torch.stack([self.spectrum(signal), self.spectrum(envelope)], dim=1) * present.unsqueeze(-1)
        spectra = spectra.reshape(batch * slots, 2 * channels, -1)  # (B·K, 2·Cw, F)
        features = self.cnn(spectra).flatten(1)
        tokens = self.project(features).reshape(batch, slots, -1) + self.age(x.waveform_age)
        valid = x.waveform_mask.any(dim=-1) & mask.unsqueeze(-1)
        return self.norm(tokens), valid
