"""The multimodal model (``omnimodel``) as a method of the benchmark protocols.

Registered from training, not from :mod:`omnimaint.evaluation` (which never imports training): importing
this module adds ``omnimodel`` to every protocol it fits. The command line imports it before it runs a
benchmark; so does any program that wants the model among the methods.

On every protocol it fits, ``omnimodel`` is :func:`omnimaint.training.run.train` with the protocol's
packaged config (:func:`protocol_config`) on the protocol's anchors: the bundle a user gets from
``omnimaint train DATASET --protocol P``, scored through the ``Predictor`` by every backend.

Training is imported when a trainer runs, so that registering costs no torch import.
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


DESCRIPTIONS: dict[str, str] = {
    "cmapss": "30 cycles of the 14 wear sensors, telemetry encoder + RUL head, 3 seeds averaged",
    "cmapss-long": "80 cycles of the 14 wear sensors, their drift and the age, telemetry encoder + RUL head, "
    "5 seeds averaged",
    "cmapss-regimes": "as cmapss-long, each reading z-scored per operating regime before its drift is taken, "
    "the regime as indicator channels",
    "cwru": "each segment one waveform burst, spectral CNN, fault-type head",
    "cwru-cross-load": "a bundle per training load, each segment one waveform burst, spectral CNN, fault-type head",
    "images": "each image one frame, grey and contrast-normalised, frame CNN + fault-type head",
    "azure-pdm": "telemetry + events + maintenance encoders, per-component failure head",
}
"""The protocols ``omnimodel`` runs on, each with its packaged config (whose settings were chosen on the
protocol's validation data only, never on test data: see the comments in each config)."""


def register_model_methods() -> None:
    """Register ``omnimodel`` with every protocol it fits: the bundle of ``omnimaint train --protocol P``."""
    for protocol, description in DESCRIPTIONS.items():
        register_method(
            protocol,
            "omnimodel",
            partial(ProtocolTrainer, protocol),
            f"the bundle of `omnimaint train --protocol {protocol}`: {description}",
            trains_bundle=True,
        )


register_model_methods()
