"""The multimodal model as a scikit-learn-style estimator, for benchmark protocols that hand over arrays.

:class:`OmniEstimator` is the one generic loop: a subclass turns its ``X`` into :class:`ModelInputs`
(fitting its preprocessing on the training data only), its ``y`` into :class:`LabelTensors` in which
every other task is unknown, and names the encoders it needs in a :class:`ModelConfig`; the base
builds the :class:`OmniModel`, trains it with :class:`FineTuneTask` (the masked multi-task losses of
:func:`task_losses`) in a seeded, deterministic CPU Lightning ``Trainer``, optionally early-stopping on
held-out groups, and runs batched inference. Several seeds can be trained and their outputs averaged.

The per-task subclasses live in :mod:`omnimaint.training.array_estimators` (C-MAPSS windows, vibration
segments, grey images); the Azure PdM protocol trains bundles instead (:mod:`omnimaint.training.methods`).
"""

from __future__ import annotations

import copy
import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch.utils.data import DataLoader

from omnimaint.models.config import ModelConfig
from omnimaint.models.inputs import ModelInputs, ModelOutputs
from omnimaint.models.omni import OmniModel
from omnimaint.training.config import OptimConfig
from omnimaint.training.data import GlobalBatchSampler, Indices, LabelTensors, TrainingBatch
from omnimaint.training.tasks import FineTuneTask

logger = logging.getLogger(__name__)

PREDICT_BATCH = 512


class InputSource(Protocol):
    """Model inputs of ``n`` samples, built batch by batch (so that large inputs are never all in memory)."""

    def __len__(self) -> int: ...

    def inputs(self, rows: np.ndarray) -> ModelInputs:
        """The model inputs of the samples at ``rows``."""
        ...


@dataclass
class TensorSource:
    """An :class:`InputSource` over model inputs already held as tensors."""

    tensors: ModelInputs

    def __len__(self) -> int:
        return self.tensors.batch_size

    def inputs(self, rows: np.ndarray) -> ModelInputs:
        return self.tensors.select(torch.from_numpy(np.asarray(rows, dtype=np.int64)))


def unknown_labels(n: int, n_horizons: int = 1, n_components: int = 0) -> LabelTensors:
    """Labels of ``n`` samples with every task unknown (callers fill in the one they supervise)."""
    return LabelTensors(
        failure_within=torch.zeros(n, n_horizons),
        failure_within_known=torch.zeros(n, n_horizons),
        component_failure_within=torch.zeros(n, n_horizons, n_components),
        component_failure_within_known=torch.zeros(n, n_horizons, n_components),
        rul_fraction=torch.zeros(n),
        rul_known=torch.zeros(n),
        fault_type=torch.full((n,), -1, dtype=torch.long),
        health_state=torch.full((n,), -1, dtype=torch.long),
    )


def select_labels(labels: LabelTensors, rows: torch.Tensor) -> LabelTensors:
    """The labels of the samples at ``rows``."""
    return LabelTensors(**{name: value[rows] for name, value in labels.__dict__.items()})


Augment = Callable[[ModelInputs, torch.Generator], ModelInputs]


class _Batches:
    """Sample indices → :class:`TrainingBatch`, with an optional seeded training-time augmentation."""

    def __init__(self, source: InputSource, labels: LabelTensors, augment: Augment | None, seed: int) -> None:
        self.source = source
        self.labels = labels
        self.augment = augment
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, indices: list[int]) -> TrainingBatch:
        rows = np.asarray(indices, dtype=np.int64)
        inputs = self.source.inputs(rows)
        if self.augment is not None:
            inputs = self.augment(inputs, self.generator)
        return TrainingBatch(inputs, select_labels(self.labels, torch.from_numpy(rows)))


class _Subset:
    """The samples of an :class:`InputSource` at some rows."""

    def __init__(self, source: InputSource, rows: np.ndarray) -> None:
        self.source = source
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def inputs(self, rows: np.ndarray) -> ModelInputs:
        return self.source.inputs(self.rows[rows])


class _KeepBest(L.Callback):
    """Keeps, in memory, the model weights of the epoch with the lowest validation loss."""

    def __init__(self) -> None:
        self.best = float("inf")
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if value is not None and float(value) < self.best:
            self.best = float(value)
            self.state = copy.deepcopy(pl_module.model.state_dict())  # type: ignore[union-attr]


