"""Every registered encoder, text pathway and fusion: shapes, masks, and finite outputs when data is missing."""

from __future__ import annotations

import pytest
import torch
from transformers import ConvNextConfig, ConvNextModel, ViTConfig, ViTModel

from omnimaint.data.windows import MODALITIES
from omnimaint.models import OmniModel, create_encoder, create_fusion, list_encoders, list_fusions, list_text
from omnimaint.models.encoders.vision import HFVisionBackbone
from omnimaint.models.examples import example_config, example_inputs
from omnimaint.models.registry import create_text


def tiny_vit() -> torch.nn.Module:
    """A ViT built from a local config (no download): 32 px images, 8 px patches."""
    return ViTModel(
        ViTConfig(
            image_size=32,
            patch_size=8,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        )
    )


def build(modality: str, name: str, config: object) -> torch.nn.Module:
    if (modality, name) == ("frames", "hf"):
        return HFVisionBackbone(config, backbone=tiny_vit())  # type: ignore[arg-type]
    return create_encoder(modality, name, config)  # type: ignore[arg-type]


def test_every_modality_has_an_encoder() -> None:
    assert {m for m, _ in list_encoders()} == set(MODALITIES)
    assert set(list_fusions()) == {"cross_attention", "late"}
    assert set(list_text()) == {"pretrained", "domain"}


@pytest.mark.parametrize(("modality", "name"), list_encoders())
def test_encoder_shapes_and_masks(modality: str, name: str) -> None:
    # EfficientNet-Lite's map is 1/32 of the frame: 64 px give the 2 × 2 token grid.
    config = example_config(**({"frame_size": 64} if name == "efficientnet_lite" else {}))
    encoder = build(modality, name, config).eval()
    inputs = example_inputs(config, batch_size=3)
    present = torch.tensor([True, False, True])
    tokens, valid = encoder(inputs, present)
    assert tokens.shape[0] == 3 and tokens.shape[-1] == config.d_model and tokens.dim() == 3
    assert valid.shape == tokens.shape[:2] and valid.dtype == torch.bool
    assert not valid[1].any(), "a sample without the modality must have no valid token"
    assert torch.isfinite(tokens).all()


@pytest.mark.parametrize("name", list_text())
def test_text_pathway(name: str) -> None:
    config = example_config(text={"name": name, "vocab_size": 60, "max_tokens": 8})
    pathway = create_text(name, config)
    inputs = example_inputs(config)
    assert inputs.event_text is not None and inputs.event_text_mask is not None
    out = pathway(inputs.event_text, inputs.event_text_mask)
    assert out.shape == (*inputs.event_text_mask.shape, config.d_model)
    assert (out[~inputs.event_text_mask] == 0).all()


@pytest.mark.parametrize("name", list_fusions())
def test_fusion_excludes_absent_modalities(name: str) -> None:
    config = example_config(fusion={"name": name})
    fusion = create_fusion(name, config).eval()
    tokens = [torch.randn(2, 4, config.d_model) for _ in config.modalities]
    valid = [torch.ones(2, 4, dtype=torch.bool) for _ in config.modalities]
    valid[1][0] = False  # sample 0 has no tokens of modality 1
    out = fusion(tokens, valid)
    assert out.fused.shape == (2, config.d_model)
    assert out.weights[0, 1] == 0 and out.weights[1, 1] > 0
    torch.testing.assert_close(out.weights.sum(dim=1), torch.ones(2))


@pytest.mark.parametrize("fusion", list_fusions())
@pytest.mark.parametrize("text", list_text())
def test_model_outputs_are_finite_with_any_modality_missing(fusion: str, text: str) -> None:
    config = example_config(fusion={"name": fusion}, text={"name": text, "vocab_size": 60, "max_tokens": 8})
    model = OmniModel(config).eval()
    inputs = example_inputs(config, batch_size=len(MODALITIES) + 1)
    for i in range(len(MODALITIES)):
        inputs.presence[i, i] = False  # sample i misses modality i; the last sample has everything
    inputs.presence[-1, :] = True
    with torch.no_grad():
        out = model(inputs)
    for tensor in out.as_tuple():
        assert torch.isfinite(tensor).all()
    assert out.failure_logits.shape == (len(MODALITIES) + 1, config.n_horizons, 1 + config.n_components)
    for i in range(len(MODALITIES)):
        assert out.modality_weights[i, i] == 0


