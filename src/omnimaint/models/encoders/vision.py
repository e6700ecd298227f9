"""Frame encoders: a compact CNN in plain PyTorch, ImageNet EfficientNet-Lite (plain PyTorch, weights read
offline), or a pretrained ``transformers`` vision backbone.

All give ``grid`` × ``grid`` (CNN) or patch (backbone) tokens per frame, so that attention over them
points at image regions (the evidence of a visual alert).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.errors import ConfigError
from omnimaint.models.blocks import AgeEncoding
from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.pretrained import pretrained_efficientnet_lite
from omnimaint.models.registry import register_encoder

logger = logging.getLogger(__name__)


def _conv(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    # GroupNorm, not BatchNorm: absent (all-zero) frames in a batch must not skew normalisation,
    # and statistics stay the same under data parallelism.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(min(8, out_channels), out_channels),
        nn.GELU(),
    )


class _FrameTokens(nn.Module):
    """Shared tail: per-frame tokens → (B, Kf·Cam·G, D) with position, camera and age embeddings."""

    def __init__(self, config: ModelConfig, tokens_per_frame: int) -> None:
        super().__init__()
        d = config.d_model
        self.tokens_per_frame = tokens_per_frame
        self.position = nn.Parameter(torch.randn(1, 1, 1, tokens_per_frame, d) * 0.02)
        self.camera = nn.Parameter(torch.randn(1, 1, max(config.n_cameras, 1), 1, d) * 0.02)
        self.age = AgeEncoding(d)
        self.norm = nn.LayerNorm(d)

    def forward(self, tokens: torch.Tensor, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert x.frame_mask is not None and x.frame_age is not None
        batch, slots, cameras = x.frame_mask.shape
        tokens = tokens.reshape(batch, slots, cameras, self.tokens_per_frame, -1)
        tokens = tokens + self.position + self.camera + self.age(x.frame_age)[:, :, None, None, :]
        valid = (x.frame_mask & mask[:, None, None]).unsqueeze(-1).expand(-1, -1, -1, self.tokens_per_frame)
        return self.norm(tokens.reshape(batch, -1, tokens.shape[-1])), valid.reshape(batch, -1)


@register_encoder("frames", "cnn")
class FrameCNN(nn.Module):
    """Four strided conv stages, pooled to a ``grid`` × ``grid`` map of D-dim tokens per frame."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        width, grid = config.vision.width, config.vision.grid
        refine = config.vision.refine
        self.features = nn.Sequential(
            _conv(3, width, 2),
            *([_conv(width, width, 1)] if refine else []),
            _conv(width, 2 * width, 2),
            *([_conv(2 * width, 2 * width, 1)] if refine else []),
            _conv(2 * width, 4 * width, 2),
            _conv(4 * width, config.d_model, 2),
        )
        # Frames have a fixed size, so the map side is known here: a fixed average pool to the token grid
        # exports to ONNX (adaptive pooling of a traced shape does not).
        with torch.no_grad():
            side = self.features(torch.zeros(1, 3, config.frame_size, config.frame_size)).shape[-1]
        if side < grid:
            raise ConfigError(f"frames of {config.frame_size} px give a {side}×{side} map, smaller than grid {grid}")
        self.crop = grid * (side // grid)
        self.pool = nn.AvgPool2d(side // grid)
        self.tail = _FrameTokens(config, grid * grid)

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, Kf·Cam·G², D) and token_mask."""
        assert x.frames is not None
        images = x.frames.flatten(0, 2)  # (B·Kf·Cam, 3, S, S)
        maps = self.pool(self.features(images)[..., : self.crop, : self.crop])  # (N, D, G, G)
        return self.tail(maps.flatten(2).transpose(1, 2), x, mask)


def load_vision_backbone(config: ModelConfig) -> nn.Module:
    """A ``transformers`` vision model (ViT, ConvNeXt, DINOv2, CLIP/SigLIP vision tower) by name or path."""
    from transformers import AutoConfig, AutoModel, CLIPVisionModel, SiglipVisionModel

    source = config.vision.backbone
    if source is None:
        raise ConfigError("vision encoder 'hf' needs vision.backbone (a model name or a local path)")
    hf_config = AutoConfig.from_pretrained(source)
    loaders: dict[str, Any] = {"clip": CLIPVisionModel, "siglip": SiglipVisionModel}
    loader = loaders.get(hf_config.model_type, AutoModel)
    model: nn.Module = loader.from_pretrained(source)
    return model


@register_encoder("frames", "hf")
class HFVisionBackbone(nn.Module):
    """A pretrained ``transformers`` vision backbone, frozen or fine-tuned, projected to D-dim tokens.

    Pass a built backbone (e.g. from a tiny local config in tests) or let it load
    ``config.vision.backbone``. Frames are resized to the backbone's ``image_size`` when it has one.
    """

    def __init__(self, config: ModelConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone if backbone is not None else load_vision_backbone(config)
        hf = self.backbone.config
        vision = getattr(hf, "vision_config", hf)
        width = getattr(vision, "hidden_size", None) or getattr(vision, "hidden_sizes", [None])[-1]
        if width is None:
            raise ConfigError(f"cannot tell the feature width of backbone {type(self.backbone).__name__}")
        self.image_size = getattr(vision, "image_size", None)
        if config.vision.freeze:
            self.backbone.requires_grad_(False)
        self.grid = config.vision.grid
        self.project = nn.Linear(int(width), config.d_model)
        self.tail = _FrameTokens(config, self.grid * self.grid)

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert x.frames is not None
        images = x.frames.flatten(0, 2)
        if isinstance(self.image_size, int) and images.shape[-1] != self.image_size:
            side = (self.image_size, self.image_size)
            images = F.interpolate(images, size=side, mode="bilinear", align_corners=False)
        hidden = self.backbone(pixel_values=images).last_hidden_state
        if hidden.dim() == 4:  # convolutional backbones: (N, C, h, w)
            maps = hidden
        else:  # transformers: (N, 1 + h·w, C) with a class token first when present
            tokens = hidden[:, -(round(hidden.shape[1] ** 0.5) ** 2) :]
            side = round(tokens.shape[1] ** 0.5)
            maps = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, side, side)
        maps = F.adaptive_avg_pool2d(maps, self.grid)  # (N, C, G, G)
        return self.tail(self.project(maps.flatten(2).transpose(1, 2)), x, mask)


@register_encoder("frames", "efficientnet_lite")
class EfficientNetLiteEncoder(nn.Module):
    """ImageNet-trained EfficientNet-Lite (plain PyTorch), frozen or fine-tuned, projected to D-dim tokens.

    ``config.vision.backbone`` names the weights (default ``efficientnet-lite0``, the packaged checkpoint; or
    ``<variant>=<file>``, see :mod:`omnimaint.models.pretrained`): they are read offline when the model is
    built, and a bundle keeps them (fine-tuned or not) in its ``model.safetensors`` with the other weights.
    The head's 1,280-channel map (stride 32) is pooled to ``grid`` × ``grid`` tokens. Frames arrive as the
    preprocessor prepared them (standardised, about the checkpoint's ``[-1, 1]`` input scale). A frozen
    backbone keeps its ImageNet BatchNorm statistics in training too.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.backbone = pretrained_efficientnet_lite(config.vision.backbone or "efficientnet-lite0")
        self.freeze = config.vision.freeze
        if self.freeze:
            self.backbone.requires_grad_(False)
        grid = config.vision.grid
        # Each stride-2 stage pads as TensorFlow's SAME, so the head's map side is ceil(S / 32); a fixed average
        # pool to the token grid exports to ONNX, adaptive pooling to a side that does not divide the map does not.
        side = math.ceil(config.frame_size / 32)
        if side < grid:
            raise ConfigError(
                f"frames of {config.frame_size} px give EfficientNet-Lite a {side}×{side} map, smaller than grid {grid}"
            )
        self.crop = grid * (side // grid)
        self.pool = nn.AvgPool2d(side // grid)
        self.project = nn.Linear(self.backbone.head_channels, config.d_model)
        self.tail = _FrameTokens(config, grid * grid)

    def train(self, mode: bool = True) -> EfficientNetLiteEncoder:
        """Training mode for the projection and tail; a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.freeze:
            self.backbone.eval()
        return self

    def forward(self, x: ModelInputs, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns tokens (B, Kf·Cam·G², D) and token_mask."""
        assert x.frames is not None
        images = x.frames.flatten(0, 2)  # (B·Kf·Cam, 3, S, S)
        maps = self.backbone.forward_features(images)[0]  # (N, 1280, S/32, S/32)
        maps = self.pool(maps[..., : self.crop, : self.crop])  # (N, 1280, G, G)
        return self.tail(self.project(maps.flatten(2).transpose(1, 2)), x, mask)
