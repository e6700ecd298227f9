"""Classic baselines behind the benchmark protocols' estimator interfaces (scikit-learn contract:
``__init__`` stores arguments, ``fit`` returns ``self``, fitted state ends in ``_``).

Owns: feature engineering for classic models (PdM guide features, window statistics, spectral and
texture features), BM25 retrieval, Isolation Forest scoring, and MiniRocket factories (in
:mod:`omnimaint.baselines.minirocket`, kept out of this namespace because importing aeon is slow).
Must not import models, training, inference or service code. Needs the ``baselines`` extra.
"""

from omnimaint.baselines.bm25 import BM25Retriever, tokenize
from omnimaint.baselines.image_features import ImageFeatureClassifier, ImageTextureFeatures
from omnimaint.baselines.isolation_forest import IsolationForestDetector
from omnimaint.baselines.pdm_features import PdmFeatureBuilder, PerComponentClassifier
from omnimaint.baselines.spectral import SpectralFeatureClassifier, SpectralFeatures
from omnimaint.baselines.window_stats import WindowStatsFeatures, WindowStatsRegressor

__all__ = [
    "BM25Retriever",
    "ImageFeatureClassifier",
    "ImageTextureFeatures",
    "IsolationForestDetector",
    "PdmFeatureBuilder",
    "PerComponentClassifier",
    "SpectralFeatureClassifier",
    "SpectralFeatures",
    "WindowStatsFeatures",
    "WindowStatsRegressor",
    "tokenize",
]
