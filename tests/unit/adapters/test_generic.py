"""Generic: CSV/Parquet files + a YAML mapping → canonical tables; mapping errors name the field."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from omnimaint.adapters import import_generic, load_mapping
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "adapters.md"


def documented_mapping(name: str) -> str:
    """The YAML block after ``<!-- mapping: NAME -->`` in docs/adapters.md: the doc and the test are one text."""
    match = re.search(
        rf"<!-- mapping: {re.escape(name)} -->\n```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S
    )
    assert match is not None, f"no mapping {name!r} in {DOCS}"
    return match.group(1)


MAPPING = documented_mapping("press-line")


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


def write_png(path: Path, colour: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (2, 2), colour).save(path, format="PNG")
    return path.read_bytes()


FRAMES_MAPPING = """
sources:
  - file: frames.csv
    table: frames
    time: {column: t}
    asset: {value: line1}
    columns: {camera: cam, path: file}
"""


def test_frames_are_copied(tmp_path: Path) -> None:
    src = tmp_path / "src"
    png = write_png(src / "img" / "a.png")
    (src / "frames.csv").write_text("t,cam,file\n2024-01-01T00:00:00Z,top,img/a.png\n")
    (src / "m.yaml").write_text(FRAMES_MAPPING)
    dataset = import_generic(src / "m.yaml", tmp_path / "out")
    frames = dataset.table("frames")
    assert frames["path"].iloc[0] == "frames/line1/top/0-0000000-a.png"
    assert dataset.frame_file(frames["path"].iloc[0]).read_bytes() == png
    assert [c.name for c in dataset.manifest.cameras] == ["top"]
    (src / "frames.csv").write_text("t,cam,file\n2024-01-01T00:00:00Z,top,img/missing.png\n")
    with pytest.raises(
        DatasetError, match=r"frames\.csv: line 2, column 3 \('file'\): file 'img/missing\.png' not found"
    ):
        import_generic(src / "m.yaml", tmp_path / "out2")
    (src / "img" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (src / "frames.csv").write_text("t,cam,file\n2024-01-01T00:00:00Z,top,img/b.png\n")
    with pytest.raises(DatasetError, match=r"line 2, column 3 \('file'\): 'img/b\.png' is not a readable image"):
        import_generic(src / "m.yaml", tmp_path / "out3")
    assert not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_frame_folders_are_safe_names_of_the_ids(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_png(src / "a.png")
    (src / "frames.csv").write_text("t,cam,file,line\n2024-01-01T00:00:00Z,../../up,a.png,../../../escape\n")
    (src / "m.yaml").write_text(FRAMES_MAPPING.replace("{value: line1}", "{column: line}"))
    dataset = import_generic(src / "m.yaml", tmp_path / "data" / "out")
    frames = dataset.table("frames")
    assert list(frames["asset_id"]) == ["../../../escape"]  # the table keeps the id as written
    assert frames["path"].iloc[0] == "frames/.._.._.._escape/.._.._up/0-0000000-a.png"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["out"]
    assert dataset.frame_file(frames["path"].iloc[0]).is_file()


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


def test_constant_asset_of_a_wide_file_is_registered(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.csv").write_text("ts,temp,press\n2024-01-01T00:00:00Z,1.0,2.0\n2024-01-01T00:01:00Z,1.5,\n")
    (src / "m.yaml").write_text(
        textwrap.dedent(
            """
            sources:
              - file: data.csv
                table: telemetry
                time: {column: ts}
                asset: {value: pump1}
                asset_type: {value: pump}
                channels: {layout: wide, columns: {temp: {}, press: {}}}
            """
        )
    )
    dataset = import_generic(src / "m.yaml", tmp_path / "out")
    assert dataset.table("assets")[["asset_id", "asset_type"]].to_dict("records") == [
        {"asset_id": "pump1", "asset_type": "pump"}
    ]
    assert len(dataset.table("telemetry")) == 3


ROWS_MAPPING = """
sources:
  - file: log.csv
    table: telemetry
    time: {column: ts}
    asset: {column: machine}
    where: WHERE
    channels: {layout: wide, columns: {v: {}}}
