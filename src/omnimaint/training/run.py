"""``omnimaint pretrain`` and ``omnimaint train``: from a config to a bundle.

Both prepare the same way (dataset → leak-free splits → windows → preprocessor fitted on the training
windows → model), run one Lightning loop, and write a bundle. Fine-tuning additionally fits the
anomaly head on healthy training windows and calibrates alert thresholds on the validation split.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from pydantic import ValidationError

from omnimaint.atomic import BUNDLE, PRETRAINING_RUN, TRAINING_RUN, Kind, check_target, claim_folder
from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split, make_splits, splits_to_json
from omnimaint.data.window_proposal import (
    DataTiming,
    check_windows,
    no_failure_warning,
    propose_window,
    sets_durations,
    without_absent,
)
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.evaluation.early_warning import threshold_for_false_alarm_rate
from omnimaint.inference.bundle import Bundle, Thresholds
from omnimaint.inference.frame_anomaly import frame_anomaly_files
from omnimaint.inference.predictor import Predictor
from omnimaint.models.omni import OmniModel, members
from omnimaint.models.preprocessing import Preprocessor, complete_config
from omnimaint.models.threads import torch_threads
from omnimaint.notes import NOTE
from omnimaint.progress import progress_drawn, track
from omnimaint.training.config import DataConfig, TrainConfig
from omnimaint.training.data import WindowDataModule
from omnimaint.training.frame_anomaly import fit_frame_anomaly
from omnimaint.training.loop_output import (
    InterruptibleTrainer,
    ModelSize,
    StderrProgressBar,
    lightning_logs_through_root,
)
from omnimaint.training.preflight import preflight
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
    data: DataConfig | None = None  # the data settings used (a proposed window included); None: config.data


def _windows(
    dataset: Dataset, spec: WindowSpec, split: Split, train: WindowedDataset, anchors: pd.DataFrame | None = None
) -> WindowedDataset | None:
    """Windows of a split other than training, read with the training windows' vocabulary and regimes."""
    try:
        return WindowedDataset(dataset, spec, vocab=train.vocab, split=split, anchors=anchors, regimes=train.regimes)
    except ConfigError as exc:
        logger.info("no %s windows: %s", split.name, exc)  # check_windows has told the user why
        return None


def _settled_data(
    config: TrainConfig, dataset: Dataset, start: Bundle | None, timing: DataTiming
) -> tuple[DataConfig, tuple[str, ...]]:
    """The data settings the run uses: ``config.data``, with the window and split strategy proposed from the
    data when the config sets no window duration (:mod:`omnimaint.data.window_proposal`). A run that starts
    from a bundle keeps its window, and its split strategy unless the config sets one (so that fine-tuning
    never trains on what pretraining held out). Also returns what to tell the user about the choice."""
    data = config.data
    split_set = "split" in data.model_fields_set
    if start is not None:
        recorded = start.metrics.get("data")
        strategy = recorded.get("split") if isinstance(recorded, dict) and not split_set else data.split
        return data.model_copy(update={"window": start.window, "split": strategy or data.split}), ()
    if sets_durations(data.window):
        spec, absent = without_absent(data.window, timing)
        if not absent:
            return data, ()
        note = f"the dataset holds no {', '.join(absent)}: the model is built without them"
        return data.model_copy(update={"window": spec}), (note,)
    proposal = propose_window(
        dataset,
        data.window,
        fractions=data.fractions,
        seed=data.split_seed,
        split=data.split if split_set else None,
        timing=timing,
    )
    note = f"no window durations configured; proposed from the data: {proposal.describe()}"
    return data.model_copy(update={"window": proposal.spec, "split": proposal.split}), (note,)


