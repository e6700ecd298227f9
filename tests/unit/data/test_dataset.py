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
from omnimaint.data.manifest import MANIFEST_FILE
from omnimaint.errors import DatasetError
from tests.unit.data.tiny import hours, tiny_manifest, tiny_tables


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
