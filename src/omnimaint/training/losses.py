"""Losses: masked multi-task supervision with learned task weights, and the self-supervised objectives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.models.inputs import ModelOutputs
from omnimaint.training.data import LabelTensors

TASKS = ("failure", "rul", "fault", "health")


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    total = weights.sum()
    return (values * weights).sum() / total.clamp(min=1.0)


def task_losses(
    outputs: ModelOutputs, labels: LabelTensors, fault_weights: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Per-task losses, each averaged over the labels that are known (unknown labels cost nothing).

    - failure: binary cross-entropy on "any component" and on each component, every horizon;
    - rul: Huber loss on RUL as a fraction of the cap;
    - fault: cross-entropy over fault classes (optionally class-weighted; -1 = unknown);
    - health: cross-entropy over health states (-1 = unknown).
    """
    any_target = labels.failure_within.unsqueeze(-1)  # (B, H, 1)
    targets = torch.cat([any_target, labels.component_failure_within], dim=-1)  # (B, H, 1 + P)
    known = torch.cat([labels.failure_within_known.unsqueeze(-1), labels.component_failure_within_known], dim=-1)
    failure = _masked_mean(F.binary_cross_entropy_with_logits(outputs.failure_logits, targets, reduction="none"), known)
    rul = _masked_mean(F.huber_loss(outputs.rul, labels.rul_fraction, reduction="none", delta=0.5), labels.rul_known)
    zero = outputs.rul.sum() * 0.0  # keeps the graph connected when a batch has no known label of a kind
    fault = (
        F.cross_entropy(outputs.fault_logits, labels.fault_type, weight=fault_weights, ignore_index=-1)
        if (labels.fault_type >= 0).any()
        else zero
    )
    health = (
        F.cross_entropy(outputs.health_logits, labels.health_state, ignore_index=-1)
        if (labels.health_state >= 0).any()
        else zero
    )
    return {"failure": failure, "rul": rul, "fault": fault, "health": health}


class UncertaintyWeighting(nn.Module):
    """Learned task weighting (Kendall, Gal & Cipolla, 2018): sum of exp(-s)·L + s over tasks."""

    def __init__(self, tasks: tuple[str, ...] = TASKS) -> None:
        super().__init__()
        self.tasks = tasks
        self.log_variance = nn.Parameter(torch.zeros(len(tasks)))

    def forward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        total = torch.zeros((), device=self.log_variance.device)
        for i, task in enumerate(self.tasks):
            s = self.log_variance[i]
            total = total + torch.exp(-s) * losses[task] + s
        return total

    def weights(self) -> dict[str, float]:
        return {task: float(torch.exp(-s)) for task, s in zip(self.tasks, self.log_variance, strict=True)}


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) between paired rows of (N, D) L2-normalised ``a`` and ``b``."""
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def cross_modal_contrastive(
    pooled: list[torch.Tensor], present: torch.Tensor, temperature: torch.Tensor, min_pairs: int = 4
) -> torch.Tensor:
    """Mean InfoNCE over every pair of modalities, on the samples that have both.

    Args:
        pooled: Per modality, (B, D) L2-normalised embeddings.
        present: (B, M) which modalities each sample has.
        temperature: Softmax temperature.
        min_pairs: A pair of modalities shared by fewer samples is skipped (too few negatives).
    """
    terms = []
    for i in range(len(pooled)):
        for j in range(i + 1, len(pooled)):
            both = present[:, i] & present[:, j]
            if int(both.sum()) >= min_pairs:
                terms.append(info_nce(pooled[i][both], pooled[j][both], temperature))
    if not terms:
        return pooled[0].sum() * 0.0
    return torch.stack(terms).mean()
