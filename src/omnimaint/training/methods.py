"""The multimodal model (``omnimodel``) as a method of the benchmark protocols.

Registered from training, not from :mod:`omnimaint.evaluation` (which never imports training): importing
this module adds ``omnimodel`` to every protocol it fits. The command line imports it before it runs a
benchmark; so does any program that wants the model among the methods.

Factories import their estimator when called, so that registering costs no torch import.
"""

from __future__ import annotations

from typing import Any

from omnimaint.evaluation.protocols import register_method

# The omnimodel settings below were chosen on each protocol's validation data only (C-MAPSS: the held-out
# training engines of ``val_rmse``; CWRU: the end of each recording's training block; images: a stratified
# fifth of the training images; Azure PdM: the protocol's validation slice), never on test data.


_RUL_MODEL: dict[str, Any] = {
    "rul_cap": 125.0,
    "layers": 2,
    "min_target_correlation": 0.2,
    "d_model": 32,
    "heads": 2,
    "dropout": 0.2,
    "batch_size": 256,
    "num_threads": 1,
}
"""What the two C-MAPSS protocols' RUL models share: small patch transformers, several averaged."""


def _cmapss_omnimodel(seed: int) -> Any:
    from omnimaint.training.array_estimators import OmniRulRegressor

    # Patches of 5 cycles; each model early-stopped on its own fifth of the training engines.
    # Up to 40 epochs with patience 8 (val_rmse_test_like 15.18, against 15.47 for 5 models x 15 epochs and
    # 15.59 for 5 models each on its own tenth; `omnimaint tune cmapss`, docs/benchmarks.md).
    return OmniRulRegressor(
        **_RUL_MODEL, n_models=3, patch=5, max_epochs=40, validation_fraction=0.2, patience=8, random_state=seed
    )


def _cmapss_long_omnimodel(seed: int) -> Any:
    from omnimaint.training.array_estimators import OmniRulRegressor

    # 80-cycle windows (+ the readings' drift and the engine's age) in patches of 10; 5 models, each on every
    # training engine for 25 epochs (no held-out engines to stop on), with Gaussian noise of 0.1 sd on the
    # standardised windows. Each setting was chosen on val_rmse_test_like (11.08 over splits 0-3); every try
    # and its figures are in docs/benchmarks.md.
    return OmniRulRegressor(
        **_RUL_MODEL, n_models=5, patch=10, max_epochs=25, validation_fraction=0.0, noise=0.1, random_state=seed
    )


def _cwru_omnimodel(seed: int) -> Any:
    from omnimaint.training.array_estimators import OmniWaveformClassifier

    return OmniWaveformClassifier(
        n_fft=256, channels=32, max_epochs=20, batch_size=32, num_threads=1, random_state=seed
    )


def _image_omnimodel(seed: int) -> Any:
    from omnimaint.training.array_estimators import OmniImageClassifier

    # 96 px, 60 epochs and the mean over the eight flips/transposes at prediction: validation accuracy 99.2 and
    # 98.4 % (two validation splits) against 97.6 and 97.6 % for 64 px, 60 epochs (docs/benchmarks.md).
    return OmniImageClassifier(
        image_size=96, width=32, grid=2, max_epochs=60, batch_size=32, test_time_augment=True, random_state=seed
    )


def _pdm_omnimodel(seed: int) -> Any:
    from omnimaint.training.pdm_estimator import OmniPdmClassifier

    # 3 models averaged, each trained on the samples in and up to 24 h before a failure window and on its
    # own 30 % of the others.
    return OmniPdmClassifier(
        telemetry_hours=48,
        event_hours=72,
        patch=4,
        max_epochs=5,
        batch_size=128,
        n_models=3,
        negative_fraction=0.3,
        boundary_hours=24.0,
        num_threads=1,
        random_state=seed,
    )


def register_model_methods() -> None:
    """Register ``omnimodel`` with every protocol it fits."""
    register_method("cmapss", "omnimodel", _cmapss_omnimodel, "multimodal model, telemetry encoder + RUL head")
    register_method(
        "cmapss-long", "omnimodel", _cmapss_long_omnimodel, "multimodal model, telemetry encoder + RUL head"
    )
    register_method("cwru", "omnimodel", _cwru_omnimodel, "multimodal model, waveform encoder + fault-type head")
    register_method("images", "omnimodel", _image_omnimodel, "multimodal model, frame CNN + fault-type head")
    register_method(
        "azure-pdm",
        "omnimodel",
        _pdm_omnimodel,
        "multimodal model, telemetry + events + maintenance encoders + per-component failure head",
    )


register_model_methods()
