"""The OmniModel ``nn.Module``: encoders → fusion → heads. No optimiser, loss or path in here."""

from __future__ import annotations

import math

import torch
from torch import nn

from omnimaint.data.windows import MODALITIES
from omnimaint.models import encoders, fusion
from omnimaint.models.config import ModelConfig
from omnimaint.models.heads import MultiTaskHeads
from omnimaint.models.inputs import ModelInputs, ModelOutputs
from omnimaint.models.registry import create_encoder, create_fusion

REGISTERING_MODULES = (encoders, fusion)
"""Imported for their side effect: they register the encoders and fusions this module builds by name."""


def encoder_name(config: ModelConfig, modality: str) -> str:
    """Registered encoder name the config selects for ``modality``."""
    return {
        "telemetry": config.telemetry.name,
        "waveforms": config.waveform.name,
        "frames": config.vision.name,
        "events": "code_time_text",
        "maintenance": "work_orders",
    }[modality]


class OmniModel(nn.Module):
    """Multimodal health model (DESIGN.md §4).

    Args:
        config: Architecture; ``config.modalities`` lists the modalities it reads.
        encoders: Optional pre-built encoders by modality (e.g. a vision backbone built from a local
            config); the others are created from the registry.
    """

    def __init__(self, config: ModelConfig, encoders: dict[str, nn.Module] | None = None) -> None:
        super().__init__()
        self.config = config
        given = encoders or {}
        self.encoders = nn.ModuleDict(
            {m: given.get(m) or create_encoder(m, encoder_name(config, m), config) for m in config.modalities}
        )
        self.fusion = create_fusion(config.fusion.name, config)
        self.asset_type = nn.Embedding(max(config.n_asset_types, 1), config.d_model)
        self.heads = MultiTaskHeads(config)
        self._presence_columns = [MODALITIES.index(m) for m in config.modalities]

    def modality_presence(self, x: ModelInputs) -> torch.Tensor:
        """(B, M) bool presence of the model's modalities, with modality dropout in training."""
        presence = x.presence[:, self._presence_columns]
        rate = self.config.fusion.modality_dropout
        if not self.training or rate == 0 or presence.shape[1] < 2:
            return presence
        dropped = presence & (torch.rand(presence.shape, device=presence.device) < rate)
        kept = presence & ~dropped
        # Never drop everything: where all present modalities were dropped, restore one at random.
        lost = presence.any(dim=1) & ~kept.any(dim=1)
        scores = torch.rand(presence.shape, device=presence.device) * presence
        restore = nn.functional.one_hot(scores.argmax(dim=1), presence.shape[1]).bool() & lost.unsqueeze(1)
        return kept | restore

    def encode(self, x: ModelInputs) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Tokens and token masks of every modality (in ``config.modalities`` order)."""
        presence = self.modality_presence(x)
        tokens, valid = [], []
        for i, encoder in enumerate(self.encoders.values()):
            out, out_valid = encoder(x, presence[:, i])
            tokens.append(out)
            valid.append(out_valid)
        return tokens, valid

    def forward(self, x: ModelInputs) -> ModelOutputs:
        tokens, valid = self.encode(x)
        fusion = self.fusion(tokens, valid)
        fused = fusion.fused + self.asset_type(x.asset_type)
        failure, rul, fault, health, anomaly = self.heads(fused)
        weights = torch.zeros(fused.shape[0], len(MODALITIES), dtype=fused.dtype, device=fused.device)
        weights[:, self._presence_columns] = fusion.weights
        return ModelOutputs(
            failure_logits=failure,
            rul=rul,
            fault_logits=fault,
            health_logits=health,
            anomaly_score=anomaly,
            modality_weights=weights,
            embedding=fused,
        )


class OmniEnsemble(nn.Module):
    """Members of one architecture, trained from different seeds, as one model (``config.ensemble`` members).

    Its outputs are the members' mean: of the probabilities for the failure, fault and health heads (returned
    as logits again, ``logit(mean p)`` and ``log(mean p)``, so that every consumer reads them as one model's),
    of the RUL, anomaly score, modality weights and fused state otherwise. Averaging several seeds lowers the
    variance that one training run carries (a cheap, reliable gain for small data; Lakshminarayanan et al.,
    NeurIPS 2017).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(OmniModel(config) for _ in range(config.ensemble))

    def forward(self, x: ModelInputs) -> ModelOutputs:
        outputs = [member(x) for member in self.members]

        def mean(name: str) -> torch.Tensor:
            return torch.stack([getattr(o, name) for o in outputs]).mean(dim=0)

        return ModelOutputs(
            failure_logits=_mean_probability_logit([o.failure_logits for o in outputs]),
            rul=mean("rul"),
            fault_logits=_mean_log_softmax([o.fault_logits for o in outputs]),
            health_logits=_mean_log_softmax([o.health_logits for o in outputs]),
            anomaly_score=mean("anomaly_score"),
            modality_weights=mean("modality_weights"),
            embedding=mean("embedding"),
        )


def _mean_probability_logit(logits: list[torch.Tensor]) -> torch.Tensor:
    """``logit`` of the mean of the sigmoid probabilities of several logits, computed in log space: ``log p̄ −
    log(1 − p̄)`` with each term a log-mean-exp of log-sigmoids. Going through the probabilities themselves
    would saturate in float32 near 0 and 1, where a rounding difference becomes a large difference of logits."""
    stacked = torch.stack(logits)
    log_k = math.log(len(logits))
    log_p = torch.logsumexp(nn.functional.logsigmoid(stacked), dim=0) - log_k
    log_q = torch.logsumexp(nn.functional.logsigmoid(-stacked), dim=0) - log_k
    return log_p - log_q


def _mean_log_softmax(logits: list[torch.Tensor]) -> torch.Tensor:
    """``log`` of the mean of the softmax probabilities of several logits of one shape."""
    stacked = torch.stack([torch.log_softmax(x, dim=-1) for x in logits])
    return torch.logsumexp(stacked, dim=0) - math.log(len(logits))


HealthModel = OmniModel | OmniEnsemble
"""What a bundle holds: one model, or an ensemble of them."""


def build_model(config: ModelConfig) -> HealthModel:
    """The architecture of ``config``: an :class:`OmniModel`, or an :class:`OmniEnsemble` of ``config.ensemble``."""
    return OmniEnsemble(config) if config.ensemble > 1 else OmniModel(config)


def members(model: HealthModel) -> list[OmniModel]:
    """The single models of ``model`` (itself, or an ensemble's members)."""
    return list(model.members) if isinstance(model, OmniEnsemble) else [model]  # type: ignore[arg-type]


class ExportableModel(nn.Module):
    """Positional-tensor wrapper for ONNX export: inputs in ``ModelInputs.field_names`` order."""

    def __init__(self, model: HealthModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs = ModelInputs.unflatten(self.model.config.modalities, tensors)
        return self.model(inputs).as_tuple()
