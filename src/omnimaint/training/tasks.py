"""Lightning modules: the architecture is injected, the objective lives here.

:class:`FineTuneTask` trains every head at once with masked losses and learned task weights.
:class:`PretrainTask` needs no labels: cross-modal InfoNCE between the modality embeddings of the same
window (CLIP-style) plus reconstruction of hidden telemetry patches.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.models.blocks import masked_mean
from omnimaint.models.encoders.telemetry import PatchedTelemetry
from omnimaint.models.frame_views import random_dihedral_views
from omnimaint.models.inputs import ModelInputs, ModelOutputs
from omnimaint.models.omni import OmniModel
from omnimaint.training.config import OptimConfig, PretrainObjective
from omnimaint.training.data import LabelTensors, TrainingBatch
from omnimaint.training.losses import TASKS, UncertaintyWeighting, cross_modal_contrastive, global_count, task_losses
from omnimaint.training.selection import SCORE_NAME, EarlyWarningScore
from omnimaint.training.waveform_views import random_waveform_views


class _Task(L.LightningModule):
    """Shared loop hooks: subclasses say what the losses are (:meth:`losses`) and how they add up for
    training (:meth:`train_total`) and for validation and early stopping (:meth:`val_total`).
    ``encoder_lr_scale`` multiplies the encoders' learning rate; the encoders stay fixed during the first
    ``frozen_encoder_epochs`` epochs."""

    def __init__(
        self, model: OmniModel, optim: OptimConfig, encoder_lr_scale: float = 1.0, frozen_encoder_epochs: int = 0
    ) -> None:
        super().__init__()
        self.model = model
        self.optim = optim
        self.encoder_lr_scale = encoder_lr_scale
        self.frozen_encoder_epochs = frozen_encoder_epochs

    def losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def train_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def val_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.train_total(losses)

    def training_step(self, batch: TrainingBatch, batch_idx: int) -> torch.Tensor:
        losses = self.losses(batch)
        total = self.train_total(losses)
        size = batch.inputs.batch_size
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=size)
        return total

    def validation_step(self, batch: TrainingBatch, batch_idx: int) -> None:
        self.log_validation(self.losses(batch), batch.inputs.batch_size)

    def log_validation(self, losses: dict[str, torch.Tensor], size: int) -> None:
        self.log("val_loss", self.val_total(losses), prog_bar=True, batch_size=size, sync_dist=True)
        for name, value in losses.items():
            self.log(f"val/{name}", value, batch_size=size, sync_dist=True)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Dropping the encoders' gradients (after backward, so data-parallel reduction is untouched) makes
        # AdamW skip them entirely: no step, no weight decay, no moment estimates from the warm-up.
        if self.current_epoch < self.frozen_encoder_epochs:
            for parameter in self.model.encoders.parameters():
                parameter.grad = None

    def configure_optimizers(self) -> Any:
        lr, scale = self.optim.lr, self.encoder_lr_scale
        groups: Any = self.parameters()
        if scale != 1.0:
            encoders = {id(p) for p in self.model.encoders.parameters()}
            groups = [
                {"params": [p for p in self.parameters() if id(p) in encoders], "lr": lr * scale},
                {"params": [p for p in self.parameters() if id(p) not in encoders]},
            ]
        optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=self.optim.weight_decay)
        # Cosine annealing to a twentieth of the smallest learning rate (one floor for every group).
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.optim.max_epochs, eta_min=lr * scale / 20
        )
        return {"optimizer": optimizer, "lr_scheduler": schedule}


class FineTuneTask(_Task):
    """Multi-task supervised training.

    Besides the losses, every validation epoch logs ``val_score``, the early-warning score
    (:class:`~omnimaint.training.selection.EarlyWarningScore`) that ``optim.select_on=score`` selects on.

    Args:
        model: The architecture.
        optim: Optimiser settings.
        fault_weights: Optional class weights of the fault-type loss (rare faults matter).
        encoder_lr_scale: Learning-rate multiplier of the encoders (below 1 to keep pretrained features).
        frozen_encoder_epochs: First epochs in which only fusion and heads learn (to keep pretrained features).
        early_warning_score: Log ``val_score`` (off where the labels are not failures).
    """

    fault_weights: torch.Tensor

    def __init__(
        self,
        model: OmniModel,
        optim: OptimConfig,
        fault_weights: torch.Tensor | None = None,
        encoder_lr_scale: float = 1.0,
        early_warning_score: bool = True,
        frozen_encoder_epochs: int = 0,
    ) -> None:
        super().__init__(model, optim, encoder_lr_scale, frozen_encoder_epochs)
        if optim.encoder_tasks is not None:
            model.heads.readout_only = frozenset(TASKS) - set(optim.encoder_tasks)
        self.weighting = UncertaintyWeighting()
        self.register_buffer("fault_weights", fault_weights if fault_weights is not None else torch.empty(0))
        self.score = EarlyWarningScore() if early_warning_score else None

    def _losses(self, outputs: ModelOutputs, labels: LabelTensors) -> dict[str, torch.Tensor]:
        weights = self.fault_weights if self.fault_weights.numel() else None
        return task_losses(
            outputs, labels, weights, reduce=global_count, positive_weight=self.optim.failure_positive_weight
        )

    def losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        inputs = self._with_waveform_views(self._with_frame_views(self._with_noise(batch.inputs)))
        return self._losses(self.model(inputs), batch.labels)

    def _with_noise(self, inputs: ModelInputs) -> ModelInputs:
        """Training inputs with ``optim.telemetry_noise`` added to the observed telemetry steps."""
        sd = self.optim.telemetry_noise
        if sd <= 0 or inputs.telemetry is None or inputs.telemetry_mask is None:
            return inputs
        noise = torch.randn_like(inputs.telemetry) * sd * inputs.telemetry_mask
        return replace(inputs, telemetry=inputs.telemetry + noise)

    def _with_frame_views(self, inputs: ModelInputs) -> ModelInputs:
        """Training inputs with each window's frames in a random flip or transpose (``optim.frame_augmentation``)."""
        if self.optim.frame_augmentation == "none" or inputs.frames is None:
            return inputs
        return replace(inputs, frames=random_dihedral_views(inputs.frames))

    def _with_waveform_views(self, inputs: ModelInputs) -> ModelInputs:
        """Training inputs with each burst at a random gain and speed (``optim.waveform_gain_db``, ``_speed``)."""
        if (self.optim.waveform_gain_db == 0 and self.optim.waveform_speed == 0) or inputs.waveforms is None:
            return inputs
        views = random_waveform_views(inputs.waveforms, self.optim.waveform_gain_db, self.optim.waveform_speed)
        return replace(inputs, waveforms=views)

    def on_validation_epoch_start(self) -> None:
        if self.score is not None:
            self.score.reset()

    def validation_step(self, batch: TrainingBatch, batch_idx: int) -> None:
        outputs = self.model(batch.inputs)
        self.log_validation(self._losses(outputs, batch.labels), batch.inputs.batch_size)
        if self.score is not None:
            self.score.update(outputs, batch.labels)

    def on_validation_epoch_end(self) -> None:
        if self.score is None:
            return
        score = self.score.compute()  # gathered over ranks: every rank logs the same value
        if not math.isnan(score):  # nan: no window with a failure label (nothing to select on)
            self.log(SCORE_NAME, score, prog_bar=True)

    def train_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.weighting(losses)

    def val_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        # Early stopping watches the plain sum, which the learned weights cannot lower by themselves.
        return torch.stack(list(losses.values())).sum()


