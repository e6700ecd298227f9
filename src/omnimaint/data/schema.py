"""The canonical tables (DESIGN.md §2): their columns, keys and Arrow types.

Every table is one Parquet file in the dataset folder. Timestamps are ``timestamp[us, UTC]``;
identifiers and free text are strings; telemetry values are finite float64; waveform samples are
lists of finite float32. A column marked optional may be absent from a file and is then filled with
nulls on load. Timestamps outside a plausible range (:data:`EARLIEST_TIMESTAMP`, or more than
:data:`FUTURE_MARGIN` after now) are refused: they are the mark of a wrong epoch unit, a missing
value stored as 0 or a clock that was never set, never of real plant data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 1
"""Version of the on-disk layout. Bump it, and teach the loader to migrate, when the layout changes."""

TIMESTAMP_TYPE: Final = pa.timestamp("us", tz="UTC")

EARLIEST_TIMESTAMP: Final = datetime(1970, 1, 1, tzinfo=UTC)
"""No reading, event, work order or label is older than the Unix epoch (synthetic clocks start in 2000)."""

EARLIEST_INSTALL_DATE: Final = datetime(1900, 1, 1, tzinfo=UTC)
"""Machines do run for decades: an install date may predate the epoch, but not 1900."""

FUTURE_MARGIN: Final = timedelta(days=366)
"""How far after now a timestamp may lie (a simulated plant may run into the coming year)."""

SEVERITIES: Final = ("info", "warning", "alarm", "critical")
MAINTENANCE_KINDS: Final = ("preventive", "corrective", "inspection")


class ColumnKind(StrEnum):
    """How a column is typed and checked."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    FLOAT = "float"
    FLOAT_LIST = "float_list"


_ARROW_TYPES: Final = {
    ColumnKind.STRING: pa.string(),
    ColumnKind.TIMESTAMP: TIMESTAMP_TYPE,
    ColumnKind.FLOAT: pa.float64(),
    ColumnKind.FLOAT_LIST: pa.list_(pa.float32()),
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a canonical table.

    Attributes:
        name: Column name in the Parquet file.
        kind: Type family; see :class:`ColumnKind`.
        nullable: Whether nulls are allowed.
        required: Whether the column must be present in the file (optional columns are filled with nulls).
        choices: Allowed values of a string column, or ``None`` for free text.
        positive: For floats, values must be strictly positive.
        earliest: For timestamps, the earliest plausible value (the latest is :data:`FUTURE_MARGIN` after now).
    """

    name: str
    kind: ColumnKind
    nullable: bool = False
    required: bool = True
    choices: tuple[str, ...] | None = None
    positive: bool = False
    earliest: datetime = EARLIEST_TIMESTAMP

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.kind]


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its file, columns, unique key and sort order.

    Attributes:
        name: Table name (``telemetry``, ``frames`` ...).
        columns: Column specs in canonical order.
        key: Columns whose combination must be unique, or empty when rows may repeat.
        sort_by: Order in which the loader returns rows (unsorted files are sorted, not rejected).
        time_column: The UTC timestamp column every row is placed by, or ``None`` (assets).
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    sort_by: tuple[str, ...]
    time_column: str | None

    @property
    def file_name(self) -> str:
        return f"{self.name}.parquet"

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])


_ASSET_ID = ColumnSpec("asset_id", ColumnKind.STRING)
_TS = ColumnSpec("ts", ColumnKind.TIMESTAMP)

ASSETS = TableSpec(
    name="assets",
    columns=(
        _ASSET_ID,
        ColumnSpec("asset_type", ColumnKind.STRING),
        ColumnSpec("model", ColumnKind.STRING, nullable=True, required=False),
        ColumnSpec("site", ColumnKind.STRING, nullable=True, required=False),
        ColumnSpec("line", ColumnKind.STRING, nullable=True, required=False),
        ColumnSpec("install_date", ColumnKind.TIMESTAMP, nullable=True, required=False, earliest=EARLIEST_INSTALL_DATE),
        ColumnSpec("metadata", ColumnKind.STRING, nullable=True, required=False),
    ),
    key=("asset_id",),
    sort_by=("asset_id",),
    time_column=None,
)

TELEMETRY = TableSpec(
    name="telemetry",
    columns=(_ASSET_ID, _TS, ColumnSpec("channel", ColumnKind.STRING), ColumnSpec("value", ColumnKind.FLOAT)),
    key=("asset_id", "ts", "channel"),
    sort_by=("asset_id", "ts", "channel"),
    time_column="ts",
)

WAVEFORMS = TableSpec(
    name="waveforms",
    columns=(
        _ASSET_ID,
        _TS,
        ColumnSpec("channel", ColumnKind.STRING),
        ColumnSpec("sample_rate_hz", ColumnKind.FLOAT, positive=True),
        ColumnSpec("samples", ColumnKind.FLOAT_LIST),
    ),
    key=("asset_id", "ts", "channel"),
    sort_by=("asset_id", "ts", "channel"),
    time_column="ts",
)

FRAMES = TableSpec(
    name="frames",
    columns=(
        _ASSET_ID,
        _TS,
        ColumnSpec("camera", ColumnKind.STRING),
        ColumnSpec("path", ColumnKind.STRING),
    ),
    key=("asset_id", "ts", "camera"),
    sort_by=("asset_id", "ts", "camera"),
    time_column="ts",
)

EVENTS = TableSpec(
    name="events",
    columns=(
        _ASSET_ID,
        _TS,
        ColumnSpec("code", ColumnKind.STRING),
        ColumnSpec("severity", ColumnKind.STRING, choices=SEVERITIES),
        ColumnSpec("message", ColumnKind.STRING, nullable=True, required=False),
    ),
    # A controller may log the same code twice in one timestamp; events carry no unique key.
    key=(),
    sort_by=("asset_id", "ts"),
    time_column="ts",
)

MAINTENANCE = TableSpec(
    name="maintenance",
    columns=(
        ColumnSpec("work_order_id", ColumnKind.STRING),
        _ASSET_ID,
        ColumnSpec("ts_open", ColumnKind.TIMESTAMP),
        ColumnSpec("ts_close", ColumnKind.TIMESTAMP, nullable=True, required=False),
        ColumnSpec("component", ColumnKind.STRING, nullable=True, required=False),
        ColumnSpec("kind", ColumnKind.STRING, choices=MAINTENANCE_KINDS),
        ColumnSpec("problem", ColumnKind.STRING, nullable=True, required=False),
        ColumnSpec("cause", ColumnKind.STRING, nullable=True, required=False),
        ColumnSpec("action", ColumnKind.STRING, nullable=True, required=False),
    ),
    key=("work_order_id",),
    sort_by=("asset_id", "ts_open", "work_order_id"),
    time_column="ts_open",
)

FAILURES = TableSpec(
    name="failures",
    columns=(
        _ASSET_ID,
        _TS,
        ColumnSpec("component", ColumnKind.STRING),
        ColumnSpec("fault_type", ColumnKind.STRING),
    ),
    key=("asset_id", "ts", "component"),
    sort_by=("asset_id", "ts", "component"),
    time_column="ts",
)

TABLES: Final[dict[str, TableSpec]] = {
    spec.name: spec for spec in (ASSETS, TELEMETRY, WAVEFORMS, FRAMES, EVENTS, MAINTENANCE, FAILURES)
}
"""Every canonical table by name, in the order they are documented and validated."""

MODALITY_TABLES: Final = ("telemetry", "waveforms", "frames", "events", "maintenance")
"""Tables that carry an input modality (``failures`` carries labels, ``assets`` carries metadata)."""
