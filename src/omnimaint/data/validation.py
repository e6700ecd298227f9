"""Checks and normalisation of canonical tables.

:func:`normalize_table` turns an Arrow table into the canonical types of its :class:`TableSpec`
(widening numbers, parsing ISO-8601 strings that carry a UTC offset, filling absent optional
columns) and checks every rule of the data model. Problems are collected, not raised one at a time,
so that a user fixes a file in one pass; the :class:`TableProblems` error names the file, the column,
the first offending row (0-based position in the file) and how many rows share the problem.
:func:`describe_problems` joins the problems of several files into the one line the CLI prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimaint.data.blobs import BlobFolder, image_problem, is_file, is_plain_relative
from omnimaint.data.schema import FUTURE_MARGIN, TIMESTAMP_TYPE, ColumnKind, ColumnSpec, TableSpec
from omnimaint.errors import DatasetError

MAX_REPORTED_PROBLEMS = 8
MAX_NAMED_VALUES = 5

_CHANNEL_KINDS = {"telemetry": "telemetry", "waveforms": "waveform"}
"""The channel kind (``ChannelInfo.kind``) of each table that has a ``channel`` column."""


def describe_problems(problems: Sequence[tuple[str | None, str]], limit: int = MAX_REPORTED_PROBLEMS) -> str:
    """Problems of one or more files in one line: ``file: p1; p2; other-file: p3; and N more problems``.

    Args:
        problems: ``(source, problem)`` pairs in the order found; consecutive problems of one source are
            grouped under it (a ``None`` source is not named).
        limit: Problems shown; the rest are counted.
    """
    parts: list[str] = []
    previous: str | None = None
    for index, (source, problem) in enumerate(problems[:limit]):
        named = source is not None and (index == 0 or source != previous)
        parts.append(f"{source}: {problem}" if named else problem)
        previous = source
    extra = len(problems) - limit
    return "; ".join(parts) + (f"; and {extra} more problems" if extra > 0 else "")


def one_line(exc: BaseException) -> str:
    """An exception's text on one line (Arrow's and Pillow's messages may span several)."""
    return " ".join(str(exc).split())


class TableProblems(DatasetError):
    """Every rule broken by one table (file or chunk), each with its column and first row.

    Attributes:
        source: The file (or chunk) the rows came from.
        problems: One description per broken rule.
    """

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(describe_problems([(source, p) for p in self.problems]))


@dataclass(frozen=True)
class Problem:
    """One rule broken by one or more rows of a column."""

    column: str | None
    message: str
    first_row: int | None = None
    count: int = 1

    def describe(self) -> str:
        where = f"column '{self.column}'" if self.column else "table"
        if self.first_row is not None:
            where += f", row {self.first_row}"
        more = f" (and {self.count - 1} more rows)" if self.count > 1 else ""
        return f"{where}: {self.message}{more}"


@dataclass
class ValidationContext:
    """What a check needs to know beyond the table itself.

    Attributes:
        source: File (or other origin) named in error messages.
        asset_ids: Known asset ids; rows of other assets are rejected. ``None`` skips the check.
        root: Dataset folder against which blob paths (``frames.path``) are resolved; ``None`` skips it.
        row_offset: Position of the table's first row in its file, for chunked reads.
        channels: Declared channels (name to ``ChannelInfo.kind``); telemetry and waveform rows of other
            channels are rejected. ``None`` skips the check.
        check_images: Also check that each frame blob has a readable image header (``omnimaint validate``).
    """

    source: str
    asset_ids: frozenset[str] | None = None
    root: Path | None = None
    row_offset: int = 0
    channels: Mapping[str, str] | None = None
    check_images: bool = False
    problems: list[Problem] = field(default_factory=list)
    unparsed_columns: set[str] = field(default_factory=set)

    def add(self, column: str | None, message: str, mask: np.ndarray | None = None) -> None:
        """Record a problem; with ``mask``, only when some row is flagged, naming the first one."""
        if mask is None:
            self.problems.append(Problem(column, message))
            return
        flagged = np.flatnonzero(mask)
        if flagged.size:
            self.problems.append(Problem(column, message, int(flagged[0]) + self.row_offset, int(flagged.size)))

    def raise_if_any(self) -> None:
        """Raise :class:`TableProblems` holding every problem recorded so far, if any."""
        if self.problems:
            raise TableProblems(self.source, [p.describe() for p in self.problems])