class PretrainTask(_Task):
    """Self-supervised pretraining of the encoders.

    Args:
        model: The architecture (its heads are not trained here).
        optim: Optimiser settings.
        objective: Weights of the objectives, mask ratio and temperature.
    """

    def __init__(self, model: OmniModel, optim: OptimConfig, objective: PretrainObjective) -> None:
        super().__init__(model, optim)
        self.objective = objective
        d = model.config.d_model
        self.projections = nn.ModuleDict({m: nn.Linear(d, d) for m in model.config.modalities})
        self.log_temperature = nn.Parameter(torch.tensor(math.log(objective.temperature)))
        self.reconstruct: nn.Module | None = None
        if "telemetry" in model.config.modalities:
            config = model.config
            self.reconstruct = nn.Linear(d, config.telemetry.patch * config.n_telemetry_channels)

    def _hide_patches(self, batch: TrainingBatch) -> tuple[Any, torch.Tensor | None, torch.Tensor | None]:
        """Inputs with a share of the telemetry hidden (random patches, the latest patches, or whole
        channels), the original patch values, and which (patch, value) entries the reconstruction is
        scored on."""
        inputs = batch.inputs
        if self.reconstruct is None or inputs.telemetry is None or inputs.telemetry_mask is None:
            return inputs, None, None
        encoder = self.model.encoders["telemetry"]
        assert isinstance(encoder, PatchedTelemetry)
        values, observed = encoder.patches(inputs)  # (B, T, P·C)
        batch_size, steps, channels = inputs.telemetry.shape
        ratio = self.objective.mask_ratio
        if self.objective.hide == "channels":
            hidden = torch.rand(batch_size, channels, device=values.device) < ratio  # (B, C)
            hidden &= ~hidden.all(dim=1, keepdim=True)  # a window keeps at least one channel to go on
            step_hidden = hidden.unsqueeze(1).expand(-1, steps, -1)
        else:
            n_tokens = values.shape[1]
            if self.objective.hide == "latest":
                n_hidden = max(1, round(ratio * n_tokens))
                hidden = (torch.arange(n_tokens, device=values.device) >= n_tokens - n_hidden).expand(batch_size, -1)
            else:
                hidden = torch.rand(batch_size, n_tokens, device=values.device) < ratio  # (B, T)
            step_hidden = hidden.repeat_interleave(encoder.patch, dim=1)[:, -steps:]  # drop the left padding
            step_hidden = step_hidden.unsqueeze(-1).expand(-1, -1, channels)
        keep = ~step_hidden
        masked = replace(inputs, telemetry=inputs.telemetry * keep, telemetry_mask=inputs.telemetry_mask & keep)
        scored = observed * encoder.to_patches(step_hidden.to(observed.dtype))
        return masked, values, scored

    def losses(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        inputs, targets, scored = self._hide_patches(batch)
        tokens, valid = self.model.encode(inputs)
        embeddings = [
            F.normalize(self.projections[m](masked_mean(t, v)), dim=-1)
            for m, t, v in zip(self.model.config.modalities, tokens, valid, strict=True)
        ]
        present = torch.stack([v.any(dim=-1) for v in valid], dim=1)
        temperature = self.log_temperature.exp().clamp(min=0.01, max=1.0)
        groups = batch.groups if self.objective.negatives == "asset" else None
        losses = {"contrastive": cross_modal_contrastive(embeddings, present, temperature, groups=groups)}
        if self.reconstruct is not None and targets is not None and scored is not None:
            index = self.model.config.modalities.index("telemetry")
            predicted = self.reconstruct(tokens[index])  # (B, T, P·C)
            error = F.mse_loss(predicted, targets, reduction="none")
            losses["reconstruction"] = (error * scored).sum() / scored.sum().clamp(min=1.0)
        return losses

    def train_total(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        total = self.objective.contrastive_weight * losses["contrastive"]
        if "reconstruction" in losses:
            total = total + self.objective.reconstruction_weight * losses["reconstruction"]
        return total
