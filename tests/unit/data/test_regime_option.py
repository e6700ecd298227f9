"""The telemetry option ``regimes``: readings z-scored per operating regime on the bundle path, from the sample
builder through a tiny bundle's ``preprocessors.json``, the ``Predictor`` and its ONNX export.

The dataset (``cmapss_regime_dataset``): engines whose every cycle runs at one of three set points of ``setting1``
(declared an operating setting), with ``s2`` raised by 30 per set point — far more than its wear trend of at
most 5 — and a constant ``s1``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.data.regimes import fit_regimes, operating_settings
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.windows import TelemetryWindow, WindowSpec
from omnimaint.errors import ConfigError
from omnimaint.evaluation.protocols import get_protocol
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.bundle_checks import check_preprocessors
from omnimaint.inference.bundle_files import BundleError
from omnimaint.inference.predictor import Predictor
from omnimaint.models.preprocessing import Preprocessor
from omnimaint.training.methods import ProtocolTrainer
from omnimaint.training.run import train
from tests.unit.bad_inputs.harness import run_cli
from tests.unit.evaluation.canonical import cmapss_dataset, cmapss_regime_dataset

WINDOW = TelemetryWindow(
    lookback=timedelta(hours=10),
    step=timedelta(hours=1),
    channels=("s1", "s2"),  # the setting is read all the same: the option needs it
    before_start="first",
    drift_over=timedelta(hours=5),
    age=True,
    regimes=True,
)
SPEC = WindowSpec(
    telemetry=WINDOW,
    waveforms=None,
    frames=None,
    events=None,
    maintenance=None,
    stride=timedelta(hours=1),
    horizons=(timedelta(hours=24),),
    rul_cap=timedelta(hours=125),
    degraded_within=timedelta(hours=24),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return cmapss_regime_dataset(tmp_path_factory.mktemp("regimes") / "d")


def _wide(dataset: Dataset, split: str) -> pd.DataFrame:
    """One row per cycle of the engines of ``split``: ``asset_id``, ``ts`` and a column per channel."""
    telemetry = dataset.table("telemetry")
    telemetry = telemetry[telemetry["asset_id"].str.contains(f"-{split}-")]
    wide = telemetry.pivot_table(index=["asset_id", "ts"], columns="channel", values="value").reset_index()
    return wide.sort_values(["asset_id", "ts"], ignore_index=True)


def _windows(dataset: Dataset, split: str, **kwargs: object) -> WindowedDataset:
    """Windows ending at every cycle of the engines of ``split``."""
    anchors = _wide(dataset, split)[["asset_id", "ts"]]
    return WindowedDataset(dataset, SPEC, anchors=anchors, **kwargs)  # type: ignore[arg-type]


def _by_channel(windows: WindowedDataset, index: int) -> dict[str, np.ndarray]:
    batch = windows.batch(np.array([index]))
    assert windows.spec.telemetry is not None and batch.telemetry is not None
    names = windows.spec.telemetry.input_channels(windows.vocab.telemetry_channels, windows.regimes)
    return {name: batch.telemetry[0, :, i] for i, name in enumerate(names)}


def test_regimes_are_fitted_on_the_training_rows_alone(dataset: Dataset) -> None:
    train = _windows(dataset, "train")
    rows = _wide(dataset, "train")
    expected = fit_regimes(
        rows[["setting1"]].to_numpy(),
        rows[["s1", "s2"]].to_numpy(),
        ("setting1",),
        ("s1", "s2"),
        np.random.default_rng(0),
    )
    assert train.regimes == expected
    assert train.regimes.n_regimes == 3
    # Fitted on the test engines' rows they would differ: the option never fits on anything but its own windows.
    assert _windows(dataset, "test").regimes != expected
    # Given regimes are used as they are.
    assert _windows(dataset, "test", regimes=train.regimes).regimes == train.regimes


def test_each_step_is_normalised_by_its_regime_before_the_drift_and_the_settings_become_indicators(
    dataset: Dataset,
) -> None:
    train = _windows(dataset, "train")
    regimes = train.regimes
    assert regimes is not None
    names = WINDOW.input_channels(train.vocab.telemetry_channels, regimes)
    assert names == ("s1", "s2", "drift_s1", "drift_s2", "regime_0", "regime_1", "regime_2", "age_hours")
    assert train.vocab.telemetry_channels == ("s1", "s2", "setting1")  # read for the regimes, not an input
    rows = _wide(dataset, "train")
    engine = rows[rows["asset_id"] == rows["asset_id"].iloc[0]].reset_index(drop=True)
    regime = regimes.assign(engine[["setting1"]].to_numpy())
    normalised = regimes.normalise(engine[["s1", "s2"]].to_numpy(), regime)
    last = 30  # the window ending at this engine's 31st cycle: its cycles 21-31
    values = _by_channel(train, last)
    np.testing.assert_allclose(values["s2"], normalised[last - 9 : last + 1, 1], rtol=1e-5, atol=1e-5)
    # The regime's jumps of 30 are gone: what is left is the wear and the noise, in units of the regime's spread.
    assert np.abs(values["s2"]).max() < 5
    # The drift is taken after the regime normalisation: minus the mean of the first 5 normalised cycles.
    start = normalised[:5, 1].mean()
    np.testing.assert_allclose(values["drift_s2"], normalised[last - 9 : last + 1, 1] - start, rtol=1e-5, atol=1e-5)
    indicators = np.stack([values[f"regime_{k}"] for k in range(3)], axis=1)
    np.testing.assert_array_equal(indicators, np.eye(3)[regime[last - 9 : last + 1]])


def test_the_indicators_are_not_rescaled_by_the_preprocessor(dataset: Dataset) -> None:
    train = _windows(dataset, "train")
    center, scale = train.telemetry_statistics()
    assert center[4:7].tolist() == [0, 0, 0] and scale[4:7].tolist() == [1, 1, 1]


def test_the_option_without_declared_settings_is_refused_naming_the_dataset(tmp_path: Path) -> None:
    plain = cmapss_dataset(tmp_path / "plain")  # setting1 is there, but not declared an operating setting
    with pytest.raises(ConfigError, match=r"dataset 'cmapss-tiny' declares none") as caught:
        WindowedDataset(plain, SPEC)
    assert "\n" not in str(caught.value)


def test_regimes_given_without_the_option_are_refused(dataset: Dataset) -> None:
    regimes = _windows(dataset, "train").regimes
    without = SPEC.model_copy(update={"telemetry": WINDOW.model_copy(update={"regimes": False})})
    with pytest.raises(ConfigError, match="no 'regimes' option"):
        WindowedDataset(dataset, without, regimes=regimes)


def test_n_regimes_needs_the_option_and_fixes_the_count(dataset: Dataset) -> None:
    with pytest.raises(ValueError, match=r"n_regimes needs telemetry\.regimes"):
        TelemetryWindow(n_regimes=3)
    two = SPEC.model_copy(update={"telemetry": WINDOW.model_copy(update={"n_regimes": 2})})
    anchors = _wide(dataset, "train")[["asset_id", "ts"]]
    windows = WindowedDataset(dataset, two, anchors=anchors)
    assert windows.regimes is not None and windows.regimes.n_regimes == 2
    assert windows.batch(np.array([0])).telemetry.shape[-1] == 2 * 2 + 2 + 1  # type: ignore[union-attr]


def test_the_preprocessor_state_keeps_the_regimes_and_the_bundle_checks_refuse_a_mismatch(
    dataset: Dataset, tmp_path: Path
) -> None:
    train = _windows(dataset, "train")
    state = Preprocessor.fit(train).state
    assert state.regimes == train.regimes
    assert type(state).model_validate_json(state.model_dump_json()) == state  # JSON, no pickle
    check_preprocessors(state, SPEC, tmp_path)
    without = SPEC.model_copy(update={"telemetry": WINDOW.model_copy(update={"regimes": False})})
    with pytest.raises(BundleError, match=r"preprocessors\.json holds operating regimes"):
        check_preprocessors(state, without, tmp_path)
    with pytest.raises(BundleError, match="lacks operating regimes"):
        check_preprocessors(state.model_copy(update={"regimes": None}), SPEC, tmp_path)


def _tiny_bundle(dataset: Dataset, run: Path) -> Path:
    """A bundle of the packaged ``cmapss-regimes`` config, made small, trained on the protocol's training anchors."""
    overrides = {
        "data.window.telemetry.channels": ["s1", "s2"],
        "data.window.telemetry.lookback": "PT20H",
        "model.d_model": 16,
        "model.ensemble": 1,
        "optim.max_epochs": 1,
        "progress": False,
    }
    inputs = get_protocol("cmapss-regimes").bundle_inputs(dataset, 0)  # type: ignore[misc]
    config = ProtocolTrainer("cmapss-regimes", 0, overrides=overrides).settings(dataset.path, run)
    bundle = train(config, overwrite=True, inputs=inputs)
    assert bundle is not None
    return bundle