def _values(array: pa.ChunkedArray | pa.Array, sample: int = 3) -> str:
    shown = [repr(v) for v in array.to_pylist()[:sample]]
    return ", ".join(shown)


def _null_mask(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False), dtype=bool)


def _parse_timestamp_strings(column: pa.ChunkedArray, spec: ColumnSpec, ctx: ValidationContext) -> pa.ChunkedArray:
    """Parse ISO-8601 strings; each must carry a UTC designator (``Z`` or ``+00:00``)."""
    text = pd.Series(column.to_pandas(), dtype="object")
    present = text.notna().to_numpy()
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    bad = present & parsed.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        ctx.add(spec.name, f"unparseable timestamp {text.iloc[first]!r}", bad)
        ctx.unparsed_columns.add(spec.name)
        if not spec.nullable:
            ctx.add(spec.name, "missing value (null) where one is required", ~present)
    stripped = text.where(present, "").astype(str).str.strip()
    has_utc = stripped.str.match(r".*(Z|[+-]00:?00|UTC)$", case=False).to_numpy()
    not_utc = present & ~bad & ~has_utc
    if not_utc.any():
        first = int(np.flatnonzero(not_utc)[0])
        ctx.add(
            spec.name,
            f"timestamp {text.iloc[first]!r} is not UTC (give 'Z' or '+00:00'; convert local times to UTC)",
            not_utc,
        )
    return pa.chunked_array([pa.array(parsed, type=TIMESTAMP_TYPE)])


