"""C-MAPSS remaining-useful-life protocol (Saxena, Goebel, Simon & Eklund, PHM 2008).

The evaluation standard of the deep-learning RUL literature since Babu et al. (DASFAA 2016) and Li, Ding &
Sun (RESS 2018):

- Training targets are capped piecewise-linearly: ``RUL = min(true RUL, 125)`` (Heimes, PHM 2008), since
  an engine's early life shows no degradation to regress on.
- Inputs are windows of the last 30 cycles of every channel that varies in the training data, z-scored
  with training statistics; windows of engines with fewer cycles are padded by repeating their first cycle.
- Every cycle of every training engine ends one training window.
- Test: one window per test engine, ending at its last cycle; scored against the true (uncapped) RUL
  by RMSE and by the PHM 2008 asymmetric score (:func:`omnimaint.evaluation.metrics.nasa_score`).
- Any tuning uses a validation split of training engines *by engine* (never by window); the protocol
  reports the validation RMSE of a fit on the remaining engines, then refits on all training engines.
  ``val_rmse`` scores every cycle of the held-out engines against capped targets (mostly the easy plateau
  at the cap); ``val_rmse_test_like`` scores only their cycles with a true RUL of at most
  ``test_like_max_rul`` against the *uncapped* RUL, as the test does — the one to tune on.

``cmapss-long`` (:data:`LONG_HISTORY`) is the same protocol (targets, test points, validation) given what a
test engine's history holds at prediction time beyond the last 30 cycles of Li et al.: windows of the last
80 cycles (histories run 31–303 cycles; shorter ones are front-padded as above) and the engine's *age*, the
cycles recorded since its first (the ``time, in cycles`` column of the NASA files), as one more input
channel, and each reading's *drift*, the reading minus its mean over the engine's first 20 cycles (where
the engine started). All were chosen on ``val_rmse_test_like`` (docs/benchmarks.md), never on test engines.

Canonical form (see the C-MAPSS adapter): assets ``FD001-train-001`` / ``FD001-test-001`` of type
``turbofan`` with metadata ``{"subset", "split", "unit"}``; cycle ``k`` at ``2000-01-01 + k hours``; a
failure row per engine at its end of life (after the data ends for test engines).

Estimator interface: ``fit(X, y)`` / ``predict(X)`` with ``X`` float32 of shape ``(n, channels, window)``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.protocol_inputs import ProtocolInputs
from omnimaint.evaluation.metrics import nasa_score, rmse
from omnimaint.evaluation.protocols.base import BundleTrainer, MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.inputs import asset_metadata, assets_of_type, wide_telemetry
from omnimaint.evaluation.protocols.running import score_once
from omnimaint.evaluation.splits import group_split

if TYPE_CHECKING:
    from omnimaint.inference.predictor import Predictor

logger = logging.getLogger(__name__)

ASSET_TYPE = "turbofan"
_CYCLE = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class CmapssConfig:
    """Settings of the C-MAPSS protocol.

    Attributes:
        subset: Subset to evaluate (``FD001`` ...); ``None`` takes the first present.
        rul_cap: Cap of the piecewise-linear training target.
        window: Cycles per input window.
        validation_fraction: Fraction of training engines held out for the reported validation RMSE
            (0 skips validation).
        test_like_max_rul: Held-out cycles with at most this true RUL make ``val_rmse_test_like`` (the
            test RULs of FD001 span 7–145 cycles).
        age_channel: Add the engine's age (cycles since its first record, 1 at the first) as the last input
            channel, ``age_cycles``.
        baseline_cycles: If positive, add each reading's departure from the engine's own start, the reading
            minus its mean over the engine's first ``baseline_cycles`` cycles (over those recorded so far
            while fewer), as channels ``drift_<reading>``: engines start at different levels (manufacturing
            variation, initial wear), which a late window no longer shows.
        development: For a bundle (:func:`cmapss_inputs`): train on the training engines outside the validation
            split and test on the held-out engines' cycles with a true RUL of at most ``test_like_max_rul``
            (``val_rmse_test_like``), for tuning; no test engine is read.
    """

    subset: str | None = None
    rul_cap: float = 125.0
    window: int = 30
    validation_fraction: float = 0.2
    test_like_max_rul: float = 150.0
    age_channel: bool = False
    baseline_cycles: int = 0
    development: bool = False

    def __post_init__(self) -> None:
        if self.window < 1 or self.baseline_cycles < 0:
            raise ProtocolError(f"C-MAPSS needs window >= 1 and baseline_cycles >= 0, not {self}")

    def input_channels(self, channels: list[str]) -> list[str]:
        """Names of the input channels, in the column order of :meth:`EngineRecord.inputs`."""
        drift = [f"{DRIFT_PREFIX}{c}" for c in channels] if self.baseline_cycles > 0 else []
        return [*channels, *drift, *([AGE_CHANNEL] if self.age_channel else [])]


DRIFT_PREFIX = "drift_"
AGE_CHANNEL = "age_cycles"
LONG_HISTORY = CmapssConfig(window=80, age_channel=True, baseline_cycles=20)
"""The settings of the ``cmapss-long`` protocol."""


@dataclass(frozen=True)
class EngineRecord:
    """One engine's cycles and labels.

    Attributes:
        asset_id: Asset id.
        split: ``train`` or ``test``.
        values: Readings, shape ``(cycles, channels)``.
        rul: True RUL at each cycle (hours between the cycle and the failure), shape ``(cycles,)``.
        age: Cycles since the engine's first record, 1 at the first, shape ``(cycles,)``.
        ts: Time of each cycle (UTC), shape ``(cycles,)``.
    """

    asset_id: str
    split: str
    values: np.ndarray
    rul: np.ndarray
    age: np.ndarray
    ts: pd.DatetimeIndex

    def inputs(self, config: CmapssConfig) -> np.ndarray:
        """The input channels of each cycle, shape ``(cycles, channels)``: the readings, then their drift from
        the engine's start and its age if asked (names: :meth:`CmapssConfig.input_channels`). Causal: a
        cycle's row uses no later cycle."""
        columns = [self.values]
        if config.baseline_cycles > 0:
            first = self.values[: config.baseline_cycles]
            start = np.cumsum(first, axis=0) / np.arange(1, len(first) + 1)[:, None]  # mean of the cycles so far
            start = np.concatenate([start, np.repeat(start[-1:], len(self.values) - len(first), axis=0)])
            columns.append(self.values - start)
        if config.age_channel:
            columns.append(self.age[:, None])
        return np.concatenate(columns, axis=1)


