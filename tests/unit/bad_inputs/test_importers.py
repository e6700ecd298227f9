"""Bad inputs to the importers: one `error:` line naming what and where, exit 1, nothing changed or created.

Each case starts from a valid source in ``tmp_path`` (a mapping with its CSV, Parquet and image files; Azure
PdM, MaintNet and C-MAPSS folders in their publishers' formats; a video file), breaks one thing and runs
``omnimaint import …``. The snapshot covers the whole of ``tmp_path``: the user's files and the place where
the dataset would have appeared.
"""

from __future__ import annotations

import gzip
import textwrap
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from tests.unit.adapters.source_files import write_azure, write_cmapss
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli

SECRET = "SECRET-LINE-OF-AN-OUTSIDE-FILE"

MAPPING = """
name: line
sources:
  - file: sensors.csv
    table: telemetry
    time: {column: ts}
    asset: {value: press1}
    asset_type: {value: press}
    where: {state: {not: [idle]}}
    channels:
      layout: wide
      columns:
        temp: {unit: degC}
        pressure: {unit: bar}
  - file: currents.parquet
    table: telemetry
    time: {column: ts}
    asset: {column: machine}
    asset_type: {value: press}
    channels: {layout: long, channel_column: signal, value_column: reading}
  - file: alarms.csv
    table: events
    time: {column: ts}
    asset: {value: press1}
    asset_type: {value: press}
    columns: {code: code, severity: level}
    values:
      severity: {HI: alarm, LO: warning}
  - file: labels.csv
    table: failures
    time: {column: ts}
    asset: {value: press1}
    asset_type: {value: press}
    columns: {fault_type: label}
    constants: {component: seal}
    values:
      fault_type: {normal: null}
  - file: frames.csv
    table: frames
    time: {column: ts}
    asset: {value: press1}
    asset_type: {value: press}
    columns: {camera: cam, path: image}
"""


def write_plant(root: Path) -> Path:
    """A valid mapping and its sources under ``root/plant``, and a file outside it; returns the mapping path."""
    plant = root / "plant"
    (plant / "img").mkdir(parents=True)
    (root / "outside").mkdir()
    (root / "outside" / "secret.csv").write_text(f"{SECRET}\nts,temp,pressure,state\n")
    Image.new("RGB", (2, 2), (9, 9, 9)).save(root / "outside" / "secret.png")
    (plant / "sensors.csv").write_text(
        "ts,temp,pressure,state\n2024-01-01T00:00:00Z,40.5,2.5,on\n2024-01-01T00:01:00Z,41.0,,on\n"
        "2024-01-01T00:02:00Z,0.0,0.0,idle\n"
    )
    pd.DataFrame(
        {
            "ts": pd.to_datetime(["2024-01-01T00:00:00Z"]),
            "machine": ["press1"],
            "signal": ["current"],
            "reading": [12.5],
        }
    ).to_parquet(plant / "currents.parquet")
    (plant / "alarms.csv").write_text("ts,code,level\n2024-01-01T00:00:30Z,E1,HI\n")
    (plant / "labels.csv").write_text("ts,label\n2024-01-01T00:00:00Z,normal\n2024-01-01T00:02:00Z,leak\n")
    Image.new("RGB", (2, 2), (200, 0, 0)).save(plant / "img" / "a.png")
    (plant / "frames.csv").write_text("ts,cam,image\n2024-01-01T00:00:00Z,top,img/a.png\n")
    (plant / "mapping.yaml").write_text(MAPPING)
    return plant / "mapping.yaml"


