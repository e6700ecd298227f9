"""The OmniModel ``nn.Module``: encoders → fusion → heads. No optimiser, loss or path in here."""

from __future__ import annotations

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


class ExportableModel(nn.Module):
    """Positional-tensor wrapper for ONNX export: inputs in ``ModelInputs.field_names`` order."""

    def __init__(self, model: OmniModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs = ModelInputs.unflatten(self.model.config.modalities, tensors)
        return self.model(inputs).as_tuple()