def _split_of(asset_id: str, metadata: dict[str, object]) -> str:
    split = metadata.get("split")
    if split in ("train", "test"):
        return str(split)
    if "-train-" in asset_id:
        return "train"
    if "-test-" in asset_id:
        return "test"
    raise ProtocolError(f"asset {asset_id}: cannot tell train from test (no metadata 'split', no -train-/-test- in id)")


def _subset_of(asset_id: str, metadata: dict[str, object]) -> str:
    return str(metadata.get("subset", asset_id.split("-", maxsplit=1)[0]))


def cmapss_subsets(dataset: Dataset) -> list[str]:
    """The C-MAPSS subsets (``FD001`` ...) a dataset holds, sorted (from asset metadata ``subset`` or the id)."""
    metadata = asset_metadata(dataset)
    return sorted({_subset_of(a, metadata.get(a, {})) for a in assets_of_type(dataset, ASSET_TYPE)})


def load_engines(dataset: Dataset, subset: str | None = None) -> tuple[list[EngineRecord], list[str], str]:
    """Read every engine of one subset with its true RUL per cycle.

    Returns:
        The engines, the channel names (column order of ``values``), and the subset evaluated.

    Raises:
        ProtocolError: if there are no turbofan engines, the subset is absent, or a test engine has no failure.
    """
    ids = assets_of_type(dataset, ASSET_TYPE)
    if not ids:
        raise ProtocolError(f"{dataset.path}: no assets of type '{ASSET_TYPE}' (is this a C-MAPSS dataset?)")
    metadata = asset_metadata(dataset)
    subsets = cmapss_subsets(dataset)
    chosen = subset if subset is not None else subsets[0]
    if chosen not in subsets:
        raise ProtocolError(f"{dataset.path}: subset {chosen!r} not present; subsets: {', '.join(subsets)}")
    if subset is None and len(subsets) > 1:
        logger.info("several C-MAPSS subsets present (%s); evaluating %s", ", ".join(subsets), chosen)
    ids = [a for a in ids if _subset_of(a, metadata[a]) == chosen]
    wide = wide_telemetry(dataset, ids)
    channels = [c for c in wide.columns if c not in ("asset_id", "ts")]
    failures = dataset.table("failures")
    failure_ts = failures.groupby("asset_id")["ts"].max()
    engines: list[EngineRecord] = []
    for asset_id, rows in wide.groupby("asset_id", sort=True):
        asset = str(asset_id)
        split = _split_of(asset, metadata[asset])
        ts = pd.DatetimeIndex(rows["ts"])
        if asset in failure_ts.index:
            end = pd.Timestamp(failure_ts[asset])
        elif split == "train":
            logger.warning("training engine %s has no failure row; taking its last cycle as end of life", asset)
            end = ts.max()
        else:
            raise ProtocolError(f"{dataset.path}: test engine {asset} has no failure row, so its true RUL is unknown")
        values = rows[channels].to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            values = pd.DataFrame(values).ffill().bfill().to_numpy()
        rul = ((end - ts) / _CYCLE).to_numpy(dtype=np.float64)
        age = ((ts - ts[0]) / _CYCLE).to_numpy(dtype=np.float64) + 1
        engines.append(EngineRecord(asset, split, values, rul, age, ts))
    return engines, channels, chosen