def test_the_valid_plant_imports(tmp_path: Path) -> None:
    mapping = write_plant(tmp_path)
    result = run_cli("import", "generic", mapping, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "telemetry: 4" in result.output and "failures: 1" in result.output and "frames: 1" in result.output


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _symlink(link: Path, target: Path) -> None:
    link.unlink(missing_ok=True)
    link.symlink_to(target, target_is_directory=target.is_dir())


# --- generic: paths that lead outside the mapping's folder ------------------------------------------------

ESCAPES: dict[str, Callable[[Path], tuple[str, str]]] = {
    # name: break the plant under root, return (what the error names, the path as written)
    "file-dotdot": lambda root: ("field 'sources.0.file'", "../outside/secret.csv"),
    "file-absolute": lambda root: ("field 'sources.0.file'", str(root / "outside" / "secret.csv")),
    "file-symlink": lambda root: (
        _symlink(root / "plant" / "link.csv", root / "outside" / "secret.csv") or "field 'sources.0.file'",
        "link.csv",
    ),
    "file-symlinked-folder": lambda root: (
        _symlink(root / "plant" / "data", root / "outside") or "field 'sources.0.file'",
        "data/secret.csv",
    ),
    "file-etc-passwd": lambda root: ("field 'sources.0.file'", "../../../../../../../../etc/passwd"),
    "file-device": lambda root: ("field 'sources.0.file'", "/dev/zero"),
}


@pytest.mark.parametrize("kind", sorted(ESCAPES))
def test_source_file_leading_outside_is_refused_unread(tmp_path: Path, kind: str) -> None:
    mapping = write_plant(tmp_path)
    where, written = ESCAPES[kind](tmp_path)
    _edit(mapping, "file: sensors.csv", f"file: '{written}'")
    before = Snapshot.of(tmp_path)
    line = assert_refused(
        run_cli("import", "generic", mapping, "--out", tmp_path / "out"),
        before,
        where,
        f"path {written!r} leads outside the mapping's folder",
        "--allow-root",
    )
    assert SECRET not in line and "root:" not in line


FRAME_ESCAPES: dict[str, Callable[[Path], str]] = {
    "frame-dotdot": lambda root: "../outside/secret.png",
    "frame-etc-passwd": lambda root: "../../../../../../../../etc/passwd",
    "frame-absolute": lambda root: str(root / "outside" / "secret.png"),
    "frame-symlink": lambda root: (
        _symlink(root / "plant" / "img" / "b.png", root / "outside" / "secret.png") or "img/b.png"
    ),
}


@pytest.mark.parametrize("kind", sorted(FRAME_ESCAPES))
def test_frame_image_leading_outside_is_refused_unread(tmp_path: Path, kind: str) -> None:
    mapping = write_plant(tmp_path)
    written = FRAME_ESCAPES[kind](tmp_path)
    (tmp_path / "plant" / "frames.csv").write_text(
        f"ts,cam,image\n2024-01-01T00:00:00Z,top,img/a.png\n2024-01-01T00:01:00Z,top,{written}\n"
    )
    before = Snapshot.of(tmp_path)
    assert_refused(
        run_cli("import", "generic", mapping, "--out", tmp_path / "out"),
        before,
        "frames.csv: line 3, column 3 ('image')",
        f"path {written!r} leads outside the mapping's folder",
    )


@pytest.mark.parametrize(
    ("written", "fragments"),
    [
        ('"sensors.csv\\0.png"', ("field 'sources.0.file'", "holds a NUL byte")),
        ("img", ("field 'sources.0.file'", "'img' is not a regular file")),
        ("gone.csv", ("field 'sources.0.file'", "file 'gone.csv' not found")),
        ("x" * 300 + "/y.csv", ("field 'sources.0.file'", "cannot be opened (File name too long)")),
    ],
    ids=["nul-byte", "a-folder", "missing", "name-too-long"],
)
def test_source_file_that_cannot_be_a_table(tmp_path: Path, written: str, fragments: tuple[str, ...]) -> None:
    mapping = write_plant(tmp_path)
    _edit(mapping, "file: sensors.csv", f"file: {written}")
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "generic", mapping, "--out", tmp_path / "out"), before, *fragments)


def test_allowed_root_that_is_not_a_folder(tmp_path: Path) -> None:
    mapping = write_plant(tmp_path)
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "generic", mapping, "--out", tmp_path / "out", "--allow-root", tmp_path / "nowhere")
    assert_refused(result, before, "--allow-root", "nowhere: not a folder")


# --- generic: the mapping file ----------------------------------------------------------------------------

