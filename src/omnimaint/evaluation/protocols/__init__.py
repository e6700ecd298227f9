"""Standard evaluation protocols, one module per benchmark, and the protocol/method registry.

Each protocol reads a canonical dataset, builds a split that cannot leak, drives a method through a
documented estimator interface and returns a :class:`ProtocolResult`. Register a new method with
:func:`register_method`; run with :func:`run_protocol` (or ``omnimaint bench``).
"""

from functools import partial

from omnimaint.evaluation.methods import register_builtin_methods
from omnimaint.evaluation.protocols.azure_pdm import (
    PdmConfig,
    azure_pdm_inputs,
    run_azure_pdm,
    score_azure_pdm_bundle,
    validate_azure_pdm,
    validate_azure_pdm_bundle,
)
from omnimaint.evaluation.protocols.base import (
    BundleTrainer,
    MethodFactory,
    MethodSpec,
    ProtocolError,
    ProtocolResult,
    ProtocolSpec,
    Tuning,
    get_method,
    get_protocol,
    list_protocols,
    register_method,
    register_protocol,
    subset_protocols,
)
from omnimaint.evaluation.protocols.cmapss import (
    LONG_HISTORY,
    PER_REGIME,
    CmapssConfig,
    cmapss_inputs,
    cmapss_subsets,
    run_cmapss,
    score_cmapss_bundle,
    validate_cmapss,
    validate_cmapss_bundle,
)
from omnimaint.evaluation.protocols.cwru import CwruConfig, cwru_inputs, run_cwru, score_cwru_bundle
from omnimaint.evaluation.protocols.cwru_cross_load import (
    cross_load_inputs,
    cross_load_subsets,
    run_cwru_cross_load,
    score_cross_load_bundle,
)
from omnimaint.evaluation.protocols.images import (
    ImageConfig,
    image_inputs,
    run_image_classification,
    score_image_bundle,
    validate_image_bundle,
    validate_image_classification,
)
from omnimaint.evaluation.protocols.images_anomaly import run_image_anomaly, validate_image_anomaly
from omnimaint.evaluation.protocols.inputs import has_asset_type as _has_asset_type
from omnimaint.evaluation.protocols.maintenance_text import TextRetrievalConfig, run_maintenance_text
from omnimaint.evaluation.protocols.running import run_protocol

