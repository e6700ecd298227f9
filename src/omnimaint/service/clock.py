"""Times in the service: integers, microseconds since the Unix epoch, UTC (``*_us``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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