MAPPING_ERRORS: dict[str, tuple[tuple[str, str], tuple[str, ...]]] = {
    # name: ((old, new) in the mapping text, fragments of the error)
    "missing-field": (
        ("time: {column: ts}\n    asset: {value: press1}", "asset: {value: press1}"),
        ("field 'sources.0.time'", "Field required"),
    ),
    "unknown-field": (("name: line", "name: line\ncolour: red"), ("field 'colour'", "Extra inputs are not permitted")),
    "wrong-type": (("name: line", "name: [a, b]"), ("field 'name'", "valid string")),
    "unknown-table": (("table: events", "table: alarms"), ("field 'sources.2.table'",)),
    "unknown-canonical-column": (
        ("columns: {code: code, severity: level}", "columns: {code: code, severity: level, colour: c}"),
        ("columns.colour: the 'events' table has no such column",),
    ),
    "severity-outside-choices": (
        ("columns: {code: code, severity: level}", "columns: {code: code}\n    constants: {severity: loud}"),
        ("constants.severity: 'loud' is not one of",),
    ),
    "asset-column-and-value": (
        ("asset: {column: machine}", "asset: {column: machine, value: p}"),
        ("field 'sources.1.asset'", "exactly one"),
    ),
    "unknown-time-zone": (
        (
            "time: {column: ts}\n    asset: {column: machine}",
            "time: {column: ts, timezone: Mars/Olympus}\n    asset: {column: machine}",
        ),
        ("unknown time zone 'Mars/Olympus'",),
    ),
    "unquoted-yaml-boolean": (
        ("where: {state: {not: [idle]}}", "where: {state: {not: [off]}}"),
        ("where.state: false is a YAML boolean", "quote the value"),
    ),
    "malformed-where": (
        ("where: {state: {not: [idle]}}", "where: {state: {is: on}}"),
        ("where.state: a condition is a value, a list of values, or {not: [values]}",),
    ),
    "unknown-encoding": (
        (
            "asset: {value: press1}\n    asset_type: {value: press}\n    where",
            "csv: {encoding: klingon}\n    asset: {value: press1}\n    asset_type: {value: press}\n    where",
        ),
        ("field 'sources.0.csv.encoding'", "unknown text encoding 'klingon'"),
    ),
    "quote-as-delimiter": (
        ("asset: {column: machine}", "asset: {column: machine}\n    csv: {delimiter: '\"'}"),
        ("field 'sources.1.csv'", "cannot separate fields"),
    ),
    "telemetry-with-values": (
        ("channels: {layout: long", "values: {channel: {a: b}}\n    channels: {layout: long"),
        ("field 'sources.1'", "not 'columns'/'constants'/'values'"),
    ),
    "yaml-syntax": (("table: events", "table: [events"), ("line ", "column ", "not valid YAML")),
    "top-level-list": (
        ("name: line\nsources:\n", "- name: line\n- sources:\n"),
        ("expected a mapping with a 'sources' list at the top level",),
    ),
}


@pytest.mark.parametrize("name", sorted(MAPPING_ERRORS))
def test_mapping_errors_name_the_field(tmp_path: Path, name: str) -> None:
    mapping = write_plant(tmp_path)
    (old, new), fragments = MAPPING_ERRORS[name]
    _edit(mapping, old, new)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "generic", mapping, "--out", tmp_path / "out"), before, "mapping.yaml", *fragments)


def test_constant_mapped_to_null(tmp_path: Path) -> None:
    mapping = write_plant(tmp_path)
    _edit(
        mapping, "      fault_type: {normal: null}", "      fault_type: {normal: null}\n      component: {seal: null}"
    )
    before = Snapshot.of(tmp_path)
    assert_refused(
        run_cli("import", "generic", mapping, "--out", tmp_path / "out"),
        before,
        "field 'sources.3'",
        "constants.component: 'seal' is mapped to null, which would skip every row",
    )


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (None, ("mapping.yaml: mapping file not found",)),
        ("folder", ("not a mapping file",)),
        (
            b"sources: [\n" + "name: caf\xe9\n".encode("latin-1"),
            ("line 2: byte(s) e9", "a mapping file is UTF-8 text"),
        ),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n" % ((98 + i, 98 + i) + (97 + i,) * 10)
                for i in range(6)
            ),
            ("once YAML aliases are expanded",),
        ),
        (b"# " + b"x" * (1 << 20) + b"\n", ("too large for a mapping file",)),
    ],
    ids=["missing", "a-folder", "not-utf8", "alias-bomb", "too-large"],
)
def test_unreadable_mapping_file(tmp_path: Path, content: bytes | str | None, fragments: tuple[str, ...]) -> None:
    mapping = tmp_path / "mapping.yaml"
    if content == "folder":
        mapping.mkdir()
    elif isinstance(content, bytes):
        mapping.write_bytes(content)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "generic", mapping, "--out", tmp_path / "out"), before, *fragments)


# --- generic: the source files ----------------------------------------------------------------------------