def test_only_one_modality_present_still_works() -> None:
    config = example_config()
    model = OmniModel(config).eval()
    inputs = example_inputs(config, batch_size=2)
    inputs.presence[:] = False
    inputs.presence[:, MODALITIES.index("events")] = True
    with torch.no_grad():
        out = model(inputs)
    assert torch.isfinite(out.failure_logits).all()
    torch.testing.assert_close(out.modality_weights[:, MODALITIES.index("events")], torch.ones(2))


def test_modality_dropout_never_drops_everything() -> None:
    config = example_config(fusion={"modality_dropout": 0.9})
    model = OmniModel(config).train()
    inputs = example_inputs(config, batch_size=64)
    torch.manual_seed(0)
    presence = model.modality_presence(inputs)
    assert presence.any(dim=1).all()
    assert (presence.sum(dim=1) < len(MODALITIES)).any()  # it does drop


def test_missing_modality_does_not_change_the_others_tokens() -> None:
    """Hiding frames changes the fused state but not what the telemetry encoder sees."""
    config = example_config()
    model = OmniModel(config).eval()
    inputs = example_inputs(config, batch_size=2)
    with torch.no_grad():
        tokens_all, _ = model.encode(inputs)
        inputs.presence[:, MODALITIES.index("frames")] = False
        tokens_no_frames, valid = model.encode(inputs)
    torch.testing.assert_close(tokens_all[0], tokens_no_frames[0])
    assert not valid[MODALITIES.index("frames")].any()


@pytest.mark.parametrize(
    "backbone",
    [
        tiny_vit,
        lambda: ConvNextModel(
            ConvNextConfig(num_channels=3, hidden_sizes=[8, 16], depths=[1, 1], num_stages=2, image_size=32)
        ),
    ],
    ids=["vit", "convnext"],
)
def test_pretrained_vision_backbone_path(backbone: object) -> None:
    """A `transformers` backbone built from a local tiny config runs inside the model, frozen."""
    config = example_config(vision={"name": "hf", "freeze": True, "grid": 2})
    encoder = HFVisionBackbone(config, backbone=backbone())  # type: ignore[operator]
    model = OmniModel(config, encoders={"frames": encoder}).eval()
    inputs = example_inputs(config, batch_size=2)
    with torch.no_grad():
        out = model(inputs)
    assert torch.isfinite(out.failure_logits).all()
    assert not any(p.requires_grad for p in encoder.backbone.parameters())
    assert any(p.requires_grad for p in encoder.project.parameters())


def test_heads_shapes_and_anomaly_head_fitting() -> None:
    from omnimaint.models.heads import MultiTaskHeads

    config = example_config()
    heads = MultiTaskHeads(config).eval()
    fused = torch.randn(5, config.d_model)
    failure, rul, fault, health, anomaly = heads(fused)
    assert failure.shape == (5, config.n_horizons, 1 + config.n_components)
    assert rul.shape == (5,) and (rul >= 0).all()
    assert fault.shape == (5, config.n_fault_classes) and health.shape == (5, 3) and anomaly.shape == (5,)
    generator = torch.Generator().manual_seed(0)
    healthy = torch.randn(400, config.d_model, generator=generator) * 0.1 + 1.0
    heads.anomaly.fit(healthy)
    normal = torch.randn(50, config.d_model, generator=generator) * 0.1 + 1.0
    odd = normal.clone()
    odd[:, 0] += 1.0  # one dimension off by ten standard deviations
    assert heads.anomaly(odd).min() > heads.anomaly(normal).max()
