"""Generic: CSV/Parquet files + a YAML mapping → canonical tables; mapping errors name the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from omnimaint.adapters import import_generic, load_mapping
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError

MAPPING = """
name: press-line
sources:
  - file: sensors.csv
    table: telemetry
    time: {column: Zeit, format: "%d.%m.%Y %H:%M", timezone: Europe/Berlin}
    asset: {column: Anlage}
    asset_type: {value: press}
    channels:
      layout: wide
      columns:
        temp_c: {name: oil_temperature, unit: degC, sampling_rate_hz: 0.0166667}
        druck: {name: pressure, unit: bar}
    csv: {delimiter: ";", decimal: ","}
  - file: currents.parquet
    table: telemetry
    time: {column: ts}
    asset: {column: machine}
    asset_type: {value: press}
    channels:
      layout: long
      channel_column: signal
      value_column: reading
      channels:
        motor_current: {unit: A}
  - file: alarms.csv
    table: events
    time: {column: when, unit: s}
    asset: {column: machine}
    asset_type: {value: press}
    columns: {code: alarm, message: text}
    values:
      severity: {HI: alarm, LO: warning}
    constants: {severity: warning}
  - file: orders.csv
    table: maintenance
    time: {column: opened}
    asset: {column: machine}
    asset_type: {value: press}
    columns: {work_order_id: wo, ts_close: closed, component: part, problem: text, action: fix}
    constants: {kind: corrective}
  - file: failures.csv
    table: failures
    time: {column: ts}
    asset: {value: P1}
    asset_type: {value: press}
    columns: {component: part, fault_type: mode}
