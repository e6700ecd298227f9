"""Bad datasets given to `omnimaint validate`: one `error:` line naming what and where, exit 1, nothing changed.

Each case starts from the tiny valid dataset, breaks one thing the way a hand edit, a foreign exporter, a
failing disk or a crafted folder would, and runs ``omnimaint validate``. The snapshot is taken after the
break: validating must not modify the dataset (nor the files outside it that the dataset points at).
Table edits re-record the file's row count and checksum, so that the content rule is what is reported.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from omnimaint.data import Dataset
from omnimaint.data.dataset import file_sha256
from omnimaint.data.manifest import MANIFEST_FILE
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli

Breaker = Callable[[Path], None]


def _manifest(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
    change(document)
    (root / MANIFEST_FILE).write_text(json.dumps(document), encoding="utf-8")


def _table(root: Path, name: str, change: Callable[[pa.Table], pa.Table]) -> None:
    """Rewrite one table file and record its new row count and checksum in dataset.json."""
    file = root / f"{name}.parquet"
    pq.write_table(change(pq.read_table(file)), file)

    def record(document: dict[str, Any]) -> None:
        document["tables"][name] = {"rows": pq.ParquetFile(file).metadata.num_rows, "sha256": file_sha256(file)}

    _manifest(root, record)


def _column(name: str, values: Callable[[pa.Table], Any], type_: pa.DataType | None = None) -> Callable[..., pa.Table]:
    """A table change that replaces (or adds) column ``name``."""

    def change(table: pa.Table) -> pa.Table:
        array = pa.array(values(table), type=type_)
        if name in table.column_names:
            return table.set_column(table.column_names.index(name), name, array)
        return table.append_column(name, array)

    return change


def _set_row(name: str, row: int, value: Any, type_: pa.DataType | None = None) -> Callable[..., pa.Table]:
    def values(table: pa.Table) -> list[Any]:
        column = table.column(name).to_pylist()
        column[row] = value
        return column

    return _column(name, values, type_)


def _stamps(table: pa.Table, column: str = "ts") -> np.ndarray:
    return np.asarray(table.column(column).cast(pa.int64()).to_numpy(zero_copy_only=False))


UTC_US = pa.timestamp("us", tz="UTC")
YEAR_1904_US = -2_082_844_800_000_000  # the QuickTime/HFS epoch: an unset video creation time
EPOCH_MS_AS_S = 1_704_067_200_000 * 1_000_000  # 2024-01-01 in epoch milliseconds, read as seconds


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels and holds none (a decompression bomb's header)."""
    body = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    ihdr = b"IHDR" + body
    chunk = struct.pack(">I", len(body)) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _replace_with_link(path: Path, target: Path) -> None:
    if path.is_dir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    else:
        path.unlink()
    path.symlink_to(target)


def _outside(root: Path) -> Path:
    """A folder beside the dataset holding what a crafted dataset points at (an image, a table, a manifest)."""
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.png").write_bytes((root / "frames" / "A" / "000.png").read_bytes())
    (outside / "secret.parquet").write_bytes((root / "telemetry.parquet").read_bytes())
    (outside / "dataset.json").write_bytes((root / MANIFEST_FILE).read_bytes())
    return outside


# --- the cases: (break the dataset, fragments the error line must hold, extra flags) -------------------------

MANIFEST_CASES: list[Any] = [
    pytest.param(lambda r: (r / MANIFEST_FILE).unlink(), ["not a dataset (no dataset.json)"], id="no-manifest"),
    pytest.param(
        lambda r: (r / MANIFEST_FILE).write_bytes((r / MANIFEST_FILE).read_bytes()[:200]),
        ["dataset.json: not valid JSON", "line"],
        id="manifest-truncated",
    ),
    pytest.param(
        lambda r: (r / MANIFEST_FILE).write_text((r / MANIFEST_FILE).read_text(), encoding="utf-16"),
        ["dataset.json: not valid JSON", "utf-8"],
        id="manifest-saved-as-utf16",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m.update(schema_version=99)),
        ["dataset.json", "field 'schema_version'", "unknown schema version 99"],
        id="schema-version-unknown",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m.update(timezone="Europe/Berlin")),
        ["dataset.json", "field 'timezone'"],
        id="manifest-timezone-not-utc",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m["channels"][0].update(sampling_rate_hz="hourly")),
        ["dataset.json", "field 'channels.0.sampling_rate_hz'"],
        id="channel-rate-as-text",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m["tables"]["telemetry"].update(rows=-5)),
        ["dataset.json", "field 'tables.telemetry.rows'"],
        id="negative-row-count",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m["tables"].update(telemtry=m["tables"]["telemetry"])),
        ["dataset.json", "unknown table 'telemtry'", "telemetry, waveforms"],
        id="unknown-table-in-manifest",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m.update(owner="plant 3")),
        ["dataset.json", "field 'owner'"],
        id="unknown-manifest-field",
    ),
    pytest.param(
        lambda r: _replace_with_link(r / MANIFEST_FILE, _outside(r) / "dataset.json"),
        ["dataset.json: a symbolic link that leads outside the dataset folder"],
        id="manifest-linked-outside",
    ),
]

