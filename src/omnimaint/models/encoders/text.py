"""Text pathways: turn one text per slot (event message, work order) into a D-dim vector.

- ``pretrained``: the input is a sentence embedding from a frozen ``transformers`` model, computed
  once per distinct text by the preprocessor and cached; here it is only projected.
- ``domain``: the input is token ids from a tokenizer trained on the dataset's own text; a small
  transformer trained with the model turns them into a vector (for Chinese and plant jargon).
"""

from __future__ import annotations

import torch
from torch import nn

from omnimaint.models.blocks import TransformerBlock, masked_mean
from omnimaint.models.config import ModelConfig
from omnimaint.models.registry import register_text


@register_text("pretrained")
class PretrainedTextProjection(nn.Module):
    """(B, N, E) cached sentence embeddings → (B, N, D)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(config.text.embedding_dim, config.d_model), nn.LayerNorm(config.d_model))

    def forward(self, text: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """text: (B, N, E) float; present: (B, N) bool → (B, N, D), zero where no text."""
        return self.project(text) * present.unsqueeze(-1).to(text.dtype)


@register_text("domain")
class DomainTextEncoder(nn.Module):
    """(B, N, T) token ids (0 = padding) → (B, N, D) by embedding, self-attention and masked mean."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.embed = nn.Embedding(config.text.vocab_size, d, padding_idx=0)
        self.position = nn.Parameter(torch.randn(1, config.text.max_tokens, d) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, config.heads, config.dropout) for _ in range(config.text.layers)
        )
        self.norm = nn.LayerNorm(d)

    def forward(self, text: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        batch, slots, length = text.shape
        ids = text.reshape(batch * slots, length).long()
        valid = ids > 0  # (B·N, T)
        tokens = self.embed(ids) + self.position[:, :length]
        for block in self.blocks:
            tokens = block(tokens, valid)
        pooled = masked_mean(self.norm(tokens), valid).reshape(batch, slots, -1)
        return pooled * present.unsqueeze(-1).to(pooled.dtype)