SOURCE_ERRORS: dict[str, tuple[str, bytes, tuple[str, ...]]] = {
    # name: (file, new content, fragments)
    "missing-where-column": (
        "sensors.csv",
        b"ts,temp,pressure\n2024-01-01T00:00:00Z,1,2\n",
        ("sensors.csv: line 1: missing column(s) ['state']",),
    ),
    "not-a-number": (
        "sensors.csv",
        b"ts,temp,pressure,state\n2024-01-01T00:00:00Z,warm,2,on\n",
        ("sensors.csv: line 2, column 2 ('temp'): not a number: 'warm'",),
    ),
    "unparseable-time": (
        "sensors.csv",
        b"ts,temp,pressure,state\n01/13/2024,1,2,on\n",
        ("sensors.csv: line 2, column 1 ('ts'): unparseable time '01/13/2024'",),
    ),
    "not-utf8": (
        "sensors.csv",
        b"ts,temp,pressure,state\n2024-01-01T00:00:00Z,1,2,on\n2024-01-01T00:01:00Z,1,2,\xe9t\xe9\n",
        ("sensors.csv: line 3: byte(s) e9 at character 26 are not valid utf-8-sig", "--encoding"),
    ),
    "unclosed-quote": (
        "sensors.csv",
        b'ts,temp,pressure,state\n2024-01-01T00:00:00Z,1,2,on\n2024-01-01T00:01:00Z,1,2,"on\n',
        ("sensors.csv: line 3: a quoted field is never closed",),
    ),
    "too-many-fields": (
        "sensors.csv",
        b"ts,temp,pressure,state\n2024-01-01T00:00:00Z,1,2,on,extra\n",
        ("sensors.csv: line 2: 5 fields, but the header has 4",),
    ),
    "truncated-line": (
        "sensors.csv",
        b"ts,temp,pressure,state\n2024-01-01T00:00:00Z,1,2,on\n2024-01-01T00:01:00Z,1",
        ("sensors.csv: line 3: 2 of 4 fields and no line break at the end", "truncated"),
    ),
    "empty-file": ("sensors.csv", b"", ("sensors.csv: empty file",)),
    "damaged-parquet": (
        "currents.parquet",
        b"PAR1" + b"\0" * 40 + b"PAR1",
        ("currents.parquet: not a readable Parquet file",),
    ),
    "unmapped-severity": (
        "alarms.csv",
        b"ts,code,level\n2024-01-01T00:00:30Z,E1,MID\n",
        ("alarms.csv: line 2, column 3 ('level'): severity 'MID' is not one of",),
    ),
    "empty-label": (
        "labels.csv",
        b"ts,label\n2024-01-01T00:00:00Z,normal\n2024-01-01T00:02:00Z,\n",
        ("labels.csv: line 3, column 2 ('label'): missing value",),
    ),
    "missing-image": (
        "frames.csv",
        b"ts,cam,image\n2024-01-01T00:00:00Z,top,img/gone.png\n",
        ("frames.csv: line 2, column 3 ('image'): file 'img/gone.png' not found",),
    ),
    "not-an-image": (
        "img/a.png",
        b"\x89PNG\r\n\x1a\ntruncated",
        ("frames.csv: line 2, column 3 ('image'): 'img/a.png' is not a readable image",),
    ),
}


@pytest.mark.parametrize("name", sorted(SOURCE_ERRORS))
def test_source_errors_name_file_line_and_column(tmp_path: Path, name: str) -> None:
    mapping = write_plant(tmp_path)
    file, content, fragments = SOURCE_ERRORS[name]
    (tmp_path / "plant" / file).write_bytes(content)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "generic", mapping, "--out", tmp_path / "out"), before, *fragments)


def test_no_rows_left_after_where(tmp_path: Path) -> None:
    mapping = write_plant(tmp_path)
    (tmp_path / "plant" / "mapping.yaml").write_text(
        textwrap.dedent(
            """
            sources:
              - file: sensors.csv
                table: telemetry
                time: {column: ts}
                asset: {value: press1}
                where: {state: paused}
                channels: {layout: wide, columns: {temp: {}}}
            """
        )
    )
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "generic", mapping, "--out", tmp_path / "out"), before, "hold no rows")


def test_unknown_encoding_flag(tmp_path: Path) -> None:
    mapping = write_plant(tmp_path)
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "generic", mapping, "--out", tmp_path / "out", "--encoding", "klingon")
    assert_refused(result, before, "unknown text encoding 'klingon'")


# --- azure ------------------------------------------------------------------------------------------------