def prepare(
    config: TrainConfig,
    kind: Literal["model", "pretrained"] = "model",
    inputs: Mapping[str, ProtocolInputs] | None = None,
) -> Prepared:
    """Build splits, windows, the preprocessor (or take it from ``init_from``) and the model.

    For pretraining (``kind="pretrained"``) the training windows are cut every ``pretrain.stride`` when it
    is set; ``Prepared.spec``, which the bundle stores, keeps the configured stride. With ``inputs`` (a
    protocol's ``train`` and ``val`` samples) the windows sit at their anchors instead of on the stride grid
    of the configured split.
    """
    dataset = Dataset(config.data.dataset)
    start = Bundle.load(_bundle_dir(config.init_from)) if config.init_from is not None else None
    timing = DataTiming.of(dataset, periods=start is None and not sets_durations(config.data.window))
    data, proposed = _settled_data(config, dataset, start, timing)
    spec = data.window
    anchors = {name: part.anchors for name, part in (inputs or {}).items() if name in ("train", "val")}
    if inputs is None:
        splits = make_splits(dataset, spec, data.split, data.fractions, data.split_seed)
        # A refusal comes before anything else is said, so that it is the only line printed.
        problems = check_windows(dataset, spec, splits, timing)  # raises when no window is left
    else:
        # A protocol's test part is never read here: only its training and validation parts are.
        splits, problems = {name: inputs[name].as_split() for name in ("train", "val") if name in inputs}, ()
    for note in proposed:
        logger.log(NOTE, note)
    for problem in problems:
        logger.warning(problem)
    vocab = start.preprocessor.vocab if start is not None else None
    train = WindowedDataset(
        dataset,
        _training_spec(config, spec, kind),
        vocab=vocab,
        split=splits["train"],
        anchors=anchors.get("train"),
        # Regimes are fitted on the training windows' grid steps here, unless the starting bundle has its own.
        regimes=start.preprocessor.regimes if start is not None else None,
        seed=config.seed,
    )
    val = _windows(dataset, spec, splits["val"], train, anchors.get("val")) if "val" in splits else None
    if kind == "model" and spec.labels == "failures":  # labelled states have no failures to warn about
        for windows, what, consequence in (
            (train, "training", "the failure, RUL and fault-type heads learn only 'no failure'"),
            (val, "validation", "alert thresholds are set for the false-alarm rate alone; no detection is checked"),
        ):
            warning = no_failure_warning(windows, what, consequence) if windows is not None else None
            if warning is not None:
                logger.warning(warning)
    # Pretraining trains one model; fine-tuning trains `model.ensemble` members (see _fit), each built from
    # this config, and the first of them is built here.
    ensemble = config.model.ensemble if kind == "model" else 1
    if start is not None:
        if start.model_config.ensemble > 1:
            raise ConfigError(f"--init-from {start.path}: an ensemble cannot be trained further; start from one model")
        preprocessor = Preprocessor(start.preprocessor)
        model = OmniModel(start.model_config.model_copy(update={"ensemble": ensemble}))
        model.load_state_dict(start.state_dict)
        logger.info("starting from the weights of %s", start.path)
    else:
        preprocessor = Preprocessor.fit(train, config.model.text, frames=config.preprocess.frames)
        architecture = config.model.model_copy(update={"ensemble": ensemble})
        model = OmniModel(complete_config(architecture, spec, preprocessor))
    for windows in (train, val):
        if windows is not None:
            preprocessor.warm_text_cache(windows, progress=config.progress)
    return Prepared(dataset, spec, splits, train, val, preprocessor, model, data)


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


# Lightning warns about its own internals, about short test runs and about a run without validation windows
# (a protocol that trains a fixed number of epochs on every training sample); none of it is actionable here.
for _message in (
    ".*treespec.*",
    ".*smaller than the logging interval.*",
    ".*does not have many workers.*",
    ".*Total length of `list` across ranks is zero.*",
):
    warnings.filterwarnings("ignore", message=_message)


