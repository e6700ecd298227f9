"""Attention building blocks shared by encoders and fusion, written to export cleanly to ONNX."""

from __future__ import annotations

import torch
from torch import nn


def safe_padding_mask(valid: torch.Tensor) -> torch.Tensor:
    """Key-padding mask (True = ignore) that never hides every key of a row.

    A row with no valid token would make softmax divide by zero (NaN); its first key is then left
    visible. Such rows carry ``token_mask`` False downstream, so what they compute is ignored.

    Args:
        valid: (B, T) bool, True where a token holds data.
    """
    none_valid = ~valid.any(dim=-1, keepdim=True)
    first = torch.zeros_like(valid)
    first[:, :1] = True
    return ~(valid | (none_valid & first))


def masked_mean(tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of (B, T, D) tokens over valid positions; zeros for rows with none."""
    weights = valid.to(tokens.dtype).unsqueeze(-1)  # (B, T, 1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class FeedForward(nn.Module):
    def __init__(self, d_model: int, dropout: float, expansion: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d_model),
            nn.Linear(d_model, expansion * d_model),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(expansion * d_model, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm self-attention block with a key-padding mask."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.feed_forward = FeedForward(d_model, dropout)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x: (B, T, D); valid: (B, T) bool."""
        h = self.norm(x)
        attended, _ = self.attention(h, h, h, key_padding_mask=safe_padding_mask(valid), need_weights=False)
        x = x + attended
        return x + self.feed_forward(x)


class CrossAttentionBlock(nn.Module):
    """Queries from one token set attend to another (MulT's crossmodal attention), pre-norm."""

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_query = nn.LayerNorm(d_model)
        self.norm_memory = nn.LayerNorm(d_model)
        self.attention = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.feed_forward = FeedForward(d_model, dropout)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, memory_valid: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query: (B, Tq, D); memory: (B, Tm, D); memory_valid: (B, Tm). Returns tokens and (B, Tq, Tm) weights."""
        attended, weights = self.attention(
            self.norm_query(query),
            self.norm_memory(memory),
            self.norm_memory(memory),
            key_padding_mask=safe_padding_mask(memory_valid),
            need_weights=True,
            average_attn_weights=True,
        )
        x = query + attended
        return x + self.feed_forward(x), weights


class AgeEncoding(nn.Module):
    """Embeds how long ago something happened (hours, on a log scale) as a D-vector."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(1, d_model), nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, hours: torch.Tensor) -> torch.Tensor:
        """hours: (...) → (..., D)."""
        return self.net(torch.log1p(hours.clamp(min=0.0)).unsqueeze(-1))
