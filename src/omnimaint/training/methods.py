"""The multimodal model (``omnimodel``) as a method of the benchmark protocols.

Registered from training, not from :mod:`omnimaint.evaluation` (which never imports training): importing
this module adds ``omnimodel`` to every protocol it fits. The command line imports it before it runs a
benchmark; so does any program that wants the model among the methods.

On a protocol that scores bundles (``azure-pdm``), ``omnimodel`` is :func:`omnimaint.training.run.train`
with the protocol's packaged config (:func:`protocol_config`) on the protocol's anchors: the bundle a user
gets from ``omnimaint train DATASET --protocol P``. On the others it is still one of the estimators of
:mod:`omnimaint.training.array_estimators` until they move to the bundle path too (issue 17).

Factories import their estimator when called, so that registering costs no torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.errors import ConfigError
from omnimaint.evaluation.protocols import register_method

if TYPE_CHECKING:
    from omnimaint.training.config import TrainConfig

PROTOCOL_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
"""Where each protocol's training settings are, one ``<protocol>.yaml`` (shipped with the package)."""


def protocol_config(protocol: str) -> Path:
    """The packaged training config of a protocol that scores bundles.

    Raises:
        ConfigError: naming the protocols that have one, if ``protocol`` has none.
    """
    path = PROTOCOL_CONFIGS / f"{protocol}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROTOCOL_CONFIGS.glob("*.yaml"))) or "none"
        raise ConfigError(f"protocol {protocol!r} has no training config (protocols with one: {known})")
    return path


@dataclass
class ProtocolTrainer:
    """What ``omnimodel`` does on a protocol that scores bundles: ``omnimaint train`` with the protocol's
    config (or ``config``), dotted ``overrides`` applied (``{"optim.max_epochs": 10}``, as ``omnimaint tune
    --set`` gives them), on the protocol's ``train``/``val`` anchors, in the run folder it is given.

    Attributes:
        protocol: The protocol.
        seed: Seed of the run.
        config: A config file instead of the protocol's packaged one.
        overrides: Changes to the config, by dotted name.
    """

    protocol: str
    seed: int = 0
    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, dataset: Path, run: Path) -> TrainConfig:
        """The training config of a run on ``dataset`` in ``run``.

        Raises:
            ConfigError: naming the setting, if an override is unknown or invalid.
        """
        from omnimaint.training.config import load_config

        overrides = {**self.overrides, "data.dataset": str(dataset), "out": str(run), "seed": self.seed}
        return load_config(self.config or protocol_config(self.protocol), overrides)

    def check(self) -> None:
        """Refuse unknown or invalid overrides before any data are read."""
        self.settings(Path(), Path())

    def __call__(self, inputs: dict[str, ProtocolInputs], run: Path) -> Path:
        from omnimaint.training.run import train

        settings = self.settings(inputs["train"].dataset.path, run)
        bundle = train(settings, overwrite=True, inputs=inputs)
        if bundle is None:  # pragma: no cover (only on non-zero data-parallel ranks)
            raise RuntimeError("benchmarks train in one process")
        return bundle


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
        partial(ProtocolTrainer, "azure-pdm"),
        "the bundle of `omnimaint train --protocol azure-pdm`: telemetry + events + maintenance encoders, "
        "per-component failure head",
        trains_bundle=True,
    )


register_model_methods()