def _trainer(config: TrainConfig, select_on: Literal["loss", "score"] | None) -> L.Trainer:
    """The Lightning trainer; ``select_on`` names what picks the checkpoint (``None``: the last one).

    It reports through the application (:mod:`omnimaint.training.loop_output`): a bar on stderr when
    progress is shown on a terminal, log records through the configured handlers, Ctrl-C as a
    :class:`KeyboardInterrupt`.
    """
    metric, mode = monitor(select_on) if select_on is not None else (None, "min")
    callbacks: list[L.Callback] = [
        ModelCheckpoint(dirpath=config.out / "checkpoints", monitor=metric, mode=mode, save_last=True, save_top_k=1),
        ModelSize(),
    ]
    if metric is not None and config.optim.patience > 0:
        callbacks.append(EarlyStopping(monitor=metric, mode=mode, patience=config.optim.patience))
    bar = config.progress and progress_drawn()
    if bar:
        callbacks.append(StderrProgressBar())
    lightning_logs_through_root()
    return InterruptibleTrainer(
        max_epochs=config.optim.max_epochs,
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        deterministic=config.deterministic,
        gradient_clip_val=config.optim.grad_clip,
        callbacks=callbacks,
        logger=[CSVLogger(config.out, name="logs"), TensorBoardLogger(config.out, name="tensorboard")],
        use_distributed_sampler=False,  # GlobalBatchSampler splits global batches across ranks itself
        enable_progress_bar=bar,
        enable_model_summary=False,  # ModelSize logs the one number that matters
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
    config: TrainConfig,
    kind: Literal["model", "pretrained"],
    label_fraction: float,
    inputs: Mapping[str, ProtocolInputs] | None = None,
) -> tuple[Bundle, Prepared] | None:
    """Seed, prepare, run the Lightning loop of ``kind`` for each member of the model (one, or an ensemble's)
    and collect their best weights into a bundle (``None`` on non-zero data-parallel ranks, which only help
    train)."""
    L.seed_everything(config.seed, workers=True, verbose=False)
    prepared = prepare(config, kind, inputs)
    n_members = prepared.model.config.ensemble
    if n_members > 1 and config.resume is not None:
        raise ConfigError("--resume continues one training loop; an ensemble (model.ensemble > 1) cannot be resumed")
    start = {k: v.detach().clone() for k, v in prepared.model.state_dict().items()} if config.init_from else None
    states: list[dict[str, torch.Tensor]] = []
    loop_metrics: dict[str, float] = {}
    for member in range(n_members):
        # Member k trains from seed + k in its own folder (members/k/), from fresh weights (or the init_from
        # ones) and on batches in its own order; the first one is the model prepare() built.
        run = config
        if n_members > 1:
            run = config.model_copy(update={"seed": config.seed + member, "out": config.out / "members" / str(member)})
        if member > 0:
            L.seed_everything(run.seed, workers=True, verbose=False)
            prepared.model = OmniModel(prepared.model.config)
            if start is not None:
                prepared.model.load_state_dict(start)
        fitted = _fit_one(run, kind, label_fraction, prepared)
        if fitted is None:
            return None
        states.append(fitted[0])
        prefix = f"member{member}/" if n_members > 1 else ""
        loop_metrics |= {prefix + name: value for name, value in fitted[1].items()}
    bundle = Bundle(
        kind=kind,
        model_config=prepared.model.config,
        window=prepared.spec,
        preprocessor=prepared.preprocessor.state,
        state_dict=states[0] if n_members == 1 else _ensemble_state(states),
        metrics={
            "data": {
                **(prepared.data or config.data).model_dump(mode="json"),
                "splits": splits_to_json(prepared.splits),
            },
            "pretrain" if kind == "pretrained" else "train": loop_metrics,
        },
    )
    return bundle, prepared


def _ensemble_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The state dict of an :class:`~omnimaint.models.omni.OmniEnsemble` from its members' state dicts."""
    return {f"members.{i}.{name}": value for i, state in enumerate(states) for name, value in state.items()}


