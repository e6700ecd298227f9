"""Reading publishers' tables (CSV, Parquet) in chunks, with errors that point at file, line and column.

Every adapter reads its source through :func:`read_table_chunks`, which yields :class:`TableChunk`
objects: a pandas frame whose index is each record's position in the file, plus what is needed to
turn a position back into a line (CSV) or row (Parquet) and a column name into its 1-based column
number. The value checks (:func:`require_values`, :func:`numeric_values`, :func:`integer_values`)
raise a :class:`~omnimaint.errors.DatasetError` such as::

    data/PdM_telemetry.csv: line 5, column 3 ('volt'): not a number: 'abc'

CSV line numbers assume one record per line (no line breaks inside quoted fields), which holds for
every format the adapters read with this module. Before pandas parses a CSV file, one pass of the ``csv``
module checks its shape (no record longer than the header, no NUL byte, no cut-off last line), and a byte
that is not valid in the file's encoding is named by its real line (:mod:`omnimaint.adapters.csv_text`);
pandas alone would shift, cut or drop such fields without a word. No message quotes more of a file than
the value at fault.
"""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from omnimaint.adapters.csv_text import (
    check_encoding,
    check_field_counts,
    decoding_error,
    malformed_csv,
    one_line_reason,
)
from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)

CHUNK_ROWS = 200_000
"""Records per chunk when streaming a large table (bounded memory whatever the file size)."""

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class TableChunk:
    """Consecutive records of a source table.

    Attributes:
        path: The source file.
        frame: The records; the index is each record's 0-based position among the file's records.
        header: Column names in file order (column numbers in errors are 1-based positions in it).
        first_data_line: Line of record 0 (2 for CSV with one header line); ``None`` for files without
            lines (Parquet), whose errors name the 0-based row instead.
    """

    path: Path
    frame: pd.DataFrame
    header: tuple[str, ...]
    first_data_line: int | None = 2

    def __len__(self) -> int:
        return len(self.frame)

    def subset(self, mask: np.ndarray) -> TableChunk:
        """The records flagged in ``mask`` (positional), keeping their positions for error messages."""
        return TableChunk(self.path, self.frame.loc[np.asarray(mask, dtype=bool)], self.header, self.first_data_line)

    def where(self, position: int, column: str | None = None) -> str:
        """``'<file>: line 17, column 3 ('volt')'`` for a record position and column."""
        lines = self.first_data_line
        place = f"line {position + lines}" if lines is not None else f"row {position}"
        if column is not None:
            number = f"column {self.header.index(column) + 1} " if column in self.header else "column "
            place += f", {number}('{column}')"
        return f"{self.path}: {place}"

    def fail_where(self, mask: np.ndarray | pd.Series, column: str | None, message: str) -> None:
        """Raise at the first flagged record, if any.

        Args:
            mask: One flag per record of the chunk (positional).
            column: The column at fault, or ``None`` for the whole record.
            message: What is wrong; ``{value}`` is replaced by the repr of the record's raw value in ``column``.

        Raises:
            DatasetError: naming the file, line (or row), column, the problem and how many more records share it.
        """
        flags = np.asarray(mask, dtype=bool)
        if not flags.any():
            return
        first = int(np.flatnonzero(flags)[0])
        count = int(flags.sum())
        position = int(self.frame.index[first])
        if column is not None and "{value}" in message:
            message = message.replace("{value}", repr(_as_python(self.frame[column].iloc[first])))
        more = f" (and {count - 1} more records in this part of the file)" if count > 1 else ""
        raise DatasetError(f"{self.where(position, column)}: {message}{more}")


