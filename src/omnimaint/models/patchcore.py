"""PatchCore (Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022) as an ``nn.Module``.

Normal images only: every image is cut into locally aggregated mid-level patch features of a frozen pretrained
backbone (here EfficientNet-Lite; each stage map averaged over a 3×3 neighbourhood, the coarser map upsampled
to the finer one and concatenated); the features of the training images, thinned by greedy k-centre coreset
subsampling, are the memory bank. A test patch's anomaly is its distance to the nearest memory patch; the
image's score is its most anomalous patch's, reweighted by how crowded that patch's neighbourhood in the bank
is (the paper's eq. 7); the patch distances, upsampled to the image and smoothed by a Gaussian (σ = 4 px),
are the anomaly map that localises the defect.

Pure torch: no optimiser, path or file. The memory bank is a buffer, so it travels in a state dict
(safetensors) with the rest of the model.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from omnimaint.models.efficientnet_lite import EfficientNetLite, normalise_images


def greedy_coreset(features: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``size`` rows chosen by greedy k-centre selection (each next row the farthest from those chosen).

    Args:
        features: ``(N, D)`` patch features.
        size: Rows to keep (at most N).
        generator: Picks the first row.

    Returns:
        ``(size,)`` int64 indices into ``features``.
    """
    count = features.shape[0]
    size = min(size, count)
    norms = (features * features).sum(dim=1)  # (N,)
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = int(torch.randint(count, (1,), generator=generator).item())
    nearest = torch.full((count,), math.inf)
    for step in range(1, size + 1):
        last = features[chosen[step - 1]]
        # squared distances of every row to the last chosen one: |a|² + |b|² - 2 a·b, (N,)
        distance = norms + norms[chosen[step - 1]] - 2.0 * (features @ last)
        nearest = torch.minimum(nearest, distance)
        if step < size:
            chosen[step] = torch.argmax(nearest)
    return chosen


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, int(4 * sigma + 0.5))  # the paper's σ = 4 with a 4σ radius, as scipy's gaussian_filter
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    return kernel / kernel.sum()


