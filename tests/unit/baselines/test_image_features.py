"""Texture features: shapes, invariants on hand-made images, and a classifier that separates textures."""

from __future__ import annotations

import numpy as np

from omnimaint.baselines import ImageFeatureClassifier, ImageTextureFeatures
from omnimaint.baselines.image_features import (
    cooccurrence_stats,
    grey_histogram,
    lbp_histograms,
    orientation_histograms,
)
from tests.unit.evaluation.canonical import texture


def test_grey_histogram_of_a_two_level_image() -> None:
    image = np.zeros((1, 4, 4))
    image[0, :, 2:] = 1.0
    hist = grey_histogram(image, 4)
    assert hist[0, :4].tolist() == [0.5, 0.0, 0.0, 0.5]
    assert hist[0, 4] == 0.5  # mean


def test_orientation_histogram_sees_stripe_direction() -> None:
    y, x = np.mgrid[0:32, 0:32]
    horizontal_stripes = 0.5 + 0.4 * np.sin(y * 1.2)  # gradient along y: orientation pi/2
    vertical_stripes = 0.5 + 0.4 * np.sin(x * 1.2)  # gradient along x: orientation 0
    hist = orientation_histograms(np.stack([horizontal_stripes, vertical_stripes]), 4)
    assert np.argmax(hist[0, :4]) == 2
    assert np.argmax(hist[1, :4]) == 0


def test_cooccurrence_and_lbp_of_a_flat_image() -> None:
    flat = np.full((1, 16, 16), 0.5)
    # Per offset: contrast, homogeneity, energy, correlation, entropy.
    stats = cooccurrence_stats(flat, 8).reshape(-1, 5)
    assert np.allclose(stats[:, 0], 0) and np.allclose(stats[:, 1], 1) and np.allclose(stats[:, 2], 1)
    lbp = lbp_histograms(flat, (1,))
    assert lbp[0, 8] == 1.0  # every neighbour >= centre: the all-ones uniform pattern


def test_features_have_a_fixed_length_and_separate_textures() -> None:
    rng = np.random.default_rng(0)
    classes = ("horizontal", "vertical", "checks", "normal")
    X = np.stack([texture(c, rng) for c in classes for _ in range(12)])
    y = np.repeat(classes, 12)
    features = ImageTextureFeatures(batch_size=7).fit(X)
    assert features.transform(X).shape[0] == len(X)
    assert np.allclose(features.transform(X[:5]), ImageTextureFeatures().fit(X).transform(X[:5]))
    train = np.r_[0:8, 12:20, 24:32, 36:44]
    test = np.setdiff1d(np.arange(len(X)), train)
    model = ImageFeatureClassifier(max_iter=30, min_samples_leaf=2, random_state=0).fit(X[train], y[train])
    assert np.mean(model.predict(X[test]) == y[test]) >= 0.9
