"""The YAML mapping file of the generic adapter: which source columns feed which canonical table.

A mapping lists one or more *sources*; each maps one CSV or Parquet file onto one canonical table
(``telemetry``, ``events``, ``maintenance``, ``failures`` or ``frames``). Validation is strict (unknown
fields are errors) and every error names the field, e.g. ``sources.0.time.column: Field required``.
The format is documented with a worked example in ``docs/adapters.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from omnimaint.adapters.clock import EpochUnit, check_timezone
from omnimaint.data.schema import TABLES
from omnimaint.errors import ConfigError, describe_validation_error

MappedTable = Literal["telemetry", "events", "maintenance", "failures", "frames"]

# Canonical columns a source fills from `columns`/`constants` (asset_id and the time column come from
# `asset` and `time`; telemetry channel/value from `channels`).
_MAPPED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in TABLES[name].columns if c.name not in {"asset_id", TABLES[name].time_column})
    for name in ("events", "maintenance", "failures", "frames")
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimeSpec(_Frozen):
    """The time column: text parsed with ``format`` (ISO 8601 when absent) or epoch numbers in ``unit``.

    Attributes:
        column: Source column.
        format: ``strptime`` format, e.g. ``"%d.%m.%Y %H:%M"``.
        timezone: IANA zone of times written without an offset (default UTC).
        unit: The column holds epoch numbers in ``s``/``ms``/``us``/``ns``.
    """

    column: str
    format: str | None = None
    timezone: str | None = None
    unit: EpochUnit | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.format is not None and self.unit is not None:
            raise ValueError("give either 'format' (text times) or 'unit' (epoch numbers), not both")
        try:
            check_timezone(self.timezone)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self


class ValueSpec(_Frozen):
    """A value taken from a column or given as a constant (exactly one)."""

    column: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of 'column' (per row) or 'value' (constant)")
        return self


class ChannelSpec(_Frozen):
    """Metadata of a telemetry channel.

    Attributes:
        name: Channel name in the dataset (wide layout: default the column name).
        unit: Physical unit (``degC``, ``bar``, ``A``).
        sampling_rate_hz: Nominal readings per second.
        description: Free text.
    """

    name: str | None = None
    unit: str = ""
    sampling_rate_hz: float | None = Field(default=None, gt=0)
    description: str = ""


class WideChannels(_Frozen):
    """One value column per channel: ``columns`` maps each source column to its channel."""

    layout: Literal["wide"]
    columns: dict[str, ChannelSpec] = Field(min_length=1)


class LongChannels(_Frozen):
    """One row per reading: the channel name in ``channel_column``, the value in ``value_column``."""

    layout: Literal["long"]
    channel_column: str
    value_column: str
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)


class CsvOptions(_Frozen):
    """How to read a CSV file."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    decimal: str = Field(default=".", min_length=1, max_length=1)


class SourceMapping(_Frozen):
    """One file mapped onto one canonical table.

    Attributes:
        file: CSV or Parquet file, relative to the mapping file's folder.
        table: Canonical table it feeds.
        time: Its time column (``ts``, or ``ts_open`` for maintenance).
        asset: Asset id column or constant.
        asset_type: Asset type column or constant (default ``asset``).
        channels: Telemetry only: wide or long channel layout.
        columns: Other canonical columns → source column (e.g. ``code: alarm_id``).
        constants: Other canonical columns → constant value (e.g. ``severity: warning``).
        values: Per canonical column, source value → canonical value (e.g. severities ``HI: alarm``).
        time_columns: Extra time columns among ``columns`` (``ts_close``), parsed like ``time``.
        csv: CSV reading options.
    """

    file: Path
    table: MappedTable
    time: TimeSpec
    asset: ValueSpec
    asset_type: ValueSpec = ValueSpec(value="asset")
    channels: Annotated[WideChannels | LongChannels, Field(discriminator="layout")] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    csv: CsvOptions = CsvOptions()

    @model_validator(mode="after")
    def _fits_table(self) -> Self:
        if self.table == "telemetry":
            if self.channels is None:
                raise ValueError("a telemetry source needs 'channels' (layout: wide or long)")
            if self.columns or self.constants:
                raise ValueError("a telemetry source maps its values through 'channels', not 'columns'/'constants'")
            return self
        if self.channels is not None:
            raise ValueError(f"'channels' applies to telemetry only, not to table '{self.table}'")
        allowed = _MAPPED_COLUMNS[self.table]
        for field_name, mapping in (("columns", self.columns), ("constants", self.constants), ("values", self.values)):
            for column in mapping:
                if column not in allowed:
                    raise ValueError(f"{field_name}.{column}: the '{self.table}' table has no such column ({allowed})")
        for column, constant in self.constants.items():
            choices = TABLES[self.table].column(column).choices
            value = self.values.get(column, {}).get(constant, constant)
            if choices is not None and value not in choices:
                raise ValueError(f"constants.{column}: {constant!r} is not one of {list(choices)}")
        both = set(self.columns) & set(self.constants)
        if both:
            raise ValueError(f"column(s) {sorted(both)} given both in 'columns' and 'constants'")
        spec = TABLES[self.table]
        missing = [
            name
            for name in allowed
            if spec.column(name).required and name not in self.columns and name not in self.constants
        ]
        if missing:
            raise ValueError(f"the '{self.table}' table needs {missing}: map them in 'columns' or 'constants'")
        return self

    def time_columns(self) -> tuple[str, ...]:
        """Canonical timestamp columns besides the main one (``ts_close``) that this source maps."""
        spec = TABLES[self.table]
        return tuple(
            name for name in self.columns if spec.column(name).kind.value == "timestamp" and name != spec.time_column
        )


class Mapping(_Frozen):
    """A mapping file: dataset name, sources, and optional components per asset type."""

    name: str = "dataset"
    sources: list[SourceMapping] = Field(min_length=1)
    components: dict[str, tuple[str, ...]] = Field(default_factory=dict)


def load_mapping(path: Path) -> Mapping:
    """Read and validate a YAML mapping file.

    Raises:
        ConfigError: naming the file and the line/column of a YAML syntax error, or the field at fault.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: mapping file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"{path}: {where}not valid YAML ({exc.problem})") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'sources' list at the top level")
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from exc
