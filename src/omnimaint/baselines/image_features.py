"""Handcrafted texture features for surface-defect images, in numpy, and a classifier on them.

The pre-CNN recipe for steel-surface inspection (Song & Yan, 2013, used LBP variants on NEU):
grey-level histogram and moments, histograms of gradient orientation (Dalal & Triggs, CVPR 2005)
globally and per quadrant, grey-level co-occurrence statistics (Haralick et al., 1973) and
rotation-invariant uniform local binary patterns (Ojala et al., TPAMI 2002).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kurtosis, skew
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier

_GLCM_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1), (0, 3), (3, 0), (3, 3), (3, -3))
_LBP_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def _riu2_table() -> np.ndarray:
    """Map each 8-bit LBP code to its rotation-invariant uniform label: the number of 1 bits, or 9."""
    codes = np.arange(256)
    bits = (codes[:, None] >> np.arange(8)) & 1  # (256, 8)
    transitions = np.sum(bits != np.roll(bits, 1, axis=1), axis=1)
    return np.where(transitions <= 2, bits.sum(axis=1), 9)


_RIU2 = _riu2_table()


def _shifted_pairs(images: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel pairs ``(p, p + (dy, dx))`` of every image, as two arrays of equal shape ``(n, H', W')``."""
    h, w = images.shape[1:]
    y0, y1 = max(0, -dy), h - max(0, dy)
    x0, x1 = max(0, -dx), w - max(0, dx)
    return images[:, y0:y1, x0:x1], images[:, y0 + dy : y1 + dy, x0 + dx : x1 + dx]


def grey_histogram(images: np.ndarray, bins: int) -> np.ndarray:
    """Normalised grey-level histogram plus mean, std, skewness and kurtosis; ``(n, bins + 4)``."""
    flat = images.reshape(len(images), -1)
    index = np.minimum((flat * bins).astype(np.int64), bins - 1) + bins * np.arange(len(images))[:, None]
    hist = np.bincount(index.ravel(), minlength=bins * len(images)).reshape(len(images), bins) / flat.shape[1]
    moments = np.stack([flat.mean(1), flat.std(1), skew(flat, axis=1), kurtosis(flat, axis=1)], axis=1)
    return np.concatenate([hist, moments], axis=1)


