"""``omnimaint pretrain`` and ``omnimaint train``: from a config to a bundle.

Both prepare the same way (dataset → leak-free splits → windows → preprocessor fitted on the training
windows → model), run one Lightning loop, and write a bundle. Fine-tuning additionally fits the
anomaly head on healthy training windows and calibrates alert thresholds on the validation split.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from pydantic import ValidationError

from omnimaint.data.dataset import Dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split, make_splits
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.evaluation.early_warning import threshold_for_false_alarm_rate
from omnimaint.inference.bundle import Bundle, Thresholds
from omnimaint.inference.predictor import Predictor
from omnimaint.models.omni import OmniModel
from omnimaint.models.preprocessing import Preprocessor, complete_config
from omnimaint.training.config import TrainConfig
from omnimaint.training.data import WindowDataModule
from omnimaint.training.selection import check_scorable, monitor
from omnimaint.training.tasks import FineTuneTask, PretrainTask

logger = logging.getLogger(__name__)

BUNDLE_DIR = "bundle"


@dataclass
class Prepared:
    """Everything built before the loop: data, splits, windows, preprocessing, model."""

    dataset: Dataset
    spec: WindowSpec
    splits: dict[str, Split]
    train: WindowedDataset
    val: WindowedDataset | None
    preprocessor: Preprocessor
    model: OmniModel


def _windows(dataset: Dataset, spec: WindowSpec, split: Split, vocab: object) -> WindowedDataset | None:
    try:
        return WindowedDataset(dataset, spec, vocab=vocab, split=split)  # type: ignore[arg-type]
    except ConfigError as exc:
        logger.warning("no %s windows: %s", split.name, exc)
        return None


def prepare(config: TrainConfig, kind: Literal["model", "pretrained"] = "model") -> Prepared:
    """Build splits, windows, the preprocessor (or take it from ``init_from``) and the model.

    For pretraining (``kind="pretrained"``) the training windows are cut every ``pretrain.stride`` when it
    is set; ``Prepared.spec``, which the bundle stores, keeps the configured stride.
    """
    dataset = Dataset(config.data.dataset)
    start = Bundle.load(_bundle_dir(config.init_from)) if config.init_from is not None else None
    spec = start.window if start is not None else config.data.window
    splits = make_splits(dataset, spec, config.data.split, config.data.fractions, config.data.split_seed)
    vocab = start.preprocessor.vocab if start is not None else None
    train = WindowedDataset(dataset, _training_spec(config, spec, kind), vocab=vocab, split=splits["train"])
    val = _windows(dataset, spec, splits["val"], train.vocab)
    if start is not None:
        preprocessor = Preprocessor(start.preprocessor)
        model = OmniModel(start.model_config)
        model.load_state_dict(start.state_dict)
        logger.info("starting from the weights of %s", start.path)
    else:
        preprocessor = Preprocessor.fit(train, config.model.text)
        model = OmniModel(complete_config(config.model, spec, preprocessor))
    for windows in (train, val):
        if windows is not None:
            preprocessor.warm_text_cache(windows, progress=config.progress)
    return Prepared(dataset, spec, splits, train, val, preprocessor, model)


def _training_spec(config: TrainConfig, spec: WindowSpec, kind: Literal["model", "pretrained"]) -> WindowSpec:
    """The spec the training windows are cut with: ``spec``, or for pretraining its ``pretrain.stride``."""
    stride = config.pretrain.stride
    if kind != "pretrained" or stride is None or stride == spec.stride:
        return spec
    try:
        return WindowSpec.model_validate({**spec.model_dump(), "stride": stride})
    except ValidationError as exc:
        problem = describe_validation_error(exc)
        raise ConfigError(f"pretrain.stride {stride} does not fit the window spec: {problem}") from exc


def _bundle_dir(path: Path) -> Path:
    """``init_from`` may name a run folder (its ``bundle/``) or a bundle folder."""
    return path / BUNDLE_DIR if (path / BUNDLE_DIR / "bundle.json").is_file() else path


# Lightning warns about its own internals and about short test runs; none of it is actionable here.
for _message in (".*treespec.*", ".*smaller than the logging interval.*", ".*does not have many workers.*"):
    warnings.filterwarnings("ignore", message=_message)


def _trainer(config: TrainConfig, select_on: Literal["loss", "score"] | None) -> L.Trainer:
    """The Lightning trainer; ``select_on`` names what picks the checkpoint (``None``: the last one)."""
    metric, mode = monitor(select_on) if select_on is not None else (None, "min")
    callbacks: list[L.Callback] = [
        ModelCheckpoint(dirpath=config.out / "checkpoints", monitor=metric, mode=mode, save_last=True, save_top_k=1)
    ]
    if metric is not None and config.optim.patience > 0:
        callbacks.append(EarlyStopping(monitor=metric, mode=mode, patience=config.optim.patience))
    return L.Trainer(
        max_epochs=config.optim.max_epochs,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        deterministic=config.deterministic,
        gradient_clip_val=config.optim.grad_clip,
        callbacks=callbacks,
        logger=[CSVLogger(config.out, name="logs"), TensorBoardLogger(config.out, name="tensorboard")],
        use_distributed_sampler=False,  # GlobalBatchSampler splits global batches across ranks itself
        enable_progress_bar=config.progress,
        enable_model_summary=config.progress,
        log_every_n_steps=10,
        num_sanity_val_steps=0,
    )


def _datamodule(
    config: TrainConfig, prepared: Prepared, label_fraction: float, kind: Literal["model", "pretrained"]
) -> WindowDataModule:
    if config.optim.batch_size % config.devices:
        raise ConfigError(f"batch size {config.optim.batch_size} must divide evenly over {config.devices} devices")
    grouped = kind == "pretrained" and config.pretrain.negatives == "asset"
    return WindowDataModule(
        prepared.train,
        prepared.val,
        prepared.preprocessor,
        batch_size=config.optim.batch_size,
        seed=config.seed,
        num_workers=config.num_workers,
        label_fraction=label_fraction,
        limit_train_batches=config.optim.limit_train_batches,
        asset_group=config.pretrain.asset_group if grouped else None,
    )


def _best_state(trainer: L.Trainer, task: L.LightningModule) -> dict[str, torch.Tensor]:
    """The model weights of the best checkpoint (our own file, written by this run)."""
    checkpoint = trainer.checkpoint_callback
    best = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if best:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        return {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    return {k: v.detach().clone() for k, v in task.model.state_dict().items()}  # type: ignore[union-attr]


def _fit(
    config: TrainConfig, kind: Literal["model", "pretrained"], label_fraction: float
) -> tuple[Bundle, Prepared] | None:
    """Seed, prepare, run the Lightning loop of ``kind`` and collect the best weights into a bundle
    (``None`` on non-zero data-parallel ranks, which only help train)."""
    L.seed_everything(config.seed, workers=True, verbose=False)
    prepared = prepare(config, kind)
    task: L.LightningModule
    if kind == "pretrained":
        task = PretrainTask(prepared.model, config.optim, config.pretrain)
    else:
        weights = _fault_weights(prepared.train, prepared.model.config.n_fault_classes)
        pretrained = config.init_from is not None
        task = FineTuneTask(
            prepared.model,
            config.optim,
            weights,
            encoder_lr_scale=config.optim.pretrained_lr_scale if pretrained else 1.0,
            frozen_encoder_epochs=config.optim.pretrained_frozen_epochs if pretrained else 0,
        )
    # Pretraining has no labels to score: it always selects on its loss.
    select_on = config.optim.select_on if kind == "model" else "loss"
    if prepared.val is not None and select_on == "score":
        check_scorable(prepared.val.labels)
    trainer = _trainer(config, select_on if prepared.val is not None else None)
    trainer.fit(task, datamodule=_datamodule(config, prepared, label_fraction, kind), ckpt_path=config.resume)
    if not trainer.is_global_zero:
        return None
    bundle = Bundle(
        kind=kind,
        model_config=prepared.model.config,
        window=prepared.spec,
        preprocessor=prepared.preprocessor.state,
        state_dict=_best_state(trainer, task),
        metrics={
            "data": config.data.model_dump(mode="json"),
            "pretrain" if kind == "pretrained" else "train": {k: float(v) for k, v in trainer.callback_metrics.items()},
        },
    )
    return bundle, prepared


def pretrain(config: TrainConfig) -> Path | None:
    """Self-supervised pretraining on the training split (labels unused). Returns the bundle folder
    (``None`` on non-zero data-parallel ranks)."""
    fitted = _fit(config, "pretrained", 1.0)
    return fitted[0].save(config.out / BUNDLE_DIR, overwrite=True) if fitted is not None else None


def _fault_weights(windows: WindowedDataset, n_classes: int) -> torch.Tensor:
    """Inverse square-root class frequencies of the fault label (rare faults weigh more)."""
    labels = windows.labels.fault_type
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    weights = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def train(config: TrainConfig) -> Path | None:
    """Multi-task fine-tuning, then anomaly-head fitting and threshold calibration. Returns the bundle
    folder (``None`` on non-zero data-parallel ranks)."""
    fitted = _fit(config, "model", config.data.label_fraction)
    if fitted is None:
        return None
    bundle, prepared = fitted
    finish(bundle, prepared, config.target_false_alarms_per_asset_day)
    return bundle.save(config.out / BUNDLE_DIR, overwrite=True)


def finish(bundle: Bundle, prepared: Prepared, target_rate: float) -> None:
    """Fit the anomaly head on healthy training windows; calibrate thresholds on validation windows."""
    model = bundle.build_model()
    embeddings, healthy = [], []
    with torch.inference_mode():
        for batch in prepared.train.iter_batches(128):
            embeddings.append(model(prepared.preprocessor(batch)).embedding)
            healthy.append(torch.from_numpy(batch.labels.health_state == 0))
    embedding = torch.cat(embeddings)
    mask = torch.cat(healthy)
    model.heads.anomaly.fit(embedding[mask] if int(mask.sum()) > embedding.shape[1] else embedding)
    bundle.state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
    anomaly = model.heads.anomaly(embedding[mask] if mask.any() else embedding)
    horizons = tuple(h.total_seconds() / 3600 for h in prepared.spec.horizons)
    bundle.thresholds = Thresholds(
        horizons_hours=horizons,
        failure_probability=tuple(0.5 for _ in horizons),
        anomaly_score=float(torch.quantile(anomaly, 0.99)),
    )
    if prepared.val is None:
        logger.warning("no validation windows: alert thresholds stay at 0.5")
        return
    scores = Predictor(bundle, preprocessor=prepared.preprocessor).predict_windows(prepared.val)
    failures = prepared.dataset.table("failures")
    end = prepared.splits["val"].end
    failures = failures[failures["asset_id"].isin(set(scores.asset_ids))]
    if end is not None:
        failures = failures[failures["ts"] <= end]
    thresholds = []
    for h, hours in enumerate(horizons):
        series = pd.DataFrame(
            {
                "asset_id": scores.asset_ids,
                "ts": pd.to_datetime(scores.anchors, utc=True),
                "score": scores.failure_probability[:, h],
            }
        )
        thresholds.append(threshold_for_false_alarm_rate(series, failures, pd.Timedelta(hours=hours), target_rate))
    bundle.thresholds = bundle.thresholds.model_copy(
        update={"failure_probability": tuple(thresholds), "target_false_alarms_per_asset_day": target_rate}
    )