FILE_CASES: list[Any] = [
    pytest.param(
        lambda r: (r / "events.parquet").unlink(),
        ["events.parquet: recorded in dataset.json but missing"],
        id="table-file-deleted",
    ),
    pytest.param(
        lambda r: (r / "assets.parquet").unlink(),
        ["assets.parquet: recorded in dataset.json but missing"],
        id="assets-file-deleted",
    ),
    pytest.param(
        lambda r: (r / "telemetry.parquet").write_bytes((r / "telemetry.parquet").read_bytes()[:700]),
        ["telemetry.parquet: checksum differs from the one in dataset.json"],
        id="table-truncated",
    ),
    pytest.param(
        lambda r: _manifest(r, lambda m: m["tables"]["events"].update(rows=40)),
        ["events.parquet: holds 4 rows but dataset.json records 40"],
        id="row-count-differs",
    ),
    pytest.param(
        lambda r: pq.write_table(
            _set_row("value", 3, 99.5)(pq.read_table(r / "telemetry.parquet")), r / "telemetry.parquet"
        ),
        ["telemetry.parquet: checksum differs", "corrupted or was changed"],
        id="table-edited-by-hand",
    ),
    pytest.param(
        lambda r: _replace_with_link(r / "telemetry.parquet", _outside(r) / "secret.parquet"),
        ["telemetry.parquet: a symbolic link that leads outside the dataset folder"],
        id="table-linked-outside",
    ),
    pytest.param(
        lambda r: (r / "telemetry_old.parquet").write_bytes((r / "telemetry.parquet").read_bytes()),
        ["telemetry_old.parquet: not a canonical table", "would be ignored"],
        id="stray-parquet-file",
    ),
    pytest.param(
        lambda r: _table(r, "assets", lambda t: t.slice(0, 0)),
        ["assets.parquet: the dataset has no assets"],
        id="assets-table-empty",
    ),
]