def _cast(
    column: pa.ChunkedArray, spec: ColumnSpec, ctx: ValidationContext, *, safe: bool = True
) -> pa.ChunkedArray | None:
    try:
        return column.cast(spec.arrow_type, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        ctx.add(spec.name, f"values cannot be converted to {spec.arrow_type} ({one_line(exc)})")
        return None


def _coerce(column: pa.ChunkedArray, spec: ColumnSpec, ctx: ValidationContext) -> pa.ChunkedArray | None:
    """Cast a column to its canonical type, or record why it cannot be (and return ``None``)."""
    typ = column.type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
        column = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks], type=typ)
    target = spec.arrow_type
    if typ == target:
        return column
    if typ == pa.null() and spec.nullable:
        return pa.chunked_array([pa.nulls(len(column), target)])
    if spec.kind is ColumnKind.STRING and (pa.types.is_large_string(typ) or pa.types.is_string_view(typ)):
        return _cast(column, spec, ctx)
    if spec.kind is ColumnKind.FLOAT and (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        # Integers beyond 2**53 lose precision as float64, as they would in any analysis tool.
        return _cast(column, spec, ctx, safe=False)
    if spec.kind is ColumnKind.FLOAT_LIST and (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        value_type = typ.value_type
        if pa.types.is_floating(value_type) or pa.types.is_integer(value_type):
            return _cast(column, spec, ctx, safe=False)
    if spec.kind is ColumnKind.TIMESTAMP:
        if pa.types.is_timestamp(typ):
            if typ.tz is None:
                ctx.add(spec.name, "timestamps have no time zone; store them as UTC (tz-aware)")
                return None
            if typ.tz.upper() not in {"UTC", "+00:00", "ETC/UTC", "Z"}:
                ctx.add(spec.name, f"timestamps are in time zone '{typ.tz}', not UTC; convert them to UTC")
                return None
            # Nanoseconds are truncated to microseconds; a coarser unit must fit the microsecond range.
            return _cast(column, spec, ctx, safe=typ.unit != "ns")
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            return _parse_timestamp_strings(column, spec, ctx)
    ctx.add(spec.name, f"wrong type: expected {spec.kind.value} ({target}), found {typ}")
    return None


def _check_time_range(column: pa.ChunkedArray, spec: ColumnSpec, ctx: ValidationContext) -> None:
    """Flag timestamps outside the plausible range (see :data:`omnimaint.data.schema.FUTURE_MARGIN`)."""
    stamps = column.cast(pa.int64()).to_numpy(zero_copy_only=False)
    present = ~_null_mask(column)
    earliest_us = round(spec.earliest.timestamp() * 1e6)
    latest = datetime.now(UTC) + FUTURE_MARGIN
    latest_us = round(latest.timestamp() * 1e6)
    for mask, bound in (
        (present & (np.nan_to_num(stamps, nan=earliest_us) < earliest_us), f"before {spec.earliest:%Y-%m-%d}"),
        (present & (np.nan_to_num(stamps, nan=latest_us) > latest_us), f"after {latest:%Y-%m-%d} (a year from now)"),
    ):
        if mask.any():
            first = np.datetime64(int(stamps[int(np.flatnonzero(mask)[0])]), "us")
            ctx.add(
                spec.name,
                f"timestamp {first}Z is {bound}, outside the plausible range "
                "(a wrong epoch unit, a missing time stored as 0, or an unset clock?)",
                mask,
            )


def _check_column(column: pa.ChunkedArray, spec: ColumnSpec, ctx: ValidationContext) -> None:
    nulls = _null_mask(column)
    if not spec.nullable and spec.name not in ctx.unparsed_columns:
        ctx.add(spec.name, "missing value (null) where one is required", nulls)
    if spec.kind is ColumnKind.FLOAT:
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        ctx.add(spec.name, "value is NaN or infinite", ~np.isfinite(values) & ~nulls)
        if spec.positive:
            ctx.add(spec.name, "value must be > 0", np.isfinite(values) & (values <= 0))
    elif spec.kind is ColumnKind.FLOAT_LIST:
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        ctx.add(spec.name, "empty sample list", (lengths == 0) & ~nulls)
        flat = pc.list_flatten(column).to_numpy(zero_copy_only=False)
        bad_values = ~np.isfinite(flat)
        if bad_values.any():
            row_of_value = np.repeat(np.arange(len(column)), np.nan_to_num(lengths, nan=0).astype(np.int64))
            bad_rows = np.zeros(len(column), dtype=bool)
            bad_rows[row_of_value[bad_values]] = True
            ctx.add(spec.name, "sample list contains NaN or infinite values", bad_rows)
    elif spec.kind is ColumnKind.TIMESTAMP:
        _check_time_range(column, spec, ctx)
    elif spec.choices is not None:
        allowed = pa.array(spec.choices)
        outside = ~np.asarray(pc.is_in(column, value_set=allowed).to_numpy(zero_copy_only=False), dtype=bool) & ~nulls
        if outside.any():
            first = column[int(np.flatnonzero(outside)[0])].as_py()
            ctx.add(spec.name, f"value {first!r} is not one of {list(spec.choices)}", outside)


def _check_duplicates(table: pa.Table, spec: TableSpec, ctx: ValidationContext) -> None:
    """Flag every row whose key an earlier row of the file already has (in Arrow: no pandas conversion, which
    fails on timestamps beyond its calendar)."""
    if not spec.key or table.num_rows < 2 or not set(spec.key) <= set(table.column_names):
        return
    keys = table.select(list(spec.key))
    if keys.group_by(list(spec.key)).aggregate([]).num_rows == table.num_rows:
        return  # the common case
    # A stable sort puts equal keys next to each other in file order; all but the first of a run repeat it.
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in spec.key]).to_numpy()
    ordered = keys.take(pa.array(order))
    same_as_previous = np.ones(table.num_rows - 1, dtype=bool)
    for name in spec.key:
        current, previous = ordered.column(name).slice(1), ordered.column(name).slice(0, table.num_rows - 1)
        equal = np.asarray(pc.fill_null(pc.equal(current, previous), False).to_numpy(zero_copy_only=False))
        both_null = _null_mask(current) & _null_mask(previous)
        same_as_previous &= equal.astype(bool) | both_null
    duplicated = np.zeros(table.num_rows, dtype=bool)
    duplicated[order[1:][same_as_previous]] = True
    first = int(np.flatnonzero(duplicated)[0])
    key = ", ".join(f"{k}={_cell(keys.column(k), first)}" for k in spec.key)
    ctx.add(None, f"duplicate key ({key}); each ({', '.join(spec.key)}) must be unique", duplicated)