AZURE_ERRORS: dict[str, tuple[str, bytes | None, tuple[str, ...]]] = {
    "missing-file": (
        "PdM_errors.csv",
        None,
        ("PdM_errors.csv: not found", "PdM_machines/telemetry/errors/maint/failures.csv"),
    ),
    "truncated-telemetry": (
        "PdM_telemetry.csv",
        b"datetime,machineID,volt,rotate,pressure,vibration\n2015-01-01 06:00:00,1,170.5,401.25,100.0,40.0\n2015-01-01 07:00:00,1,171",
        ("PdM_telemetry.csv: line 3: 3 of 6 fields and no line break at the end",),
    ),
    "short-line": (
        "PdM_telemetry.csv",
        b"datetime,machineID,volt,rotate,pressure,vibration\n2015-01-01 06:00:00,1,170.5,401.25\n",
        ("PdM_telemetry.csv: line 2, column 5 ('pressure'): missing value",),
    ),
    "wrong-header": (
        "PdM_telemetry.csv",
        b"datetime,machineID,voltage,rotate,pressure,vibration\n",
        ("PdM_telemetry.csv: line 1: missing column(s) ['volt']",),
    ),
    "not-utf8": (
        "PdM_machines.csv",
        b"machineID,model,age\n1,model3,18\n2,mod\xe8le4,7\n",
        ("PdM_machines.csv: line 3: byte(s) e8 at character 6 are not valid utf-8-sig", "--encoding"),
    ),
    "unknown-machine": (
        "PdM_failures.csv",
        b"datetime,machineID,failure\n2015-01-01 10:00:00,7,comp4\n",
        ("PdM_failures.csv: line 2, column 2 ('machineID'): machineID 7 is not in PdM_machines.csv",),
    ),
    "empty-file": ("PdM_maint.csv", b"", ("PdM_maint.csv: empty file",)),
    "a-folder": ("PdM_errors.csv", b"folder", ("PdM_errors.csv: a folder",)),
}


@pytest.mark.parametrize("name", sorted(AZURE_ERRORS))
def test_azure_source_errors(tmp_path: Path, name: str) -> None:
    src = write_azure(tmp_path / "azure")
    file, content, fragments = AZURE_ERRORS[name]
    (src / file).unlink()
    if content == b"folder":
        (src / file).mkdir()
    elif content is not None:
        (src / file).write_bytes(content)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "azure", src, "--out", tmp_path / "out"), before, *fragments)


def test_azure_encoding_flag(tmp_path: Path) -> None:
    src = write_azure(tmp_path / "azure")
    (src / "PdM_machines.csv").write_bytes(b"machineID,model,age\n1,mod\xe8le3,18\n2,model4,7\n")
    assert run_cli("import", "azure", src, "--out", tmp_path / "ok", "--encoding", "latin-1").exit_code == 0
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "azure", src, "--out", tmp_path / "out", "--encoding", "utf-42")
    assert_refused(result, before, "unknown text encoding 'utf-42'")


# --- maintnet ---------------------------------------------------------------------------------------------

LOGBOOK = 'IDENT,PROBLEM,ACTION\n100001,ENGINE KILLED.,"ADJUSTED IDLE, OK."\n100002,BAFFLE CRACKED.,REPLACED.\n'


MAINTNET_ERRORS: dict[str, tuple[str, bytes | None, tuple[str, ...]]] = {
    "missing-logbook": ("problems_actions.csv", None, ("problems_actions.csv: not found",)),
    "wrong-header": (
        "problems_actions.csv",
        b"ID,PROBLEM,ACTION\n1,a,b\n",
        ("problems_actions.csv: line 1: missing column(s) ['IDENT']",),
    ),
    "unclosed-quote": (
        "problems_actions.csv",
        b'IDENT,PROBLEM,ACTION\n1,a,b\n2,"c,d\n',
        ("problems_actions.csv: line 3: a quoted field is never closed",),
    ),
    "too-many-fields": (
        "problems_actions.csv",
        b"IDENT,PROBLEM,ACTION\n1,a,b\n2,c,d,e\n",
        ("problems_actions.csv: line 3: 4 fields, but the header has 3",),
    ),
    "annotations-wrong-header": (
        "annotated_problems.csv",
        b"IDENT,PROBLEM,LOCATION\n1,a,b\n",
        ("annotated_problems.csv: line 1: missing column(s) ['PART']",),
    ),
    "empty-ident": (
        "problems_actions.csv",
        b"IDENT,PROBLEM,ACTION\n1,a,b\n,c,d\n",
        ("problems_actions.csv: line 3, column 1 ('IDENT'): missing value",),
    ),
}


