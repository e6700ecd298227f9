"""Azure PdM: the five PdM_*.csv files → telemetry, events, maintenance, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omnimaint.adapters import import_azure
from omnimaint.adapters.azure import CHANNELS
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError

from .source_files import write_azure


def test_converts_every_table(azure_dir: Path, tmp_path: Path) -> None:
    import_azure(azure_dir, tmp_path / "out", chunk_rows=5)  # several chunks
    dataset = validate_dataset(tmp_path / "out")
    assets = dataset.table("assets")
    assert list(assets["asset_id"]) == ["M001", "M002"]
    assert list(assets["asset_type"]) == ["machine", "machine"]
    assert list(assets["model"]) == ["model3", "model4"]
    assert json.loads(assets["metadata"].iloc[0]) == {"age_years": 18}

    telemetry = dataset.table("telemetry")
    assert len(telemetry) == 2 * 6 * 4
    assert sorted(telemetry["channel"].unique()) == sorted(CHANNELS)
    first = telemetry[(telemetry["asset_id"] == "M001") & (telemetry["ts"] == pd.Timestamp("2015-01-01T06:00Z"))]
    assert dict(zip(first["channel"], first["value"], strict=True)) == {
        "volt": 170.5,
        "rotate": 401.25,
        "pressure": 100.0,
        "vibration": 40.0,
    }
    assert dataset.manifest.channel_names("telemetry") == CHANNELS
    assert dataset.manifest.components == {"machine": ("comp1", "comp2", "comp3", "comp4")}

    events = dataset.table("events")
    assert list(events["code"]) == ["error1", "error3", "error5"]
    assert set(events["severity"]) == {"alarm"}
    assert list(events["message"]) == ["error1", "error3", "error5"]

    maintenance = dataset.table("maintenance").set_index("work_order_id")
    assert maintenance.loc["M001-20150101T1000-comp4", "kind"] == "corrective"  # failure of comp4 at the same time
    assert maintenance.loc["M002-20150101T1000-comp1", "kind"] == "preventive"  # no failure on M002
    assert maintenance.loc["M001-20140601T0600-comp2", "kind"] == "preventive"
    assert maintenance["ts_close"].isna().all()

    failures = dataset.table("failures")
    assert failures[["asset_id", "component", "fault_type"]].to_dict("records") == [
        {"asset_id": "M001", "component": "comp4", "fault_type": "comp4_failure"}
    ]
    assert failures["ts"].iloc[0] == pd.Timestamp("2015-01-01T10:00Z")


def test_timezone_converts_local_times_to_utc(azure_dir: Path, tmp_path: Path) -> None:
    dataset = import_azure(azure_dir, tmp_path / "out", timezone="America/New_York")
    assert dataset.table("telemetry")["ts"].min() == pd.Timestamp("2015-01-01T11:00Z")  # 06:00 EST
    assert dataset.manifest.provenance["source_timezone"] == "America/New_York"


def test_original_microsoft_datetime_format(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "src")
    path = src / "PdM_failures.csv"
    path.write_text("datetime,machineID,failure\n1/1/2015 10:00:00 AM,1,comp4\n")
    dataset = import_azure(src, tmp_path / "out")
    assert dataset.table("failures")["ts"].iloc[0] == pd.Timestamp("2015-01-01T10:00Z")


def test_truncated_telemetry_line_names_file_line_and_column(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "src", telemetry_tail="2015-01-01 12:00:00,2,171.0,4\n")
    with pytest.raises(DatasetError, match=r"PdM_telemetry\.csv: line 14, column 5 \('pressure'\): missing value"):
        import_azure(src, tmp_path / "out")
    src = write_azure(tmp_path / "src", telemetry_tail="2015-01-01 12:00:00,2,171.0,4")  # cut off in a value
    with pytest.raises(DatasetError, match=r"PdM_telemetry\.csv: line 14: 4 of 6 fields and no line break at the end"):
        import_azure(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_encoding_of_the_files(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "src")
    (src / "PdM_machines.csv").write_bytes("machineID,model,age\n1,modèle3,18\n2,model4,7\n".encode("cp1252"))
    with pytest.raises(DatasetError, match=r"PdM_machines\.csv: line 2: byte\(s\) e8 at character 6 .*--encoding"):
        import_azure(src, tmp_path / "out")
    dataset = import_azure(src, tmp_path / "out", encoding="cp1252")
    assert list(dataset.table("assets")["model"]) == ["modèle3", "model4"]


def test_bad_value_and_unknown_machine(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "src", telemetry_tail="2015-01-01 12:00:00,2,abc,400,100,40\n")
    with pytest.raises(DatasetError, match=r"line 14, column 3 \('volt'\): not a number: 'abc'"):
        import_azure(src, tmp_path / "out")
    src = write_azure(tmp_path / "src2", telemetry_tail="2015-01-01 12:00:00,9,170,400,100,40\n")
    with pytest.raises(DatasetError, match=r"line 14, column 2 \('machineID'\): machineID 9 is not in PdM_machines"):
        import_azure(src, tmp_path / "out")


def test_unknown_component_and_duplicate_reading(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "src")
    (src / "PdM_maint.csv").write_text("datetime,machineID,comp\n2015-01-01 10:00:00,1,comp9\n")
    with pytest.raises(DatasetError, match=r"PdM_maint\.csv: line 2, column 3 \('comp'\): unknown component 'comp9'"):
        import_azure(src, tmp_path / "out")
    src = write_azure(tmp_path / "src2", telemetry_tail="2015-01-01 06:00:00,1,170,400,100,40\n")
    with pytest.raises(DatasetError, match=r"line 14: duplicate reading .* first seen at line 2"):
        import_azure(src, tmp_path / "out")


def test_missing_file_and_bad_timezone(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "src")
    (src / "PdM_errors.csv").unlink()
    with pytest.raises(DatasetError, match=r"PdM_errors\.csv: not found"):
        import_azure(src, tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown time zone"):
        import_azure(src, tmp_path / "out", timezone="Nowhere/City")


def test_existing_output_needs_overwrite(azure_dir: Path, tmp_path: Path) -> None:
    import_azure(azure_dir, tmp_path / "out")
    with pytest.raises(DatasetError, match="already exists"):
        import_azure(azure_dir, tmp_path / "out")
    assert len(import_azure(azure_dir, tmp_path / "out", overwrite=True).table("failures")) == 1