"""


@pytest.mark.parametrize(
    ("where", "kept"),
    [
        ("{machine: M1}", {"M1": 2}),
        ("{machine: [M1, M3]}", {"M1": 2, "M3": 1}),
        ("{machine: {not: [M1]}, split: train}", {"M2": 1}),
        ("{split: {not: test}}", {"M1": 1, "M2": 1, "M3": 1}),  # the empty split cell passes 'not'
        ("{id: '007'}", {"M3": 1}),  # compared as text: leading zeros count
    ],
)
def test_where_keeps_the_same_rows_in_survey_and_import(tmp_path: Path, where: str, kept: dict[str, int]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "log.csv").write_text(
        "ts,machine,split,id,v\n"
        "2024-01-01T00:00:00Z,M1,train,001,1\n"
        "2024-01-01T00:01:00Z,M1,test,002,2\n"
        "2024-01-01T00:00:00Z,M2,train,003,3\n"
        "2024-01-01T00:00:00Z,M3,,007,4\n"
    )
    (src / "m.yaml").write_text(ROWS_MAPPING.replace("WHERE", where))
    dataset = import_generic(src / "m.yaml", tmp_path / "out", chunk_rows=2)
    assert sorted(dataset.table("assets")["asset_id"]) == sorted(kept)  # skipped rows register no asset
    assert dataset.table("telemetry")["asset_id"].value_counts().to_dict() == kept


def test_where_column_must_exist_and_nothing_kept_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "log.csv").write_text("ts,machine,v\n2024-01-01T00:00:00Z,M1,1\n")
    (src / "m.yaml").write_text(ROWS_MAPPING.replace("WHERE", "{split: train}"))
    with pytest.raises(DatasetError, match=r"log\.csv: line 1: missing column\(s\) \['split'\]"):
        import_generic(src / "m.yaml", tmp_path / "out")
    (src / "m.yaml").write_text(ROWS_MAPPING.replace("WHERE", "{machine: M9}"))
    with pytest.raises(DatasetError, match="the mapped sources hold no rows"):
        import_generic(src / "m.yaml", tmp_path / "out")
    (src / "m.yaml").write_text(ROWS_MAPPING.replace("WHERE", "{machine: {not: []}}"))
    with pytest.raises(ConfigError, match=r"field 'sources\.0\.where\.machine\.values': .*at least 1 item"):
        import_generic(src / "m.yaml", tmp_path / "out")
    (src / "m.yaml").write_text(ROWS_MAPPING.replace("WHERE", "{machine: {is: M1}}"))
    with pytest.raises(
        ConfigError, match=r"where\.machine: a condition is a value, a list of values, or \{not: \[values\]\}"
    ):
        import_generic(src / "m.yaml", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_labels_mapped_to_null_are_no_failures(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "labels.csv").write_text(
        "ts,label\n2024-01-01T00:00:00Z,normal\n2024-01-01T00:01:00Z,bearing\n2024-01-01T00:02:00Z,normal\n"
        "2024-01-01T00:03:00Z,1\n"
    )
    (src / "m.yaml").write_text(
        textwrap.dedent(
            """
            sources:
              - file: labels.csv
                table: failures
                time: {column: ts}
                asset: {value: pump1}
                columns: {fault_type: label}
                constants: {component: pump}
                values: {fault_type: {normal: null, 1: seal}}
            """
        )
    )
    dataset = import_generic(src / "m.yaml", tmp_path / "out")
    failures = dataset.table("failures")
    assert list(failures["fault_type"]) == ["bearing", "seal"]
    assert list(failures["ts"]) == [pd.Timestamp("2024-01-01T00:01Z"), pd.Timestamp("2024-01-01T00:03Z")]
    assert dataset.manifest.fault_types == ("bearing", "seal")
    text = (src / "m.yaml").read_text()
    (src / "m.yaml").write_text(text.replace("{fault_type: {normal: null, 1: seal}}", "{component: {pump: null}}"))
    with pytest.raises(
        ConfigError, match=r"constants\.component: 'pump' is mapped to null, which would skip every row"
    ):
        import_generic(src / "m.yaml", tmp_path / "out2")


def test_labelled_sensor_csv_example(tmp_path: Path) -> None:
    src = tmp_path / "pump"
    src.mkdir()
    lines = ["timestamp,sensor_00,sensor_01,sensor_02,machine_status"]
    states = ["NORMAL"] * 6 + ["BROKEN"] + ["RECOVERING"] * 3 + ["NORMAL"] * 4 + ["BROKEN", "RECOVERING"]
    for minute, state in enumerate(states):
        sensor_02 = "" if minute == 1 else f"{53.2 - minute:.1f}"  # one missing reading
        lines.append(f"2018-04-01 00:{minute:02d}:00,2.46,{47.0 + minute:.1f},{sensor_02},{state}")
    (src / "pump.csv").write_text("\n".join(lines) + "\n")
    (src / "mapping.yaml").write_text(documented_mapping("labelled-sensor-csv"))
    dataset = validate_dataset(import_generic(src / "mapping.yaml", tmp_path / "out", chunk_rows=5).path)

    assert dataset.table("assets")[["asset_id", "asset_type"]].to_dict("records") == [
        {"asset_id": "pump-1", "asset_type": "pump"}
    ]
    telemetry = dataset.table("telemetry")
    operating = [m for m, state in enumerate(states) if state != "RECOVERING"]
    assert len(telemetry) == 3 * len(operating) - 1
    minutes = sorted({int(ts.minute) for ts in telemetry["ts"]})
    assert minutes == operating
    failures = dataset.table("failures")
    assert failures[["asset_id", "component", "fault_type"]].drop_duplicates().to_dict("records") == [
        {"asset_id": "pump-1", "component": "pump", "fault_type": "pump_failure"}
    ]
    assert [int(ts.minute) for ts in failures["ts"]] == [6, 14]  # the BROKEN minutes; NORMAL rows are no failures
    assert dataset.manifest.fault_types == ("pump_failure",)
    assert dataset.manifest.components == {"pump": ("pump",)}
    assert sorted(c.name for c in dataset.manifest.channels) == ["sensor_00", "sensor_01", "sensor_02"]


def test_multi_file_anomaly_benchmark_example(tmp_path: Path) -> None:
    src = tmp_path / "skab"
    runs = {"valve1/0.csv": [0, 0, 1, 1, 0], "valve1/1.csv": [0, 1, 0], "valve2/0.csv": [0, 0, 0, 0]}
    for name, labels in runs.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        day = 9 + list(runs).index(name)
        lines = ["datetime;Accelerometer1RMS;Current;Pressure;Temperature;anomaly"]
        lines += [
            f"2020-03-{day:02d} 10:14:{30 + s:02d};0.0271;1.7861;0.0545;69.7;{label}" for s, label in enumerate(labels)
        ]
        path.write_text("\n".join(lines) + "\n")
    (src / "mapping.yaml").write_text(documented_mapping("multi-file-anomaly-benchmark"))
    dataset = validate_dataset(import_generic(src / "mapping.yaml", tmp_path / "out").path)

    assets = dataset.table("assets")
    assert sorted(assets["asset_id"]) == ["valve1-run0", "valve1-run1", "valve2-run0"]
    assert set(assets["asset_type"]) == {"valve_rig"}
    telemetry = dataset.table("telemetry")
    assert telemetry["asset_id"].value_counts().to_dict() == {"valve1-run0": 20, "valve2-run0": 16, "valve1-run1": 12}
    assert sorted(c.name for c in dataset.manifest.channels) == ["accel1_rms", "current", "pressure", "temperature"]
    failures = dataset.table("failures")
    assert failures["asset_id"].value_counts().to_dict() == {"valve1-run0": 2, "valve1-run1": 1}
    assert set(failures["fault_type"]) == {"anomaly"} and set(failures["component"]) == {"valve"}
    assert sorted(int(ts.second) for ts in failures[failures["asset_id"] == "valve1-run0"]["ts"]) == [32, 33]


def _outside_file(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir(parents=True)
    secret.write_text("SECRET-HEADER,ts\nSECRET-VALUE,2024-01-01T00:00:00Z\n")
    return secret


SINGLE_SOURCE = """
sources:
  - file: FILE
    table: telemetry
    time: {column: ts}
    asset: {value: m1}
    channels: {layout: wide, columns: {v: {}}}