def orientation_histograms(images: np.ndarray, bins: int) -> np.ndarray:
    """Magnitude-weighted histograms of unsigned gradient orientation, whole image and 4 quadrants, plus
    mean gradient magnitude; ``(n, 5 * bins + 1)``."""
    gy, gx = np.gradient(images, axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    orientation = np.mod(np.arctan2(gy, gx), np.pi)
    index = np.minimum((orientation / np.pi * bins).astype(np.int64), bins - 1)
    n, h, w = images.shape
    regions = [(slice(None), slice(None))] + [
        (slice(r * h // 2, (r + 1) * h // 2), slice(c * w // 2, (c + 1) * w // 2)) for r in (0, 1) for c in (0, 1)
    ]
    parts = []
    for rows, cols in regions:
        idx = index[:, rows, cols].reshape(n, -1) + bins * np.arange(n)[:, None]
        weights = magnitude[:, rows, cols].reshape(n, -1)
        hist = np.bincount(idx.ravel(), weights=weights.ravel(), minlength=bins * n).reshape(n, bins)
        parts.append(hist / (hist.sum(axis=1, keepdims=True) + 1e-12))
    parts.append(magnitude.reshape(n, -1).mean(axis=1, keepdims=True))
    return np.concatenate(parts, axis=1)


def cooccurrence_stats(images: np.ndarray, levels: int) -> np.ndarray:
    """Haralick contrast, homogeneity, energy, correlation and entropy of the symmetric grey-level
    co-occurrence matrix at each offset; ``(n, 5 * offsets)``."""
    n = len(images)
    quantised = np.minimum((images * levels).astype(np.int64), levels - 1)
    i, j = np.meshgrid(np.arange(levels), np.arange(levels), indexing="ij")
    stats = []
    for dy, dx in _GLCM_OFFSETS:
        a, b = _shifted_pairs(quantised, dy, dx)
        index = (a * levels + b).reshape(n, -1) + levels * levels * np.arange(n)[:, None]
        counts = np.bincount(index.ravel(), minlength=n * levels * levels).reshape(n, levels, levels).astype(float)
        glcm = counts + counts.transpose(0, 2, 1)
        glcm /= glcm.sum(axis=(1, 2), keepdims=True)  # (n, L, L)
        mean_i = np.sum(glcm * i, axis=(1, 2))
        var_i = np.sum(glcm * (i - mean_i[:, None, None]) ** 2, axis=(1, 2))
        covariance = np.sum(glcm * (i - mean_i[:, None, None]) * (j - mean_i[:, None, None]), axis=(1, 2))
        stats.append(np.sum(glcm * (i - j) ** 2, axis=(1, 2)))
        stats.append(np.sum(glcm / (1.0 + np.abs(i - j)), axis=(1, 2)))
        stats.append(np.sum(glcm**2, axis=(1, 2)))
        stats.append(covariance / (var_i + 1e-12))
        stats.append(-np.sum(glcm * np.log(glcm + 1e-12), axis=(1, 2)))
    return np.stack(stats, axis=1)


def lbp_histograms(images: np.ndarray, radii: tuple[int, ...]) -> np.ndarray:
    """Normalised histograms of rotation-invariant uniform 8-neighbour LBP at each radius; ``(n, 10 * radii)``."""
    n, h, w = images.shape
    parts = []
    for radius in radii:
        centre = images[:, radius : h - radius, radius : w - radius]
        code = np.zeros(centre.shape, dtype=np.int64)
        for bit, (dy, dx) in enumerate(_LBP_NEIGHBOURS):
            neighbour = images[
                :, radius + dy * radius : h - radius + dy * radius, radius + dx * radius : w - radius + dx * radius
            ]
            code |= (neighbour >= centre).astype(np.int64) << bit
        labels = _RIU2[code].reshape(n, -1) + 10 * np.arange(n)[:, None]
        parts.append(np.bincount(labels.ravel(), minlength=10 * n).reshape(n, 10) / labels.shape[1])
    return np.concatenate(parts, axis=1)


class ImageTextureFeatures(TransformerMixin, BaseEstimator):
    """Grey histogram, gradient-orientation histograms, co-occurrence statistics and LBP histograms.

    Args:
        grey_bins: Bins of the grey-level histogram.
        orientation_bins: Bins of each orientation histogram.
        glcm_levels: Grey levels of the co-occurrence matrices.
        lbp_radii: Radii of the LBP histograms.
        batch_size: Images processed at once (bounds memory).
    """

    def __init__(
        self,
        grey_bins: int = 32,
        orientation_bins: int = 12,
        glcm_levels: int = 16,
        lbp_radii: tuple[int, ...] = (1, 2, 4),
        batch_size: int = 128,
    ) -> None:
        self.grey_bins = grey_bins
        self.orientation_bins = orientation_bins
        self.glcm_levels = glcm_levels
        self.lbp_radii = lbp_radii
        self.batch_size = batch_size

    def fit(self, X: np.ndarray, y: object = None) -> ImageTextureFeatures:
        """Check the input layout (no statistics are learned)."""
        self.image_shape_ = tuple(np.asarray(X).shape[1:])
        if len(self.image_shape_) != 2:
            raise ValueError(f"expected grey images of shape (n, height, width), got {np.asarray(X).shape}")
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Features of shape ``(n, n_features)``."""
        images = np.clip(np.asarray(X, dtype=np.float64), 0.0, 1.0)
        batches = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            batches.append(
                np.concatenate(
                    [
                        grey_histogram(batch, self.grey_bins),
                        orientation_histograms(batch, self.orientation_bins),
                        cooccurrence_stats(batch, self.glcm_levels),
                        lbp_histograms(batch, self.lbp_radii),
                    ],
                    axis=1,
                )
            )
        return np.concatenate(batches, axis=0)


class ImageFeatureClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees on :class:`ImageTextureFeatures`.

    Args:
        max_iter: Boosting iterations.
        learning_rate: Shrinkage.
        min_samples_leaf: Fewest images per leaf (lower it for tiny training sets).
        random_state: Seed of the booster.
    """

    def __init__(
        self,
        max_iter: int = 300,
        learning_rate: float = 0.1,
        min_samples_leaf: int = 20,
        random_state: int | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> ImageFeatureClassifier:
        """Extract features and fit the booster."""
        self.features_ = ImageTextureFeatures().fit(X)
        self.booster_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.random_state,
        )
        self.booster_.fit(self.features_.transform(X), y)
        self.classes_ = self.booster_.classes_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class per image."""
        return np.asarray(self.booster_.predict(self.features_.transform(X)))
