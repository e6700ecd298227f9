"""Telemetry encoders over the regular grid, one token per patch of ``patch`` steps.

- ``patch_transformer``: each patch's values and observation mask embedded linearly, then a transformer.
- ``temporal_conv``: residual dilated causal convolutions over every step (a TCN, Bai, Kolter & Koltun
  2018), averaged within each patch, then optional transformer layers. Convolutions see slopes and
  short shapes inside a patch that a linear patch embedding must learn per position.

Both share the patching (:class:`PatchedTelemetry`), so masked-patch reconstruction pretrains either.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.models.blocks import TransformerBlock
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.registry import register_encoder


class PatchedTelemetry(nn.Module):
    """Cuts (B, L, C) telemetry into patches of ``patch`` steps and encodes one token per patch.

    The mask is an input feature (a patch with a dead sensor looks different from a patch of zeros),
    and a patch with no observed value is a masked token. The window is left-padded to a whole number
    of patches, so the newest step always ends the last token. Subclasses build their embedding in
    :meth:`build_embedding` (called before the position and transformer weights are drawn, so that a seed
    gives the same weights as before the encoders shared this class) and implement :meth:`embed_patches`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.patch = config.telemetry.patch
        self.channels = config.n_telemetry_channels
        self.n_tokens = math.ceil(config.telemetry_steps / self.patch)
        self.pad = self.n_tokens * self.patch - config.telemetry_steps
        self.build_embedding(config)
        d = config.d_model
        self.position = nn.Parameter(torch.randn(1, self.n_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, config.heads, config.dropout) for _ in range(config.telemetry.layers)
        )
        self.norm = nn.LayerNorm(d)

    def patches(self, x: ModelInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, P·C) masked values and (B, T, P·C) mask, left-padded to whole patches."""
        assert x.telemetry is not None and x.telemetry_mask is not None
        mask = x.telemetry_mask.to(x.telemetry.dtype)  # (B, L, C)
        return self.to_patches(x.telemetry * mask), self.to_patches(mask)

    def to_patches(self, steps: torch.Tensor) -> torch.Tensor:
        """(B, L, C) per-step values as (B, T, P·C) patches, left-padded with zeros to whole patches."""
        if self.pad:
            steps = F.pad(steps, (0, 0, self.pad, 0))
        return steps.reshape(steps.shape[0], self.n_tokens, self.patch * self.channels)

    def build_embedding(self, config: ModelConfig) -> None:
        """Create the modules of :meth:`embed_patches`."""
        raise NotImplementedError

    def embed_patches(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """(B, T, D) token embeddings of (B, T, P·C) patch values and observation masks."""
        raise NotImplementedError

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, T, D) and token_mask (B, T); ``mask`` (B,) hides the whole modality."""
        values, observed = self.patches(x)
        tokens = self.embed_patches(values, observed) + self.position  # (B, T, D)
        valid = (observed.sum(dim=-1) > 0) & mask.unsqueeze(-1)
        for block in self.blocks:
            tokens = block(tokens, valid)
        return self.norm(tokens), valid


@register_encoder("telemetry", "patch_transformer")
class TelemetryPatchTransformer(PatchedTelemetry):
    """Linear embedding of each patch, then ``layers`` transformer layers."""

    def build_embedding(self, config: ModelConfig) -> None:
        self.embed = nn.Linear(2 * self.channels * self.patch, config.d_model)

    def embed_patches(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        return self.embed(torch.cat([values, observed], dim=-1))


class CausalConvBlock(nn.Module):
    """Pre-norm residual block: dilated causal convolution over time, GELU, dropout, pointwise mix."""

    def __init__(self, d_model: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.left = (kernel - 1) * dilation
        self.conv = nn.Conv1d(d_model, d_model, kernel, dilation=dilation)
        self.mix = nn.Conv1d(d_model, d_model, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, D, L) → (B, D, L); step ``t`` sees steps up to ``t`` only."""
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        h = self.mix(F.gelu(self.conv(F.pad(h, (self.left, 0)))))
        return x + self.dropout(h)


@register_encoder("telemetry", "temporal_conv")
class TelemetryTemporalConv(PatchedTelemetry):
    """``conv_layers`` dilated causal convolutions (dilations 1, 2, 4 ...) over the steps, mean per patch,
    then ``layers`` transformer layers (0 leaves the convolutions alone)."""

    def build_embedding(self, config: ModelConfig) -> None:
        d, settings = config.d_model, config.telemetry
        self.stem = nn.Conv1d(2 * self.channels, d, 1)
        self.convs = nn.Sequential(
            *(CausalConvBlock(d, settings.kernel, 2**i, config.dropout) for i in range(settings.conv_layers))
        )

    def embed_patches(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        batch, tokens = values.shape[:2]
        steps = torch.cat(
            [
                values.reshape(batch, tokens * self.patch, self.channels),
                observed.reshape(batch, tokens * self.patch, self.channels),
            ],
            dim=-1,
        )  # (B, T·P, 2C), oldest step first
        hidden = self.convs(self.stem(steps.transpose(1, 2)))  # (B, D, T·P)
        return hidden.reshape(batch, -1, tokens, self.patch).mean(dim=-1).transpose(1, 2)  # (B, T, D)
