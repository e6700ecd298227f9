"""Waveform encoder: short-time power spectrum and envelope spectrum of each burst, a CNN over frequency."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

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


class PresentStandardiser(nn.Module):
    """Each feature less its mean, over its deviation, as a batch normalisation without scale or shift whose
    statistics count only the rows present: in training those of the batch (the running ones updated), in
    evaluation the running ones, kept in the bundle. Absent rows (an absent burst's spectra) stay zeros.

    The running statistics can be taken again from other data (:func:`refitting_standardisers`): those of a
    machine's new operating condition, without labels (AdaBN, Li et al., 2016).
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self.sums: tuple[int, torch.Tensor, torch.Tensor] | None = None
        """While refitting: the present rows seen, their sum and their sum of squares (float64)."""

    def forward(self, x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """x: (N, features); present: (N,) bool → (N, features)."""
        if self.sums is not None:
            rows = x[present].detach().to(torch.float64)
            count, total, squares = self.sums
            self.sums = (count + len(rows), total + rows.sum(dim=0), squares + rows.square().sum(dim=0))
        mean, var = self.running_mean, self.running_var
        if self.training and bool(present.any()):
            rows = x[present]
            mean, var = rows.mean(dim=0), rows.var(dim=0, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach(), self.momentum)
        return (x - mean) / torch.sqrt(var + self.eps) * present.unsqueeze(-1).to(x.dtype)


@contextmanager
def refitting_standardisers(model: nn.Module) -> Iterator[None]:
    """Within the block, every :class:`PresentStandardiser` of ``model`` sums the present rows that pass through
    it (run the model in evaluation mode on the new data); on leaving, each takes their mean and variance as its
    running statistics. Nothing else of the model changes.

    Raises:
        ValueError: if ``model`` has no standardiser, or the block ran no present row through one.
    """
    standardisers = [m for m in model.modules() if isinstance(m, PresentStandardiser)]
    if not standardisers:
        raise ValueError("the model standardises no input to re-estimate (model.waveform.standardise is off)")
    for standardiser in standardisers:
        features = standardiser.running_mean.shape[0]
        standardiser.sums = (0, torch.zeros(features, dtype=torch.float64), torch.zeros(features, dtype=torch.float64))
    try:
        yield
        seen = [sums for sums in (standardiser.sums for standardiser in standardisers) if sums and sums[0] > 0]
        if len(seen) < len(standardisers):
            raise ValueError("no present input reached the model's standardisers: nothing to re-estimate from")
        with torch.no_grad():
            for standardiser, (count, total, squares) in zip(standardisers, seen, strict=True):
                mean = total / count
                standardiser.running_mean.copy_(mean)
                standardiser.running_var.copy_((squares / count - mean.square()).clamp(min=0))
    finally:
        for standardiser in standardisers:
            standardiser.sums = None


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
        self.relative = cfg.level == "relative"
        self.envelope = cfg.envelope
        in_channels = (2 if cfg.envelope else 1) * config.n_waveform_channels
        width = cfg.channels
        bins = self.spectrum.bins
        self.standardise = PresentStandardiser(in_channels * bins) if cfg.standardise else None
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
        present = x.waveform_mask.reshape(batch * slots * channels, 1).to(signal.dtype)
        spectra = self.spectrum(signal).unsqueeze(1)  # (B·K·Cw, 1, F)
        if self.envelope:
            envelope = (signal - signal.mean(dim=-1, keepdim=True)).abs()
            envelope = envelope - envelope.mean(dim=-1, keepdim=True)
            spectra = torch.cat([spectra, self.spectrum(envelope).unsqueeze(1)], dim=1)  # (B·K·Cw, 2, F)
        if self.relative:
            spectra = spectra - spectra.mean(dim=-1, keepdim=True)
        spectra = spectra * present.unsqueeze(-1)
        spectra = spectra.reshape(batch * slots, -1, self.spectrum.bins)  # (B·K, 2·Cw or Cw, F)
        if self.standardise is not None:  # a slot's spectra are present when any channel of it is
            spectra = self.standardise(spectra.flatten(1), x.waveform_mask.reshape(batch * slots, channels).any(-1))
            spectra = spectra.reshape(batch * slots, -1, self.spectrum.bins)
        features = self.cnn(spectra).flatten(1)
        tokens = self.project(features).reshape(batch, slots, -1) + self.age(x.waveform_age)
        valid = x.waveform_mask.any(dim=-1) & mask.unsqueeze(-1)
        return self.norm(tokens), valid
