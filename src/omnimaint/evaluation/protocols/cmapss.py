"""C-MAPSS remaining-useful-life protocol (Saxena, Goebel, Simon & Eklund, PHM 2008).

The evaluation standard of the deep-learning RUL literature since Babu et al. (DASFAA 2016) and Li, Ding &
Sun (RESS 2018):

- Training targets are capped piecewise-linearly: ``RUL = min(true RUL, 125)`` (Heimes, PHM 2008), since
  an engine's early life shows no degradation to regress on.
- Inputs are windows of the last 30 cycles of every channel that varies in the training data, z-scored
  with training statistics; windows of engines with fewer cycles are padded by repeating their first cycle.
- Every cycle of every training engine ends one training window.
- Test: one window per test engine, ending at its last cycle, scored by RMSE and by the PHM 2008 asymmetric
  score (:func:`omnimaint.evaluation.metrics.nasa_score`) against the true RUL *capped at the training cap*,
  ``min(true RUL, rul_cap)`` (``rmse``, ``nasa_score``: the headline, as the published figures are scored;
  under uncapped truth even a perfect capped predictor scores 3.74 on FD001 and 18.32 on FD002), and against
  the uncapped true RUL (``rmse_uncapped``, ``nasa_score_uncapped``). See :func:`rul_scores`.
- Any tuning uses a validation split of training engines *by engine* (never by window); the protocol
  reports the validation RMSE of a fit on the remaining engines, then refits on all training engines.
  ``val_rmse`` scores every cycle of the held-out engines against capped targets (mostly the easy plateau
  at the cap); ``val_rmse_test_like`` scores only their cycles with a true RUL of at most
  ``test_like_max_rul`` against the *uncapped* RUL, as ``rmse_uncapped`` does — the one to tune on (left uncapped
  so that earlier tuning figures stay comparable; it differs from a capped one only on true RULs of 125–150).

``cmapss-long`` (:data:`LONG_HISTORY`) is the same protocol (targets, test points, validation) given what a
test engine's history holds at prediction time beyond the last 30 cycles of Li et al.: windows of the last
80 cycles (histories run 31–303 cycles; shorter ones are front-padded as above) and the engine's *age*, the
cycles recorded since its first (the ``time, in cycles`` column of the NASA files), as one more input
channel, and each reading's *drift*, the reading minus its mean over the engine's first 20 cycles (where
the engine started). All were chosen on ``val_rmse_test_like`` (docs/benchmarks.md), never on test engines.

``cmapss-regimes`` (:data:`PER_REGIME`) is ``cmapss-long`` with each reading z-scored per operating regime before
the drift and the windows are taken: the regimes are found by k-means on the operating-setting channels the
manifest declares (the C-MAPSS adapter declares its three settings), fitted on the training engines of each fit,
and enter as indicator channels (:mod:`omnimaint.data.regimes`). FD002 and FD004 run in six regimes that change
from cycle to cycle, which a normalisation over all regimes at once leaves as the largest signal.

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
from omnimaint.data.regimes import OperatingRegimes, fit_regimes, operating_settings
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
        regimes: Z-score each reading with the statistics of its operating regime, found by k-means on the
            operating-setting channels the manifest declares, fitted on the training engines of each fit
            (:mod:`omnimaint.data.regimes`); the settings then enter only as the regime's indicators,
            channels ``regime_<k>`` (estimators only: the bundle path reads its window from the model config).
        n_regimes: Number of regimes with ``regimes``; ``None`` chooses it (FD001 gives 1, FD002 6).
    """

    subset: str | None = None
    rul_cap: float = 125.0
    window: int = 30
    validation_fraction: float = 0.2
    test_like_max_rul: float = 150.0
    age_channel: bool = False
    baseline_cycles: int = 0
    development: bool = False
    regimes: bool = False
    n_regimes: int | None = None

    def __post_init__(self) -> None:
        if self.window < 1 or self.baseline_cycles < 0:
            raise ProtocolError(f"C-MAPSS needs window >= 1 and baseline_cycles >= 0, not {self}")
        if self.n_regimes is not None and self.n_regimes < 1:
            raise ProtocolError(f"C-MAPSS needs n_regimes >= 1 (or none, to choose it), not {self.n_regimes}")

    def input_channels(self, channels: list[str], n_regimes: int = 0) -> list[str]:
        """Names of the input channels, in the column order of :meth:`EngineRecord.inputs` (``n_regimes``: the
        regime indicators an engine carries)."""
        drift = [f"{DRIFT_PREFIX}{c}" for c in channels] if self.baseline_cycles > 0 else []
        regimes = [f"{REGIME_PREFIX}{k}" for k in range(n_regimes)]
        return [*channels, *drift, *regimes, *([AGE_CHANNEL] if self.age_channel else [])]