def _fit_one(
    config: TrainConfig, kind: Literal["model", "pretrained"], label_fraction: float, prepared: Prepared
) -> tuple[dict[str, torch.Tensor], dict[str, float]] | None:
    """Run the Lightning loop of ``kind`` on ``prepared.model``: its best weights and last logged metrics
    (``None`` on non-zero data-parallel ranks, which only help train)."""
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
    datamodule = _datamodule(config, prepared, label_fraction, kind)
    trainer.fit(task, datamodule=datamodule, ckpt_path=config.resume, weights_only=True)  # never unpickle code
    if not trainer.is_global_zero:
        return None
    return _best_state(trainer, task), {name: float(value) for name, value in trainer.callback_metrics.items()}


def _claim_run_folder(config: TrainConfig, kind: Kind, overwrite: bool) -> None:
    """Make ``config.out`` this run's folder, before any data is read.

    Nothing there or an empty folder becomes a run folder (marked as such); a run folder of the same kind
    is continued when the run resumes (``config.resume``) and started afresh with ``overwrite``; anything
    else is refused. The run's ``bundle/`` is replaced at the end only if it is a bundle. Only rank zero
    claims: the other processes of a data-parallel run start after it (Lightning's launcher re-runs the
    command) or beside it (torchrun), and write nothing there themselves.

    Raises:
        OutputError: if ``config.out`` or its ``bundle/`` holds something the run may not write over.
        ConfigError: if ``overwrite`` would delete the ``resume`` checkpoint or the ``init_from`` run.
    """
    if getattr(rank_zero_only, "rank", 0) != 0:
        return
    if overwrite:
        out = config.out.resolve()
        for option, path in (("--resume", config.resume), ("--init-from", config.init_from)):
            if path is not None and path.resolve().is_relative_to(out):
                raise ConfigError(
                    f"{config.out}: --overwrite would delete {option} {path}, which lies inside it "
                    "(drop --overwrite to continue that run, or choose another --out)"
                )
    claim_folder(config.out, kind, overwrite=overwrite, reuse=config.resume is not None)
    check_target(config.out / BUNDLE_DIR, BUNDLE, overwrite=True)


def pretrain(config: TrainConfig, *, overwrite: bool = False) -> Path | None:
    """Self-supervised pretraining on the training split (labels unused). Returns the bundle folder
    (``None`` on non-zero data-parallel ranks).

    ``overwrite`` replaces a pretraining run at ``config.out``; see :func:`_claim_run_folder` for what
    else may be there.
    """
    preflight(config, "pretrained")
    _claim_run_folder(config, PRETRAINING_RUN, overwrite)
    with torch_threads(config.threads):
        fitted = _fit(config, "pretrained", 1.0)
    return fitted[0].save(config.out / BUNDLE_DIR, overwrite=True) if fitted is not None else None


def _fault_weights(windows: WindowedDataset, n_classes: int) -> torch.Tensor:
    """Inverse square-root class frequencies of the fault label (rare faults weigh more)."""
    labels = windows.labels.fault_type
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    weights = 1.0 / np.sqrt(np.maximum(counts, 1.0))
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def train(
    config: TrainConfig, *, overwrite: bool = False, inputs: Mapping[str, ProtocolInputs] | None = None
) -> Path | None:
    """Multi-task fine-tuning, then anomaly-head fitting and threshold calibration, and with
    ``frame_anomaly.method: patchcore`` the frame anomaly component. Returns the bundle folder (``None`` on
    non-zero data-parallel ranks).

    ``overwrite`` replaces a training run at ``config.out``; see :func:`_claim_run_folder` for what else
    may be there. ``inputs`` are a benchmark protocol's ``train`` and ``val`` samples (see
    :func:`prepare`); without them the configured split decides.
    """
    preflight(config, "model")
    patchcore = config.frame_anomaly.method == "patchcore"
    if patchcore and config.data.window.frames is None:
        raise ConfigError("frame_anomaly.method is patchcore, but data.window.frames is off: there are no frames")
    _claim_run_folder(config, TRAINING_RUN, overwrite)
    with torch_threads(config.threads):
        fitted = _fit(config, "model", config.data.label_fraction, inputs)
        if fitted is None:
            return None
        bundle, prepared = fitted
        finish(bundle, prepared, config.target_false_alarms_per_asset_day)
        if not patchcore:
            return bundle.save(config.out / BUNDLE_DIR, overwrite=True)
        detector = fit_frame_anomaly(
            config.frame_anomaly, prepared.train, prepared.val, prepared.spec.labels, seed=config.seed
        )
    with tempfile.TemporaryDirectory() as folder:
        extra = frame_anomaly_files(detector, Path(folder))
        return bundle.save(config.out / BUNDLE_DIR, overwrite=True, extra_files=extra)


