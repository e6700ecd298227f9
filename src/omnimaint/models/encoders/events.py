"""Event-log encoder: code, severity, time since, and message text of each event, then self-attention."""

from __future__ import annotations

import torch
from torch import nn

from omnimaint.data.schema import SEVERITIES
from omnimaint.models.blocks import AgeEncoding, TransformerBlock
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.registry import create_text, register_encoder


@register_encoder("events", "code_time_text")
class EventEncoder(nn.Module):
    """One token per event: embedding(code) + embedding(severity) + age encoding + text vector."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.code = nn.Embedding(config.n_event_codes, d, padding_idx=0)
        self.severity = nn.Embedding(len(SEVERITIES) + 1, d, padding_idx=0)
        self.age = AgeEncoding(d)
        self.text = create_text(config.text.name, config)
        self.block = TransformerBlock(d, config.heads, config.dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, E, D) and token_mask (B, E)."""
        assert x.event_codes is not None and x.event_severity is not None and x.event_age is not None
        assert x.event_text is not None and x.event_text_mask is not None and x.event_mask is not None
        tokens = (
            self.code(x.event_codes)
            + self.severity(x.event_severity)
            + self.age(x.event_age)
            + self.text(x.event_text, x.event_text_mask)
        )
        valid = x.event_mask & mask.unsqueeze(-1)
        return self.norm(self.block(tokens, valid)), valid
