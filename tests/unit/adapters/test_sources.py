"""The shared source readers: chunking, file/line/column errors, time parsing into UTC."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.adapters.clock import SYNTHETIC_EPOCH, parse_times, synthetic_times
from omnimaint.adapters.csv_text import check_encoding
from omnimaint.adapters.sources import (
    TableChunk,
    count_records,
    integer_values,
    numeric_values,
    path_segment,
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


def test_short_line_is_a_missing_value_unless_the_file_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n")
    chunk = read_whole_table(path, required=["a", "b", "c"])
    with pytest.raises(DatasetError, match=r"line 3, column 3 \('c'\): missing value .*truncated"):
        numeric_values(chunk, "c")
    path.write_text("a,b,c\n1,2,3\n4,5")
    with pytest.raises(DatasetError, match=r"t\.csv: line 3: 2 of 3 fields and no line break at the end"):
        read_whole_table(path, required=["a", "b", "c"])


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a,b\n1,2\n3,4,5\n", 3),
        ("a,b\n1,2,3\n4,5\n", 2),  # pandas would take column a as the index and shift b into a
        ("a,b\n" + "1,2\n" * 5 + "3,4,5\n", 7),  # pandas' chunked reader would drop the 5 silently
    ],
)
def test_too_many_fields_is_reported_with_its_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    for columns in (None, ["a"]):
        with pytest.raises(DatasetError, match=rf"t\.csv: line {line}: 3 fields, but the header has 2"):
            list(read_table_chunks(path, required=["a", "b"], columns=columns, chunk_rows=2))


def test_trailing_delimiters_are_accepted_and_nul_bytes_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2,\n3,4,\n")
    chunk = read_whole_table(path, required=["a", "b"])
    assert chunk.frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    path.write_bytes(b"a,b\n1,2\n3,\x004\n")
    with pytest.raises(DatasetError, match=r"t\.csv: line 3: holds a NUL byte"):
        read_whole_table(path, required=["a", "b"])


def test_unclosed_quote_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n3,"4\n5,6\n')
    with pytest.raises(DatasetError, match=r"t\.csv: line 3: a quoted field is never closed"):
        read_whole_table(path, required=["a", "b"])


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
    with pytest.raises(DatasetError, match=r"t\.csv: line 2: byte\(s\) e9 at character 6 are not valid utf-8-sig"):
        list(read_table_chunks(path, required=["a"]))
    chunk = read_whole_table(path, required=["a"], encoding="latin-1")
    assert list(text_values(chunk, "b")) == ["café"]


@pytest.mark.parametrize("bad_line", [3, 5_000])
def test_undecodable_byte_is_named_by_its_real_line(tmp_path: Path, bad_line: int) -> None:
    """Line 3 fails while pandas reads the header's block, line 5,000 in a later chunk: both name the line."""
    path = tmp_path / "t.csv"
    lines = ["a,b"] + [f"{i},x" for i in range(2, 6_000)]
    lines[bad_line - 1] = f"{bad_line},\udce9t\udce9"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    with pytest.raises(
        DatasetError, match=rf"t\.csv: line {bad_line}: byte\(s\) e9 at character {len(str(bad_line)) + 2} "
    ):
        list(read_table_chunks(path, required=["a"], chunk_rows=100))


def test_truncated_multibyte_file_and_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n1,é\n".encode("utf-16")[:-1])
    with pytest.raises(DatasetError, match=r"line 2: the file ends inside a utf-16 character"):
        list(read_table_chunks(path, required=["a"], encoding="utf-16"))
    for name in ("klingon", "base64", "rot13"):
        with pytest.raises(ConfigError, match=f"unknown text encoding '{name}'"):
            list(read_table_chunks(path, required=["a"], encoding=name))
    assert check_encoding("cp1252") == "cp1252"


def test_special_files_are_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="a folder"):
        list(read_table_chunks(tmp_path, required=["a"]))
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match=r"fifo\.csv: not a regular file"):
        list(read_table_chunks(fifo, required=["a"]))


def test_damaged_parquet_footer_is_a_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(path)
    data = bytearray(path.read_bytes())
    pandas_json = data.index(b'"pandas_version"')
    data[pandas_json + 3] ^= 0x80  # the pandas metadata is no longer UTF-8 JSON: ignored, not fatal
    path.write_bytes(bytes(data))
    assert list(next(read_table_chunks(path, required=["a"])).frame["a"]) == [1.0, 2.0]
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(DatasetError, match=r"t\.parquet: not a readable Parquet file"):
        list(read_table_chunks(path, required=["a"]))


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


@pytest.mark.parametrize(
    ("name", "segment"),
    [("P1", "P1"), ("line/1", "line_1"), ("..", "_.."), ("", "_"), ("a\\b:c", "a_b_c"), ("x" * 300, "x" * 40)],
)
def test_names_become_safe_path_segments(name: str, segment: str) -> None:
    assert path_segment(name) == segment
