"""Turning publishers' time columns into UTC, and the synthetic clock of datasets that have none.

Sources give local wall-clock times without a zone (Azure PdM), ISO strings with an offset, epoch
numbers, or no time at all (C-MAPSS cycles, MaintNet rows, CWRU recordings, image folders). Every
canonical timestamp is UTC: :func:`parse_times` localises naive times in a named IANA zone (UTC by
default) and converts; sources without a clock are placed on :data:`SYNTHETIC_EPOCH`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from omnimaint.adapters.sources import TableChunk, require_values
from omnimaint.errors import ConfigError

SYNTHETIC_EPOCH: Final = pd.Timestamp("2000-01-01T00:00:00", tz="UTC")
"""Where sources without wall-clock times start: 2000-01-01T00:00Z."""

EpochUnit = Literal["s", "ms", "us", "ns"]
OffsetUnit = Literal["h", "min", "s"]

_OFFSET_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2}|UTC)\s*$"


def check_timezone(name: str | None) -> ZoneInfo | None:
    """The zone for an IANA name (``Europe/Berlin``), ``None`` for ``None``.

    Raises:
        ConfigError: if the name is not a known IANA time zone.
    """
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r}; give an IANA name such as 'UTC' or 'Europe/Berlin'") from exc


def parse_times(
    chunk: TableChunk,
    column: str,
    *,
    formats: Sequence[str] | None = None,
    timezone: str | None = None,
    unit: EpochUnit | None = None,
) -> pd.DatetimeIndex:
    """Parse a time column of a chunk into UTC.

    Args:
        chunk: The records.
        column: The time column.
        formats: ``strptime`` formats tried in order for each value (``None``: ISO 8601).
        timezone: IANA zone of times written without an offset (``None``: they are UTC). Times that
            carry an offset (``Z``, ``+02:00``) are converted by it whatever this says.
        unit: The column holds epoch numbers in this unit instead of text.

    Returns:
        One UTC timestamp per record, in record order.

    Raises:
        DatasetError: at the first missing or unparseable value, or a local time that a daylight-saving
            change makes ambiguous or non-existent, naming file, line and column.
    """
    zone = check_timezone(timezone)
    require_values(chunk, [column])
    raw = chunk.frame[column]
    if unit is not None:
        numbers = pd.to_numeric(raw, errors="coerce")
        chunk.fail_where(numbers.isna().to_numpy(), column, f"not an epoch time in {unit}: {{value}}")
        return pd.DatetimeIndex(pd.to_datetime(numbers, unit=unit, utc=True))
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(raw.dt.tz_convert("UTC"))
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return _localize(chunk, column, pd.DatetimeIndex(raw), zone)
    text = raw.astype(str).str.strip()
    with_offset = text.str.contains(_OFFSET_SUFFIX, regex=True, case=False).to_numpy()
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    candidates = list(formats) if formats else ["ISO8601"]
    if with_offset.any():
        for fmt in candidates:
            todo = with_offset & parsed.isna().to_numpy()
            parsed[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=True)
    naive = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    for fmt in candidates:
        todo = ~with_offset & naive.isna().to_numpy()
        if todo.any():
            naive[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    expected = f"expected format {' or '.join(repr(f) for f in formats)}" if formats else "expected ISO 8601"
    unparsed = np.where(with_offset, parsed.isna().to_numpy(), naive.isna().to_numpy())
    chunk.fail_where(unparsed, column, f"unparseable time {{value}} ({expected})")
    if (~with_offset).any():
        localized = _localize(chunk, column, pd.DatetimeIndex(naive[~with_offset]), zone, mask=~with_offset)
        parsed[~with_offset] = localized
    return pd.DatetimeIndex(parsed)


def _localize(
    chunk: TableChunk,
    column: str,
    naive: pd.DatetimeIndex,
    zone: ZoneInfo | None,
    mask: np.ndarray | None = None,
) -> pd.DatetimeIndex:
    if zone is None:
        return naive.tz_localize("UTC")
    local = naive.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    bad = np.asarray(local.isna())
    if bad.any():
        flags = np.zeros(len(chunk), dtype=bool)
        if mask is None:
            flags = bad
        else:
            flags[np.flatnonzero(mask)[bad]] = True
        chunk.fail_where(
            flags,
            column,
            f"local time {{value}} is ambiguous or does not exist in {zone.key} (daylight-saving change); "
            "give UTC times or times with an offset",
        )
    return local.tz_convert("UTC")


def synthetic_times(offsets: np.ndarray | Sequence[float], unit: OffsetUnit) -> pd.DatetimeIndex:
    """``SYNTHETIC_EPOCH`` plus each offset in ``unit`` (``h``, ``min``, ``s``)."""
    return pd.DatetimeIndex(SYNTHETIC_EPOCH + pd.to_timedelta(np.asarray(offsets), unit=unit))