@pytest.fixture(scope="module")
def bundle(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_bundle(dataset, tmp_path_factory.mktemp("run") / "run")


def test_the_bundle_stores_the_training_regimes_and_the_predictor_cuts_the_same_windows(
    dataset: Dataset, bundle: Path
) -> None:
    stored = json.loads((bundle / "preprocessors.json").read_text())
    assert stored["regimes"]["settings"] == ["setting1"] and len(stored["regimes"]["centroids"]) == 3
    loaded = Bundle.load(bundle)
    assert loaded.preprocessor.regimes is not None
    predictor = Predictor(loaded)
    train_anchors = _wide(dataset, "train")[["asset_id", "ts"]]
    # The training windows as training cut them (regimes fitted there) and as the Predictor cuts them.
    trained = WindowedDataset(dataset, loaded.window, anchors=train_anchors)
    assert trained.regimes == loaded.preprocessor.regimes
    served = predictor.windows(dataset, anchors=train_anchors)
    index = np.arange(0, len(trained), 7)
    a, b = trained.batch(index), served.batch(index)
    np.testing.assert_array_equal(a.telemetry, b.telemetry)
    np.testing.assert_array_equal(a.telemetry_mask, b.telemetry_mask)
    # Test engines are read with the training regimes, never refitted.
    test_anchors = _wide(dataset, "test")[["asset_id", "ts"]]
    assert predictor.windows(dataset, anchors=test_anchors).regimes == loaded.preprocessor.regimes


def test_export_and_the_onnx_backend_score_the_regime_bundle_as_pytorch_does(
    dataset: Dataset, bundle: Path, tmp_path: Path
) -> None:
    """The regimes are preprocessing outside the network: the exported graph takes the same inputs."""
    exported = run_cli("export", bundle)
    assert exported.exit_code == 0, exported.output
    scores = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / backend
        args = ("evaluate", bundle, dataset.path, "--protocol", "cmapss-regimes", "--backend", backend, "--out", out)
        scored = run_cli(*args)
        assert scored.exit_code == 0, scored.output
        record = json.loads((out / "metrics.json").read_text())
        scores[backend] = record["metrics"]["rmse"]
        assert len(record["details"]["predictions"]) == 6
    assert abs(scores["onnx"] - scores["torch"]) < 1e-3


def test_a_simulated_plant_declares_speed_and_load_and_trains_and_scores_with_the_option(
    small_plant: Path, tmp_path: Path
) -> None:
    """The simulator's regimes (speed set points, load, stops) exercise the option on a plant of mixed machines."""
    from tests.unit.training.tiny import TINY, tiny_config

    plant = Dataset(small_plant)
    assert operating_settings(plant.manifest) == ("speed", "load")
    window = dict(TINY["data.window"])  # type: ignore[call-overload]
    window["telemetry"] = {**window["telemetry"], "regimes": True}
    bundle_path = train(tiny_config(small_plant, tmp_path / "run", **{"data.window": window}))
    assert bundle_path is not None
    bundle = Bundle.load(bundle_path)
    regimes = bundle.preprocessor.regimes
    assert regimes is not None and regimes.settings == ("speed", "load")
    assert "speed" not in regimes.readings and "motor_current" in regimes.readings
    predictor = Predictor(bundle)
    anchors = predictor.windows(plant).anchors.iloc[::25]
    windows = predictor.windows(plant, anchors=anchors)
    assert windows.regimes == regimes
    output = predictor.predict_windows(windows)
    assert len(output) == len(anchors) and np.isfinite(output.failure_probability).all()


def test_with_a_single_regime_the_model_sees_what_it_sees_without_the_option(dataset: Dataset) -> None:
    """One regime (FD001's case) is a z-scoring of each reading, which the preprocessor's own centring and scaling
    undo, and no indicator (a constant): the model's inputs are those of the window without the option."""
    one = SPEC.model_copy(update={"telemetry": WINDOW.model_copy(update={"n_regimes": 1})})
    plain = SPEC.model_copy(update={"telemetry": WINDOW.model_copy(update={"regimes": False})})
    anchors = _wide(dataset, "train")[["asset_id", "ts"]]
    single = WindowedDataset(dataset, one, anchors=anchors)
    without = WindowedDataset(dataset, plain, anchors=anchors)
    assert single.regimes is not None and single.regimes.n_regimes == 1
    names = WINDOW.input_channels(single.vocab.telemetry_channels, single.regimes)
    assert plain.telemetry is not None
    assert names == plain.telemetry.input_channels(("s1", "s2")) == ("s1", "s2", "drift_s1", "drift_s2", "age_hours")
    index = np.arange(0, len(single), 5)
    a = Preprocessor.fit(single)(single.batch(index)).telemetry
    b = Preprocessor.fit(without)(without.batch(index)).telemetry
    assert a is not None and b is not None
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-3)
