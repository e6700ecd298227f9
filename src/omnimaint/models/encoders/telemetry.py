"""Telemetry encoder: patches of the regular grid, embedded with their observation mask, then a transformer."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.models.blocks import TransformerBlock
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.registry import register_encoder


@register_encoder("telemetry", "patch_transformer")
class TelemetryPatchTransformer(nn.Module):
    """Cuts (B, L, C) telemetry into patches of ``patch`` steps, one token per patch.

    The mask is an input feature (a patch with a dead sensor looks different from a patch of zeros),
    and a patch with no observed value is a masked token. The window is left-padded to a whole number
    of patches, so the newest step always ends the last token.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.patch = config.telemetry.patch
        self.channels = config.n_telemetry_channels
        self.n_tokens = math.ceil(config.telemetry_steps / self.patch)
        self.pad = self.n_tokens * self.patch - config.telemetry_steps
        d = config.d_model
        self.embed = nn.Linear(2 * self.channels * self.patch, d)
        self.position = nn.Parameter(torch.randn(1, self.n_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, config.heads, config.dropout) for _ in range(config.telemetry.layers)
        )
        self.norm = nn.LayerNorm(d)

    def patches(self, x: ModelInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, P·C) masked values and (B, T, P·C) mask, left-padded to whole patches."""
        assert x.telemetry is not None and x.telemetry_mask is not None
        mask = x.telemetry_mask.to(x.telemetry.dtype)  # (B, L, C)
        values = x.telemetry * mask
        if self.pad:
            values = F.pad(values, (0, 0, self.pad, 0))
            mask = F.pad(mask, (0, 0, self.pad, 0))
        batch = values.shape[0]
        return (
            values.reshape(batch, self.n_tokens, self.patch * self.channels),
            mask.reshape(batch, self.n_tokens, self.patch * self.channels),
        )

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, T, D) and token_mask (B, T); ``mask`` (B,) hides the whole modality."""
        values, observed = self.patches(x)
        tokens = self.embed(torch.cat([values, observed], dim=-1)) + self.position  # (B, T, D)
        valid = (observed.sum(dim=-1) > 0) & mask.unsqueeze(-1)
        for block in self.blocks:
            tokens = block(tokens, valid)
        return self.norm(tokens), valid