def _cell(column: pa.ChunkedArray, row: int) -> str:
    """One value for a message; timestamps as ISO text, whatever their year."""
    if pa.types.is_timestamp(column.type):
        micros = column.cast(pa.int64())[row].as_py()
        return "None" if micros is None else f"'{np.datetime64(micros, 'us')}Z'"
    return repr(column[row].as_py())


def _check_blobs(table: pa.Table, ctx: ValidationContext) -> None:
    """Each blob path is relative, stays inside the dataset folder after following symbolic links, names a
    file, and (with ``ctx.check_images``) that file has a readable image header."""
    if ctx.root is None or "path" not in table.column_names:
        return
    folder = BlobFolder(ctx.root)
    paths = table.column("path").to_pylist()
    bad_form = np.zeros(len(paths), dtype=bool)
    leaves = np.zeros(len(paths), dtype=bool)
    missing = np.zeros(len(paths), dtype=bool)
    not_image = np.zeros(len(paths), dtype=bool)
    first_reason = ""
    for row, relative in enumerate(paths):
        if relative is None:
            continue
        if not is_plain_relative(relative):
            bad_form[row] = True
            continue
        target = folder.locate(relative)
        if target is None:
            leaves[row] = True
        elif not is_file(target):
            missing[row] = True
        elif ctx.check_images and (reason := image_problem(target)) is not None:
            first_reason = first_reason or reason
            not_image[row] = True
    for mask, before, after in (
        (bad_form, "blob path must be relative to the dataset folder and stay inside it: ", ""),
        (leaves, "blob file ", " leads outside the dataset folder through a symbolic link (not read)"),
        (missing, "missing blob file ", ""),
        (not_image, "blob file ", f" is not a readable image: {first_reason}"),
    ):
        if mask.any():
            ctx.add("path", before + _value(paths[int(np.flatnonzero(mask)[0])]) + after, mask)


def _value(text: str) -> str:
    """A user's string for a one-line message: quoted, control characters escaped, long ones cut."""
    return repr(text if len(text) <= 120 else text[:120] + "...")


def _check_channels(channel: pa.ChunkedArray, spec: TableSpec, ctx: ValidationContext) -> None:
    """Every telemetry/waveform channel must be declared, with its kind, in ``dataset.json``."""
    kind = _CHANNEL_KINDS.get(spec.name)
    if kind is None or ctx.channels is None:
        return
    declared = sorted(name for name, channel_kind in ctx.channels.items() if channel_kind == kind)
    known = np.asarray(pc.is_in(channel, value_set=pa.array(declared, type=pa.string())).to_numpy(zero_copy_only=False))
    undeclared = ~np.asarray(known, dtype=bool) & ~_null_mask(channel)
    if not undeclared.any():
        return
    names = sorted(pc.unique(channel.filter(pa.array(undeclared))).to_pylist())
    shown = ", ".join(_value(n) for n in names[:MAX_NAMED_VALUES])
    shown += f" and {len(names) - MAX_NAMED_VALUES} more" if len(names) > MAX_NAMED_VALUES else ""
    other_kind = [n for n in names if n in ctx.channels]
    hint = f", and {_value(other_kind[0])} as a {ctx.channels[other_kind[0]]} channel" if other_kind else ""
    listed = ", ".join(declared) if declared else f"no {kind} channel"
    ctx.add(
        "channel",
        f"undeclared {kind} channel {shown} (dataset.json declares {listed}{hint}): "
        "add each to its channels with unit and sampling rate",
        undeclared,
    )