def windows_ending_at(values: np.ndarray, window: int, ends: np.ndarray) -> np.ndarray:
    """Windows of ``window`` cycles ending at the given cycle positions, front-padded with the first cycle.

    Args:
        values: Readings, shape ``(cycles, channels)``.
        window: Window length.
        ends: Positions (0-based) of each window's last cycle.

    Returns:
        Array of shape ``(len(ends), channels, window)``.
    """
    padded = np.concatenate([np.repeat(values[:1], window - 1, axis=0), values], axis=0)  # (window-1+cycles, C)
    index = ends[:, None] + np.arange(window)[None, :]  # (n, window) rows of `padded`
    return np.transpose(padded[index], (0, 2, 1))  # (n, C, window)


@dataclass(frozen=True)
class RulArrays:
    """Windows and targets of one side of the protocol."""

    X: np.ndarray
    y: np.ndarray
    engines: np.ndarray
    rul: np.ndarray
    """True (uncapped) RUL of each window; ``y`` is the capped training target."""

    def take(self, rows: np.ndarray) -> RulArrays:
        return RulArrays(self.X[rows], self.y[rows], self.engines[rows], self.rul[rows])


def training_arrays(train: list[EngineRecord], config: CmapssConfig) -> RulArrays:
    """Training windows (every cycle, capped targets), unscaled."""
    return RulArrays(
        np.concatenate([windows_ending_at(e.inputs(config), config.window, np.arange(len(e.values))) for e in train]),
        np.concatenate([np.minimum(e.rul, config.rul_cap) for e in train]),
        np.concatenate([np.full(len(e.values), e.asset_id) for e in train]),
        np.concatenate([e.rul for e in train]),
    )


def build_arrays(engines: list[EngineRecord], config: CmapssConfig) -> tuple[RulArrays, RulArrays]:
    """Training windows (every cycle, capped targets) and test windows (last cycle, true RUL), unscaled."""
    train = [e for e in engines if e.split == "train"]
    test = [e for e in engines if e.split == "test"]
    if not train or not test:
        raise ProtocolError(f"C-MAPSS needs training and test engines; found {len(train)} and {len(test)}")
    test_x = [windows_ending_at(e.inputs(config), config.window, np.array([len(e.values) - 1])) for e in test]
    test_rul = np.array([e.rul[-1] for e in test])
    return (
        training_arrays(train, config),
        RulArrays(np.concatenate(test_x), test_rul, np.array([e.asset_id for e in test]), test_rul),
    )


def _standardize(train: RulArrays, others: list[RulArrays]) -> tuple[list[RulArrays], np.ndarray]:
    """Drop channels constant in training, z-score with training statistics; returns arrays and kept mask."""
    mean = train.X[:, :, -1].mean(axis=0)  # (C,) statistics of each cycle once (the window's last cycle)
    std = train.X[:, :, -1].std(axis=0)
    keep = std > 1e-8 * np.maximum(1.0, np.abs(mean))
    out = []
    for arrays in [train, *others]:
        scaled = (arrays.X[:, keep, :] - mean[keep, None]) / std[keep, None]
        out.append(RulArrays(scaled.astype(np.float32), arrays.y, arrays.engines, arrays.rul))
    return out, keep


def _fit_predict(factory: MethodFactory, seed: int, train: RulArrays, test: RulArrays) -> np.ndarray:
    estimator = factory(seed)
    estimator.fit(train.X, train.y)
    return np.asarray(estimator.predict(test.X), dtype=np.float64).reshape(-1)


