"""Work-order encoder: recent orders as text tokens, plus one token of time since each component's maintenance."""

from __future__ import annotations

import torch
from torch import nn

from omnimaint.data.schema import MAINTENANCE_KINDS
from omnimaint.models.blocks import AgeEncoding, TransformerBlock
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.registry import create_text, register_encoder


@register_encoder("maintenance", "work_orders")
class WorkOrderEncoder(nn.Module):
    """Tokens: one per recent work order (text + component + kind + age) and one maintenance-history token.

    The history token carries log time since each component's last work order: overdue preventive
    maintenance raises the hazard, and that is information no sensor has.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.component = nn.Embedding(config.n_components + 1, d, padding_idx=0)
        self.kind = nn.Embedding(len(MAINTENANCE_KINDS) + 1, d, padding_idx=0)
        self.age = AgeEncoding(d)
        self.text = create_text(config.text.name, config)
        self.history = nn.Sequential(nn.Linear(2 * max(config.n_components, 1), d), nn.GELU(), nn.Linear(d, d))
        self.block = TransformerBlock(d, config.heads, config.dropout)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, M + 1, D) and token_mask (B, M + 1)."""
        assert x.maintenance_text is not None and x.maintenance_text_mask is not None
        assert x.maintenance_component is not None and x.maintenance_kind is not None
        assert x.maintenance_age is not None and x.maintenance_mask is not None
        assert x.since_maintenance is not None and x.since_maintenance_known is not None
        orders = (
            self.text(x.maintenance_text, x.maintenance_text_mask)
            + self.component(x.maintenance_component)
            + self.kind(x.maintenance_kind)
            + self.age(x.maintenance_age)
        )  # (B, M, D)
        known = x.since_maintenance_known.to(orders.dtype)
        days = torch.log1p(x.since_maintenance.clamp(min=0.0) / 24.0) * known
        history = self.history(torch.cat([days, known], dim=-1)).unsqueeze(1)  # (B, 1, D)
        tokens = torch.cat([orders, history], dim=1)
        valid = torch.cat([x.maintenance_mask, x.since_maintenance_known.any(dim=-1, keepdim=True)], dim=1)
        valid = valid & mask.unsqueeze(-1)
        return self.norm(self.block(tokens, valid)), valid