DRIFT_PREFIX = "drift_"
AGE_CHANNEL = "age_cycles"
REGIME_PREFIX = "regime_"
LONG_HISTORY = CmapssConfig(window=80, age_channel=True, baseline_cycles=20)
"""The settings of the ``cmapss-long`` protocol."""
PER_REGIME = replace(LONG_HISTORY, regimes=True)
"""The settings of the ``cmapss-regimes`` protocol: ``cmapss-long`` with each reading z-scored per operating regime."""


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
        regime: Indicators of each cycle's operating regime, shape ``(cycles, regimes)``, or ``None``.
    """

    asset_id: str
    split: str
    values: np.ndarray
    rul: np.ndarray
    age: np.ndarray
    ts: pd.DatetimeIndex
    regime: np.ndarray | None = None

    def inputs(self, config: CmapssConfig) -> np.ndarray:
        """The input channels of each cycle, shape ``(cycles, channels)``: the readings, then their drift from
        the engine's start, the regime indicators and its age if asked (names: :meth:`CmapssConfig.input_channels`).
        Causal: a cycle's row uses no later cycle."""
        columns = [self.values]
        if config.baseline_cycles > 0:
            first = self.values[: config.baseline_cycles]
            start = np.cumsum(first, axis=0) / np.arange(1, len(first) + 1)[:, None]  # mean of the cycles so far
            start = np.concatenate([start, np.repeat(start[-1:], len(self.values) - len(first), axis=0)])
            columns.append(self.values - start)
        if self.regime is not None:
            columns.append(self.regime)
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


def regime_settings(dataset: Dataset, channels: list[str]) -> tuple[str, ...]:
    """The operating-setting channels the manifest declares, among ``channels``.

    Raises:
        ProtocolError: if the manifest declares none (datasets imported before they were declared: import again).
    """
    settings = tuple(c for c in operating_settings(dataset.manifest) if c in channels)
    if not settings:
        raise ProtocolError(
            f"{dataset.path}: per-regime normalisation needs operating-setting channels, and the manifest declares "
            "none among the telemetry (channels with role 'operating_setting'; import the C-MAPSS files again)"
        )
    return settings


def with_regimes(
    fit_on: list[EngineRecord],
    engines: list[list[EngineRecord]],
    channels: list[str],
    settings: tuple[str, ...],
    config: CmapssConfig,
    seed: int,
) -> tuple[list[list[EngineRecord]], list[str], OperatingRegimes]:
    """Engines whose readings are z-scored per operating regime, the regimes fitted on ``fit_on`` alone.

    Returns:
        Each group of ``engines`` with ``values`` the normalised readings (the settings dropped) and ``regime``
        each cycle's regime indicators; the reading names; the fitted regimes.
    """
    at = [channels.index(c) for c in settings]
    readings = [c for c in channels if c not in settings]
    kept = [channels.index(c) for c in readings]
    rows = np.concatenate([e.values for e in fit_on])  # (cycles of all fit_on engines, channels)
    regimes = fit_regimes(
        rows[:, at], rows[:, kept], settings, tuple(readings), np.random.default_rng(seed), config.n_regimes
    )

    def convert(engine: EngineRecord) -> EngineRecord:
        regime = regimes.assign(engine.values[:, at])
        normalised = regimes.normalise(engine.values[:, kept], regime)
        return replace(engine, values=normalised, regime=regimes.one_hot(regime))

    return [[convert(e) for e in group] for group in engines], readings, regimes


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


def rul_scores(true_rul: np.ndarray, predicted: np.ndarray, rul_cap: float) -> dict[str, float]:
    """RMSE and NASA score of RUL predictions against the truth capped at the training cap (the headline, as the
    literature scores C-MAPSS) and against the uncapped truth.

    Args:
        true_rul: True RUL of each test engine at its last cycle, uncapped.
        predicted: Predicted RUL of each.
        rul_cap: Cap of the training targets.

    Returns:
        ``rmse`` and ``nasa_score`` against ``min(true_rul, rul_cap)``; ``rmse_uncapped`` and
        ``nasa_score_uncapped`` against ``true_rul``.
    """
    capped = np.minimum(true_rul, rul_cap)
    return {
        "rmse": rmse(capped, predicted),
        "nasa_score": nasa_score(capped, predicted),
        "rmse_uncapped": rmse(true_rul, predicted),
        "nasa_score_uncapped": nasa_score(true_rul, predicted),
    }