"""


def write_sources(folder: Path, mapping: str = MAPPING) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sensors.csv").write_text(
        "Zeit;Anlage;temp_c;druck\n"
        "01.07.2024 10:00;P1;40,5;2,25\n"
        "01.07.2024 10:01;P1;41,0;\n"  # missing pressure reading: no row, never a zero
        "01.07.2024 10:00;P2;39,0;2,5\n"
    )
    pd.DataFrame(
        {
            "ts": pd.to_datetime(["2024-07-01T08:00:00Z", "2024-07-01T08:00:00Z"]),
            "machine": ["P1", "P2"],
            "signal": ["motor_current", "motor_current"],
            "reading": [12.5, 13.0],
        }
    ).to_parquet(folder / "currents.parquet")
    (folder / "alarms.csv").write_text("when,machine,alarm,text\n1719820800,P1,E42,overheat\n1719820860,P2,E7,\n")
    (folder / "orders.csv").write_text(
        "wo,machine,opened,closed,part,text,fix\n"
        "WO-1,P1,2024-07-01T09:00:00Z,2024-07-01T11:30:00Z,seal,oil leak,replaced seal\n"
        "WO-2,P2,2024-07-02T09:00:00+02:00,,,noise,\n"
    )
    (folder / "failures.csv").write_text("ts,part,mode\n2024-07-01T08:45:00Z,seal,leak\n")
    path = folder / "mapping.yaml"
    path.write_text(mapping)
    return path


def test_worked_example(tmp_path: Path) -> None:
    mapping = write_sources(tmp_path / "src")
    import_generic(mapping, tmp_path / "out", chunk_rows=2)
    dataset = validate_dataset(tmp_path / "out")
    assert dataset.manifest.name == "press-line"
    assert dataset.table("assets")[["asset_id", "asset_type"]].to_dict("records") == [
        {"asset_id": "P1", "asset_type": "press"},
        {"asset_id": "P2", "asset_type": "press"},
    ]
    channels = {c.name: c for c in dataset.manifest.channels}
    assert sorted(channels) == ["motor_current", "oil_temperature", "pressure"]
    assert (channels["pressure"].unit, channels["motor_current"].unit) == ("bar", "A")

    telemetry = dataset.table("telemetry")
    assert len(telemetry) == 5 + 2  # 6 wide cells minus the empty one, plus 2 long readings
    p1 = telemetry[telemetry["asset_id"] == "P1"].set_index(["ts", "channel"])["value"]
    assert p1[(pd.Timestamp("2024-07-01T08:00Z"), "oil_temperature")] == 40.5  # 10:00 CEST = 08:00 UTC, decimal ','
    assert p1[(pd.Timestamp("2024-07-01T08:00Z"), "pressure")] == 2.25
    assert (pd.Timestamp("2024-07-01T08:01Z"), "pressure") not in p1.index
    assert p1[(pd.Timestamp("2024-07-01T08:00Z"), "motor_current")] == 12.5

    events = dataset.table("events")
    assert list(events["code"]) == ["E42", "E7"]
    assert list(events["ts"]) == [pd.Timestamp("2024-07-01T08:00Z"), pd.Timestamp("2024-07-01T08:01Z")]
    assert set(events["severity"]) == {"warning"}

    orders = dataset.table("maintenance").set_index("work_order_id")
    assert orders.loc["WO-1", "ts_close"] == pd.Timestamp("2024-07-01T11:30Z")
    assert orders.loc["WO-2", "ts_open"] == pd.Timestamp("2024-07-02T07:00Z")
    assert orders["ts_close"].isna().to_dict() == {"WO-1": False, "WO-2": True}
    assert orders.loc["WO-1", "component"] == "seal"

    failures = dataset.table("failures")
    assert failures[["asset_id", "component", "fault_type"]].to_dict("records") == [
        {"asset_id": "P1", "component": "seal", "fault_type": "leak"}
    ]
    assert dataset.manifest.fault_types == ("leak",)
    assert dataset.manifest.components == {"press": ("seal",)}


def test_severity_value_map_and_unmapped_value(tmp_path: Path) -> None:
    mapping = write_sources(
        tmp_path / "src",
        MAPPING.replace("constants: {severity: warning}", "").replace(
            "columns: {code: alarm, message: text}", "columns: {code: alarm, message: text, severity: level}"
        ),
    )
    (tmp_path / "src" / "alarms.csv").write_text("when,machine,alarm,text,level\n1719820800,P1,E42,x,HI\n")
    events = import_generic(mapping, tmp_path / "out").table("events")
    assert list(events["severity"]) == ["alarm"]
    (tmp_path / "src" / "alarms.csv").write_text(
        "when,machine,alarm,text,level\n1719820800,P1,E42,x,HI\n1,P1,E1,y,MID\n"
    )
    with pytest.raises(DatasetError, match=r"alarms\.csv: line 3, column 5 \('level'\): severity 'MID' is not one of"):
        import_generic(mapping, tmp_path / "out2")


def test_frames_are_copied(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "img").mkdir(parents=True)
    (src / "img" / "a.png").write_bytes(b"\x89PNG fake")
    (src / "frames.csv").write_text("t,cam,file\n2024-01-01T00:00:00Z,top,img/a.png\n")
    (src / "m.yaml").write_text(
        textwrap.dedent(
            """
            sources:
              - file: frames.csv
                table: frames
                time: {column: t}
                asset: {value: line1}
                columns: {camera: cam, path: file}
            """
        )
    )
    dataset = import_generic(src / "m.yaml", tmp_path / "out")
    frames = dataset.table("frames")
    assert frames["path"].iloc[0] == "frames/line1/top/0-0000000-a.png"
    assert dataset.frame_file(frames["path"].iloc[0]).read_bytes() == b"\x89PNG fake"
    assert [c.name for c in dataset.manifest.cameras] == ["top"]
    (src / "frames.csv").write_text("t,cam,file\n2024-01-01T00:00:00Z,top,img/missing.png\n")
    with pytest.raises(DatasetError, match=r"frames\.csv: line 2, column 3 \('file'\): image file .*missing\.png"):
        import_generic(src / "m.yaml", tmp_path / "out2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("time: {column: Zeit,", "time: {"), r"field 'sources\.0\.time\.column': Field required"),
        (("layout: wide", "layout: diagonal"), r"field 'sources\.0\.channels'"),
        (("table: events", "table: alarms"), r"field 'sources\.2\.table'"),
        (("constants: {severity: warning}", ""), r"field 'sources\.2'.*needs \['severity'\]"),
        (("columns: {code: alarm, message: text}", "columns: {code: alarm, colour: text}"), r"columns\.colour"),
        (("asset: {value: P1}", "asset: {value: P1, column: m}"), r"field 'sources\.4\.asset'.*exactly one"),
        (("timezone: Europe/Berlin", "timezone: Mars/Base"), r"unknown time zone 'Mars/Base'"),
        (("name: press-line", "name: press-line\nextra: 1"), r"field 'extra': Extra inputs are not permitted"),
        (
            ("constants: {severity: warning}", "constants: {severity: loud}"),
            r"constants\.severity: 'loud' is not one of",
        ),
    ],
)
def test_mapping_field_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    mapping = write_sources(tmp_path / "src", MAPPING.replace(*change))
    with pytest.raises(ConfigError, match=message):
        load_mapping(mapping)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("sources:\n  - file: a.csv\n    table: [telemetry\n")
    with pytest.raises(ConfigError, match=r"m\.yaml: line \d+, column \d+: not valid YAML"):
        load_mapping(path)
    with pytest.raises(ConfigError, match="mapping file not found"):
        load_mapping(tmp_path / "absent.yaml")


def test_source_errors_name_file_line_column(tmp_path: Path) -> None:
    mapping = write_sources(tmp_path / "src")
    (tmp_path / "src" / "sensors.csv").write_text("Zeit;Anlage;temp_c;druck\n01.07.2024 10:00;P1;warm;2\n")
    with pytest.raises(DatasetError, match=r"sensors\.csv: line 2, column 3 \('temp_c'\): not a number: 'warm'"):
        import_generic(mapping, tmp_path / "out")
    (tmp_path / "src" / "sensors.csv").write_text("Zeit;Anlage;temp_c;druck\n2024-07-01;P1;1;2\n")
    with pytest.raises(DatasetError, match=r"line 2, column 1 \('Zeit'\): unparseable time '2024-07-01'"):
        import_generic(mapping, tmp_path / "out")
    (tmp_path / "src" / "sensors.csv").write_text("Zeit;Machine;temp_c;druck\n")
    with pytest.raises(DatasetError, match=r"sensors\.csv: line 1: missing column\(s\) \['Anlage'\]"):
        import_generic(mapping, tmp_path / "out")


def test_conflicting_asset_types(tmp_path: Path) -> None:
    mapping = write_sources(tmp_path / "src")
    text = mapping.read_text().replace(
        "asset: {value: P1}\n    asset_type: {value: press}", "asset: {value: P1}\n    asset_type: {value: pump}"
    )
    mapping.write_text(text)
    with pytest.raises(DatasetError, match=r"failures\.csv: line 2: asset has another asset type"):
        import_generic(mapping, tmp_path / "out")