def group_holdout(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Which samples are held out when a seeded ``fraction`` of the groups (at least one) is."""
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    n_held = max(1, round(fraction * len(unique)))
    held = rng.choice(unique, size=min(n_held, len(unique) - 1), replace=False)
    return np.isin(groups, held)


class OmniEstimator(ABC):
    """Shared fit/predict of the multimodal model on protocol arrays.

    Subclasses implement :meth:`_fit_inputs`, :meth:`_inputs`, :meth:`_targets` and :meth:`_architecture`
    and may override :meth:`_groups` (enables early stopping on held-out groups), :meth:`_subsample` (which
    training samples each model of an ensemble sees) and :meth:`_augment`.

    Args:
        d_model: Token width.
        heads: Attention heads.
        dropout: Dropout in encoders, fusion and heads.
        max_epochs: Training epochs (the cosine learning-rate schedule spans them).
        batch_size: Samples per optimiser step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        validation_fraction: Share of the subclass's groups held out for early stopping and choosing the
            best epoch (0 trains all epochs on all samples).
        patience: Early-stopping patience in epochs (with a validation hold-out).
        n_models: Models trained with seeds ``random_state``, ``random_state + 1`` ...; their outputs are averaged.
        num_threads: Torch intra-op threads while fitting and predicting (``None`` leaves torch's setting).
            Small models run faster on one thread: their operations are too small to split, and on a
            busy machine threads that wait for each other cost more than they bring.
        random_state: Seed of weights, batch order, dropout, augmentation and the hold-out.
    """

    def __init__(
        self,
        *,
        d_model: int = 64,
        heads: int = 4,
        dropout: float = 0.1,
        max_epochs: int = 30,
        batch_size: int = 128,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        validation_fraction: float = 0.0,
        patience: int = 8,
        n_models: int = 1,
        num_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.d_model = d_model
        self.heads = heads
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_models = n_models
        self.num_threads = num_threads
        self.random_state = random_state

    # -- what subclasses provide --------------------------------------------------------------------

    @abstractmethod
    def _fit_inputs(self, X: Any, y: Any) -> InputSource:
        """Fit the preprocessing on the training ``X`` (and ``y``, e.g. to select inputs), setting ``*_``
        attributes; return the model inputs of ``X``."""

    @abstractmethod
    def _inputs(self, X: Any) -> InputSource:
        """Model inputs of ``X`` under the fitted preprocessing."""

    @abstractmethod
    def _targets(self, y: Any, n: int) -> LabelTensors:
        """Labels of the supervised task (every other task unknown); may set fitted attributes."""

    @abstractmethod
    def _architecture(self) -> ModelConfig:
        """The model configuration (modalities and data sizes), after :meth:`_fit_inputs` and :meth:`_targets`."""

    def _groups(self, X: Any, y: Any) -> np.ndarray | None:
        """Group of each sample for the early-stopping hold-out (``None``: each sample is its own group)."""
        return None

    def _subsample(self, labels: LabelTensors, rng: np.random.Generator) -> np.ndarray | None:
        """Which training samples one model trains on (``None``: all); drawn afresh for each model."""
        return None

    def _augment(self, inputs: ModelInputs, generator: torch.Generator) -> ModelInputs:
        """Training-time augmentation of a batch (none by default)."""
        return inputs

    def _base_config(self, **fields: Any) -> ModelConfig:
        """A config with this estimator's width, heads and dropout and the subclass's ``fields``."""
        return ModelConfig.model_validate(
            {"d_model": self.d_model, "heads": self.heads, "dropout": self.dropout, **fields}
        )

    # -- the shared loop -----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> OmniEstimator:
        """Fit the preprocessing and train ``n_models`` models.

        Args:
            X: Training inputs in the protocol's form.
            y: Training targets in the protocol's form.

        Returns:
            self
        """
        with _threads(self.num_threads):
            return self._fit(X, y)

    def _fit(self, X: Any, y: Any) -> OmniEstimator:
        source = self._fit_inputs(X, y)
        labels = self._targets(y, len(source))
        self.config_ = self._architecture()
        groups = self._groups(X, y) if self.validation_fraction > 0 else None
        groups = np.arange(len(source)) if groups is None else groups
        self.models_: list[OmniModel] = []
        self.best_val_loss_: list[float] = []
        for k in range(self.n_models):
            # Each model of an ensemble holds out its own groups, so that together they learn from all.
            seed = self.random_state + k
            held_out = (
                group_holdout(groups, self.validation_fraction, seed)
                if self.validation_fraction > 0
                else np.zeros(len(source), dtype=bool)
            )
            train = ~held_out
            chosen = self._subsample(labels, np.random.default_rng(seed))
            if chosen is not None:
                train &= chosen
            model, best = self._train_one(source, labels, np.flatnonzero(train), np.flatnonzero(held_out), seed)
            self.models_.append(model)
            self.best_val_loss_.append(best)
        return self

    def _loader(self, source: InputSource, labels: LabelTensors, rows: np.ndarray, seed: int, train: bool) -> Any:
        subset = _Subset(source, rows)
        batches = _Batches(
            subset, select_labels(labels, torch.from_numpy(rows)), self._augment if train else None, seed
        )
        size = self.batch_size if train else PREDICT_BATCH
        return DataLoader(
            Indices(len(rows)),
            batch_sampler=GlobalBatchSampler(len(rows), size, shuffle=train, seed=seed),
            collate_fn=batches,
        )

    def _train_one(
        self, source: InputSource, labels: LabelTensors, train_rows: np.ndarray, val_rows: np.ndarray, seed: int
    ) -> tuple[OmniModel, float]:
        L.seed_everything(seed, verbose=False)
        model = OmniModel(self.config_)
        optim = OptimConfig(
            lr=self.lr, weight_decay=self.weight_decay, batch_size=self.batch_size, max_epochs=self.max_epochs
        )
        task = FineTuneTask(model, optim, early_warning_score=False)
        keep = _KeepBest()
        callbacks: list[L.Callback] = [keep]
        if val_rows.size and self.patience > 0:
            callbacks.append(EarlyStopping(monitor="val_loss", patience=self.patience))
        train_loader = self._loader(source, labels, train_rows, seed, train=True)
        val_loader = self._loader(source, labels, val_rows, seed, train=False) if val_rows.size else None
        with _quiet_lightning():
            trainer = L.Trainer(
                max_epochs=self.max_epochs,
                accelerator="cpu",
                devices=1,
                deterministic=True,
                gradient_clip_val=optim.grad_clip,
                callbacks=callbacks,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                use_distributed_sampler=False,
            )
            trainer.fit(task, train_dataloaders=train_loader, val_dataloaders=val_loader)
        if keep.state is not None:
            model.load_state_dict(keep.state)
            logger.info("seed %d: best validation loss %.4f of %d epochs", seed, keep.best, trainer.current_epoch)
        return model.eval(), keep.best

    def _outputs(self, X: Any) -> list[ModelOutputs]:
        """Per trained model, its outputs on every sample of ``X`` (concatenated over batches)."""
        source = self._inputs(X)
        per_model: list[list[ModelOutputs]] = [[] for _ in self.models_]
        with _threads(self.num_threads), torch.inference_mode():
            for start in range(0, len(source), PREDICT_BATCH):
                inputs = source.inputs(np.arange(start, min(start + PREDICT_BATCH, len(source))))
                for k, model in enumerate(self.models_):
                    per_model[k].append(model(inputs))
        return [_concat(parts) for parts in per_model]

    def _mean_over_models(self, X: Any, read: Callable[[ModelOutputs], torch.Tensor]) -> np.ndarray:
        """Mean over the trained models of one quantity read from their outputs on ``X``."""
        values = [read(outputs) for outputs in self._outputs(X)]
        return torch.stack(values).mean(dim=0).numpy()


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (unchanged when ``None``), restoring the setting after."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning's start-up banner and its advice for long runs (one estimator fits many times)."""
    lightning_logger = logging.getLogger("lightning.pytorch")
    level = lightning_logger.level
    lightning_logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            yield
    finally:
        lightning_logger.setLevel(level)


def _concat(parts: Sequence[ModelOutputs]) -> ModelOutputs:
    return ModelOutputs(
        **{name: torch.cat([getattr(p, name) for p in parts]) for name in ModelOutputs.__dataclass_fields__}
    )
