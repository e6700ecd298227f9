"""Checks and normalisation of canonical tables.

:func:`normalize_table` turns an Arrow table into the canonical types of its :class:`TableSpec`
(widening numbers, parsing ISO-8601 strings that carry a UTC offset, filling absent optional
columns) and checks every rule of the data model. Problems are collected, not raised one at a time,
so that a user fixes a file in one pass; the :class:`DatasetError` names the file, the column, the
first offending row (0-based position in the file) and how many rows share the problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimaint.data.schema import TIMESTAMP_TYPE, ColumnKind, ColumnSpec, TableSpec
from omnimaint.errors import DatasetError

MAX_REPORTED_PROBLEMS = 8


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
    """

    source: str
    asset_ids: frozenset[str] | None = None
    root: Path | None = None
    row_offset: int = 0
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
        if not self.problems:
            return
        shown = "; ".join(p.describe() for p in self.problems[:MAX_REPORTED_PROBLEMS])
        extra = len(self.problems) - MAX_REPORTED_PROBLEMS
        tail = f"; and {extra} more problems" if extra > 0 else ""
        raise DatasetError(f"{self.source}: {shown}{tail}")


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


def _coerce(column: pa.ChunkedArray, spec: ColumnSpec, ctx: ValidationContext) -> pa.ChunkedArray | None:
    """Cast a column to its canonical type, or record why it cannot be (and return ``None``)."""
    typ = column.type
    if pa.types.is_dictionary(typ):
        column = column.cast(typ.value_type)
        typ = column.type
    target = spec.arrow_type
    if typ == target:
        return column
    if typ == pa.null() and spec.nullable:
        return pa.chunked_array([pa.nulls(len(column), target)])
    if spec.kind is ColumnKind.STRING and (pa.types.is_large_string(typ) or pa.types.is_string_view(typ)):
        return column.cast(target)
    if spec.kind is ColumnKind.FLOAT and (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        return column.cast(target)
    if spec.kind is ColumnKind.FLOAT_LIST and (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        value_type = typ.value_type
        if pa.types.is_floating(value_type) or pa.types.is_integer(value_type):
            return column.cast(target)
    if spec.kind is ColumnKind.TIMESTAMP:
        if pa.types.is_timestamp(typ):
            if typ.tz is None:
                ctx.add(spec.name, "timestamps have no time zone; store them as UTC (tz-aware)")
                return None
            if typ.tz.upper() not in {"UTC", "+00:00", "ETC/UTC", "Z"}:
                ctx.add(spec.name, f"timestamps are in time zone '{typ.tz}', not UTC; convert them to UTC")
                return None
            return column.cast(target)
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            return _parse_timestamp_strings(column, spec, ctx)
    ctx.add(spec.name, f"wrong type: expected {spec.kind.value} ({target}), found {typ}")
    return None


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
    elif spec.choices is not None:
        allowed = pa.array(spec.choices)
        outside = ~np.asarray(pc.is_in(column, value_set=allowed).to_numpy(zero_copy_only=False), dtype=bool) & ~nulls
        if outside.any():
            first = column[int(np.flatnonzero(outside)[0])].as_py()
            ctx.add(spec.name, f"value {first!r} is not one of {list(spec.choices)}", outside)


def _check_duplicates(table: pa.Table, spec: TableSpec, ctx: ValidationContext) -> None:
    if not spec.key or table.num_rows < 2 or not set(spec.key) <= set(table.column_names):
        return
    frame = table.select(list(spec.key)).to_pandas()
    duplicated = frame.duplicated(keep="first").to_numpy()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated)[0])
        key = ", ".join(f"{k}={frame[k].iloc[first]!r}" for k in spec.key)
        ctx.add(None, f"duplicate key ({key}); each ({', '.join(spec.key)}) must be unique", duplicated)


def _check_blobs(table: pa.Table, ctx: ValidationContext) -> None:
    if ctx.root is None or "path" not in table.column_names:
        return
    paths = table.column("path").to_pylist()
    bad_form = np.array([p is not None and (p.startswith("/") or ".." in Path(p).parts) for p in paths], dtype=bool)
    ctx.add("path", "blob path must be relative to the dataset folder and stay inside it", bad_form)
    root = ctx.root
    missing = np.array(
        [p is not None and not bad and not (root / p).is_file() for p, bad in zip(paths, bad_form, strict=True)],
        dtype=bool,
    )
    if missing.any():
        first = paths[int(np.flatnonzero(missing)[0])]
        ctx.add("path", f"missing blob file '{first}'", missing)


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
    if "ts_open" in out and "ts_close" in out:
        opened = out["ts_open"].to_numpy(zero_copy_only=False)
        closed = out["ts_close"].to_numpy(zero_copy_only=False)
        before = ~pd.isna(closed) & ~pd.isna(opened) & (closed < opened)
        ctx.add("ts_close", "work order closes before it opens", np.asarray(before, dtype=bool))
    ctx.raise_if_any()
    result = pa.table(out, schema=pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in wanted]))
    if check_keys:
        _check_duplicates(result, spec, ctx)
    if spec.name == "frames":
        _check_blobs(result, ctx)
    ctx.raise_if_any()
    return result


def sort_table(table: pa.Table, spec: TableSpec) -> pa.Table:
    """Return ``table`` in the canonical order (stable; unsorted input is sorted, never rejected)."""
    keys = [(name, "ascending") for name in spec.sort_by if name in table.column_names]
    if not keys or table.num_rows < 2:
        return table
    return table.sort_by(keys)