def normalize_table(
    table: pa.Table,
    spec: TableSpec,
    ctx: ValidationContext,
    *,
    check_keys: bool = True,
    columns: Iterable[str] | None = None,
) -> pa.Table:
    """Check ``table`` against ``spec`` and return it in canonical column order and types.

    Args:
        table: The rows to check, as read from a file or handed over by a writer.
        spec: The canonical table they must satisfy.
        ctx: Where the rows came from; collects the problems.
        check_keys: Check the unique key (turn off for a chunk of a larger table; the whole table is
            checked once it is complete).
        columns: Check and return only these columns (for reading large tables in column groups).

    Returns:
        The table with canonical types, absent optional columns filled with nulls.

    Raises:
        DatasetError: naming the source, column, first row and problem, for every broken rule.
    """
    wanted = [c for c in spec.columns if columns is None or c.name in set(columns)]
    canonical = {c.name for c in spec.columns}
    unknown = [name for name in table.column_names if name not in canonical]
    if unknown:
        ctx.add(unknown[0], f"unknown column; the '{spec.name}' table has columns {sorted(canonical)}")
    out: dict[str, pa.ChunkedArray] = {}
    for col in wanted:
        if col.name not in table.column_names:
            if col.required:
                ctx.add(col.name, "required column is missing")
            else:
                out[col.name] = pa.chunked_array([pa.nulls(table.num_rows, col.arrow_type)])
            continue
        coerced = _coerce(table.column(col.name), col, ctx)
        if coerced is None:
            continue
        _check_column(coerced, col, ctx)
        out[col.name] = coerced
    if "asset_id" in out and ctx.asset_ids is not None and spec.name != "assets":
        known = pa.array(sorted(ctx.asset_ids), type=pa.string())
        asset_col = out["asset_id"]
        unknown_asset = ~np.asarray(pc.is_in(asset_col, value_set=known).to_numpy(zero_copy_only=False), dtype=bool)
        unknown_asset &= ~_null_mask(asset_col)
        if unknown_asset.any():
            first = asset_col[int(np.flatnonzero(unknown_asset)[0])].as_py()
            ctx.add("asset_id", f"unknown asset id {first!r} (not in the assets table)", unknown_asset)
    if "channel" in out:
        _check_channels(out["channel"], spec, ctx)
    if "ts_open" in out and "ts_close" in out:
        opened = out["ts_open"].to_numpy(zero_copy_only=False)
        closed = out["ts_close"].to_numpy(zero_copy_only=False)
        before = ~pd.isna(closed) & ~pd.isna(opened) & (closed < opened)
        ctx.add("ts_close", "work order closes before it opens", np.asarray(before, dtype=bool))
    # Keys and blobs are checked on the columns that could be read, so that every problem is reported at once.
    checked = pa.table(out) if out else pa.table({})
    if check_keys:
        _check_duplicates(checked, spec, ctx)
    if spec.name == "frames":
        _check_blobs(checked, ctx)
    ctx.raise_if_any()
    return pa.table(out, schema=pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in wanted]))


def sort_table(table: pa.Table, spec: TableSpec) -> pa.Table:
    """Return ``table`` in the canonical order (stable; unsorted input is sorted, never rejected)."""
    keys = [(name, "ascending") for name in spec.sort_by if name in table.column_names]
    if not keys or table.num_rows < 2:
        return table
    return table.sort_by(keys)
