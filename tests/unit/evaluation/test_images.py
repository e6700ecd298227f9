"""Image protocols: stratified image split, anomaly tasks trained on normal images only."""

from __future__ import annotations

import numpy as np
import pytest

from omnimaint.data import Dataset
from omnimaint.evaluation.protocols.images import ImageConfig, image_split, load_images, run_image_classification
from omnimaint.evaluation.protocols.images_anomaly import anomaly_tasks, run_image_anomaly
from tests.unit.evaluation.canonical import image_dataset

CLASSES = ("horizontal", "vertical", "checks")
CONFIG = ImageConfig(image_size=32, test_fraction=0.3)


@pytest.fixture(scope="module")
def neu_like(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return image_dataset(tmp_path_factory.mktemp("neu") / "d", CLASSES, per_class=10)


@pytest.fixture(scope="module")
def mvtec_like(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return image_dataset(
        tmp_path_factory.mktemp("mvtec") / "d", ("normal", "horizontal", "checks"), per_class=10, mvtec=True
    )


class _MeanBrightness:
    """Normality = closeness of the image's contrast to the training images' contrast."""

    def fit(self, X: np.ndarray) -> _MeanBrightness:
        self.contrast_ = float(X.std(axis=(1, 2)).mean())
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return -np.abs(X.std(axis=(1, 2)) - self.contrast_)


def test_stratified_split_has_no_image_on_both_sides(neu_like: Dataset) -> None:
    images = load_images(neu_like, CONFIG)
    assert images.X.shape == (30, 32, 32)
    assert images.X.min() >= 0.0 and images.X.max() <= 1.0
    split = image_split(images, CONFIG, seed=0)
    assert set(images.paths[split.train]).isdisjoint(images.paths[split.test])
    assert {c: int(np.sum(images.y[split.test] == c)) for c in CLASSES} == dict.fromkeys(CLASSES, 3)


def test_texture_baseline_classifies_the_textures(neu_like: Dataset) -> None:
    from omnimaint.baselines import ImageFeatureClassifier

    def factory(seed: int) -> ImageFeatureClassifier:
        return ImageFeatureClassifier(max_iter=30, min_samples_leaf=3, random_state=seed)

    result = run_image_classification(neu_like, factory, config=CONFIG)
    assert result.metrics["accuracy"] >= 0.85
    assert result.details["n_test"] == 9


def test_one_class_vs_rest_trains_each_class_on_its_own_training_images(neu_like: Dataset) -> None:
    images = load_images(neu_like, CONFIG)
    tasks = anomaly_tasks(images, CONFIG, seed=0)
    split = image_split(images, CONFIG, seed=0)
    assert [t.name for t in tasks] == sorted(CLASSES)
    for task in tasks:
        assert set(task.train.y) == {task.name}
        assert set(task.train.paths) <= set(images.paths[split.train])
        assert set(task.train.paths).isdisjoint(task.test.paths)
        assert task.is_anomaly.tolist() == (task.test.y != task.name).tolist()


def test_mvtec_layout_trains_on_normal_train_images_only(mvtec_like: Dataset) -> None:
    images = load_images(mvtec_like, CONFIG)
    (task,) = anomaly_tasks(images, CONFIG, seed=0)
    assert task.name == "tex"
    assert set(task.train.asset_ids) == {"tex-train"} and set(task.train.y) == {"normal"}
    assert set(task.test.asset_ids) == {"tex-test"}
    result = run_image_anomaly(mvtec_like, lambda seed: _MeanBrightness(), config=CONFIG)
    assert result.metrics["auroc"] > 0.9


def test_isolation_forest_baseline_detects_other_textures(mvtec_like: Dataset) -> None:
    from sklearn.pipeline import Pipeline

    from omnimaint.baselines import ImageTextureFeatures, IsolationForestDetector

    def factory(seed: int) -> Pipeline:
        return Pipeline(
            [("features", ImageTextureFeatures()), ("detector", IsolationForestDetector(random_state=seed))]
        )

    assert run_image_anomaly(mvtec_like, factory, config=CONFIG).metrics["auroc"] > 0.9
