"""Dataset read/write: round trip, atomic writes, and precise errors for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from omnimaint.data import Dataset, DatasetWriter, validate_dataset, write_dataset
from omnimaint.data.dataset import file_sha256
from omnimaint.data.frame_store import FrameStore
from omnimaint.data.manifest import MANIFEST_FILE
from omnimaint.errors import DatasetError
from tests.unit.data.tiny import hours, png_bytes, tiny_manifest, tiny_tables


def test_round_trip_keeps_rows_types_and_order(tiny_dataset: Dataset) -> None:
    tables, _ = tiny_tables()
    telemetry = tiny_dataset.table("telemetry")
    assert len(telemetry) == len(tables["telemetry"])
    assert str(telemetry["ts"].dt.tz) == "UTC"
    keys = list(zip(telemetry["asset_id"], telemetry["ts"], telemetry["channel"], strict=True))
    assert keys == sorted(keys)
    waveforms = tiny_dataset.table("waveforms")
    assert waveforms["samples"].iloc[3].dtype == np.float32
    np.testing.assert_array_equal(waveforms["samples"].iloc[3], np.full(100, 3, dtype=np.float32))
    assert tiny_dataset.manifest.tables["telemetry"].rows == len(tables["telemetry"])
    assert validate_dataset(tiny_dataset.path).asset_ids == {"A", "B"}


def test_unsorted_input_is_sorted_not_rejected(tmp_path: Path) -> None:
    tables, blobs = tiny_tables()
    tables["telemetry"] = tables["telemetry"].sample(frac=1.0, random_state=3)
    dataset = write_dataset(tmp_path / "d", tiny_manifest(), tables, blobs=blobs)
    telemetry = dataset.table("telemetry")
    keys = list(zip(telemetry["asset_id"], telemetry["ts"], telemetry["channel"], strict=True))
    assert keys == sorted(keys)


def test_missing_table_reads_as_empty(tmp_path: Path) -> None:
    tables, _ = tiny_tables()
    dataset = write_dataset(tmp_path / "d", tiny_manifest(), {"assets": tables["assets"]})
    assert dataset.table("frames").empty
    assert list(dataset.table("frames").columns) == ["asset_id", "ts", "camera", "path"]


def _write_error(tmp_path: Path, table: str, rows: pd.DataFrame) -> str:
    tables, blobs = tiny_tables()
    tables[table] = rows
    with pytest.raises(DatasetError) as info:
        write_dataset(tmp_path / "bad", tiny_manifest(), tables, blobs=blobs)
    assert not (tmp_path / "bad").exists(), "a failed write must leave nothing behind"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")], "staging folder must be removed"
    return str(info.value)


@pytest.mark.parametrize(
    ("table", "mutate", "expected"),
    [
        (
            "telemetry",
            lambda t: t.assign(value=t["value"].where(t.index != 5, np.nan)),
            "column 'value', row 5: value is NaN",
        ),
        (
            "telemetry",
            lambda t: t.assign(value=t["value"].where(t.index != 7, np.inf)),
            "row 7: value is NaN or infinite",
        ),
        (
            "telemetry",
            lambda t: t.assign(asset_id=t["asset_id"].where(t.index != 3, "Z")),
            "row 3: unknown asset id 'Z'",
        ),
        ("telemetry", lambda t: pd.concat([t, t.iloc[[10]]], ignore_index=True), "duplicate key (asset_id='A'"),
        ("telemetry", lambda t: t.assign(value=t["value"].astype(str)), "column 'value': wrong type"),
        ("telemetry", lambda t: t.drop(columns=["channel"]), "column 'channel': required column is missing"),
        ("telemetry", lambda t: t.assign(extra=1), "column 'extra': unknown column"),
        (
            "telemetry",
            lambda t: t.assign(ts=t["ts"].dt.tz_convert("Europe/Berlin")),
            "time zone 'Europe/Berlin', not UTC",
        ),
        ("telemetry", lambda t: t.assign(ts=t["ts"].dt.tz_localize(None)), "timestamps have no time zone"),
        (
            "telemetry",
            lambda t: t.assign(ts=t["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(t.index != 4, "2024-13-01")),
            "column 'ts', row 4: unparseable timestamp '2024-13-01'",
        ),
        (
            "telemetry",
            lambda t: t.assign(ts=t["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S+02:00")),
            "row 0: timestamp '2024-01-01T00:00:00+02:00' is not UTC",
        ),
        ("events", lambda t: t.assign(severity=["info", "loud", "info", "info"]), "row 1: value 'loud' is not one of"),
        (
            "maintenance",
            lambda t: t.assign(ts_close=[hours(30), hours(160)]),
            "column 'ts_close', row 0: work order closes before it opens",
        ),
        (
            "frames",
            lambda t: t.assign(path=t["path"].where(t.index != 2, "frames/A/nope.png")),
            "row 2: missing blob file 'frames/A/nope.png'",
        ),
        (
            "frames",
            lambda t: t.assign(path=t["path"].where(t.index != 1, "../escape.png")),
            "row 1: blob path must be relative",
        ),
        (
            "waveforms",
            lambda t: t.assign(samples=[s if i != 2 else np.array([1.0, np.nan]) for i, s in enumerate(t["samples"])]),
            "column 'samples', row 2: sample list contains NaN",
        ),
        ("waveforms", lambda t: t.assign(sample_rate_hz=0.0), "value must be > 0"),
    ],
)
def test_bad_input_is_named_precisely_and_nothing_is_written(
    tmp_path: Path, table: str, mutate: object, expected: str
) -> None:
    tables, _ = tiny_tables()
    message = _write_error(tmp_path, table, mutate(tables[table]))  # type: ignore[operator]
    assert f"{table}.parquet" in message
    assert expected in message


def test_crash_mid_write_leaves_no_dataset(tmp_path: Path) -> None:
    tables, _ = tiny_tables()
    with pytest.raises(RuntimeError), DatasetWriter(tmp_path / "d", tiny_manifest()) as writer:
        writer.append("assets", tables["assets"])
        writer.append("telemetry", tables["telemetry"].iloc[:100])
        raise RuntimeError("power cut")
    assert list(tmp_path.iterdir()) == []


def test_duplicate_keys_across_chunks_are_caught_at_commit(tmp_path: Path) -> None:
    tables, _ = tiny_tables()
    with pytest.raises(DatasetError, match="duplicate key"), DatasetWriter(tmp_path / "d", tiny_manifest()) as writer:
        writer.append("assets", tables["assets"])
        writer.append("telemetry", tables["telemetry"].iloc[:100])
        writer.append("telemetry", tables["telemetry"].iloc[50:150])
    assert not (tmp_path / "d").exists()


def test_overwrite_replaces_atomically(tiny_dataset: Dataset) -> None:
    tables, blobs = tiny_tables()
    with pytest.raises(DatasetError, match="already exists"):
        write_dataset(tiny_dataset.path, tiny_manifest(), tables, blobs=blobs)
    smaller = {"assets": tables["assets"], "telemetry": tables["telemetry"].iloc[:10]}
    replaced = write_dataset(tiny_dataset.path, tiny_manifest(), smaller, overwrite=True)
    assert len(replaced.table("telemetry")) == 10
    assert not (tiny_dataset.path / "frames").exists()


def test_corrupted_table_file_is_reported(tiny_dataset: Dataset) -> None:
    (tiny_dataset.path / "events.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetError, match=r"events\.parquet: checksum differs"):
        validate_dataset(tiny_dataset.path)
    with pytest.raises(DatasetError, match=r"events\.parquet: not a readable Parquet file"):
        validate_dataset(tiny_dataset.path, checksums=False)


def test_truncated_table_is_reported_by_row_count(tiny_dataset: Dataset) -> None:
    path = tiny_dataset.path / "telemetry.parquet"
    pq.write_table(pq.read_table(path).slice(0, 20), path)
    with pytest.raises(DatasetError, match=r"holds 20 rows but dataset.json records"):
        Dataset(tiny_dataset.path).arrow("telemetry")


def test_hand_edited_file_with_bad_rows_is_reported_on_load(tiny_dataset: Dataset) -> None:
    path = tiny_dataset.path / "telemetry.parquet"
    table = pq.read_table(path)
    values = table.column("value").to_numpy().copy()
    values[11] = np.nan
    pq.write_table(table.set_column(3, "value", pa.array(values)), path)
    manifest = json.loads((tiny_dataset.path / MANIFEST_FILE).read_text())
    manifest["tables"]["telemetry"]["sha256"] = None
    (tiny_dataset.path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"telemetry\.parquet: column 'value', row 11: value is NaN"):
        Dataset(tiny_dataset.path).arrow("telemetry")


def test_unknown_schema_version_is_refused(tiny_dataset: Dataset) -> None:
    manifest = json.loads((tiny_dataset.path / MANIFEST_FILE).read_text())
    manifest["schema_version"] = 99
    (tiny_dataset.path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"field 'schema_version': .*unknown schema version 99"):
        Dataset(tiny_dataset.path)


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a dataset"):
        Dataset(tmp_path)


def _record(root: Path, name: str) -> None:
    """Record a rewritten table's row count and checksum, as a writer would have."""
    manifest = json.loads((root / MANIFEST_FILE).read_text())
    file = root / f"{name}.parquet"
    manifest["tables"][name] = {"rows": pq.ParquetFile(file).metadata.num_rows, "sha256": file_sha256(file)}
    (root / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_reading_refuses_a_manifest_with_an_unknown_table(tiny_dataset: Dataset) -> None:
    manifest = json.loads((tiny_dataset.path / MANIFEST_FILE).read_text())
    manifest["tables"]["vibration"] = {"rows": 3}
    (tiny_dataset.path / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"dataset\.json: field 'tables': unknown table 'vibration'"):
        Dataset(tiny_dataset.path)


def test_reading_refuses_a_recorded_table_that_is_gone(tiny_dataset: Dataset) -> None:
    (tiny_dataset.path / "failures.parquet").unlink()
    with pytest.raises(DatasetError, match=r"failures\.parquet: recorded in dataset\.json but missing"):
        Dataset(tiny_dataset.path).arrow("failures")


def test_reading_never_follows_a_table_link_out_of_the_folder(tiny_dataset: Dataset, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.parquet"
    (tiny_dataset.path / "events.parquet").rename(outside)
    (tiny_dataset.path / "events.parquet").symlink_to(outside)
    with pytest.raises(DatasetError, match=r"events\.parquet: a symbolic link that leads outside"):
        Dataset(tiny_dataset.path).arrow("events")
    with pytest.raises(DatasetError, match=r"events\.parquet: a symbolic link that leads outside"):
        Dataset(tiny_dataset.path).arrow("events", columns=["asset_id"])


def test_links_inside_the_folder_are_followed(tiny_dataset: Dataset, tmp_path: Path) -> None:
    frame = tiny_dataset.path / "frames" / "A" / "001.png"
    frame.unlink()
    frame.symlink_to("000.png")
    (tiny_dataset.path / "telemetry.parquet").rename(tiny_dataset.path / "frames" / "telemetry-data")
    (tiny_dataset.path / "telemetry.parquet").symlink_to("frames/telemetry-data")
    linked_folder = tmp_path / "plant-link"
    linked_folder.symlink_to(tiny_dataset.path)
    dataset = validate_dataset(linked_folder)
    assert dataset.frame_file("frames/A/001.png") == (tiny_dataset.path / "frames" / "A" / "000.png").resolve()
    assert len(dataset.table("telemetry")) == 600


@pytest.mark.parametrize("path", ["../escape.png", "/etc/passwd", "frames/../../escape.png", "", "a\x00b"])
def test_frame_paths_out_of_the_folder_are_never_opened(tiny_dataset: Dataset, path: str) -> None:
    with pytest.raises(DatasetError, match="leads outside the dataset folder"):
        tiny_dataset.frame_file(path)
    with pytest.raises(DatasetError, match="leads outside the dataset folder"):
        FrameStore(tiny_dataset.path, size=8).load(path)


def test_frame_store_refuses_a_linked_frame_and_formats_outside_its_list(tiny_dataset: Dataset, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(7))
    linked = tiny_dataset.path / "frames" / "A" / "002.png"
    linked.unlink()
    linked.symlink_to(secret)
    store = FrameStore(tiny_dataset.path, size=8)
    with pytest.raises(DatasetError, match=r"'frames/A/002\.png' leads outside the dataset folder"):
        store.load("frames/A/002.png")
    (tiny_dataset.path / "frames" / "A" / "003.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n")
    with pytest.raises(DatasetError, match=r"003\.png: not a readable image"):
        store.load("frames/A/003.png")
    assert store.load("frames/A/004.png").shape == (8, 8, 3)


def test_reading_a_file_that_lacks_a_required_column_names_the_column(tiny_dataset: Dataset) -> None:
    path = tiny_dataset.path / "maintenance.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["kind"]), path)
    _record(tiny_dataset.path, "maintenance")
    with pytest.raises(DatasetError, match=r"maintenance\.parquet: column 'kind': required column is missing"):
        Dataset(tiny_dataset.path).arrow("maintenance", columns=["asset_id", "ts_open", "kind"])


def test_nanosecond_and_integer_columns_are_accepted(tiny_dataset: Dataset) -> None:
    path = tiny_dataset.path / "telemetry.parquet"
    table = pq.read_table(path)
    nanoseconds = table.column("ts").cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy() + 7
    table = table.set_column(1, "ts", pa.array(nanoseconds, pa.timestamp("ns", tz="UTC")))
    table = table.set_column(3, "value", pa.array(np.arange(table.num_rows, dtype=np.int64) + 2**60))
    pq.write_table(table, path)
    _record(tiny_dataset.path, "telemetry")
    telemetry = validate_dataset(tiny_dataset.path).table("telemetry")
    assert telemetry["ts"].iloc[0] == hours(0)
    assert telemetry["value"].iloc[0] == float(2**60)


def test_validate_reports_every_table_and_reading_only_the_one_read(tiny_dataset: Dataset) -> None:
    for name, column, value in (("telemetry", "channel", "vib"), ("failures", "fault_type", None)):
        path = tiny_dataset.path / f"{name}.parquet"
        table = pq.read_table(path)
        values = table.column(column).to_pylist()
        values[0] = value
        pq.write_table(table.set_column(table.column_names.index(column), column, pa.array(values, pa.string())), path)
        _record(tiny_dataset.path, name)
    with pytest.raises(DatasetError) as info:
        validate_dataset(tiny_dataset.path)
    message = str(info.value)
    assert "telemetry.parquet: column 'channel', row 0: undeclared telemetry channel 'vib'" in message
    assert "; " in message and "failures.parquet: column 'fault_type', row 0: missing value (null)" in message
    # Reading needs no channel declaration (windows use what is there); it checks what it reads.
    assert len(Dataset(tiny_dataset.path).table("telemetry")) == 600
    with pytest.raises(DatasetError, match=r"failures\.parquet: column 'fault_type', row 0: missing value"):
        Dataset(tiny_dataset.path).table("failures")


@pytest.mark.parametrize("relative", ["../escape.png", "frames/../../escape.png", "/tmp/escape.png", ""])
def test_a_writer_never_writes_a_blob_outside_the_dataset(tmp_path: Path, relative: str) -> None:
    with (
        pytest.raises(DatasetError, match="not a plain path inside the dataset"),
        DatasetWriter(tmp_path / "ds", tiny_manifest()) as writer,
    ):
        writer.blob_path(relative)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