def finish(bundle: Bundle, prepared: Prepared, target_rate: float) -> None:
    """Fit the anomaly head on healthy training windows; calibrate thresholds on validation windows."""
    model = bundle.build_model()
    singles = members(model)  # each member's anomaly head is fitted on its own fused states
    embeddings: list[list[torch.Tensor]] = [[] for _ in singles]
    healthy = []
    batches = -(-len(prepared.train) // 128)
    with torch.inference_mode():
        for batch in track(prepared.train.iter_batches(128), "fitting the anomaly head", total=batches):
            inputs = prepared.preprocessor(batch)
            for single, kept in zip(singles, embeddings, strict=True):
                kept.append(single(inputs).embedding)
            healthy.append(torch.from_numpy(batch.labels.health_state == 0))
    mask = torch.cat(healthy)
    n_healthy, width = int(mask.sum()), model.config.d_model
    if n_healthy <= width and prepared.spec.labels == "failures":  # labelled states have no health labels
        # A covariance of the healthy windows needs more of them than the embedding has dimensions.
        logger.warning(
            "only %d of the %d training windows are known to be healthy (the anomaly head needs more than %d): "
            "it is fitted on all training windows, so its scores hardly tell degrading from normal",
            n_healthy,
            len(mask),
            width,
        )
    anomaly = torch.zeros(int(mask.sum()) if n_healthy > width else len(mask))
    for single, kept in zip(singles, embeddings, strict=True):
        embedding = torch.cat(kept)
        normal = embedding[mask] if n_healthy > width else embedding
        single.heads.anomaly.fit(normal)
        anomaly += single.heads.anomaly(normal) / len(singles)  # the ensemble's score is the members' mean
    bundle.state_dict = {k: v.detach().clone() for k, v in model.state_dict().items()}
    horizons = tuple(h.total_seconds() / 3600 for h in prepared.spec.horizons)
    bundle.thresholds = Thresholds(
        horizons_hours=horizons,
        failure_probability=tuple(0.5 for _ in horizons),
        anomaly_score=float(torch.quantile(anomaly, 0.99)),
    )
    if prepared.spec.labels == "states":
        return  # no failure follows a labelled state: there is no alert to calibrate
    if prepared.val is None:
        logger.warning("no validation windows: alert thresholds stay at 0.5")
        return
    scores = Predictor(bundle, preprocessor=prepared.preprocessor).predict_windows(
        prepared.val, progress=True, description="calibrating alert thresholds"
    )
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
        try:
            thresholds.append(threshold_for_false_alarm_rate(series, failures, pd.Timedelta(hours=hours), target_rate))
        except ValueError as exc:  # e.g. one window per validation asset: no time to count false alarms over
            logger.warning(
                "cannot calibrate the %g h alert threshold on the validation windows (%s): it stays 0.5", hours, exc
            )
            thresholds.append(0.5)
    bundle.thresholds = bundle.thresholds.model_copy(
        update={"failure_probability": tuple(thresholds), "target_false_alarms_per_asset_day": target_rate}
    )
