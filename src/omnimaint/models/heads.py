"""Task heads on the fused state: failure within horizon (any and per component), remaining useful life,
fault type, health state, and an anomaly score."""

from __future__ import annotations

import torch
from torch import nn

from omnimaint.data.windows import HEALTH_STATES
from omnimaint.models.config import ModelConfig


class AnomalyHead(nn.Module):
    """Mahalanobis distance of the fused state from the healthy training windows.

    It has no trainable weights: :meth:`fit` sets the mean and (shrunk) precision from embeddings of
    windows labelled healthy after training, so it needs no failure labels and flags any departure
    from normal behaviour, including faults never seen before. Before fitting it returns the
    Euclidean norm of the state.
    """

    mean: torch.Tensor
    precision: torch.Tensor

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(d_model))
        self.register_buffer("precision", torch.eye(d_model))

    @torch.no_grad()
    def fit(self, embeddings: torch.Tensor, shrinkage: float = 0.1) -> None:
        """Fit on (N, D) embeddings of healthy windows (Ledoit-Wolf-style shrinkage towards the identity)."""
        mean = embeddings.mean(dim=0)
        centred = embeddings - mean
        covariance = centred.T @ centred / max(embeddings.shape[0] - 1, 1)
        scale = torch.diagonal(covariance).mean().clamp(min=1e-6)
        eye = torch.eye(covariance.shape[0], dtype=covariance.dtype, device=covariance.device)
        shrunk = (1 - shrinkage) * covariance + shrinkage * scale * eye
        self.mean.copy_(mean)
        self.precision.copy_(torch.linalg.inv(shrunk))

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        centred = fused - self.mean
        return torch.sqrt(((centred @ self.precision) * centred).sum(dim=-1).clamp(min=0.0))


class MultiTaskHeads(nn.Module):
    """All heads over a shared trunk.

    Outputs: failure logits (B, H, 1 + P) — index 0 is "any component"; RUL as a non-negative fraction
    of the RUL cap (B,); fault-type logits (B, F); health-state logits (B, 3); anomaly score (B,).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d = config.d_model
        self.readout_only: frozenset[str] = frozenset()
        """Heads (``failure``, ``rul``, ``fault``, ``health``) that read the shared layers without training them:
        their gradients stop at the trunk's output. Set by training (``optim.encoder_tasks``); no effect on
        what the model computes."""
        self.n_horizons = config.n_horizons
        self.n_targets = 1 + config.n_components
        self.trunk = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(), nn.Dropout(config.dropout))
        self.failure = nn.Linear(d, self.n_horizons * self.n_targets)
        self.rul = nn.Linear(d, 1)
        self.fault = nn.Linear(d, config.n_fault_classes)
        self.health = nn.Linear(d, len(HEALTH_STATES))
        self.anomaly = AnomalyHead(d)

    def forward(self, fused: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = self.trunk(fused)
        readout = h.detach() if self.readout_only else h

        def read(task: str) -> torch.Tensor:
            return readout if task in self.readout_only else h

        failure = self.failure(read("failure")).reshape(-1, self.n_horizons, self.n_targets)
        rul = nn.functional.softplus(self.rul(read("rul")).squeeze(-1))
        return failure, rul, self.fault(read("fault")), self.health(read("health")), self.anomaly(fused)
