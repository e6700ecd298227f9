"""``diagnose`` on a tiny trained bundle: it goes through the Predictor, carries every kind of evidence, and
refuses bad input in one clear line (library and CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data.dataset import Dataset
from omnimaint.diagnosis import Diagnosis, diagnose
from omnimaint.diagnosis.baseline import read_windows
from omnimaint.diagnosis.summary import describe
from omnimaint.errors import ConfigError
from omnimaint.inference.predictor import Predictor
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli


@pytest.fixture(scope="module")
def predictor(trained_bundle: Path) -> Predictor:
    return Predictor.from_bundle(trained_bundle, threads=1)


@pytest.fixture(scope="module")
def plant(small_plant: Path) -> Dataset:
    return Dataset(small_plant)


def _before_a_failure(plant: Dataset, asset_type: str) -> tuple[str, pd.Timestamp]:
    """An asset of ``asset_type`` and a time 12 h before its last failure (late in the data, so with history)."""
    failures = plant.table("failures").merge(plant.table("assets")[["asset_id", "asset_type"]], on="asset_id")
    row = failures[failures["asset_type"] == asset_type].sort_values("ts").iloc[-1]
    return str(row["asset_id"]), pd.Timestamp(row["ts"]).floor("h") - pd.Timedelta(hours=12)


@pytest.fixture(scope="module")
def pump(predictor: Predictor, plant: Dataset) -> Diagnosis:
    asset, at = _before_a_failure(plant, "centrifugal_pump")
    return diagnose(predictor, plant, asset, at)


def test_the_assessment_is_the_predictors(pump: Diagnosis, predictor: Predictor, plant: Dataset) -> None:
    at = pd.Timestamp(pump.at)
    window = read_windows(predictor, plant, pump.asset_id, np.array([at.value // 1000])).batch(np.array([0]))
    direct = predictor.predict(window)
    assert pump.failure_probability == pytest.approx(direct.failure_probability[0].tolist(), abs=1e-5)
    assert pump.rul_hours == pytest.approx(float(direct.rul_hours[0]), abs=1e-3)
    assert pump.faults[0].name == direct.fault_classes[int(direct.likely_fault[0])]
    assert [f.probability for f in pump.faults] == sorted((f.probability for f in pump.faults), reverse=True)
    for modality in pump.modalities:
        if modality.contribution is None:
            continue
        dropped = predictor.predict(window, drop=(modality.modality,))  # the model's own masking
        fall = direct.failure_probability[0, 0] - dropped.failure_probability[0, 0]
        assert modality.contribution == pytest.approx(float(fall), abs=1e-5), modality.modality
    weights = {m.modality: m.fusion_weight for m in pump.modalities}
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-4)


def test_every_kind_of_evidence_is_there(pump: Diagnosis, plant: Dataset) -> None:
    assert pump.asset_type == "centrifugal_pump" and pump.baseline.windows >= 2
    assert pump.telemetry is not None
    names = {c.channel for c in pump.telemetry.channels}
    assert {"flow", "discharge_pressure", "bearing_temp"} <= names
    assert not names & {"coolant_temp", "belt_speed", "motor_temp"}  # channels a pump does not carry
    contributions = [c.contribution for c in pump.telemetry.channels]
    assert contributions == sorted(contributions, reverse=True)
    assert all(c.z_score is not None and c.baseline_median is not None for c in pump.telemetry.channels)
    assert len(pump.telemetry.times) == len(pump.telemetry.channels[0].values)
    segments = len(pump.telemetry.segments)
    assert all(len(c.segment_contributions) == segments for c in pump.telemetry.channels[:3])  # ranged: the top 3
    assert all(c.segment_contributions == () for c in pump.telemetry.channels[3:])
    assert len(pump.spectra) == 1
    spectrum = pump.spectra[0]
    assert spectrum.bearing is not None and spectrum.shaft_hz is not None and 10 < spectrum.shaft_hz < 60
    assert {"1x", "2x", "BPFO", "BPFI", "BSF", "FTF"} <= {b.name for b in spectrum.bands}
    assert all(b.z_score is not None for b in spectrum.bands)
    (frame,) = pump.frames
    assert frame.camera == "cam0" and len(frame.heat) == frame.grid and frame.overlay_png.startswith(b"\x89PNG")
    assert pump.log_lines and all(pd.Timestamp(line.time) <= pd.Timestamp(pump.at) for line in pump.log_lines)
    assert {line.kind for line in pump.log_lines} == {"event", "work_order"}


def test_the_diagnosis_is_json_and_text(pump: Diagnosis) -> None:
    data = json.loads(pump.to_json())
    assert data["asset_id"] == pump.asset_id and data["frames"][0]["overlay_png"]
    assert data["telemetry"]["channels"][0]["channel"] == pump.telemetry.channels[0].channel  # type: ignore[union-attr]
    text = describe(pump)
    assert pump.asset_id in text and pump.faults[0].name in text
    assert pump.past.unavailable is not None and "no case base" in pump.past.unavailable  # said, not raised
    assert data["past"]["cases"] == [] and "similar past cases: none (the bundle has no case base" in text
    assert pump.telemetry.channels[0].channel in text.split("telemetry channels")[1]  # type: ignore[union-attr]


def test_a_diagnosis_is_fast_once_loaded(predictor: Predictor, plant: Dataset) -> None:
    asset, at = _before_a_failure(plant, "conveyor_drive")
    diagnosis = diagnose(predictor, plant, asset, at)
    assert diagnosis.seconds < 10  # a sanity bound on a busy machine; the benchmark measures the real figure


def test_early_in_the_data_there_is_no_baseline(predictor: Predictor, plant: Dataset) -> None:
    asset = str(plant.table("assets")["asset_id"].iloc[0])
    first = plant.table("telemetry").query("asset_id == @asset")["ts"].min()
    diagnosis = diagnose(predictor, plant, asset, first + pd.Timedelta(hours=13))
    assert diagnosis.baseline.windows == 0 and "no history" in diagnosis.baseline.rule
    assert diagnosis.telemetry is not None and diagnosis.telemetry.occlusion == "mask"
    assert all(c.z_score is None for c in diagnosis.telemetry.channels)


@pytest.mark.parametrize(
    ("asset", "at", "fragment"),
    [
        ("NOPE", "2024-01-10T00:00Z", "no asset 'NOPE'"),
        (None, "2031-01-01T00:00Z", "is outside it"),
        (None, "2023-01-01T00:00Z", "is outside it"),
        (None, "next tuesday", "not a time"),
    ],
)
def test_bad_input_is_refused_clearly(
    predictor: Predictor, plant: Dataset, asset: str | None, at: str, fragment: str
) -> None:
    asset = asset or str(plant.table("assets")["asset_id"].iloc[0])
    with pytest.raises(ConfigError, match=fragment):
        diagnose(predictor, plant, asset, at)


def test_a_horizon_the_bundle_lacks_is_refused(predictor: Predictor, plant: Dataset) -> None:
    with pytest.raises(ConfigError, match="horizon index 5"):
        diagnose(predictor, plant, "P001", "2024-01-10T00:00Z", horizon=5)


def test_cli_text_json_and_heat_maps(trained_bundle: Path, small_plant: Path, plant: Dataset, tmp_path: Path) -> None:
    asset, at = _before_a_failure(plant, "centrifugal_pump")
    text = run_cli("diagnose", trained_bundle, small_plant, "--asset", asset, "--at", at.isoformat())
    assert text.exit_code == 0, text.output
    assert text.output.startswith(f"{asset} (centrifugal_pump)") and "telemetry channels" in text.output
    out, maps = tmp_path / "d.json", tmp_path / "maps"
    result = run_cli(
        "diagnose",
        trained_bundle,
        small_plant,
        "-a",
        asset,
        "--at",
        str(at),
        "-f",
        "json",
        "-o",
        out,
        "--heatmaps",
        maps,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["asset_id"] == asset
    assert (maps / f"{asset}-cam0.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--asset", "NOPE", "--at", "2024-01-10T00:00Z"], "no asset 'NOPE'"),
        (["--asset", "P001", "--at", "2031-01-01"], "is outside it"),
        (["--asset", "P001", "--at", "2024-01-10", "--format", "pdf"], "--format must be text, json or html"),
        (["--asset", "P001", "--at", "2024-01-10", "--format", "html"], "--format html writes a page"),
        (["--asset", "P001", "--at", "2024-01-10", "--lang", "fr"], "--lang must be en or zh"),
    ],
)
def test_cli_refuses_in_one_line(trained_bundle: Path, small_plant: Path, args: list[str], fragment: str) -> None:
    before = Snapshot.of(trained_bundle, small_plant)
    assert_refused(run_cli("diagnose", trained_bundle, small_plant, *args), before, fragment)


def test_deletion_occludes_as_the_evidence_does(pump: Diagnosis, predictor: Predictor, plant: Dataset) -> None:
    from omnimaint.diagnosis import deletion_scores

    assert pump.telemetry is not None
    first, second = (c.channel for c in pump.telemetry.channels[:2])
    p = deletion_scores(predictor, plant, pump.asset_id, pump.at, [[], [first], [first, second]])
    assert p[0] == pytest.approx(pump.failure_probability[0], abs=1e-5)
    assert p[1] == pytest.approx(p[0], abs=1e-6)  # nothing occluded
    assert p[0] - p[2] == pytest.approx(pump.telemetry.channels[0].contribution, abs=1e-5)
    assert len(p) == 4
