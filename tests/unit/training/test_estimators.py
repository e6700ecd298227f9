"""The multimodal model as a protocol estimator: it learns planted signals, masks what it does not supervise,
returns itself from fit, and is deterministic for a seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from omnimaint.training.array_estimators import (
    OmniImageClassifier,
    OmniRulRegressor,
    OmniWaveformClassifier,
    causal_ewma,
    contiguous_runs,
    dihedral_views,
)
from omnimaint.training.estimators import group_holdout, unknown_labels

SMALL = {"d_model": 16, "heads": 2, "dropout": 0.0, "batch_size": 32, "lr": 5e-3, "num_threads": 1}


def _ramps(n_engines: int, length: int, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Windows of engines whose sensor 0 rises linearly towards failure (plus noise); y = RUL capped at 40."""
    xs, ys = [], []
    for _ in range(n_engines):
        life = np.arange(length)[::-1].astype(np.float64)  # RUL at each cycle
        rul = np.minimum(life, 40.0)
        sensor = 1.0 - rul / 40.0 + rng.normal(0, 0.05, length)
        constant = np.full(length, 3.0)
        noise = rng.normal(0, 1.0, length)
        values = np.stack([sensor, constant, noise], axis=1)  # (cycles, C)
        padded = np.concatenate([np.repeat(values[:1], window - 1, axis=0), values])
        index = np.arange(length)[:, None] + np.arange(window)[None, :]
        xs.append(padded[index].transpose(0, 2, 1))
        ys.append(rul)
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def test_unknown_labels_mask_every_task() -> None:
    labels = unknown_labels(4, n_horizons=2, n_components=3)
    assert labels.component_failure_within.shape == (4, 2, 3)
    assert not labels.failure_within_known.any() and not labels.component_failure_within_known.any()
    assert not labels.rul_known.any()
    assert (labels.fault_type == -1).all() and (labels.health_state == -1).all()


def test_contiguous_runs_recover_engines() -> None:
    X, _ = _ramps(3, 25, 6, np.random.default_rng(0))
    runs = contiguous_runs(X)
    assert np.array_equal(runs, np.repeat([0, 1, 2], 25))
    held = group_holdout(runs, 0.34, seed=0)
    assert held.sum() == 25 and len(np.unique(runs[held])) == 1  # one whole engine, nothing of the others


def test_rul_regressor_learns_a_planted_trend() -> None:
    rng = np.random.default_rng(0)
    X, y = _ramps(12, 60, 8, rng)
    test_X, test_y = _ramps(4, 60, 8, rng)
    regressor = OmniRulRegressor(rul_cap=40.0, patch=4, layers=1, min_target_correlation=0.2, max_epochs=8, **SMALL)
    assert regressor.fit(X, y) is regressor
    assert regressor.channels_.tolist() == [True, False, False]  # constant and uncorrelated channels dropped
    assert regressor.config_.modalities == ("telemetry",)
    predicted = regressor.predict(test_X)
    assert predicted.shape == (len(test_y),)
    assert predicted.min() >= 0.0 and predicted.max() <= 40.0
    rmse = float(np.sqrt(np.mean((predicted - test_y) ** 2)))
    assert rmse < 0.4 * float(np.std(test_y)), rmse


def test_smoothing_is_a_causal_moving_average_within_each_window() -> None:
    rng = np.random.default_rng(2)
    windows = rng.normal(size=(3, 2, 12)).astype(np.float32)
    smoothed = causal_ewma(windows, 0.3)
    expected = pd.DataFrame(windows.reshape(-1, 12).T).ewm(alpha=0.3, adjust=False).mean().to_numpy().T
    np.testing.assert_allclose(smoothed, expected.reshape(3, 2, 12), rtol=1e-5)
    changed_late = windows.copy()
    changed_late[:, :, 8:] += 5.0
    assert np.array_equal(causal_ewma(changed_late, 0.3)[:, :, :8], smoothed[:, :, :8])  # no step sees later ones
    assert np.array_equal(causal_ewma(windows, 1.0), windows)
    with pytest.raises(ValueError, match="alpha"):
        causal_ewma(windows, 0.0)


def test_rul_regressor_fits_smoothed_windows_and_predicts_through_the_same_smoothing() -> None:
    X, y = _ramps(6, 30, 6, np.random.default_rng(1))
    settings = {"rul_cap": 30.0, "patch": 3, "layers": 1, "max_epochs": 1, **SMALL}
    smoothed = OmniRulRegressor(**settings, smoothing=0.4).fit(X, y)
    raw_model = OmniRulRegressor(**settings).fit(causal_ewma(X, 0.4), y)  # smoothing by hand first
    np.testing.assert_allclose(smoothed.predict(X), raw_model.predict(causal_ewma(X, 0.4)), atol=1e-5)
    assert not np.allclose(smoothed.predict(X), raw_model.predict(X))


def test_same_seed_same_predictions_and_early_stopping_keeps_the_best_epoch() -> None:
    X, y = _ramps(6, 30, 6, np.random.default_rng(1))
    settings = {"rul_cap": 30.0, "patch": 3, "layers": 1, "max_epochs": 3, "validation_fraction": 0.34, **SMALL}
    first = OmniRulRegressor(**settings, random_state=3).fit(X, y)
    second = OmniRulRegressor(**settings, random_state=3).fit(X, y)
    other = OmniRulRegressor(**settings, random_state=4).fit(X, y)
    assert np.array_equal(first.predict(X), second.predict(X))
    assert not np.array_equal(first.predict(X), other.predict(X))
    assert len(first.best_val_loss_) == 1 and np.isfinite(first.best_val_loss_[0])