COLUMN_CASES: list[Any] = [
    pytest.param(
        lambda r: _table(r, "telemetry", lambda t: t.drop_columns(["channel"])),
        ["telemetry.parquet", "column 'channel': required column is missing"],
        id="column-missing",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", _column("quality", lambda t: ["good"] * t.num_rows)),
        ["telemetry.parquet", "column 'quality': unknown column"],
        id="column-unknown",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", _column("value", lambda t: [str(v) for v in t.column("value").to_pylist()])),
        ["telemetry.parquet", "column 'value': wrong type: expected float"],
        id="value-as-text",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", _set_row("asset_id", 3, "Z")),
        ["telemetry.parquet", "row 3: unknown asset id 'Z'"],
        id="unknown-asset",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", lambda t: pa.concat_tables([t, t.slice(10, 1)])),
        ["telemetry.parquet", "duplicate key (asset_id='A'"],
        id="duplicate-keys",
    ),
    pytest.param(
        lambda r: _table(r, "events", _column("ts", lambda t: t.column("ts").cast(pa.timestamp("us")))),
        ["events.parquet", "column 'ts': timestamps have no time zone"],
        id="naive-timestamps",
    ),
    pytest.param(
        lambda r: _table(
            r, "events", _column("ts", lambda t: t.column("ts").cast(pa.timestamp("us", tz="Europe/Berlin")))
        ),
        ["events.parquet", "time zone 'Europe/Berlin', not UTC"],
        id="timestamps-not-utc",
    ),
    pytest.param(
        lambda r: _table(r, "events", _column("ts", lambda t: ["2024-01-05T04:00:00"] * t.num_rows)),
        ["events.parquet", "row 0: timestamp '2024-01-05T04:00:00' is not UTC"],
        id="iso-text-without-offset",
    ),
    pytest.param(
        lambda r: _table(r, "events", _column("ts", lambda t: ["2024-01-05T04:00:00Z", "05/01/2024", "x", "y"])),
        ["events.parquet", "column 'ts', row 1: unparseable timestamp '05/01/2024' (and 2 more rows)"],
        id="unparseable-timestamps",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", _set_row("value", 5, float("nan"))),
        ["telemetry.parquet", "column 'value', row 5: value is NaN or infinite"],
        id="nan-value",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", _set_row("asset_id", 2, None, pa.string())),
        ["telemetry.parquet", "column 'asset_id', row 2: missing value (null)"],
        id="null-asset-id",
    ),
    pytest.param(
        lambda r: _table(r, "events", _set_row("severity", 1, "LOUD")),
        ["events.parquet", "row 1: value 'LOUD' is not one of"],
        id="severity-outside-its-set",
    ),
    pytest.param(
        lambda r: _table(r, "maintenance", _column("kind", lambda t: ["preventive", "repair"])),
        ["maintenance.parquet", "value 'repair' is not one of"],
        id="work-order-kind-outside-its-set",
    ),
    pytest.param(
        lambda r: _table(
            r, "maintenance", _column("ts_close", lambda t: pa.array(_stamps(t, "ts_open") - 3_600_000_000, UTC_US))
        ),
        ["maintenance.parquet", "column 'ts_close', row 0: work order closes before it opens"],
        id="work-order-closes-before-opening",
    ),
    pytest.param(
        lambda r: _table(r, "waveforms", _set_row("sample_rate_hz", 2, 0.0)),
        ["waveforms.parquet", "column 'sample_rate_hz', row 2: value must be > 0"],
        id="zero-sample-rate",
    ),
    pytest.param(
        lambda r: _table(r, "waveforms", _set_row("samples", 4, [], pa.list_(pa.float32()))),
        ["waveforms.parquet", "column 'samples', row 4: empty sample list"],
        id="empty-burst",
    ),
    pytest.param(
        lambda r: _table(r, "waveforms", _set_row("samples", 6, [0.5, float("inf")], pa.list_(pa.float32()))),
        ["waveforms.parquet", "column 'samples', row 6: sample list contains NaN or infinite values"],
        id="infinite-sample",
    ),
    pytest.param(
        lambda r: _table(
            r, "telemetry", _column("ts", lambda t: pa.array(_stamps(t) - _stamps(t)[0] + YEAR_1904_US, UTC_US))
        ),
        ["telemetry.parquet", "column 'ts', row 0: timestamp 1904-01-01", "before 1970-01-01", "plausible range"],
        id="timestamps-before-1970",
    ),
    pytest.param(
        lambda r: _table(r, "failures", _column("ts", lambda t: pa.array([EPOCH_MS_AS_S], UTC_US))),
        ["failures.parquet", "column 'ts', row 0: timestamp 55", "a year from now", "wrong epoch unit"],
        id="timestamps-far-in-the-future",
    ),
    pytest.param(
        lambda r: _table(
            r, "events", _column("ts", lambda t: pa.array([2**62] * t.num_rows, pa.timestamp("ms", tz="UTC")))
        ),
        ["events.parquet", "column 'ts': values cannot be converted to timestamp[us, tz=UTC]"],
        id="timestamps-beyond-any-calendar",
    ),
    pytest.param(
        lambda r: _table(
            r, "assets", _column("install_date", lambda t: pa.array([-5_364_662_400_000_000] * 2, UTC_US))
        ),
        ["assets.parquet", "column 'install_date', row 0: timestamp 1800-01-01", "before 1900-01-01"],
        id="install-date-before-1900",
    ),
    pytest.param(
        lambda r: _table(r, "telemetry", _set_row("channel", 7, "vibration_x")),
        ["telemetry.parquet", "row 7: undeclared telemetry channel 'vibration_x'", "declares pres, temp"],
        id="undeclared-telemetry-channel",
    ),
    pytest.param(
        lambda r: _table(r, "waveforms", _column("channel", lambda t: ["temp"] * t.num_rows)),
        ["waveforms.parquet", "undeclared waveform channel 'temp'", "'temp' as a telemetry channel"],
        id="waveform-under-a-telemetry-channel",
    ),
]