class PatchCoreModel(nn.Module):
    """Patch features of a frozen backbone, a memory bank, and nearest-neighbour anomaly scores and maps.

    Args:
        backbone: A (pretrained) EfficientNet-Lite; frozen and kept in eval mode.
        stages: Backbone stages whose maps make the patch features (mid-level: 3 and 5, strides 8 and 16).
        patch_size: Side of the neighbourhood each stage map is averaged over (local aggregation).
        neighbours: Memory-bank neighbours used to reweight the image score (``b`` in the paper); 1 disables.
        sigma: Standard deviation in pixels of the Gaussian that smooths the anomaly map; 0 disables.
        image_score: ``max``: the most anomalous patch, reweighted (the paper: a local defect makes the image
            anomalous); ``mean``: the mean patch distance, for images that are one texture each, where a whole
            image of another texture is the anomaly and its single patches may each resemble a normal one.
    """

    def __init__(
        self,
        backbone: EfficientNetLite,
        stages: tuple[int, ...] = (3, 5),
        patch_size: int = 3,
        neighbours: int = 9,
        sigma: float = 4.0,
        image_score: Literal["max", "mean"] = "max",
    ) -> None:
        super().__init__()
        self.backbone = backbone.eval().requires_grad_(False)
        self.stages = tuple(sorted(stages))
        self.patch_size = patch_size
        self.neighbours = neighbours
        self.sigma = sigma
        self.image_score = image_score
        self.feature_dim = sum(backbone.stage_channels[stage - 1] for stage in self.stages)
        self.register_buffer("memory_bank", torch.zeros(0, self.feature_dim))

    def train(self, mode: bool = True) -> PatchCoreModel:
        """The backbone stays in eval mode: its BatchNorm statistics are ImageNet's."""
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def patch_features(self, images: torch.Tensor) -> torch.Tensor:
        """Locally aware patch features ``(N, D, h, w)`` of RGB images in ``[0, 1]`` ``(N, 3, H, W)``; ``h = H/8``
        for the default stages."""
        maps = self.backbone.forward_features(normalise_images(images), self.stages)
        pad = self.patch_size // 2
        # local aggregation: each position averages its patch_size² neighbourhood (count_include_pad=False keeps
        # the border as bright as the interior)
        pooled = [F.avg_pool2d(m, self.patch_size, stride=1, padding=pad, count_include_pad=False) for m in maps]
        size = pooled[0].shape[-2:]
        aligned = [p if p.shape[-2:] == size else F.interpolate(p, size=size, mode="bilinear") for p in pooled]
        return torch.cat(aligned, dim=1)  # (N, D, h, w)

    def set_memory_bank(self, bank: torch.Tensor) -> None:
        """Keep ``bank`` ``(M, D)`` as the memory of normal patches."""
        if bank.dim() != 2 or bank.shape[1] != self.feature_dim:
            raise ValueError(f"expected a memory bank of shape (M, {self.feature_dim}), got {tuple(bank.shape)}")
        self.memory_bank = bank.contiguous()

    def _nearest(self, queries: torch.Tensor, k: int, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
        """Distances ``(Q, k)`` and indices ``(Q, k)`` of each query's ``k`` nearest memory patches, ascending."""
        bank = self.memory_bank
        bank_norms = (bank * bank).sum(dim=1)  # (M,)
        distances, indices = [], []
        for start in range(0, queries.shape[0], chunk):
            part = queries[start : start + chunk]
            squared = (part * part).sum(dim=1, keepdim=True) + bank_norms - 2.0 * part @ bank.T  # (q, M)
            top = torch.topk(squared, k=min(k, bank.shape[0]), dim=1, largest=False)
            distances.append(top.values.clamp_min(0).sqrt())
            indices.append(top.indices)
        return torch.cat(distances), torch.cat(indices)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image anomaly scores ``(N,)`` and anomaly maps ``(N, H, W)`` of RGB images in ``[0, 1]`` ``(N, 3, H, W)``.

        Raises:
            RuntimeError: if the memory bank is empty (nothing was fitted).
        """
        if self.memory_bank.shape[0] == 0:
            raise RuntimeError("PatchCore has an empty memory bank: set one from normal images first")
        features = self.patch_features(images)
        n, d, h, w = features.shape
        queries = features.permute(0, 2, 3, 1).reshape(-1, d)  # (N·h·w, D)
        distance, index = self._nearest(queries, 1)
        patch_scores = distance[:, 0].reshape(n, h * w)  # (N, h·w)
        scores = self._image_scores(queries.reshape(n, h * w, d), patch_scores, index[:, 0].reshape(n, h * w))
        maps = F.interpolate(patch_scores.reshape(n, 1, h, w), size=images.shape[-2:], mode="bilinear")
        return scores, self._smooth(maps)[:, 0]

    def _image_scores(self, queries: torch.Tensor, patch_scores: torch.Tensor, nearest: torch.Tensor) -> torch.Tensor:
        """The most anomalous patch's distance, reweighted by the density around its nearest memory patch (or the
        mean patch distance, with ``image_score="mean"``)."""
        if self.image_score == "mean":
            return patch_scores.mean(dim=1)
        worst = patch_scores.argmax(dim=1)  # (N,)
        rows = torch.arange(patch_scores.shape[0])
        score = patch_scores[rows, worst]  # (N,)
        if self.neighbours <= 1 or self.memory_bank.shape[0] < 2:
            return score
        anchor = self.memory_bank[nearest[rows, worst]]  # (N, D): the worst patch's nearest memory patch
        _, around = self._nearest(anchor, self.neighbours)  # (N, b): its neighbours in the bank (itself first)
        query = queries[rows, worst]  # (N, D)
        spread = torch.linalg.vector_norm(self.memory_bank[around] - query[:, None, :], dim=-1)  # (N, b)
        # eq. 7: 1 - exp(|m_test - m*|) / Σ_b exp(|m_test - m_b|), as a softmax over the b distances
        weight = 1.0 - torch.softmax(spread, dim=1)[:, 0]
        return weight * score

    def _smooth(self, maps: torch.Tensor) -> torch.Tensor:
        """Gaussian blur of ``(N, 1, H, W)`` maps (separable, reflected borders)."""
        if self.sigma <= 0:
            return maps
        kernel = _gaussian_kernel(self.sigma).to(maps)
        radius = kernel.numel() // 2
        if min(maps.shape[-2:]) <= radius:  # reflection needs a map wider than the kernel's radius
            return maps
        blurred = F.conv2d(F.pad(maps, [radius, radius, 0, 0], mode="reflect"), kernel.view(1, 1, 1, -1))
        return F.conv2d(F.pad(blurred, [0, 0, radius, radius], mode="reflect"), kernel.view(1, 1, -1, 1))