def _validate(
    train_raw: RulArrays, factory: MethodFactory, seed: int, split_seed: int, config: CmapssConfig
) -> dict[str, float]:
    """Fit on the training engines outside a validation split, score the held-out engines."""
    split = group_split(train_raw.engines, config.validation_fraction, split_seed)
    (inner, val), _ = _standardize(train_raw.take(split.train), [train_raw.take(split.test)])
    predicted = _fit_predict(factory, seed, inner, val)
    test_like = val.rul <= config.test_like_max_rul
    return {
        "val_rmse": rmse(val.y, predicted),
        "val_rmse_test_like": rmse(val.rul[test_like], predicted[test_like]),
    }


def validate_cmapss(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, split_seed: int = 0, config: CmapssConfig | None = None
) -> dict[str, float]:
    """The validation half of :func:`run_cmapss` alone, for tuning: no test engine is scored.

    Args:
        dataset: Canonical C-MAPSS dataset.
        factory: ``seed -> regressor``.
        seed: Seed of the estimator.
        split_seed: Seed of the validation split of the training engines (``run_cmapss`` uses its ``seed``).
        config: Protocol settings (``validation_fraction`` must be positive).

    Returns:
        ``val_rmse`` and ``val_rmse_test_like``.
    """
    config = config or CmapssConfig()
    if config.validation_fraction <= 0:
        raise ProtocolError("validation needs a positive validation_fraction")
    engines, _, _ = load_engines(dataset, config.subset)
    train = [e for e in engines if e.split == "train"]
    if not train:
        raise ProtocolError(f"{dataset.path}: no C-MAPSS training engines")
    return _validate(training_arrays(train, config), factory, seed, split_seed, config)


def run_cmapss(
    dataset: Dataset,
    factory: MethodFactory,
    seed: int = 0,
    config: CmapssConfig | None = None,
    subset: str | None = None,
) -> ProtocolResult:
    """Run the C-MAPSS RUL protocol on one subset.

    Args:
        dataset: Canonical C-MAPSS dataset.
        factory: ``seed -> regressor`` (see the module docstring for the interface).
        seed: Seed of the validation split and the estimator.
        config: Protocol settings; defaults to :class:`CmapssConfig`.
        subset: Subset to evaluate, replacing ``config.subset``; with neither, the first the dataset holds,
            and the notes say so when it holds several (subsets differ in operating conditions and fault
            modes, so their engines are never pooled).

    Returns:
        ``rmse`` and ``nasa_score`` on the test engines' last cycles (and ``val_rmse`` and
        ``val_rmse_test_like`` on held-out training engines, see the module docstring); ``details["subset"]``
        names the subset.
    """
    config = config or CmapssConfig()
    if subset is not None:
        config = replace(config, subset=subset)
    engines, channels, subset = load_engines(dataset, config.subset)
    notes: tuple[str, ...] = ()
    if config.subset is None and len(held := cmapss_subsets(dataset)) > 1:
        notes = (
            f"the dataset holds C-MAPSS subsets {', '.join(held)}; evaluated {subset} only "
            "(choose another with --subset)",
        )
    train_raw, test_raw = build_arrays(engines, config)
    metrics = _validate(train_raw, factory, seed, seed, config) if config.validation_fraction > 0 else {}
    (train, test), keep = _standardize(train_raw, [test_raw])
    input_channels = config.input_channels(channels)
    predicted = _fit_predict(factory, seed, train, test)
    metrics = {"rmse": rmse(test.y, predicted), "nasa_score": nasa_score(test.y, predicted), **metrics}
    details = {
        "subset": subset,
        "config": asdict(config),
        "channels": [c for c, k in zip(input_channels, keep, strict=True) if k],
        "n_train_engines": len(np.unique(train.engines)),
        "n_train_windows": len(train.y),
        "n_test_engines": len(test.y),
    }
    return ProtocolResult(metrics=metrics, details=details, notes=notes)


# -- the bundle path: anchors out, a Predictor's RUL in ------------------------------------------------------


def _anchors(engines: list[EngineRecord], max_rul: float = np.inf) -> pd.DataFrame:
    """One anchor per cycle of each engine whose true RUL is at most ``max_rul``."""
    parts = [pd.DataFrame({"asset_id": e.asset_id, "ts": e.ts[e.rul <= max_rul]}) for e in engines]
    return pd.concat(parts, ignore_index=True)


