"""Training: from a dataset and a config to a bundle (DESIGN.md §4, §5).

Owns: the training config (:mod:`~omnimaint.training.config`, the surface below); the one path from a
config to a bundle, pretraining and fine-tuning (:mod:`~omnimaint.training.run`: leak-free splits →
windows → preprocessors fitted on the training windows → model → one Lightning loop → bundle); the losses
and Lightning tasks (:mod:`~omnimaint.training.losses`, :mod:`~omnimaint.training.tasks`), batching
(:mod:`~omnimaint.training.data`), checkpoint selection (:mod:`~omnimaint.training.selection`), the
linear probe and the experiments (:mod:`~omnimaint.training.probe`, :mod:`~omnimaint.training.experiments`),
and the ``omnimodel`` method of the benchmark protocols, registered from here
(:mod:`~omnimaint.training.methods`).
Must not import the command line or service code. It builds on data, models, inference and evaluation;
evaluation never imports training (methods reach it through the protocol registry).

Importing this package loads no Lightning: :func:`omnimaint.training.run.train` and ``pretrain`` do.
"""

from omnimaint.training.config import (
    DataConfig,
    OptimConfig,
    PreprocessConfig,
    PretrainObjective,
    TrainConfig,
    load_config,
)

__all__ = ["DataConfig", "OptimConfig", "PreprocessConfig", "PretrainObjective", "TrainConfig", "load_config"]
