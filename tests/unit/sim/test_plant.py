"""The simulated plant as a dataset: valid, complete manifest, consistent labels and work orders."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omnimaint.data import Dataset, validate_dataset
from omnimaint.data.schema import SEVERITIES
from omnimaint.sim import (
    ASSET_TYPES,
    COMPONENTS,
    FAULT_MODES,
    FAULT_TYPES,
    TELEMETRY_CHANNELS,
    BearingGeometry,
    ground_truth,
    telemetry_channels,
)
from tests.unit.sim.conftest import PLANT, seconds


def test_the_plant_passes_validation(plant: Dataset) -> None:
    validated = validate_dataset(plant.path)
    assert set(validated.manifest.tables) == {
        "assets",
        "telemetry",
        "waveforms",
        "frames",
        "events",
        "maintenance",
        "failures",
    }
    assert all(info.rows > 0 for name, info in validated.manifest.tables.items() if name != "failures")


def test_assets_are_an_even_deterministic_mix_with_typed_ids(plant: Dataset) -> None:
    assets = plant.table("assets").sort_values("asset_id")
    assert sorted(assets["asset_id"]) == ["C003", "C006", "P001", "P004", "S002", "S005"]
    assert assets["asset_type"].value_counts().to_dict() == dict.fromkeys(ASSET_TYPES, 2)
    prefix = {"centrifugal_pump": "P", "cnc_spindle": "S", "conveyor_drive": "C"}
    assert all(aid[0] == prefix[typ] for aid, typ in zip(assets["asset_id"], assets["asset_type"], strict=True))
    assert (assets["install_date"] < pd.Timestamp(PLANT.start)).all()


def test_manifest_describes_every_channel_camera_component_and_fault(plant: Dataset) -> None:
    manifest = plant.manifest
    assert manifest.name == PLANT.name
    assert manifest.fault_types == FAULT_TYPES
    assert manifest.components == {t: COMPONENTS[t] for t in ASSET_TYPES}
    assert manifest.provenance["source"] == "omnimaint.sim"
    assert manifest.provenance["config"]["seed"] == PLANT.seed
    telemetry = set(plant.table("telemetry")["channel"].unique())
    described = {c.name: c for c in manifest.channels}
    assert telemetry | {"accel_de"} == set(described)
    for channel in manifest.channels:
        assert channel.unit and channel.description and channel.sampling_rate_hz
    assert described["accel_de"].kind == "waveform"
    assert described["accel_de"].sampling_rate_hz == PLANT.waveform_rate_hz
    assert described["bearing_temp"].unit == "degC"
    assert described["flow"].asset_types == ("centrifugal_pump",)
    assert [(c.name, c.width, c.height) for c in manifest.cameras] == [("cam0", 64, 64)]


def test_each_asset_carries_its_type_channels(plant: Dataset) -> None:
    telemetry = plant.table("telemetry")
    types = plant.table("assets").set_index("asset_id")["asset_type"]
    for asset_id, channels in telemetry.groupby("asset_id")["channel"]:
        assert set(channels) == set(telemetry_channels(types[asset_id]))
    shared = [c.name for c in TELEMETRY_CHANNELS if c.asset_types is None]
    assert shared == ["motor_current", "vibration_rms", "bearing_temp", "speed", "load"]


def test_bearing_geometry_in_metadata_gives_defect_frequencies(plant: Dataset) -> None:
    for raw in plant.table("assets")["metadata"]:
        meta = json.loads(raw)
        geometry = BearingGeometry.from_dict(meta["bearing"])
        ratio = geometry.ball_diameter_mm / geometry.pitch_diameter_mm * np.cos(np.radians(geometry.contact_angle_deg))
        expected = geometry.n_balls / 2 * 50.0 * (1 - ratio)
        assert geometry.bpfo(50.0) == pytest.approx(expected)
        assert geometry.bpfo(50.0) < geometry.bpfi(50.0)
        assert meta["resonance_hz"] < PLANT.waveform_rate_hz / 2


def test_waveforms_are_float32_bursts_of_the_configured_length(plant: Dataset) -> None:
    waveforms = plant.arrow("waveforms")
    assert str(waveforms.schema.field("samples").type.value_type) == "float"
    lengths = {len(s) for s in waveforms.column("samples").to_pylist()[:50]}
    assert lengths == {PLANT.burst_samples}
    assert set(waveforms.column("channel").to_pylist()) == {"accel_de"}


def test_frames_are_png_files_of_the_frame_size(plant: Dataset) -> None:
    frames = plant.table("frames")
    assert all(re.fullmatch(r"frames/[PSC]\d{3}/cam0/\d{6}\.png", p) for p in frames["path"])
    for path in frames["path"].iloc[::200]:
        image = Image.open(io.BytesIO(plant.frame_file(path).read_bytes()))
        assert image.mode == "RGB" and image.size == (64, 64)


def test_events_use_known_severities_and_codes(plant: Dataset) -> None:
    events = plant.table("events")
    assert set(events["severity"]) <= set(SEVERITIES)
    assert all(re.fullmatch(r"(ST|OP|MT|WN|AL|SF)-[A-Z-]+", code) for code in events["code"].unique())
    assert {"ST-START", "ST-STOP", "OP-SETPT", "MT-LOCKOUT"} <= set(events["code"])


def test_every_failure_has_its_corrective_work_order_and_mode_component(plant: Dataset) -> None:
    failures = plant.table("failures")
    maintenance = plant.table("maintenance")
    assert len(failures) > 0, "the plant should see failures at three times the normal fault rate"
    assert maintenance["work_order_id"].is_unique
    assert maintenance["work_order_id"].str.fullmatch(r"WO-\d{6}").all()
    corrective = maintenance[maintenance["kind"] == "corrective"]
    assert len(corrective) == len(failures)
    for failure in failures.itertuples():
        assert FAULT_MODES[failure.fault_type].component == failure.component
        match = corrective[(corrective["asset_id"] == failure.asset_id) & (corrective["ts_open"] == failure.ts)]
        assert list(match["component"]) == [failure.component]
        closed = match["ts_close"].iloc[0]
        assert pd.isna(closed) or pd.Timedelta(hours=1) <= closed - failure.ts <= pd.Timedelta(hours=12)


def test_failures_match_the_hidden_history(plant: Dataset) -> None:
    truth = ground_truth(PLANT)
    failures = plant.table("failures")
    for asset_id, history in truth.items():
        expected = sorted(round(f.t_s) for f in history.failures if 0 <= f.t_s < PLANT.days * 86400)
        observed = sorted(np.round(seconds(failures[failures["asset_id"] == asset_id]["ts"], PLANT)).astype(int))
        assert observed == expected


def test_no_telemetry_while_isolated_for_a_repair(plant: Dataset) -> None:
    maintenance = plant.table("maintenance")
    telemetry = plant.table("telemetry")
    repairs = maintenance[(maintenance["kind"] == "corrective") & maintenance["ts_close"].notna()]
    assert len(repairs) > 0
    for repair in repairs.itertuples():
        rows = telemetry[
            (telemetry["asset_id"] == repair.asset_id)
            & (telemetry["ts"] > repair.ts_open + pd.Timedelta(minutes=10))
            & (telemetry["ts"] < repair.ts_close)
        ]
        assert rows.empty
