"""C-MAPSS protocol: capped targets, padded windows, test RUL from failures, engine-disjoint validation."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset, Manifest, write_dataset
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.evaluation.metrics import nasa_score, rmse
from omnimaint.evaluation.protocols import run_protocol
from omnimaint.evaluation.protocols.base import ProtocolError
from omnimaint.evaluation.protocols.cmapss import (
    CmapssConfig,
    EngineRecord,
    build_arrays,
    cmapss_subsets,
    load_engines,
    rul_scores,
    run_cmapss,
    score_cmapss_bundle,
    validate_cmapss,
    windows_ending_at,
)
from tests.unit.evaluation.canonical import cmapss_dataset, cmapss_regime_dataset


def two_subset_dataset(path: Path, *, wear_sensors: bool = False) -> Dataset:
    """``cmapss_dataset`` as FD001 beside a second draw of it relabelled FD002 (4 test engines instead of 6)."""
    parts: dict[str, list[pd.DataFrame]] = {"assets": [], "telemetry": [], "failures": []}
    for subset, seed, n_test in (("FD001", 0, 6), ("FD002", 1, 4)):
        drawn = cmapss_dataset(
            path.parent / f"{path.name}-{subset}", n_test=n_test, seed=seed, wear_sensors=wear_sensors
        )
        for name, rows in parts.items():
            table = drawn.table(name)
            table["asset_id"] = table["asset_id"].str.replace("FD001", subset)
            if name == "assets":
                table["metadata"] = table["metadata"].str.replace("FD001", subset)
            rows.append(table)
    tables = {name: pd.concat(rows, ignore_index=True) for name, rows in parts.items()}
    return write_dataset(path, Manifest(schema_version=SCHEMA_VERSION, name="cmapss-two"), tables)


@pytest.fixture(scope="module")
def two_subsets(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return two_subset_dataset(tmp_path_factory.mktemp("cmapss2") / "d")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cmapss_dataset(tmp_path_factory.mktemp("cmapss") / "d")


class _Recorder:
    """Predicts a constant and records what it was fitted on."""

    calls: ClassVar[list[tuple[np.ndarray, np.ndarray]]] = []

    def __init__(self, value: float) -> None:
        self.value = value

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Recorder:
        _Recorder.calls.append((X, y))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.value)


def test_windows_are_front_padded_with_the_first_cycle() -> None:
    values = np.arange(10, dtype=float).reshape(5, 2)  # 5 cycles, 2 channels
    windows = windows_ending_at(values, 4, np.array([0, 4]))
    assert windows.shape == (2, 2, 4)
    assert windows[0, 0].tolist() == [0, 0, 0, 0]
    assert windows[1, 1].tolist() == [3, 5, 7, 9]


def test_targets_are_capped_and_test_rul_comes_from_the_failure(dataset: Dataset) -> None:
    engines, channels, subset = load_engines(dataset)
    assert subset == "FD001"
    assert channels == ["s1", "s2", "setting1"]
    train, test = build_arrays(engines, CmapssConfig(rul_cap=50, window=30))
    assert train.y.max() == 50
    assert train.y.min() == 0  # the last training cycle is the failure
    assert train.X.shape[1:] == (3, 30)
    assert len(train.y) == sum(len(e.values) for e in engines if e.split == "train")
    for engine, true_rul in zip((e for e in engines if e.split == "test"), test.y, strict=True):
        failure = dataset.table("failures").set_index("asset_id").loc[engine.asset_id, "ts"]
        last = dataset.table("telemetry").query("asset_id == @engine.asset_id")["ts"].max()
        assert true_rul == (failure - last).total_seconds() / 3600
        assert true_rul > 0


def test_protocol_scores_the_last_cycle_and_never_fits_on_test_engines(dataset: Dataset) -> None:
    _Recorder.calls.clear()
    result = run_cmapss(dataset, lambda seed: _Recorder(40.0), seed=0)
    engines, _, _ = load_engines(dataset)
    test_rul = np.array([e.rul[-1] for e in engines if e.split == "test"])
    assert result.metrics["rmse"] == pytest.approx(rmse(test_rul, np.full(len(test_rul), 40.0)))
    assert result.metrics["nasa_score"] == pytest.approx(nasa_score(test_rul, np.full(len(test_rul), 40.0)))
    assert result.details["channels"] == ["s2", "setting1"]  # the constant s1 is dropped
    train_cycles = {e.asset_id: len(e.values) for e in engines if e.split == "train"}
    (inner_x, _), (_, full_y) = _Recorder.calls
    assert len(full_y) == sum(train_cycles.values())
    # The validation fit sees whole engines only: its size is a sum of some engines' cycle counts.
    held_out = result.details["n_train_windows"] - len(inner_x)
    assert held_out > 0
    assert any(
        sum(train_cycles[a] for a in combo) == held_out
        for combo in itertools.combinations(train_cycles, 2)  # 20 % of 10 engines
    )


def test_test_like_validation_scores_late_cycles_against_the_uncapped_rul(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnimaint.evaluation.protocols import cmapss

    held: list[np.ndarray] = []
    original = cmapss.group_split

    def spy(groups: np.ndarray, held_out: float, seed: int) -> Any:
        split = original(groups, held_out, seed)
        held.append(np.unique(groups[split.test]))
        return split

    monkeypatch.setattr(cmapss, "group_split", spy)
    config = CmapssConfig(rul_cap=50, test_like_max_rul=80)
    result = run_cmapss(dataset, lambda seed: _Recorder(40.0), seed=0, config=config)
    engines = {e.asset_id: e for e in load_engines(dataset)[0]}
    rul = np.concatenate([engines[a].rul for a in held[0]])
    capped = np.minimum(rul, 50)
    late = rul[rul <= 80]
    assert result.metrics["val_rmse"] == pytest.approx(rmse(capped, np.full(len(capped), 40.0)))
    assert result.metrics["val_rmse_test_like"] == pytest.approx(rmse(late, np.full(len(late), 40.0)))
    assert late.max() > 50  # uncapped: beyond the training cap


def test_rul_scores_cap_the_truth_at_the_training_cap_by_hand() -> None:
    true = np.array([10.0, 100.0, 200.0])
    predicted = np.array([20.0, 125.0, 125.0])
    scores = rul_scores(true, predicted, rul_cap=125)
    # capped truth [10, 100, 125]: errors 10, 25, 0; uncapped: 10, 25, -75
    assert scores["rmse"] == pytest.approx(math.sqrt((10**2 + 25**2 + 0**2) / 3))  # 15.546
    assert scores["rmse_uncapped"] == pytest.approx(math.sqrt((10**2 + 25**2 + 75**2) / 3))  # 46.007
    late = (math.exp(10 / 10) - 1) + (math.exp(25 / 10) - 1)  # the third engine is exact once capped
    assert scores["nasa_score"] == pytest.approx(late)
    assert scores["nasa_score_uncapped"] == pytest.approx(late + math.exp(75 / 13) - 1)  # 75 cycles early


def test_headline_rmse_is_against_the_capped_truth_and_the_record_keeps_every_engine(dataset: Dataset) -> None:
    """A predictor that says the cap everywhere is exact on every engine past the cap: the headline ``rmse``
    counts no error there, ``rmse_uncapped`` does."""
    config = CmapssConfig(rul_cap=30)
    result = run_cmapss(dataset, lambda seed: _Recorder(30.0), seed=0, config=config)
    test = [e for e in load_engines(dataset)[0] if e.split == "test"]
    true = np.array([e.rul[-1] for e in test])
    assert (true > 30).sum() >= 2 and (true < 30).any()  # both sides of the cap are exercised
    assert result.metrics["rmse"] == pytest.approx(rmse(np.minimum(true, 30), np.full(len(true), 30.0)))
    assert result.metrics["rmse_uncapped"] == pytest.approx(rmse(true, np.full(len(true), 30.0)))
    assert result.metrics["rmse"] < result.metrics["rmse_uncapped"]
    assert result.metrics["nasa_score"] < result.metrics["nasa_score_uncapped"]
    assert result.details["rul_cap"] == 30
    assert result.details["predictions"] == {e.asset_id: {"predicted": 30.0, "true_rul": e.rul[-1]} for e in test}


def test_a_bundle_is_scored_against_the_truth_capped_at_its_own_cap(dataset: Dataset) -> None:
    """The bundle path caps the truth at the bundle's ``rul_cap`` (one hour = one cycle)."""
    test = [e for e in load_engines(dataset)[0] if e.split == "test"]
    true = np.array([e.rul[-1] for e in test])

    def windows(_: Dataset, anchors: pd.DataFrame) -> SimpleNamespace:
        return SimpleNamespace(anchors=anchors)

    predictor: Any = SimpleNamespace(
        bundle=SimpleNamespace(window=SimpleNamespace(rul_cap=pd.Timedelta(hours=40))),
        windows=windows,
        predict_windows=lambda w, **_: SimpleNamespace(rul_hours=np.full(len(w.anchors), 40.0)),
    )
    result = score_cmapss_bundle(dataset, predictor)
    assert result.metrics["rmse"] == pytest.approx(rmse(np.minimum(true, 40), np.full(len(true), 40.0)))
    assert result.metrics["rmse_uncapped"] == pytest.approx(rmse(true, np.full(len(true), 40.0)))
    assert result.metrics["rmse"] < result.metrics["rmse_uncapped"]
    assert result.details["predictions"][test[0].asset_id] == {"predicted": 40.0, "true_rul": true[0]}