register_protocol(
    ProtocolSpec(
        name="cmapss",
        run=run_cmapss,
        applies=lambda d: _has_asset_type(d, "turbofan"),
        summary="RUL, cap 125, last-30-cycle windows; RMSE and NASA score on each test engine's last cycle",
        reference="Saxena et al., PHM 2008; Heimes, PHM 2008; Li, Ding & Sun, RESS 2018",
        subsets=cmapss_subsets,
        bundle_inputs=cmapss_inputs,
        score_bundle=score_cmapss_bundle,
        tuning=Tuning(validate_cmapss, CmapssConfig(), validate_cmapss_bundle),
    )
)
register_protocol(
    ProtocolSpec(
        name="cmapss-long",
        run=partial(run_cmapss, config=LONG_HISTORY),
        applies=lambda d: _has_asset_type(d, "turbofan"),
        summary=f"as cmapss, with the last {LONG_HISTORY.window} cycles and the engine's age as inputs",
        reference="Saxena et al., PHM 2008; Heimes, PHM 2008",
        subsets=cmapss_subsets,
        bundle_inputs=cmapss_inputs,
        score_bundle=score_cmapss_bundle,
        tuning=Tuning(validate_cmapss, LONG_HISTORY, validate_cmapss_bundle),
    )
)
register_protocol(
    ProtocolSpec(
        name="cmapss-regimes",
        run=partial(run_cmapss, config=PER_REGIME),
        applies=lambda d: _has_asset_type(d, "turbofan"),
        summary="as cmapss-long, each reading z-scored per operating regime (k-means on the declared settings)",
        reference="Saxena et al., PHM 2008; Wang et al., PHM 2008; Li, Ding & Sun, RESS 2018",
        subsets=cmapss_subsets,
        bundle_inputs=cmapss_inputs,
        score_bundle=score_cmapss_bundle,
        tuning=Tuning(validate_cmapss, PER_REGIME, validate_cmapss_bundle),
    )
)
register_protocol(
    ProtocolSpec(
        name="cwru",
        run=run_cwru,
        bundle_inputs=cwru_inputs,
        score_bundle=score_cwru_bundle,
        applies=lambda d: _has_asset_type(d, "bearing_rig"),
        summary="10-class bearing diagnosis, train/gap/test blocks within each recording; accuracy, macro-F1",
        reference="CWRU Bearing Data Center; Smith & Randall, MSSP 2015",
    )
)
register_protocol(
    ProtocolSpec(
        name="cwru-cross-load",
        run=run_cwru_cross_load,
        bundle_inputs=cross_load_inputs,
        score_bundle=score_cross_load_bundle,
        subsets=cross_load_subsets,
        averages_subsets=True,
        adapts=True,
        applies=lambda d: _has_asset_type(d, "bearing_rig"),
        summary="10-class bearing diagnosis, train on one motor load (a subset), test on the others; mean accuracy, "
        "macro-F1 over the training loads",
        reference="CWRU Bearing Data Center; Zhang et al., Sensors 2017 (WDCNN cross-load setting)",
    )
)
register_protocol(
    ProtocolSpec(
        name="azure-pdm",
        run=run_azure_pdm,
        bundle_inputs=azure_pdm_inputs,
        score_bundle=score_azure_pdm_bundle,
        tuning=Tuning(validate_azure_pdm, PdmConfig(), validate_azure_pdm_bundle),
        applies=lambda d: _has_asset_type(d, "machine"),
        summary="component failure within 24 h, time split with gap; precision/recall/F1 per component",
        reference="Microsoft, Predictive Maintenance Modelling Guide (Azure AI Gallery, 2016)",
    )
)
register_protocol(
    ProtocolSpec(
        name="images",
        run=run_image_classification,
        bundle_inputs=image_inputs,
        score_bundle=score_image_bundle,
        tuning=Tuning(validate_image_classification, ImageConfig(), validate_image_bundle),
        applies=lambda d: d.has("frames"),
        summary="image classification, stratified split (fixed seed); accuracy, macro-F1",
        reference="Song & Yan, Applied Surface Science 2013 (NEU)",
    )
)
register_protocol(
    ProtocolSpec(
        name="images-anomaly",
        run=run_image_anomaly,
        tuning=Tuning(validate_image_anomaly, ImageConfig()),
        applies=lambda d: d.has("frames"),
        summary=(
            "train on normal images only; image-level AUROC (one-class-vs-rest without a normal class), "
            "pixel-level AUROC where masks exist"
        ),
        reference="Bergmann et al., CVPR 2019 (MVTec AD); Ruff et al., ICML 2018 (one-class protocol)",
    )
)
register_protocol(
    ProtocolSpec(
        name="maintenance-text",
        run=run_maintenance_text,
        applies=lambda d: d.has("maintenance"),
        summary="retrieve the past action for a problem text, split by record id; recall@1/5, MRR",
        reference="Akhbardeh, Desell & Zampieri, COLING 2020 (MaintNet)",
    )
)
register_builtin_methods()

__all__ = [
    "LONG_HISTORY",
    "PER_REGIME",
    "BundleTrainer",
    "CmapssConfig",
    "CwruConfig",
    "ImageConfig",
    "MethodFactory",
    "MethodSpec",
    "PdmConfig",
    "ProtocolError",
    "ProtocolResult",
    "ProtocolSpec",
    "TextRetrievalConfig",
    "Tuning",
    "azure_pdm_inputs",
    "cmapss_inputs",
    "cmapss_subsets",
    "cross_load_inputs",
    "cross_load_subsets",
    "cwru_inputs",
    "get_method",
    "get_protocol",
    "image_inputs",
    "list_protocols",
    "register_method",
    "register_protocol",
    "run_azure_pdm",
    "run_cmapss",
    "run_cwru",
    "run_cwru_cross_load",
    "run_image_anomaly",
    "run_image_classification",
    "run_maintenance_text",
    "run_protocol",
    "score_azure_pdm_bundle",
    "score_cmapss_bundle",
    "score_cross_load_bundle",
    "score_cwru_bundle",
    "score_image_bundle",
    "subset_protocols",
    "validate_azure_pdm",
    "validate_azure_pdm_bundle",
    "validate_cmapss",
    "validate_cmapss_bundle",
    "validate_image_anomaly",
    "validate_image_bundle",
    "validate_image_classification",
]
