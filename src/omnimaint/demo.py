"""``omnimaint demo``: the main job on the built-in simulated plant, end to end.

simulate a plant → inspect it → self-supervised pretraining → multi-task fine-tuning (calibrated
thresholds) → evaluation on held-out assets (metrics table, report.html). Sized to finish in a few
minutes on two CPU cores; every step is the same library call the individual commands make. Everything
goes into one demo folder, marked as such (:mod:`omnimaint.atomic`): ``overwrite`` replaces an earlier
demo, and any other folder is refused before anything is simulated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnimaint.atomic import DEMO, EVALUATION, claim_folder, staged_folder
from omnimaint.evaluation.model_eval import Evaluation, evaluate_bundle
from omnimaint.evaluation.report import write_report
from omnimaint.sim import PlantConfig, simulate
from omnimaint.sim.config import Language
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
        lang: Language of logs, work orders and the report (the report can switch).
    """

    assets: int = 12
    days: float = 45
    seed: int = 0
    fault_rate_scale: float = 3.0
    pretrain_epochs: int = 3
    train_epochs: int = 8
    lang: Language = "en"


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


def run_demo(
    out: Path, settings: DemoSettings = DemoSettings(), *, overwrite: bool = False, progress: bool = True
) -> DemoResult:
    """Run the whole demo into the demo folder ``out``, started afresh.

    Raises:
        OutputError: if ``out`` holds an earlier demo and ``overwrite`` is not set, or anything else.
    """
    claim_folder(out, DEMO, overwrite=overwrite)
    dataset = out / "plant"
    logger.info("simulating %d assets for %g days", settings.assets, settings.days)
    plant = PlantConfig(
        n_assets=settings.assets,
        days=settings.days,
        seed=settings.seed,
        fault_rate_scale=settings.fault_rate_scale,
        lang=settings.lang,
    )
    simulate(plant, dataset, progress=progress)
    pretrained = pretrain(_config(dataset, out / "pretrain", settings, settings.pretrain_epochs, progress))
    bundle = train(
        _config(dataset, out / "train", settings, settings.train_epochs, progress, init_from=str(out / "pretrain"))
    )
    if pretrained is None or bundle is None:  # pragma: no cover (only on non-zero data-parallel ranks)
        raise RuntimeError("the demo runs in one process")
    evaluation = evaluate_bundle(bundle, dataset, split="test", progress=progress)
    title = "omnimaint demo: held-out assets of the simulated plant"
    with staged_folder(out / "evaluation", EVALUATION) as folder:
        metrics, report = write_report(evaluation, folder, title, lang=settings.lang)
    final = out / "evaluation"
    return DemoResult(dataset, pretrained, bundle, final / metrics.name, final / report.name, evaluation)
