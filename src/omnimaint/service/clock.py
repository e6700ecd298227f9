"""Times in the service: integers, microseconds since the Unix epoch, UTC (``*_us``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _in_utc_range(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59-23:59 is in the year 10000 in UTC
        raise ValueError("is outside the years 1-9999 once converted to UTC") from exc
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
"""A time a client sends: with its offset, and within the range every later conversion can hold (a 422, not an
overflow further on)."""


def now_us() -> int:
    """The wall clock."""
    return time.time_ns() // 1000


def datetime_us(value: datetime) -> int:
    """An aware datetime, exactly (before the epoch too)."""
    return (value - EPOCH) // _MICROSECOND


def optional_us(value: datetime | None) -> int | None:
    return None if value is None else datetime_us(value)


def iso_us(time_us: int) -> str:
    """ISO 8601 in UTC (``2024-01-02T00:00:00+00:00``)."""
    return (EPOCH + time_us * _MICROSECOND).isoformat()
