"""Fusion of modality tokens into one state per sample.

``cross_attention`` follows MulT (Tsai et al., 2019): in each layer every modality's tokens query the
tokens of all the other modalities (plus a learned null token, so a sample with one modality still
attends somewhere), then each modality is pooled over its valid tokens and the pooled vectors are
combined by attention over the modalities present. ``late`` pools each modality and averages the
present ones: the baseline the cross-modal model must beat.

Both return the fused state (B, D), the per-modality weights (B, M) used as evidence, and the pooled
modality vectors (B, M, D) used by contrastive pretraining.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from omnimaint.models.blocks import CrossAttentionBlock, masked_mean
from omnimaint.models.config import ModelConfig
from omnimaint.models.registry import register_fusion


@dataclass
class FusionOutput:
    """fused (B, D); weights (B, M) over modalities; pooled (B, M, D); present (B, M) bool."""

    fused: torch.Tensor
    weights: torch.Tensor
    pooled: torch.Tensor
    present: torch.Tensor


class _ModalityPooling(nn.Module):
    """Attention over modalities: weights from each pooled vector, absent modalities excluded."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, 1))

    def forward(self, pooled: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.score(pooled).squeeze(-1).masked_fill(~present, -1e4)  # (B, M)
        weights = torch.softmax(scores, dim=-1) * present.to(pooled.dtype)
        weights = weights / weights.sum(dim=-1, keepdim=True).clamp(min=1e-6)
        return (weights.unsqueeze(-1) * pooled).sum(dim=1), weights


@register_fusion("cross_attention")
class CrossModalFusion(nn.Module):
    """MulT-style cross-modal attention over a list of (tokens, token_mask), one per modality."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        n = len(config.modalities)
        self.modality = nn.Parameter(torch.randn(1, n, 1, d) * 0.02)  # which modality a token came from
        self.null = nn.Parameter(torch.zeros(1, 1, d))
        self.layers = nn.ModuleList(
            nn.ModuleList(CrossAttentionBlock(d, config.heads, config.dropout) for _ in range(n))
            for _ in range(config.fusion.layers)
        )
        self.pool = _ModalityPooling(d)

    def forward(self, tokens: list[torch.Tensor], valid: list[torch.Tensor]) -> FusionOutput:
        n = len(tokens)
        batch = tokens[0].shape[0]
        tokens = [t + self.modality[:, i] for i, t in enumerate(tokens)]
        null = self.null.expand(batch, -1, -1)
        null_valid = torch.ones(batch, 1, dtype=torch.bool, device=tokens[0].device)
        for layer in self.layers:
            assert isinstance(layer, nn.ModuleList)
            updated = []
            for i in range(n):
                others = [j for j in range(n) if j != i]
                memory = torch.cat([null] + [tokens[j] for j in others], dim=1)
                memory_valid = torch.cat([null_valid] + [valid[j] for j in others], dim=1)
                out, _ = layer[i](tokens[i], memory, memory_valid)
                updated.append(out)
            tokens = updated
        pooled = torch.stack([masked_mean(t, v) for t, v in zip(tokens, valid, strict=True)], dim=1)
        present = torch.stack([v.any(dim=-1) for v in valid], dim=1)
        fused, weights = self.pool(pooled, present)
        return FusionOutput(fused=fused, weights=weights, pooled=pooled, present=present)


@register_fusion("late")
class LateFusion(nn.Module):
    """Pool each modality on its own, then attention-average the present ones (no cross-modal attention)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.pool = _ModalityPooling(config.d_model)

    def forward(self, tokens: list[torch.Tensor], valid: list[torch.Tensor]) -> FusionOutput:
        pooled = torch.stack([masked_mean(t, v) for t, v in zip(tokens, valid, strict=True)], dim=1)
        present = torch.stack([v.any(dim=-1) for v in valid], dim=1)
        fused, weights = self.pool(pooled, present)
        return FusionOutput(fused=fused, weights=weights, pooled=pooled, present=present)