def _tones(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Segments of a 12-cycle or a 40-cycle tone with random phase, amplitude and noise."""
    t = np.arange(256) / 256
    labels = np.array(["low", "high"] * (n // 2))
    cycles = np.where(labels == "low", 12, 40)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    signal = rng.uniform(0.5, 2.0, (n, 1)) * np.sin(2 * np.pi * cycles * t + phase) + rng.normal(0, 0.3, (n, 256))
    return signal[:, None, :].astype(np.float32), labels


def test_waveform_classifier_separates_two_tones() -> None:
    rng = np.random.default_rng(0)
    X, y = _tones(40, rng)
    test_X, test_y = _tones(20, rng)
    classifier = OmniWaveformClassifier(n_fft=64, channels=8, max_epochs=6, **SMALL).fit(X, y)
    assert classifier.classes_.tolist() == ["high", "low"]
    proba = classifier.predict_proba(test_X)
    assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (classifier.predict(test_X) == test_y).mean() == 1.0


def _textures(n: int, rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Grey images of stripes (period 4 px, horizontal or vertical) or of spots (pixel noise)."""
    labels = np.array(["striped", "spotty"] * (n // 2))
    wave = 0.5 + 0.3 * np.sin(2 * np.pi * np.arange(size) / 4)
    images = np.empty((n, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        if label == "striped":
            image = np.tile(np.roll(wave, rng.integers(4))[:, None], (1, size))
            image = image if rng.random() < 0.5 else image.T
        else:
            image = 0.5 + 0.3 * rng.normal(size=(size, size)).clip(-1, 1)
        images[i] = np.clip(image + rng.normal(0, 0.05, (size, size)), 0, 1)
    return images, labels


def test_image_classifier_separates_two_textures_and_augments_consistently() -> None:
    rng = np.random.default_rng(0)
    X, y = _textures(32, rng)
    test_X, test_y = _textures(16, rng)
    classifier = OmniImageClassifier(width=8, grid=1, max_epochs=15, **{**SMALL, "batch_size": 8}).fit(X, y)
    assert classifier.config_.modalities == ("frames",) and classifier.config_.frame_size == 32
    assert (classifier.predict(test_X) == test_y).mean() >= 0.9
    inputs = classifier._inputs(test_X).inputs(np.arange(4))
    assert inputs.frames is not None and inputs.frames.shape == (4, 1, 1, 3, 32, 32)
    augmented = classifier._augment(inputs, torch.Generator().manual_seed(0)).frames
    assert augmented is not None and augmented.shape == inputs.frames.shape
    # every augmented image is one of the 8 flips/transposes of its original
    for original, changed in zip(inputs.frames[:, 0, 0, 0], augmented[:, 0, 0, 0], strict=True):
        variants = [original.flip(d) if d else original for d in ((), (-1,), (-2,), (-1, -2))]
        variants += [v.transpose(-1, -2) for v in variants]
        assert any(torch.equal(changed, v) for v in variants)


def test_test_time_augmentation_averages_the_eight_views() -> None:
    X, y = _textures(8, np.random.default_rng(1))
    views = dihedral_views(X)
    assert len(views) == 8 and len({v.tobytes() for v in views}) == 8  # textures have no symmetry
    assert any(np.array_equal(v, X.transpose(0, 2, 1)) for v in views)
    plain = OmniImageClassifier(width=4, grid=1, max_epochs=1, **SMALL).fit(X, y)
    averaged = OmniImageClassifier(width=4, grid=1, max_epochs=1, test_time_augment=True, **SMALL).fit(X, y)
    expected = np.mean([plain.predict_proba(v) for v in views], axis=0)
    assert np.allclose(averaged.predict_proba(X), expected, atol=1e-6)
    assert not np.allclose(plain.predict_proba(X), expected, atol=1e-6)


def test_image_classifier_resizes_to_its_image_size() -> None:
    X, y = _textures(8, np.random.default_rng(0), size=48)
    classifier = OmniImageClassifier(image_size=32, width=4, grid=1, max_epochs=1, **SMALL).fit(X, y)
    assert classifier.size_ == 32
    assert classifier.predict(X).shape == (8,)


def test_ensemble_averages_its_members() -> None:
    X, y = _tones(8, np.random.default_rng(2))
    ensemble = OmniWaveformClassifier(n_fft=64, channels=4, max_epochs=1, n_models=2, **SMALL).fit(X, y)
    assert len(ensemble.models_) == 2
    outputs = ensemble._outputs(X)
    expected = torch.stack([torch.softmax(o.fault_logits, dim=-1) for o in outputs]).mean(dim=0).numpy()
    assert np.allclose(ensemble.predict_proba(X), expected)


def test_bad_shapes_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="3 dimensions"):
        OmniRulRegressor(**SMALL).fit(np.zeros((4, 30)), np.zeros(4))
    with pytest.raises(ValueError, match="targets"):
        OmniRulRegressor(**SMALL).fit(np.random.default_rng(0).normal(size=(4, 2, 6)), np.arange(3.0))