BLOB_CASES: list[Any] = [
    pytest.param(
        lambda r: (r / "frames" / "A" / "003.png").unlink(),
        ["frames.parquet: column 'path', row 3: missing blob file 'frames/A/003.png'"],
        id="frame-missing",
    ),
    pytest.param(
        lambda r: _table(r, "frames", _set_row("path", 1, "../outside/secret.png")),
        ["frames.parquet", "row 1: blob path must be relative to the dataset folder", "'../outside/secret.png'"],
        id="frame-path-climbs-out",
    ),
    pytest.param(
        lambda r: _table(r, "frames", _set_row("path", 2, "/etc/passwd")),
        ["frames.parquet", "row 2: blob path must be relative", "'/etc/passwd'"],
        id="frame-path-absolute",
    ),
    pytest.param(
        lambda r: _replace_with_link(r / "frames" / "A" / "004.png", Path("/etc/passwd")),
        ["frames.parquet", "row 4: blob file 'frames/A/004.png' leads outside the dataset folder"],
        id="frame-linked-outside",
    ),
    pytest.param(
        lambda r: _replace_with_link(r / "frames" / "A", _outside(r)),
        ["frames.parquet", "row 0: blob file 'frames/A/000.png' leads outside", "(and 19 more rows)"],
        id="frame-folder-linked-outside",
    ),
    pytest.param(
        lambda r: (r / "frames" / "A" / "005.png").write_text("id,temp\n1,20\n"),
        ["frames.parquet", "row 5: blob file 'frames/A/005.png' is not a readable image", "PNG"],
        id="frame-not-an-image",
    ),
    pytest.param(
        lambda r: (r / "frames" / "A" / "006.png").write_bytes(b""),
        ["frames.parquet", "row 6: blob file 'frames/A/006.png' is not a readable image"],
        id="frame-empty-file",
    ),
    pytest.param(
        lambda r: (r / "frames" / "A" / "007.png").write_bytes(_png_header(100_000, 100_000)),
        ["frames.parquet", "row 7: blob file 'frames/A/007.png' is not a readable image", "decompression bomb"],
        id="frame-decompression-bomb",
    ),
    pytest.param(
        lambda r: (r / "frames" / "A" / "008.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"),
        ["frames.parquet", "row 8: blob file 'frames/A/008.png' is not a readable image"],
        id="frame-postscript",
    ),
]


@pytest.mark.parametrize(("breaker", "fragments"), MANIFEST_CASES + FILE_CASES + COLUMN_CASES + BLOB_CASES)
def test_validate_refuses(tiny_dataset: Dataset, breaker: Breaker, fragments: list[str]) -> None:
    root = tiny_dataset.path
    breaker(root)
    before = Snapshot.of(root.parent)
    assert_refused(run_cli("validate", root), before, *fragments)


def test_truncated_table_without_checksums_is_unreadable(tiny_dataset: Dataset) -> None:
    root = tiny_dataset.path
    (root / "telemetry.parquet").write_bytes((root / "telemetry.parquet").read_bytes()[:700])
    before = Snapshot.of(root.parent)
    assert_refused(
        run_cli("validate", root, "--no-checksums"), before, "telemetry.parquet: not a readable Parquet file"
    )


def test_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    (tmp_path / "plant.csv").write_text("ts,temp\n")
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("validate", tmp_path / "plant.csv"), before, "plant.csv: not a dataset")


def test_problems_of_every_table_are_reported_together(tiny_dataset: Dataset) -> None:
    root = tiny_dataset.path
    _table(root, "telemetry", _set_row("value", 5, float("nan")))
    _table(root, "events", _set_row("severity", 1, "LOUD"))
    (root / "frames" / "A" / "003.png").unlink()
    before = Snapshot.of(root.parent)
    line = assert_refused(
        run_cli("validate", root),
        before,
        "telemetry.parquet: column 'value', row 5: value is NaN",
        "; ",
        "frames.parquet: column 'path', row 3: missing blob file",
        "events.parquet: column 'severity', row 1: value 'LOUD'",
    )
    assert line.index("telemetry.parquet") < line.index("frames.parquet") < line.index("events.parquet")


def test_many_problems_are_capped_and_counted(tiny_dataset: Dataset) -> None:
    root = tiny_dataset.path
    for name in ("telemetry", "waveforms", "frames", "events", "maintenance", "failures"):
        _table(root, name, lambda t: t.append_column("note", pa.array(["x"] * t.num_rows)).drop_columns(["asset_id"]))
    before = Snapshot.of(root.parent)
    line = assert_refused(run_cli("validate", root), before, "; and 4 more problems")
    assert line.count("unknown column") + line.count("required column is missing") == 8
