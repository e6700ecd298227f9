"""Does a dataset fit a bundle: what is refused, what is scored with a warning, and the fault-type label of
failures the bundle does not know."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data.labels import compute_labels
from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import WindowSpec
from omnimaint.inference import Bundle
from omnimaint.inference.compatibility import DataProfile, IncompatibleDataError, check_fit, ensure_fit
from omnimaint.models.config import ModelConfig
from omnimaint.models.preprocessing import PreprocessorState
from tests.unit.data.sensor import write_sensor_dataset
from tests.unit.data.tiny import write_tiny

MODALITIES = ("telemetry", "waveforms", "frames", "events", "maintenance")


def _bundle(modalities: tuple[str, ...] = MODALITIES, **vocab: tuple[str, ...]) -> Bundle:
    """A bundle as the check sees it (vocabulary, modalities, window), without weights."""
    words = {
        "asset_types": ("pump", "fan"),
        "telemetry_channels": ("temp", "pres", "flow"),
        "waveform_channels": ("accel",),
        "cameras": ("cam0",),
        "components": ("bearing", "seal"),
        "fault_types": ("bearing_wear", "seal_leak"),
        "event_codes": ("E1", "E2"),
    }
    state = PreprocessorState(vocab=Vocabulary(**{**words, **vocab}), modalities=modalities)
    return Bundle(
        kind="model",
        model_config=ModelConfig(modalities=modalities),
        window=WindowSpec(),
        preprocessor=state,
        state_dict={},
        metrics={"data": {"dataset": "plant-a"}},
        path=Path("bundle"),
    )


def _profile(**changes: object) -> DataProfile:
    """Data that fit :func:`_bundle` exactly; ``changes`` break one thing."""
    profile = DataProfile(
        source="plant-b",
        asset_types={"P1": "pump", "F1": "fan"},
        telemetry_channels=frozenset({"temp", "pres", "flow"}),
        waveform_channels=frozenset({"accel"}),
        cameras=frozenset({"cam0"}),
        event_codes=frozenset({"E1"}),
        work_orders=3,
        failure_fault_types={"bearing_wear": 2},
        failure_components={"bearing": 2},
        telemetry_period=pd.Timedelta(minutes=10).to_pytimedelta(),
    )
    return replace(profile, **changes)  # type: ignore[arg-type]


def test_data_that_fit_pass_without_a_word() -> None:
    fit = check_fit(_bundle(), _profile())
    assert fit.fits and fit.warnings == ()


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"asset_types": {"X1": "boiler"}}, ("none of its asset types (boiler)", "(fan, pump)")),
        ({"asset_types": {}}, ("no asset",)),
        (
            {"telemetry_channels": frozenset({"volt", "rotate"})},
            ("none of the bundle's 3 telemetry channels (flow, pres, temp)", "its telemetry channels are rotate, volt"),
        ),
        ({"telemetry_channels": frozenset()}, ("it has no telemetry", "3 channels")),
        ({"waveform_channels": frozenset({"mic"})}, ("none of the bundle's 1 waveform channels (accel)",)),
        ({"cameras": frozenset({"top"})}, ("none of the bundle's 1 cameras (cam0)", "its cameras are top")),
        ({"failure_fault_types": {"failure": 3}}, ("none of its failures' fault types (failure)", "bearing_wear")),
    ],
)
def test_what_does_not_fit_is_a_problem(changes: dict, fragments: tuple[str, ...]) -> None:
    fit = check_fit(_bundle(), _profile(**changes))
    assert not fit.fits
    joined = "; ".join(fit.problems)
    for fragment in fragments:
        assert fragment in joined


def test_no_input_at_all_is_a_problem_for_a_bundle_without_telemetry() -> None:
    bundle = _bundle(("waveforms", "events"))
    fit = check_fit(bundle, _profile(waveform_channels=frozenset(), event_codes=frozenset()))
    assert fit.problems == ("it holds none of the inputs the bundle reads (events, waveforms)",)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"asset_types": {"P1": "pump", "X1": "boiler"}}, "assets X1 have asset types the bundle does not know"),
        ({"telemetry_channels": frozenset({"temp", "pres"})}, "telemetry channels flow are missing"),
        ({"telemetry_channels": frozenset({"temp", "pres", "flow", "rpm"})}, "telemetry channels rpm are not read"),
        ({"assets_without_telemetry": ("F1",)}, "assets F1 have no telemetry"),
        ({"cameras": frozenset()}, "it has no frames"),
        ({"waveform_channels": frozenset()}, "it has no waveforms"),
        ({"event_codes": frozenset()}, "it has no events"),
        ({"work_orders": 0}, "it has no work orders"),
        ({"event_codes": frozenset({"Z9"})}, "none of its 1 event codes is one the bundle knows"),
        ({"event_codes": frozenset({"E1", "Z9"})}, "event codes Z9 are new to the bundle"),
        (
            {"failure_fault_types": {"bearing_wear": 1, "overheat": 2}},
            "2 failures have fault types the bundle does not",
        ),
        ({"failure_components": {"rotor": 1}}, "1 failures are of components the bundle does not know (rotor)"),
        ({"telemetry_period": pd.Timedelta(hours=1).to_pytimedelta()}, "every 1 h, coarser than the bundle's 10 min"),
    ],
)
def test_partial_fits_are_warnings(changes: dict, fragment: str) -> None:
    fit = check_fit(_bundle(), _profile(**changes))
    assert fit.fits, fit.problems
    assert any(fragment in warning for warning in fit.warnings), fit.warnings


def test_a_bundle_trained_without_failures_does_not_refuse_failures() -> None:
    fit = check_fit(_bundle(fault_types=()), _profile())
    assert fit.fits and any("knows no fault type" in w for w in fit.warnings)


def test_ensure_fit_profiles_a_dataset_and_refuses_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tiny = write_tiny(tmp_path / "tiny")
    profile = DataProfile.of_dataset(tiny)
    assert profile.asset_types == {"A": "pump", "B": "pump"}
    assert profile.telemetry_channels == {"temp", "pres"} and profile.cameras == {"cam0"}
    assert profile.event_codes == {"ST-START", "WN-VIB", "AL-TRIP"} and profile.work_orders == 2
    assert profile.failure_fault_types == {"bearing_wear": 1} and profile.telemetry_period == pd.Timedelta(hours=1)
    only_b = DataProfile.of_dataset(tiny, assets=["B"])
    assert only_b.cameras == frozenset() and only_b.failure_fault_types == {} and only_b.work_orders == 0

    fit = ensure_fit(_bundle(telemetry_channels=("temp", "pres")), tiny)
    assert fit.fits and "event codes" in caplog.text  # unknown codes: a logged warning, not a refusal
    sensor = write_sensor_dataset(tmp_path / "csv")
    with pytest.raises(IncompatibleDataError) as refused:
        ensure_fit(_bundle(), sensor)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"dataset {sensor.path} does not fit the bundle bundle: ")
    assert "asset types (machine)" in message and message.endswith("the bundle was trained on plant-a")


def test_a_failure_of_an_unknown_fault_type_leaves_the_fault_label_unknown() -> None:
    spec = WindowSpec(horizons=(pd.Timedelta(hours=24).to_pytimedelta(),))
    hour = 3_600_000_000
    anchors = np.array([0, 10, 30], dtype=np.int64) * hour
    failures = np.array([20, 40], dtype=np.int64) * hour
    labels = compute_labels(anchors, failures, np.array([0, 0]), np.array([-1, 1]), 100 * hour, spec, 1)
    # Before the unknown fault: unknown (-1), not "none" (0); before the known one (index 1): class 2.
    assert labels.fault_type.tolist() == [-1, -1, 2]
    assert labels.failure_within[:, 0].tolist() == [1, 1, 1]  # a failure is a failure, whatever its type
