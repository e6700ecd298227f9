"""Losses: masked multi-task supervision with learned task weights, and the self-supervised objectives."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from omnimaint.models.inputs import ModelOutputs
from omnimaint.training.data import LabelTensors

TASKS = ("failure", "rul", "fault", "health")


CountReducer = Callable[[torch.Tensor], torch.Tensor]
"""Turns a local count of known labels into the normaliser of the local sum (see :func:`global_count`)."""


def local_count(count: torch.Tensor) -> torch.Tensor:
    """Single process: a loss is the local sum over the local count."""
    return count


def global_count(count: torch.Tensor) -> torch.Tensor:
    """Data parallel: the count over all processes divided by their number.

    Data parallelism averages gradients over processes, so dividing each local sum by
    ``global count / world size`` makes the averaged gradient that of the global masked mean — what one
    process would compute on the whole global batch.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return count
    total = count.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def _masked_mean(values: torch.Tensor, weights: torch.Tensor, reduce: CountReducer) -> torch.Tensor:
    return (values * weights).sum() / reduce(weights.sum()).clamp(min=1e-6)


def task_losses(
    outputs: ModelOutputs,
    labels: LabelTensors,
    fault_weights: torch.Tensor | None = None,
    reduce: CountReducer = local_count,
    positive_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """Per-task losses, each averaged over the labels that are known (unknown labels cost nothing).

    - failure: binary cross-entropy on "any component" and on each component, every horizon;
    - rul: Huber loss on RUL as a fraction of the cap;
    - fault: cross-entropy over fault classes (optionally class-weighted; -1 = unknown);
    - health: cross-entropy over health states (-1 = unknown).

    Args:
        outputs: Model outputs.
        labels: Labels with their known masks.
        fault_weights: Class weights of the fault-type loss.
        reduce: How the count of known labels is taken (:func:`global_count` under data parallelism).
        positive_weight: Weight of a failing window against a healthy one in the failure loss (above 1 when
            failures are rare).
    """
    any_target = labels.failure_within.unsqueeze(-1)  # (B, H, 1)
    targets = torch.cat([any_target, labels.component_failure_within], dim=-1)  # (B, H, 1 + P)
    known = torch.cat([labels.failure_within_known.unsqueeze(-1), labels.component_failure_within_known], dim=-1)
    bce = F.binary_cross_entropy_with_logits(
        outputs.failure_logits, targets, reduction="none", pos_weight=torch.tensor(positive_weight)
    )
    huber = F.huber_loss(outputs.rul, labels.rul_fraction, reduction="none", delta=0.5)
    fault_known = labels.fault_type >= 0
    fault_target = labels.fault_type.clamp(min=0)
    fault = F.cross_entropy(outputs.fault_logits, fault_target, reduction="none")
    fault_weight = fault_known.to(fault.dtype)  # a class-weighted mean, as cross_entropy(weight=...) computes
    if fault_weights is not None:
        fault_weight = fault_weight * fault_weights[fault_target]
    health_known = labels.health_state >= 0
    health = F.cross_entropy(outputs.health_logits, labels.health_state.clamp(min=0), reduction="none")
    return {
        "failure": _masked_mean(bce, known, reduce),
        "rul": _masked_mean(huber, labels.rul_known, reduce),
        "fault": _masked_mean(fault, fault_weight, reduce),
        "health": _masked_mean(health, health_known.to(health.dtype), reduce),
    }


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


def info_nce(
    a: torch.Tensor, b: torch.Tensor, temperature: torch.Tensor, groups: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) between paired rows of (N, D) L2-normalised ``a`` and ``b``.

    With ``groups`` (N,), a row's negatives are only the rows of its own group, and rows alone in their
    group (nothing to tell apart) are left out.
    """
    logits = a @ b.T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    if groups is None:
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    same = groups[:, None] == groups[None, :]
    rows = same.sum(dim=1) > 1
    if not rows.any():
        return logits.sum() * 0.0
    logits = logits.masked_fill(~same, float("-inf"))
    return 0.5 * (F.cross_entropy(logits[rows], target[rows]) + F.cross_entropy(logits.T[rows], target[rows]))


def cross_modal_contrastive(
    pooled: list[torch.Tensor],
    present: torch.Tensor,
    temperature: torch.Tensor,
    min_pairs: int = 4,
    groups: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean InfoNCE over every pair of modalities, on the samples that have both.

    Args:
        pooled: Per modality, (B, D) L2-normalised embeddings.
        present: (B, M) which modalities each sample has.
        temperature: Softmax temperature.
        min_pairs: A pair of modalities shared by fewer samples is skipped (too few negatives).
        groups: (B,) if given, negatives come only from a sample's own group (see :func:`info_nce`).
    """
    terms = []
    for i in range(len(pooled)):
        for j in range(i + 1, len(pooled)):
            both = present[:, i] & present[:, j]
            if int(both.sum()) >= min_pairs:
                group = groups[both] if groups is not None else None
                terms.append(info_nce(pooled[i][both], pooled[j][both], temperature, group))
    if not terms:
        return pooled[0].sum() * 0.0
    return torch.stack(terms).mean()