@pytest.mark.parametrize("name", sorted(MAINTNET_ERRORS))
def test_maintnet_source_errors(tmp_path: Path, name: str) -> None:
    src = tmp_path / "maintnet"
    src.mkdir()
    (src / "problems_actions.csv").write_text(LOGBOOK)
    (src / "annotated_problems.csv").write_text("IDENT,PROBLEM,LOCATION,PART,TGGEDPROBLEM,ACTION\n100001,x,y,z,w,v\n")
    file, content, fragments = MAINTNET_ERRORS[name]
    (src / file).unlink()
    if content is not None:
        (src / file).write_bytes(content)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "maintnet", src, "--out", tmp_path / "out"), before, *fragments)


def test_maintnet_explicit_encoding_names_the_line(tmp_path: Path) -> None:
    src = tmp_path / "maintnet"
    src.mkdir()
    (src / "problems_actions.csv").write_bytes(LOGBOOK.encode() + "100003,CHECK °F GAUGE,OK\n".encode("latin-1"))
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "maintnet", src, "--out", tmp_path / "out", "--encoding", "utf-8")
    assert_refused(result, before, "problems_actions.csv: line 4: byte(s) b0 at character 14 are not valid utf-8")


# --- C-MAPSS ----------------------------------------------------------------------------------------------

CMAPSS_ERRORS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "no-files": (lambda src: [p.unlink() for p in src.iterdir()] and None, ("no C-MAPSS files",)),
    "missing-rul": (lambda src: (src / "RUL_FD001.txt").unlink(), ("RUL_FD001.txt: not found",)),
    "short-line": (
        lambda src: (src / "train_FD001.txt").write_text("1 1 0.1 0.2 100.0 " + " ".join(["500.0"] * 15) + "\n"),
        ("train_FD001.txt: line 1: expected 26 space-separated fields", "found 20"),
    ),
    "non-ascii": (
        lambda src: (src / "test_FD001.txt").write_bytes(
            (src / "test_FD001.txt").read_bytes().replace(b"\n", b"\xb0\n", 2).replace(b"\xb0\n", b"\n", 1)
        ),
        ("test_FD001.txt: line 2, character", "is not ASCII"),
    ),
    "truncated-gzip": (
        lambda src: (
            (src / "train_FD001.txt").unlink()
            or (src / "train_FD001.txt.gz").write_bytes(gzip.compress(b"1 1 " * 500)[:-20])
        ),
        ("train_FD001.txt.gz: damaged or truncated gzip file",),
    ),
    "rul-not-a-number": (
        lambda src: (src / "RUL_FD001.txt").write_text("10\nseven\n"),
        ("RUL_FD001.txt: line 2: expected one non-negative integer", "'seven'"),
    ),
}


@pytest.mark.parametrize("name", sorted(CMAPSS_ERRORS))
def test_cmapss_source_errors(tmp_path: Path, name: str) -> None:
    src = write_cmapss(tmp_path / "cmapss")
    change, fragments = CMAPSS_ERRORS[name]
    change(src)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "cmapss", src, "--out", tmp_path / "out"), before, *fragments)


def test_cmapss_source_that_is_a_file(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "cmapss")
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "cmapss", src / "train_FD001.txt", "--out", tmp_path / "out")
    assert_refused(result, before, "train_FD001.txt: not a folder")


# --- video ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "options", "fragments"),
    [
        (None, (), ("press.mp4: not found (a video file)",)),
        ("folder", (), ("press.mp4: a folder (expected a video file)",)),
        (b"not a video at all", ("--start", "2024-01-01T00:00:00Z"), ("press.mp4: not a readable video file",)),
        (b"x", ("--fps", "0"), ("--fps must be positive",)),
    ],
    ids=["missing", "a-folder", "not-a-video", "zero-fps"],
)
def test_video_source_errors(
    tmp_path: Path, make: bytes | str | None, options: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    pytest.importorskip("av")
    video = tmp_path / "press.mp4"
    if make == "folder":
        video.mkdir()
    elif isinstance(make, bytes):
        video.write_bytes(make)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", "video", video, "--out", tmp_path / "out", *options), before, *fragments)