"""


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "symlinked-folder"])
def test_source_files_outside_the_mapping_folder_are_refused_unread(tmp_path: Path, kind: str) -> None:
    secret = _outside_file(tmp_path)
    src = tmp_path / "plant"
    src.mkdir()
    written = {"dotdot": "../outside/secret.csv", "absolute": str(secret), "symlink": "link.csv"}.get(
        kind, "linked/secret.csv"
    )
    (src / "link.csv").symlink_to(secret)
    (src / "linked").symlink_to(secret.parent, target_is_directory=True)
    (src / "m.yaml").write_text(SINGLE_SOURCE.replace("FILE", written))
    with pytest.raises(DatasetError) as caught:
        import_generic(src / "m.yaml", tmp_path / "out")
    message = str(caught.value)
    assert f"field 'sources.0.file': path {written!r} leads outside the mapping's folder" in message
    assert "SECRET" not in message and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_allowed_root_admits_files_outside_the_mapping_folder(tmp_path: Path) -> None:
    secret = _outside_file(tmp_path)
    secret.write_text("ts,v\n2024-01-01T00:00:00Z,1\n")
    src = tmp_path / "plant"
    src.mkdir()
    (src / "link.csv").symlink_to(secret)
    (src / "m.yaml").write_text(SINGLE_SOURCE.replace("FILE", "link.csv"))
    dataset = import_generic(src / "m.yaml", tmp_path / "out", allow_roots=[secret.parent])
    assert list(dataset.table("telemetry")["value"]) == [1.0]
    with pytest.raises(ConfigError, match=r"--allow-root .*nowhere: not a folder"):
        import_generic(src / "m.yaml", tmp_path / "out2", allow_roots=[tmp_path / "nowhere"])


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_frame_images_outside_the_mapping_folder_are_refused_unread(tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside" / "x.png"
    write_png(outside)
    src = tmp_path / "src"
    write_png(src / "ok.png")
    (src / "link.png").symlink_to(outside)
    written = {"dotdot": "../outside/x.png", "absolute": str(outside), "symlink": "link.png"}[kind]
    (src / "frames.csv").write_text(
        f"t,cam,file\n2024-01-01T00:00:00Z,top,ok.png\n2024-01-01T00:01:00Z,top,{written}\n"
    )
    (src / "m.yaml").write_text(FRAMES_MAPPING)
    with pytest.raises(
        DatasetError, match=rf"frames\.csv: line 3, column 3 \('file'\): path {re.escape(repr(written))} leads"
    ):
        import_generic(src / "m.yaml", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_encoding_override_and_unknown_encoding(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.csv").write_bytes("ts,v,site\n2024-01-01T00:00:00Z,1,Köln\n".encode("cp1252"))
    (src / "m.yaml").write_text(SINGLE_SOURCE.replace("FILE", "data.csv"))
    with pytest.raises(DatasetError, match=r"data\.csv: line 2: byte\(s\) f6 at character 25 are not valid utf-8-sig"):
        import_generic(src / "m.yaml", tmp_path / "out")
    assert len(import_generic(src / "m.yaml", tmp_path / "out", encoding="cp1252").table("telemetry")) == 1
    with pytest.raises(ConfigError, match="unknown text encoding 'klingon'"):
        import_generic(src / "m.yaml", tmp_path / "out2", encoding="klingon")
    (src / "m.yaml").write_text(SINGLE_SOURCE.replace("FILE", "data.csv") + "    csv: {encoding: base64}\n")
    with pytest.raises(ConfigError, match=r"field 'sources\.0\.csv\.encoding': unknown text encoding 'base64'"):
        import_generic(src / "m.yaml", tmp_path / "out2")