def _as_python(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def check_header(path: Path, header: Sequence[str], required: Sequence[str]) -> None:
    """Raise naming the file when a required column is missing from its header."""
    missing = [name for name in required if name not in header]
    if missing:
        raise DatasetError(
            f"{path}: line 1: missing column(s) {missing}; the header has {list(header)} "
            f"(expected at least {list(required)})"
        )


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a regular file (or a link to one), else raise naming it and what it should hold.

    A folder, FIFO or device (``/dev/zero``) is refused before anything reads it.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found ({what})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be opened ({exc.strerror}; expected {what})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise DatasetError(f"{path}: {kind} (expected {what})")
    return path


_UNSAFE_NAME_CHARACTERS = re.compile(r"[^\w.=+-]")


def path_segment(name: str, limit: int = 40) -> str:
    """A name taken from a source or flag (asset id, camera, file name) as one safe folder or file name.

    Blob paths inside a dataset are built from such names; ``line/1``, ``..`` or a 300-character id must
    neither leave the dataset folder nor exceed the file system's 255-byte name limit. The tables keep the original
    name; only the blob path uses this one.
    """
    segment = _UNSAFE_NAME_CHARACTERS.sub("_", name)[:limit]
    return "_" + segment if segment.strip(".") == "" else segment


def count_records(path: Path) -> int:
    """Number of data records: lines minus the header for CSV (fast byte count), rows for Parquet."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return int(_open_parquet(path).metadata.num_rows)
    lines = 0
    last = b"\n"
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines += block.count(b"\n")
                last = block[-1:]
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from None
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def read_table_chunks(
    path: Path,
    *,
    required: Sequence[str],
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    chunk_rows: int = CHUNK_ROWS,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
    decimal: str = ".",
) -> Iterator[TableChunk]:
    """Stream a CSV or Parquet table in chunks of at most ``chunk_rows`` records.

    Blank lines and records whose fields are all empty are skipped (they keep their line numbers).

    Args:
        path: ``.csv`` (or any delimited text) or ``.parquet`` file.
        required: Columns the header must have.
        columns: Read only these columns (``None``: all); line and column numbers still refer to the file.
        text_columns: Columns to keep as text even when they look numeric (ids such as ``"001"``).
        chunk_rows: Records per chunk.
        encoding: Text encoding of a CSV file (``utf-8-sig`` also accepts a byte-order mark).
        delimiter: CSV field separator.
        decimal: CSV decimal mark.

    Yields:
        The file's records, chunk by chunk, in file order.

    Raises:
        DatasetError: if the file is missing, unreadable, not decodable, malformed, or lacks a required column.
        ConfigError: if ``encoding`` is not a known text encoding.
    """
    require_file(path, "source table")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        yield from _parquet_chunks(path, required=required, columns=columns, chunk_rows=chunk_rows)
        return
    check_encoding(encoding)
    try:
        header = tuple(str(name) for name in pd.read_csv(path, nrows=0, encoding=encoding, sep=delimiter).columns)
    except pd.errors.EmptyDataError as exc:
        raise DatasetError(f"{path}: empty file (expected a header line with {list(required)})") from exc
    except UnicodeDecodeError as exc:
        raise decoding_error(path, encoding, exc) from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise malformed_csv(path, exc, "line 1: cannot read the CSV header") from exc
    check_header(path, header, required)
    check_field_counts(path, len(header), encoding=encoding, delimiter=delimiter)
    try:
        reader = pd.read_csv(
            path,
            chunksize=chunk_rows,
            index_col=False,  # never take a first column as the index (pandas does when row 1 is one field longer)
            skip_blank_lines=False,
            decimal=decimal,
            usecols=list(columns) if columns is not None else None,
            dtype=dict.fromkeys(text_columns, "string") or None,
            encoding=encoding,
            sep=delimiter,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise malformed_csv(path, exc) from exc
    with reader:
        try:
            for frame in reader:
                blank = frame.isna().all(axis=1).to_numpy()
                yield TableChunk(path, frame.loc[~blank] if blank.any() else frame, header)
        except UnicodeDecodeError as exc:
            raise decoding_error(path, encoding, exc) from exc
        except OSError as exc:
            raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from exc
        except (pd.errors.ParserError, ValueError) as exc:
            raise malformed_csv(path, exc) from exc


_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError, TypeError, KeyError)
"""What pyarrow raises on a damaged file (a flipped byte in the footer can surface as any of these)."""


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        parquet = pq.ParquetFile(path)
        parquet.schema_arrow  # noqa: B018 (decodes the footer's schema now, where errors are caught)
    except _PARQUET_ERRORS as exc:
        raise DatasetError(f"{path}: not a readable Parquet file ({one_line_reason(exc)})") from exc
    return parquet


def _parquet_chunks(
    path: Path, *, required: Sequence[str], columns: Sequence[str] | None, chunk_rows: int
) -> Iterator[TableChunk]:
    parquet = _open_parquet(path)
    header = tuple(str(name) for name in parquet.schema_arrow.names)
    check_header(path, header, required)
    offset = 0
    try:
        wanted = list(columns) if columns is not None else None
        for batch in parquet.iter_batches(batch_size=chunk_rows, columns=wanted):
            # Full validation checks what decoding leaves for later, such as UTF-8 in text columns: a damaged
            # page would otherwise fail deep inside pandas, at the first conversion of the column.
            batch.validate(full=True)
            frame = batch.replace_schema_metadata(None).to_pandas()  # pandas' footer JSON: unused, maybe damaged
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield TableChunk(path, frame, header, first_data_line=None)
    except _PARQUET_ERRORS as exc:
        raise DatasetError(f"{path}: not a readable Parquet file at row {offset} ({one_line_reason(exc)})") from exc


def read_whole_table(
    path: Path, *, required: Sequence[str], text_columns: Sequence[str] = (), encoding: str = "utf-8-sig"
) -> TableChunk:
    """Read a small table in one chunk (metadata, failure lists, work orders)."""
    chunks = list(
        read_table_chunks(path, required=required, text_columns=text_columns, chunk_rows=1 << 40, encoding=encoding)
    )
    if not chunks:
        return TableChunk(path, pd.DataFrame(columns=list(required)), tuple(required))
    return chunks[0]


def require_values(chunk: TableChunk, columns: Sequence[str]) -> None:
    """Raise at the first empty field of any of ``columns`` (an empty field, or a line that ends early)."""
    for column in columns:
        missing = chunk.frame[column].isna().to_numpy()
        chunk.fail_where(missing, column, "missing value (empty field, or the line ends early: truncated file?)")


def numeric_values(chunk: TableChunk, column: str) -> np.ndarray:
    """A column as finite float64 values; raise at the first missing, non-numeric or infinite one."""
    raw = chunk.frame[column]
    require_values(chunk, [column])
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64)
    else:
        parsed = pd.to_numeric(raw, errors="coerce")
        chunk.fail_where(parsed.isna().to_numpy(), column, "not a number: {value}")
        values = parsed.to_numpy(dtype=np.float64)
    chunk.fail_where(~np.isfinite(values), column, "value is NaN or infinite: {value}")
    return values


def optional_numeric_values(chunk: TableChunk, column: str) -> np.ndarray:
    """A column as float64 with NaN where the field is empty; raise at the first non-numeric or infinite value."""
    raw = chunk.frame[column]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        parsed = pd.to_numeric(raw, errors="coerce")
        chunk.fail_where((parsed.isna() & raw.notna()).to_numpy(), column, "not a number: {value}")
        values = parsed.to_numpy(dtype=np.float64, na_value=np.nan)
    chunk.fail_where(np.isinf(values), column, "value is infinite: {value}")
    return values


def integer_values(chunk: TableChunk, column: str) -> np.ndarray:
    """A column as int64 values; raise at the first missing, non-numeric or fractional one."""
    values = numeric_values(chunk, column)
    chunk.fail_where(values != np.round(values), column, "not an integer: {value}")
    return values.astype(np.int64)


def text_values(chunk: TableChunk, column: str, *, required: bool = True) -> pd.Series:
    """A column as stripped strings (``None`` where empty, when not ``required``)."""
    raw = chunk.frame[column]
    if required:
        require_values(chunk, [column])
    text = raw.astype("object").where(raw.notna(), None)
    stripped = text.map(lambda value: _format_text(value) if value is not None else None)
    if required:
        chunk.fail_where(stripped.eq("").to_numpy(), column, "empty value")
    return stripped


def _format_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def first_duplicate(chunk: TableChunk, columns: Sequence[str], what: str) -> None:
    """Raise at the first record that repeats an earlier record's ``columns`` (within the chunk)."""
    duplicated = chunk.frame.duplicated(subset=list(columns), keep="first").to_numpy()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        key = chunk.frame.iloc[first][list(columns)]
        earlier = chunk.frame.index[(chunk.frame[list(columns)] == key).all(axis=1).to_numpy()][0]
        chunk.fail_where(
            duplicated,
            None,
            f"duplicate {what} ({', '.join(f'{c}={_as_python(key[c])!r}' for c in columns)}); "
            f"first seen at {chunk.where(int(earlier)).split(': ', 1)[1]}",
        )