def engine_predictions(engines: np.ndarray, true_rul: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    """Per test engine, its predicted and true (uncapped) RUL, for the JSON record."""
    return {
        str(a): {"predicted": float(p), "true_rul": float(t)}
        for a, t, p in zip(engines, true_rul, predicted, strict=True)
    }


def _fit_predict(factory: MethodFactory, seed: int, train: RulArrays, test: RulArrays) -> np.ndarray:
    estimator = factory(seed)
    estimator.fit(train.X, train.y)
    return np.asarray(estimator.predict(test.X), dtype=np.float64).reshape(-1)


def _validate(
    train: list[EngineRecord],
    factory: MethodFactory,
    seed: int,
    split_seed: int,
    config: CmapssConfig,
    regime_inputs: tuple[list[str], tuple[str, ...]] | None = None,
) -> dict[str, float]:
    """Fit on the training engines outside a validation split, score the held-out engines (with
    ``regime_inputs``, the channels and settings, regimes are fitted on the engines outside it alone)."""
    window_engines = np.concatenate([np.full(len(e.values), e.asset_id) for e in train])  # engine of each window
    split = group_split(window_engines, config.validation_fraction, split_seed)
    held = set(window_engines[split.test])
    inner_engines = [e for e in train if e.asset_id not in held]
    val_engines = [e for e in train if e.asset_id in held]
    if regime_inputs is not None:
        channels, settings = regime_inputs
        (inner_engines, val_engines), _, _ = with_regimes(
            inner_engines, [inner_engines, val_engines], channels, settings, config, seed
        )
    (inner, val), _ = _standardize(training_arrays(inner_engines, config), [training_arrays(val_engines, config)])
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
    engines, channels, _ = load_engines(dataset, config.subset)
    train = [e for e in engines if e.split == "train"]
    if not train:
        raise ProtocolError(f"{dataset.path}: no C-MAPSS training engines")
    regime_inputs = (channels, regime_settings(dataset, channels)) if config.regimes else None
    return _validate(train, factory, seed, split_seed, config, regime_inputs)


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
        :func:`rul_scores` on the test engines' last cycles (and ``val_rmse`` and ``val_rmse_test_like`` on
        held-out training engines, see the module docstring); ``details["subset"]`` names the subset and
        ``details["predictions"]`` holds each test engine's predicted and true RUL.
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
    regime_inputs = (channels, regime_settings(dataset, channels)) if config.regimes else None
    train_engines = [e for e in engines if e.split == "train"]
    metrics = (
        _validate(train_engines, factory, seed, seed, config, regime_inputs) if config.validation_fraction > 0 else {}
    )
    regimes: OperatingRegimes | None = None
    if regime_inputs is not None:
        (engines,), channels, regimes = with_regimes(train_engines, [engines], *regime_inputs, config, seed)
    train_raw, test_raw = build_arrays(engines, config)
    (train, test), keep = _standardize(train_raw, [test_raw])
    input_channels = config.input_channels(channels, regimes.n_regimes if regimes is not None else 0)
    predicted = _fit_predict(factory, seed, train, test)
    metrics = {**rul_scores(test.rul, predicted, config.rul_cap), **metrics}
    details = {
        "subset": subset,
        "config": asdict(config),
        "channels": [c for c, k in zip(input_channels, keep, strict=True) if k],
        "n_train_engines": len(np.unique(train.engines)),
        "n_train_windows": len(train.y),
        "n_test_engines": len(test.y),
        "rul_cap": config.rul_cap,
        "predictions": engine_predictions(test.engines, test.rul, predicted),
        **({"regimes": regimes.model_dump(mode="json")} if regimes is not None else {}),
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
    """Score a bundle trained on :func:`cmapss_inputs`: its RUL at each test engine's last cycle by
    :func:`rul_scores` (truth capped at the bundle's own ``rul_cap``, and uncapped), as :func:`run_cmapss`
    scores an estimator (``development``: RMSE over the held-out engines' test-like cycles against the uncapped
    RUL, ``val_rmse_test_like``). ``details["predictions"]`` holds each test engine's predicted and true RUL."""
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
    rul_cap = float(predictor.bundle.window.rul_cap / _CYCLE)  # the bundle's training cap, in cycles
    details = {
        "subset": chosen,
        "n_test_engines": len(truth),
        "rul_cap": rul_cap,
        "predictions": engine_predictions(cut["asset_id"].to_numpy(), truth, predicted),
    }
    metrics = rul_scores(truth, predicted, rul_cap)
    return ProtocolResult(metrics=metrics, details=details, notes=notes)


def validate_cmapss_bundle(
    dataset: Dataset, trainer: BundleTrainer, seed: int = 0, split_seed: int = 0, config: CmapssConfig | None = None
) -> dict[str, float]:
    """``val_rmse_test_like`` of a bundle trained on the training engines outside the validation split of
    ``split_seed`` (for tuning: no test engine is read); ``seed`` seeds the training (through ``trainer``)."""
    development = replace(config or CmapssConfig(), development=True)
    return score_once(
        trainer,
        cmapss_inputs(dataset, split_seed, development),
        lambda predictor: score_cmapss_bundle(dataset, predictor, split_seed, development),
    ).metrics
