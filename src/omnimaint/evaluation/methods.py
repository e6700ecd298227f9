"""The built-in baselines of each protocol, from :mod:`omnimaint.baselines` (and the case base's hybrid text
retrieval, from :mod:`omnimaint.diagnosis.retrieval`).

Factories import their method when called, so that the registry loads without the optional
``baselines`` extra (scikit-learn, aeon) and without paying its import time. The multimodal model
(``omnimodel``) is registered from :mod:`omnimaint.training.methods`: evaluation never imports training.
"""

from __future__ import annotations

from typing import Any

from omnimaint.evaluation.protocols.base import register_method


def _cmapss_gbdt(seed: int) -> Any:
    from omnimaint.baselines.window_stats import WindowStatsRegressor

    return WindowStatsRegressor(random_state=seed)


def _cmapss_minirocket(seed: int) -> Any:
    from omnimaint.baselines.minirocket import minirocket_regressor

    # 2,000 kernels: ridge on ~20k windows x 10k features takes many minutes on a laptop, 2k about half a minute.
    return minirocket_regressor(n_kernels=2_000, random_state=seed)


def _cwru_spectral(seed: int) -> Any:
    from omnimaint.baselines.spectral import SpectralFeatureClassifier

    return SpectralFeatureClassifier(random_state=seed)


def _cwru_minirocket(seed: int) -> Any:
    from omnimaint.baselines.minirocket import minirocket_classifier

    return minirocket_classifier(random_state=seed)


def _pdm_gbdt(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from omnimaint.baselines.pdm_features import PdmFeatureBuilder, PerComponentClassifier

    booster = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, early_stopping=False, random_state=seed)
    return Pipeline([("features", PdmFeatureBuilder()), ("classifier", PerComponentClassifier(booster))])


def _pdm_isolation_forest(seed: int) -> Any:
    from sklearn.pipeline import Pipeline

    from omnimaint.baselines.isolation_forest import IsolationForestDetector
    from omnimaint.baselines.pdm_features import PdmFeatureBuilder

    return Pipeline([("features", PdmFeatureBuilder()), ("detector", IsolationForestDetector(random_state=seed))])


def _image_features(seed: int) -> Any:
    from omnimaint.baselines.image_features import ImageFeatureClassifier

    return ImageFeatureClassifier(random_state=seed)


def _image_isolation_forest(seed: int) -> Any:
    from sklearn.pipeline import Pipeline

    from omnimaint.baselines.image_features import ImageTextureFeatures
    from omnimaint.baselines.isolation_forest import IsolationForestDetector

    return Pipeline([("features", ImageTextureFeatures()), ("detector", IsolationForestDetector(random_state=seed))])


def _patchcore(seed: int) -> Any:
    from omnimaint.evaluation.patchcore import PatchCoreDetector

    return PatchCoreDetector(random_state=seed)


def _patchcore_texture(seed: int) -> Any:
    from omnimaint.evaluation.patchcore import PatchCoreDetector

    # Chosen on validation images of the NEU training split (docs/benchmarks.md, "NEU anomaly detection"):
    # deeper stages, contrast-normalised images, all eight flips/transposes in the memory bank and at test
    # time, the mean patch distance.
    return PatchCoreDetector(
        input_size=160,
        stages=(4, 6),
        coreset_ratio=0.02,
        image_score="mean",
        contrast_normalise=True,
        augment="dihedral",
        test_views="dihedral",
        random_state=seed,
    )


def _bm25(seed: int) -> Any:
    from omnimaint.baselines.bm25 import BM25Retriever

    return BM25Retriever()


def _hybrid(seed: int) -> Any:
    from omnimaint.diagnosis.retrieval import HybridRetriever

    return HybridRetriever()


def register_builtin_methods() -> None:
    """Register every baseline with the protocols it fits."""
    for protocol in ("cmapss", "cmapss-long", "cmapss-regimes"):
        register_method(protocol, "gbdt", _cmapss_gbdt, "gradient-boosted trees on window statistics")
    register_method("cmapss", "minirocket", _cmapss_minirocket, "MiniRocket (2,000 kernels) + ridge regression")
    for protocol in ("cwru", "cwru-cross-load"):
        register_method(protocol, "spectral", _cwru_spectral, "spectral/envelope features + random forest")
        register_method(protocol, "minirocket", _cwru_minirocket, "MiniRocket features + ridge classifier")
    register_method("azure-pdm", "gbdt", _pdm_gbdt, "PdM-guide features + gradient-boosted trees per component")
    register_method("azure-pdm", "isolation-forest", _pdm_isolation_forest, "PdM-guide features + Isolation Forest")
    register_method("images", "texture-gbdt", _image_features, "texture features + gradient-boosted trees")
    register_method(
        "images-anomaly", "isolation-forest", _image_isolation_forest, "texture features + Isolation Forest"
    )
    register_method(
        "images-anomaly",
        "patchcore",
        _patchcore,
        "PatchCore (Roth et al. 2022) on ImageNet EfficientNet-Lite0 patch features; anomaly maps for pixel AUROC",
    )
    register_method(
        "images-anomaly",
        "patchcore-texture",
        _patchcore_texture,
        "PatchCore for one-texture images: contrast-normalised, flips/transposes in the bank, mean patch distance",
    )
    register_method("maintenance-text", "bm25", _bm25, "Okapi BM25 over problem texts")
    register_method(
        "maintenance-text",
        "hybrid",
        _hybrid,
        "BM25 + MiniLM cosine fused by reciprocal rank, then the 100 nearest records vote by action",
    )