def test_validation_split_is_by_engine(dataset: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    from omnimaint.evaluation.protocols import cmapss

    seen: list[Any] = []
    original = cmapss.group_split

    def spy(groups: np.ndarray, held_out: float, seed: int) -> Any:
        split = original(groups, held_out, seed)
        seen.append((set(groups[split.train]), set(groups[split.test])))
        return split

    monkeypatch.setattr(cmapss, "group_split", spy)
    run_cmapss(dataset, lambda seed: _Recorder(10.0), seed=3)
    ((inner, validation),) = seen
    assert inner.isdisjoint(validation)
    assert all("-train-" in a for a in inner | validation)


def test_gbdt_baseline_beats_a_constant(dataset: Dataset) -> None:
    from omnimaint.baselines import WindowStatsRegressor

    constant = run_cmapss(dataset, lambda seed: _Recorder(60.0), seed=0).metrics["rmse"]
    learned = run_cmapss(dataset, lambda seed: WindowStatsRegressor(max_iter=50, random_state=seed), seed=0)
    assert learned.metrics["rmse"] < 0.6 * constant


def test_long_history_protocol_differs_from_cmapss_in_the_window_and_the_drift_and_age_channels(
    dataset: Dataset,
) -> None:
    from omnimaint.evaluation.protocols import LONG_HISTORY, run_protocol

    _Recorder.calls.clear()
    short = run_protocol(dataset, "cmapss", lambda seed: _Recorder(40.0), seed=0)
    (_, _), (short_x, _) = _Recorder.calls
    _Recorder.calls.clear()
    long = run_protocol(dataset, "cmapss-long", lambda seed: _Recorder(40.0), seed=0)
    (_, _), (full_x, full_y) = _Recorder.calls
    assert full_x.shape[2] == LONG_HISTORY.window > CmapssConfig().window
    readings = short.details["channels"]
    assert full_x.shape[1] == 2 * short_x.shape[1] + 1
    assert long.details["channels"] == [*readings, *(f"drift_{c}" for c in readings), "age_cycles"]
    # Every cycle still ends one window; a window longer than an engine's history is front-padded.
    engines, _, _ = load_engines(dataset)
    assert len(full_y) == sum(len(e.values) for e in engines if e.split == "train")
    assert (full_x[0, :, 0] == full_x[0, :, -1]).all()  # the first cycle of the first engine, repeated
    assert long.details["config"]["window"] == LONG_HISTORY.window
    assert long.metrics == run_cmapss(dataset, lambda seed: _Recorder(40.0), seed=0, config=LONG_HISTORY).metrics


def test_age_channel_counts_the_cycles_recorded_so_far(dataset: Dataset) -> None:
    engines, _, _ = load_engines(dataset)
    config = CmapssConfig(window=5, age_channel=True)
    train, test = build_arrays(engines, config)
    first = engines[0]
    assert first.inputs(config).shape == (len(first.values), first.values.shape[1] + 1)
    # The last training window of the first engine ends at its last cycle: ages n-4 .. n.
    n = len(first.values)
    assert train.X[n - 1, -1].tolist() == list(range(n - 4, n + 1))
    # A test engine's window ends at its last recorded cycle, so its age is its number of cycles.
    test_engines = [e for e in engines if e.split == "test"]
    assert test.X[:, -1, -1].tolist() == [len(e.values) for e in test_engines]
    assert not CmapssConfig().age_channel  # the literature's protocol sees the sensors alone
    assert CmapssConfig().baseline_cycles == 0
    assert build_arrays(engines, CmapssConfig())[0].X.shape[1] == first.values.shape[1]


def test_drift_channels_are_departures_from_the_engine_start_using_no_later_cycle(dataset: Dataset) -> None:
    engines, channels, _ = load_engines(dataset)
    config = CmapssConfig(window=5, baseline_cycles=3, age_channel=True)
    engine = engines[0]
    values, n_channels = engine.values, len(channels)
    inputs = engine.inputs(config)
    assert inputs.shape == (len(values), 2 * n_channels + 1)
    assert config.input_channels(channels) == [*channels, *(f"drift_{c}" for c in channels), "age_cycles"]
    np.testing.assert_array_equal(inputs[:, :n_channels], values)
    np.testing.assert_array_equal(inputs[:, -1], engine.age)
    drift = inputs[:, n_channels:-1]
    np.testing.assert_allclose(drift[0], 0.0)  # the first cycle is its own start
    np.testing.assert_allclose(drift[1], values[1] - values[:2].mean(axis=0))  # fewer cycles than the baseline
    np.testing.assert_allclose(drift[2:], values[2:] - values[:3].mean(axis=0))
    # Causal: an engine cut at any cycle has the inputs of the whole engine up to that cycle.
    for cut in (1, 2, 4, len(values) // 2):
        truncated = EngineRecord(
            engine.asset_id, engine.split, values[:cut], engine.rul[:cut], engine.age[:cut], engine.ts[:cut]
        )
        np.testing.assert_array_equal(truncated.inputs(config), inputs[:cut])
    with pytest.raises(ProtocolError, match="baseline_cycles >= 0"):
        CmapssConfig(baseline_cycles=-1)


def test_subsets_are_evaluated_one_at_a_time_and_the_default_says_which(two_subsets: Dataset) -> None:
    assert cmapss_subsets(two_subsets) == ["FD001", "FD002"]
    default = run_cmapss(two_subsets, lambda seed: _Recorder(40.0))
    assert default.details["subset"] == "FD001"
    assert default.details["n_test_engines"] == 6  # FD001's engines only, never pooled with FD002's
    assert default.notes == (
        "the dataset holds C-MAPSS subsets FD001, FD002; evaluated FD001 only (choose another with --subset)",
    )
    second = run_protocol(two_subsets, "cmapss", lambda seed: _Recorder(40.0), subset="fd002")
    assert (second.details["subset"], second.details["n_test_engines"], second.notes) == ("FD002", 4, ())
    long = run_protocol(two_subsets, "cmapss-long", lambda seed: _Recorder(40.0), subset="FD002")
    assert long.details["subset"] == "FD002"


def test_an_unknown_subset_or_a_subset_for_another_protocol_is_refused(two_subsets: Dataset) -> None:
    with pytest.raises(
        ProtocolError, match=r"no subset 'FD004' for protocol 'cmapss'; this dataset holds FD001, FD002"
    ):
        run_protocol(two_subsets, "cmapss", lambda seed: _Recorder(40.0), subset="FD004")
    with pytest.raises(
        ProtocolError,
        match=r"protocol 'cwru' has no subsets "
        r"\(--subset applies to: cmapss, cmapss-long, cmapss-regimes, cwru-cross-load\)",
    ):
        run_protocol(two_subsets, "cwru", lambda seed: _Recorder(40.0), subset="FD001")


def test_a_single_subset_needs_no_note(dataset: Dataset) -> None:
    assert run_cmapss(dataset, lambda seed: _Recorder(40.0)).notes == ()


@pytest.fixture(scope="module")
def regimes(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cmapss_regime_dataset(tmp_path_factory.mktemp("cmapss-regimes") / "d")


def test_per_regime_normalisation_removes_the_set_point_jumps_and_adds_the_regime_as_input(regimes: Dataset) -> None:
    plain = run_cmapss(regimes, lambda seed: _Recorder(40.0), seed=0)
    assert plain.details["channels"] == ["s2", "setting1"] and "regimes" not in plain.details
    _Recorder.calls.clear()
    result = run_cmapss(regimes, lambda seed: _Recorder(40.0), seed=0, config=CmapssConfig(regimes=True))
    assert len(result.details["regimes"]["centroids"]) == 3  # found by k-means on the declared setting
    names = result.details["channels"]
    assert names == ["s2", "regime_0", "regime_1", "regime_2"]  # the setting enters as the regime
    last = _Recorder.calls[-1][0][:, :, -1]  # (windows, channels) at each window's last cycle
    regime = last[:, 1:].argmax(axis=1)
    s2_means = [last[regime == k, 0].mean() for k in range(3)]
    assert np.ptp(s2_means) < 0.2  # each regime's s2 centred on its own mean: the steps of 30 are gone
    assert set(result.details["config"]) >= {"regimes", "n_regimes"}


def test_regimes_are_fitted_on_the_training_engines_of_each_fit_alone(
    regimes: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnimaint.evaluation.protocols import cmapss

    fitted_rows: list[int] = []
    original = cmapss.fit_regimes

    def spy(settings: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        fitted_rows.append(len(settings))
        return original(settings, *args, **kwargs)

    monkeypatch.setattr(cmapss, "fit_regimes", spy)
    _Recorder.calls.clear()
    result = run_cmapss(regimes, lambda seed: _Recorder(40.0), seed=0, config=CmapssConfig(regimes=True, n_regimes=3))
    (inner_x, _), (full_x, _) = _Recorder.calls
    assert fitted_rows == [len(inner_x), len(full_x)]  # validation fit: its inner engines; test fit: all training
    assert fitted_rows[1] == result.details["n_train_windows"]  # one window per training cycle, no test cycle


def test_tuning_validates_with_the_regimes_as_the_protocol_does(regimes: Dataset) -> None:
    config = CmapssConfig(regimes=True)
    alone = validate_cmapss(regimes, lambda seed: _Recorder(40.0), seed=0, split_seed=0, config=config)
    within = run_cmapss(regimes, lambda seed: _Recorder(40.0), seed=0, config=config).metrics
    assert alone == {k: within[k] for k in ("val_rmse", "val_rmse_test_like")}


def test_regimes_need_declared_operating_settings(dataset: Dataset) -> None:
    with pytest.raises(ProtocolError, match=r"manifest declares none among the telemetry"):
        run_cmapss(dataset, lambda seed: _Recorder(40.0), config=CmapssConfig(regimes=True))
    with pytest.raises(ProtocolError, match=r"n_regimes >= 1"):
        CmapssConfig(regimes=True, n_regimes=0)
