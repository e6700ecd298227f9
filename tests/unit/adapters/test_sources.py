"""The shared source readers: chunking, file/line/column errors, time parsing into UTC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.adapters.clock import SYNTHETIC_EPOCH, parse_times, synthetic_times
from omnimaint.adapters.sources import (
    TableChunk,
    count_records,
    integer_values,
    numeric_values,
    read_table_chunks,
    read_whole_table,
    text_values,
)
from omnimaint.errors import ConfigError, DatasetError


def test_chunks_keep_file_positions_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n2,y\n\n3,z\n4,w\n")
    chunks = list(read_table_chunks(path, required=["a", "b"], chunk_rows=2))
    assert [list(c.frame["a"]) for c in chunks] == [[1, 2], [3], [4]]
    assert chunks[1].where(int(chunks[1].frame.index[0]), "b") == f"{path}: line 5, column 2 ('b')"
    assert count_records(path) == 5  # the blank line counts as a record line; the header does not


def test_missing_column_names_file_and_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,c\n1,2\n")
    with pytest.raises(DatasetError, match=r"t\.csv: line 1: missing column\(s\) \['b'\]"):
        list(read_table_chunks(path, required=["a", "b"]))


def test_non_numeric_value_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,oops\n5,x\n")
    chunk = read_whole_table(path, required=["a", "b"])
    np.testing.assert_array_equal(numeric_values(chunk, "a"), [1.0, 3.0, 5.0])
    with pytest.raises(DatasetError, match=r"t\.csv: line 3, column 2 \('b'\): not a number: 'oops' \(and 1 more"):
        numeric_values(chunk, "b")


def test_truncated_line_is_a_missing_value(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4,5")
    chunk = read_whole_table(path, required=["a", "b", "c"])
    with pytest.raises(DatasetError, match=r"line 3, column 3 \('c'\): missing value .*truncated"):
        numeric_values(chunk, "c")


def test_too_many_fields_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DatasetError, match=r"t\.csv: malformed CSV: .*line 3"):
        list(read_table_chunks(path, required=["a", "b"]))


def test_integers_and_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,n\n007,1\n008,2.5\n")
    chunk = read_whole_table(path, required=["id", "n"], text_columns=["id"])
    assert list(text_values(chunk, "id")) == ["007", "008"]
    with pytest.raises(DatasetError, match=r"line 3, column 2 \('n'\): not an integer: 2.5"):
        integer_values(chunk, "n")


def test_undecodable_file_names_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="not valid utf-8"):
        list(read_table_chunks(path, required=["a"]))
    chunk = read_whole_table(path, required=["a"], encoding="latin-1")
    assert list(text_values(chunk, "b")) == ["café"]


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": ["1", "2", "bad"]}).to_parquet(path)
    chunk = next(read_table_chunks(path, required=["a"]))
    with pytest.raises(DatasetError, match=r"t\.parquet: row 2, column 1 \('a'\): not a number: 'bad'"):
        numeric_values(chunk, "a")


def _time_chunk(tmp_path: Path, values: list[str]) -> TableChunk:
    path = tmp_path / "times.csv"
    path.write_text("t\n" + "\n".join(values) + "\n")
    return read_whole_table(path, required=["t"], text_columns=["t"])


def test_naive_times_are_utc_by_default_and_converted_from_a_zone(tmp_path: Path) -> None:
    chunk = _time_chunk(tmp_path, ["2015-01-01 06:00:00", "2015-07-01 06:00:00"])
    utc = parse_times(chunk, "t", formats=["%Y-%m-%d %H:%M:%S"])
    assert list(utc) == [pd.Timestamp("2015-01-01T06:00Z"), pd.Timestamp("2015-07-01T06:00Z")]
    berlin = parse_times(chunk, "t", formats=["%Y-%m-%d %H:%M:%S"], timezone="Europe/Berlin")
    assert list(berlin) == [pd.Timestamp("2015-01-01T05:00Z"), pd.Timestamp("2015-07-01T04:00Z")]  # CET, CEST


def test_times_with_offsets_and_alternative_formats(tmp_path: Path) -> None:
    chunk = _time_chunk(tmp_path, ["2015-01-01T06:00:00+02:00", "1/2/2015 6:00:00 PM"])
    times = parse_times(chunk, "t", formats=["%Y-%m-%d %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "ISO8601"])
    assert list(times) == [pd.Timestamp("2015-01-01T04:00Z"), pd.Timestamp("2015-01-02T18:00Z")]


def test_unparseable_and_ambiguous_times_name_the_line(tmp_path: Path) -> None:
    chunk = _time_chunk(tmp_path, ["2015-01-01 06:00:00", "2015-13-01 06:00:00"])
    with pytest.raises(DatasetError, match=r"line 3, column 1 \('t'\): unparseable time '2015-13-01 06:00:00'"):
        parse_times(chunk, "t", formats=["%Y-%m-%d %H:%M:%S"])
    dst = _time_chunk(tmp_path, ["2015-10-25 02:30:00"])  # the hour Berlin repeats when summer time ends
    with pytest.raises(DatasetError, match=r"line 2.*ambiguous or does not exist in Europe/Berlin"):
        parse_times(dst, "t", timezone="Europe/Berlin")


def test_unknown_timezone_is_a_config_error(tmp_path: Path) -> None:
    chunk = _time_chunk(tmp_path, ["2015-01-01 06:00:00"])
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        parse_times(chunk, "t", timezone="Mars/Olympus")


def test_epoch_numbers(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("t\n0\n3600\n")
    times = parse_times(read_whole_table(path, required=["t"]), "t", unit="s")
    assert list(times) == [pd.Timestamp("1970-01-01T00:00Z"), pd.Timestamp("1970-01-01T01:00Z")]


def test_synthetic_clock() -> None:
    assert pd.Timestamp("2000-01-01T00:00Z") == SYNTHETIC_EPOCH
    assert list(synthetic_times(np.array([0, 2]), "h")) == [SYNTHETIC_EPOCH, SYNTHETIC_EPOCH + pd.Timedelta(hours=2)]