def _test_anchors(test: list[EngineRecord], config: CmapssConfig) -> pd.DataFrame:
    """The last cycle of each test engine; with ``config.development``, the held-out engines' test-like cycles."""
    if config.development:
        return _anchors(test, config.test_like_max_rul)
    return pd.DataFrame({"asset_id": [e.asset_id for e in test], "ts": [e.ts[-1] for e in test]})


def cmapss_inputs(
    dataset: Dataset, seed: int = 0, config: CmapssConfig | None = None, *, subset: str | None = None
) -> dict[str, ProtocolInputs]:
    """The samples a bundle trains and is tested on: every cycle of every training engine (``train``), the last
    cycle of every test engine (``test``); no ``val`` part, since the bundle trains a fixed number of epochs on
    every training engine. With ``config.development``, ``train`` holds the training engines outside the
    validation split of ``seed`` and ``test`` the held-out engines' test-like cycles.

    Raises:
        ProtocolError: if the dataset holds no training or no test engines of the subset.
    """
    config = config or CmapssConfig()
    engines, _, chosen = load_engines(dataset, subset or config.subset)
    train, test = _bundle_engines(engines, chosen, seed, config)
    return {
        "train": ProtocolInputs(dataset, _anchors(train), "train"),
        "test": ProtocolInputs(dataset, _test_anchors(test, config), "test"),
    }


def _bundle_engines(
    engines: list[EngineRecord], subset: str, seed: int, config: CmapssConfig
) -> tuple[list[EngineRecord], list[EngineRecord]]:
    """The training and test engines of the bundle path (see :func:`cmapss_inputs`)."""
    train = [e for e in engines if e.split == "train"]
    test = [e for e in engines if e.split == "test"]
    if not train or (not test and not config.development):
        raise ProtocolError(f"C-MAPSS {subset} needs training and test engines; found {len(train)} and {len(test)}")
    if not config.development:
        return train, test
    held = group_split([e.asset_id for e in train], config.validation_fraction, seed)
    return [train[i] for i in held.train], [train[i] for i in held.test]


def score_cmapss_bundle(
    dataset: Dataset,
    predictor: Predictor,
    seed: int = 0,
    config: CmapssConfig | None = None,
    *,
    subset: str | None = None,
) -> ProtocolResult:
    """Score a bundle trained on :func:`cmapss_inputs`: its RUL at each test engine's last cycle against the
    true RUL, by RMSE and the NASA score, as :func:`run_cmapss` scores an estimator (``development``: RMSE over
    the held-out engines' test-like cycles, ``val_rmse_test_like``). ``details["predictions"]`` holds the RUL
    predicted for each test engine."""
    config = config or CmapssConfig()
    engines, _, chosen = load_engines(dataset, subset or config.subset)
    _, test = _bundle_engines(engines, chosen, seed, config)
    anchors = _test_anchors(test, config)
    true = {e.asset_id: pd.Series(e.rul, index=e.ts) for e in test}
    windows = predictor.windows(dataset, anchors=anchors)
    output = predictor.predict_windows(windows, batch_size=256, progress=True, description="scoring test engines")
    predicted = np.asarray(output.rul_hours, dtype=np.float64)
    cut = windows.anchors
    truth = np.array([true[a][t] for a, t in zip(cut["asset_id"], cut["ts"], strict=True)])
    if config.development:
        return ProtocolResult(metrics={"val_rmse_test_like": rmse(truth, predicted)}, details={"subset": chosen})
    notes: tuple[str, ...] = ()
    if subset is None and config.subset is None and len(held := cmapss_subsets(dataset)) > 1:
        notes = (f"the dataset holds C-MAPSS subsets {', '.join(held)}; evaluated {chosen} only",)
    details = {
        "subset": chosen,
        "n_test_engines": len(truth),
        "predictions": {a: float(p) for a, p in zip(cut["asset_id"], predicted, strict=True)},
    }
    metrics = {"rmse": rmse(truth, predicted), "nasa_score": nasa_score(truth, predicted)}
    return ProtocolResult(metrics=metrics, details=details, notes=notes)


def validate_cmapss_bundle(
    dataset: Dataset, trainer: BundleTrainer, seed: int = 0, config: CmapssConfig | None = None
) -> dict[str, float]:
    """``val_rmse_test_like`` of a bundle trained on the training engines outside the validation split of
    ``seed`` (for tuning: no test engine is read)."""
    development = replace(config or CmapssConfig(), development=True)
    return score_once(
        trainer,
        cmapss_inputs(dataset, seed, development),
        lambda predictor: score_cmapss_bundle(dataset, predictor, seed, development),
    ).metrics
