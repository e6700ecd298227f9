"""``omnimaint demo``: the main job on the built-in simulated plant, end to end.

simulate a plant → inspect it → self-supervised pretraining → multi-task fine-tuning (calibrated
thresholds) → evaluation on held-out assets (metrics table, report.html). Sized to finish in a few
minutes on two CPU cores; every step is the same library call the individual commands make.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnimaint.evaluation.model_eval import Evaluation, evaluate_bundle
from omnimaint.evaluation.report import write_report
from omnimaint.sim import PlantConfig, simulate
from omnimaint.training.config import TrainConfig, load_config
from omnimaint.training.run import pretrain, train

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoSettings:
    """Size of the demo.

    Attributes:
        assets: Simulated machines.
        days: Simulated days.
        seed: Seed of the plant and of training.
        fault_rate_scale: Faults are made more frequent than in a real plant so that a short history
            holds enough failures to learn from.
        pretrain_epochs: Self-supervised epochs.
        train_epochs: Fine-tuning epochs (early stopping may end sooner).
        lang: Language of logs and work orders.
    """

    assets: int = 12
    days: float = 45
    seed: int = 0
    fault_rate_scale: float = 3.0
    pretrain_epochs: int = 3
    train_epochs: int = 8
    lang: str = "en"


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote things, and what it measured."""

    dataset: Path
    pretrained: Path
    bundle: Path
    metrics: Path
    report: Path
    evaluation: Evaluation


def _config(dataset: Path, out: Path, settings: DemoSettings, epochs: int, progress: bool, **extra: Any) -> TrainConfig:
    return load_config(
        None,
        {
            "data.dataset": str(dataset),
            "out": str(out),
            "seed": settings.seed,
            "optim.max_epochs": epochs,
            "model.vision.refine": False,  # the simulated plant's visual cues are coarse
            "progress": progress,
            **extra,
        },
    )


def run_demo(out: Path, settings: DemoSettings = DemoSettings(), *, progress: bool = True) -> DemoResult:
    """Run the whole demo into ``out`` (replacing an earlier demo there)."""
    dataset = out / "plant"
    logger.info("simulating %d assets for %g days", settings.assets, settings.days)
    plant = PlantConfig(
        n_assets=settings.assets,
        days=settings.days,
        seed=settings.seed,
        fault_rate_scale=settings.fault_rate_scale,
        lang=settings.lang,  # type: ignore[arg-type]
    )
    simulate(plant, dataset, overwrite=True, progress=progress)
    pretrained = pretrain(_config(dataset, out / "pretrain", settings, settings.pretrain_epochs, progress))
    bundle = train(
        _config(dataset, out / "train", settings, settings.train_epochs, progress, init_from=str(out / "pretrain"))
    )
    if pretrained is None or bundle is None:  # pragma: no cover (only on non-zero data-parallel ranks)
        raise RuntimeError("the demo runs in one process")
    evaluation = evaluate_bundle(bundle, dataset, split="test", progress=progress)
    metrics, report = write_report(
        evaluation, out / "evaluation", "omnimaint demo: held-out assets of the simulated plant"
    )
    return DemoResult(dataset, pretrained, bundle, metrics, report, evaluation)
