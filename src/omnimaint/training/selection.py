"""Checkpoint selection on what a maintenance engineer asks of the model, not on the training loss.

The summed validation loss mixes four tasks whose scales differ and rewards confident "healthy"
predictions on the many windows far from any failure. :class:`EarlyWarningScore` scores a validation
epoch the way `omnimaint evaluate` does (docs/model.md): failure-within-horizon AUROC averaged over horizons,
and the diagnosis macro-F1 — on windows that precede a failure, the likeliest fault other than ``none``
against the fault that came. The score is the mean of the two (either alone when the other cannot be
computed), in [0, 1], higher is better.
"""

from __future__ import annotations

import numpy as np
import torch.distributed as dist

from omnimaint.data.windows import Labels
from omnimaint.errors import ConfigError
from omnimaint.evaluation.model_eval import diagnosis_f1, safe_auroc
from omnimaint.models.inputs import ModelOutputs
from omnimaint.training.data import LabelTensors

SCORE_NAME = "val_score"


def failure_auroc(truth: np.ndarray, known: np.ndarray, score: np.ndarray) -> float | None:
    """Mean over horizons of the AUROC of ``score`` (N, H) on known windows; ``None`` when no horizon
    has both classes."""
    per_horizon = [safe_auroc(truth[known[:, h] > 0, h] > 0, score[known[:, h] > 0, h]) for h in range(truth.shape[1])]
    values = [value for value in per_horizon if value is not None]
    return float(np.mean(values)) if values else None


def check_scorable(labels: Labels) -> None:
    """Raise :class:`ConfigError` when validation windows cannot give an early-warning score."""
    # Any score gives an AUROC exactly when a horizon holds both classes; a constant one will do.
    constant = np.zeros_like(labels.failure_within)
    if (
        failure_auroc(labels.failure_within, labels.failure_within_known, constant) is None
        and not (labels.fault_type > 0).any()
    ):
        raise ConfigError(
            "optim.select_on=score needs validation windows both before and far from a failure; this "
            "validation split has none before a failure (use select_on=loss, or more validation assets)"
        )


class EarlyWarningScore:
    """Accumulates one validation epoch (on every data-parallel rank) and scores it."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def reset(self) -> None:
        self._parts = []

    def update(self, outputs: ModelOutputs, labels: LabelTensors) -> None:
        """Keep a batch's failure scores, likeliest faults and labels (batches with neither a known
        failure label nor a window before a failure, as in the RUL-only protocols, are skipped)."""
        if not (labels.failure_within_known.any() or (labels.fault_type > 0).any()):
            return
        fault_logits = outputs.fault_logits.detach()
        self._parts.append(
            {
                # Logits rank windows as probabilities do: AUROC needs no sigmoid.
                "score": outputs.failure_logits[:, :, 0].detach().float().cpu().numpy(),
                "truth": labels.failure_within.cpu().numpy(),
                "known": labels.failure_within_known.cpu().numpy(),
                "fault_type": labels.fault_type.cpu().numpy(),
                "likely_fault": (1 + fault_logits[:, 1:].argmax(dim=1)).cpu().numpy(),
            }
        )

    def compute(self) -> float:
        """The epoch's score over all ranks (the same value on each), ``nan`` when nothing is scorable."""
        parts = self._parts
        if dist.is_available() and dist.is_initialized():
            gathered: list[list[dict[str, np.ndarray]]] = [[] for _ in range(dist.get_world_size())]
            dist.all_gather_object(gathered, parts)
            parts = [part for rank in gathered for part in rank]
        if not parts:
            return float("nan")
        joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        values = [
            value
            for value in (
                failure_auroc(joined["truth"], joined["known"], joined["score"]),
                diagnosis_f1(joined["fault_type"], joined["likely_fault"]),
            )
            if value is not None
        ]
        return float(np.mean(values)) if values else float("nan")


def monitor(select_on: str) -> tuple[str, str]:
    """The logged metric and its direction for ``optim.select_on``."""
    return (SCORE_NAME, "max") if select_on == "score" else ("val_loss", "min")
