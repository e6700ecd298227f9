"""PatchCore behind the ``images-anomaly`` estimator interface (``fit(X)`` / ``score_samples(X)``), plus
``anomaly_maps(X)`` for pixel-level evaluation.

The model (:class:`omnimaint.models.patchcore.PatchCoreModel`) is pure torch; this wrapper turns the
protocol's grey ``(n, size, size)`` arrays into the backbone's RGB input, builds the memory bank from the
training images (greedy coreset of their patch features) and hands scores and maps back as numpy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from omnimaint.models.patchcore import PatchCoreModel, greedy_coreset
from omnimaint.models.pretrained import pretrained_efficientnet_lite
from omnimaint.models.threads import torch_threads

logger = logging.getLogger(__name__)


class PatchCoreDetector:
    """PatchCore on a pretrained EfficientNet-Lite (scikit-learn contract: higher ``score_samples`` = more normal).

    Args:
        backbone: Weights source: a variant name (``efficientnet-lite0``: the packaged ImageNet weights) or
            ``<variant>=<file>`` (see :mod:`omnimaint.models.pretrained`).
        input_size: Side the images are resized to before the backbone (the patch map is ``input_size / 8``).
        stages: Backbone stages whose maps are the patch features.
        coreset_ratio: Share of the training patches kept in the memory bank (greedy coreset); 1 keeps all.
        neighbours: Memory-bank neighbours for the image-score reweighting (1: plain maximum distance).
        sigma: Gaussian smoothing of the anomaly map, in pixels of the backbone's input.
        image_score: ``max`` (the paper: the worst patch, reweighted) or ``mean`` (mean patch distance, for
            images that are each one texture; see :class:`~omnimaint.models.patchcore.PatchCoreModel`).
        contrast_normalise: Standardise each image to grey mean 0.5 and spread 0.2 first, so that a change of
            brightness or contrast from image to image is not a novelty.
        augment: ``dihedral``: the memory bank also holds the patches of the eight flips and transposes of
            every training image (surfaces whose defects have no orientation); ``none``: the images only.
        test_views: ``dihedral``: a test image's score and map are the means over its eight flips and
            transposes (each map turned back); ``one``: the image as it is.
        batch_size: Images per backbone pass.
        threads: PyTorch intra-op threads while fitting and scoring (restored afterwards; ``None``: as they are).
            One by default: on two shared cores, two threads made the backbone about ten times slower
            (2026-12-07, beside other jobs) and one leaves a core to them.
        random_state: Seed of the coreset's first patch.
    """

    def __init__(
        self,
        backbone: str = "efficientnet-lite0",
        input_size: int = 224,
        stages: tuple[int, ...] = (3, 5),
        coreset_ratio: float = 0.1,
        neighbours: int = 9,
        sigma: float = 4.0,
        image_score: Literal["max", "mean"] = "max",
        contrast_normalise: bool = False,
        augment: Literal["none", "dihedral"] = "none",
        test_views: Literal["one", "dihedral"] = "one",
        batch_size: int = 16,
        threads: int | None = 1,
        random_state: int | None = None,
    ) -> None:
        self.backbone = backbone
        self.input_size = input_size
        self.stages = stages
        self.coreset_ratio = coreset_ratio
        self.neighbours = neighbours
        self.sigma = sigma
        self.image_score = image_score
        self.contrast_normalise = contrast_normalise
        self.augment = augment
        self.test_views = test_views
        self.batch_size = batch_size
        self.threads = threads
        self.random_state = random_state

    def _images(self, X: np.ndarray) -> torch.Tensor:
        """Grey ``(n, H, W)`` or RGB ``(n, H, W, 3)`` in ``[0, 1]`` → ``(n, C, S, S)`` at the input size (C: 1 or 3).

        Raises:
            ValueError: for arrays of another shape.
        """
        array = np.asarray(X, dtype=np.float32)
        if array.ndim == 3:
            images = torch.from_numpy(array)[:, None]  # (n, 1, H, W)
        elif array.ndim == 4 and array.shape[-1] == 3:
            images = torch.from_numpy(array).permute(0, 3, 1, 2)  # (n, 3, H, W)
        else:
            raise ValueError(f"expected images of shape (n, height, width) or (n, height, width, 3), got {array.shape}")
        if self.contrast_normalise:
            mean = images.mean(dim=(1, 2, 3), keepdim=True)
            spread = images.std(dim=(1, 2, 3), keepdim=True)
            images = (images - mean) / (spread + 1e-6) * 0.2 + 0.5
        side = (self.input_size, self.input_size)
        if images.shape[-2:] != side:
            images = F.interpolate(images, size=side, mode="bilinear", antialias=True)
        return images

    def _batches(self, X: np.ndarray) -> Iterator[torch.Tensor]:
        """RGB batches ``(b, 3, S, S)`` of the images (grey on all three channels)."""
        images = self._images(X)
        for start in range(0, len(images), self.batch_size):
            yield images[start : start + self.batch_size].expand(-1, 3, -1, -1).contiguous()

    @staticmethod
    def _dihedral(batch: torch.Tensor) -> Iterator[tuple[torch.Tensor, tuple[int, ...], bool]]:
        """The eight flips/transposes of ``(b, C, S, S)`` images, each with its flipped dims and transposition."""
        for transposed in (False, True):
            turned = batch.transpose(-1, -2) if transposed else batch
            for dims in ((), (-1,), (-2,), (-1, -2)):
                # contiguous: convolutions on a transposed view run several times slower
                yield (turned.flip(dims) if dims else turned).contiguous(), dims, transposed

    def fit(self, X: np.ndarray, y: object = None) -> PatchCoreDetector:
        """Build the memory bank from normal images ``X`` (labels are ignored).

        Raises:
            ValueError: for no images, or images of an unexpected shape.
        """
        if len(X) == 0:
            raise ValueError("PatchCore needs at least one normal training image")
        with torch_threads(self.threads):
            self.model_ = self._memorise(X)
        return self

    def _memorise(self, X: np.ndarray) -> PatchCoreModel:
        """The model with its memory bank: the coreset of the training images' patch features."""
        model = PatchCoreModel(
            pretrained_efficientnet_lite(self.backbone),
            tuple(self.stages),
            neighbours=self.neighbours,
            sigma=self.sigma,
            image_score=self.image_score,
        )
        views = (
            (view for batch in self._batches(X) for view, _, _ in self._dihedral(batch))
            if self.augment == "dihedral"
            else self._batches(X)
        )
        patches = torch.cat(
            [model.patch_features(view).permute(0, 2, 3, 1).flatten(0, 2) for view in views]
        )  # (n·views·h·w, D)
        size = max(1, round(self.coreset_ratio * len(patches)))
        generator = torch.Generator().manual_seed(self.random_state or 0)
        kept = greedy_coreset(patches, size, generator) if size < len(patches) else torch.arange(len(patches))
        model.set_memory_bank(patches[kept])
        logger.info("PatchCore memory bank: %d of %d patches of %d images", len(kept), len(patches), len(X))
        return model

    def score_with_maps(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normality per image ``(n,)`` (higher = more normal) and anomaly per pixel ``(n, H, W)`` at the images'
        own size (higher = more anomalous), from one pass."""
        with torch_threads(self.threads):
            scores, maps = zip(*(self._score_batch(batch) for batch in self._batches(X)), strict=True)
        full = torch.cat(maps)[:, None]  # (n, 1, S, S) at the input size
        height, width = np.asarray(X).shape[1:3]
        if full.shape[-2:] != (height, width):
            full = F.interpolate(full, size=(height, width), mode="bilinear")
        return -torch.cat(scores).numpy().astype(np.float64), full[:, 0].numpy()

    def _score_batch(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores ``(b,)`` and maps ``(b, S, S)``, averaged over the test views."""
        if self.test_views == "one":
            return self.model_(batch)
        totals = []
        for view, dims, transposed in self._dihedral(batch):
            score, heat = self.model_(view)
            heat = heat.flip(dims) if dims else heat  # back to the image's orientation
            totals.append((score, heat.transpose(-1, -2) if transposed else heat))
        return torch.stack([t[0] for t in totals]).mean(0), torch.stack([t[1] for t in totals]).mean(0)

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Normality per image (higher = more normal): minus the PatchCore anomaly score."""
        return self.score_with_maps(X)[0]
