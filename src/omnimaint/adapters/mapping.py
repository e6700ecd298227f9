"""The YAML mapping file of the generic adapter: which source columns feed which canonical table.

A mapping lists one or more *sources*; each maps one CSV or Parquet file onto one canonical table
(``telemetry``, ``events``, ``maintenance``, ``failures`` or ``frames``), optionally keeping only the rows
that pass its ``where`` conditions. Validation is strict (unknown fields are errors) and every error names
the field, e.g. ``sources.0.time.column: Field required``. Files named in a mapping (``file``, and image
paths in a frames source) are read only from the mapping file's folder, or from folders the user allows
(:class:`~omnimaint.adapters.paths.SourceRoots`). The format is documented with worked examples in ``docs/adapters.md``.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Annotated, Final, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from omnimaint.adapters.clock import EpochUnit, check_timezone
from omnimaint.adapters.csv_text import check_encoding, locate_decoding_error
from omnimaint.data.schema import TABLES
from omnimaint.errors import ConfigError, describe_validation_error

MappedTable = Literal["telemetry", "events", "maintenance", "failures", "frames"]

# Canonical columns a source fills from `columns`/`constants` (asset_id and the time column come from
# `asset` and `time`; telemetry channel/value from `channels`).
_MAPPED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in TABLES[name].columns if c.name not in {"asset_id", TABLES[name].time_column})
    for name in ("events", "maintenance", "failures", "frames")
}


MAX_MAPPING_BYTES: Final = 1 << 20
"""A mapping file is hand-written YAML; anything over 1 MiB is not one."""

_YAML_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The safe loader, in C where PyYAML was built with libyaml (about ten times faster)."""

_MAX_NODES: Final = 100_000
"""Values in a mapping after YAML aliases are expanded (guards against alias bombs)."""


class _Frozen(BaseModel):
    # Numbers are accepted where text is expected (label values `0`/`1`, machine ids), as their YAML text.
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


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
    """How to read a CSV file (``encoding`` is a Python codec name; ``--encoding`` overrides it)."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8-sig"
    decimal: str = Field(default=".", min_length=1, max_length=1)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, name: str) -> str:
        try:
            return check_encoding(name)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _usable(self) -> Self:
        if self.delimiter in {'"', "\n", "\r", "\x00"}:
            raise ValueError(f"delimiter {self.delimiter!r} cannot separate fields")
        if self.decimal == self.delimiter:
            raise ValueError(f"decimal mark and delimiter are both {self.delimiter!r}")
        return self


class RowCondition(_Frozen):
    """A ``where`` condition: the column's value is one of ``values`` (or, if not ``keep_matching``, none of them).

    Written in the mapping as a value (``machine: P1``), a list (``machine: [P1, P2]``) or ``{not: [...]}``.
    An empty cell is none of the values.
    """

    values: frozenset[str] = Field(min_length=1)
    keep_matching: bool = True


def _refuse_booleans(field: str, values: list[object]) -> None:
    """A label written ``off``, ``no`` or ``yes`` is a YAML boolean, not the text in the file: say so."""
    for value in values:
        if isinstance(value, bool):
            raise ValueError(
                f"{field}: {str(value).lower()} is a YAML boolean (yes/no/on/off/true/false unquoted); "
                "quote the value as it is written in the file, e.g. 'off'"
            )


class SourceMapping(_Frozen):
    """One file mapped onto one canonical table.

    Attributes:
        file: CSV or Parquet file, relative to the mapping file's folder (or absolute, inside it or an
            allowed root).
        table: Canonical table it feeds.
        time: Its time column (``ts``, or ``ts_open`` for maintenance).
        asset: Asset id column or constant.
        asset_type: Asset type column or constant (default ``asset``).
        channels: Telemetry only: wide or long channel layout.
        columns: Other canonical columns → source column (e.g. ``code: alarm_id``).
        constants: Other canonical columns → constant value (e.g. ``severity: warning``).
        values: Per canonical column, source value → canonical value (e.g. severities ``HI: alarm``);
            a value mapped to ``null`` skips its rows (``fault_type: {normal: null}``: a normal row is no failure).
        where: Source column → condition; a row is imported only if it meets every condition: a value
            (equals), a list (is one of) or ``{not: [...]}`` (is none of). Values are compared as text.
        csv: CSV reading options.
    """

    file: str = Field(min_length=1)
    table: MappedTable
    time: TimeSpec
    asset: ValueSpec
    asset_type: ValueSpec = ValueSpec(value="asset")
    channels: Annotated[WideChannels | LongChannels, Field(discriminator="layout")] | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str | None]] = Field(default_factory=dict)
    where: dict[str, RowCondition] = Field(default_factory=dict)
    csv: CsvOptions = CsvOptions()

    @field_validator("where", mode="before")
    @classmethod
    def _conditions(cls, where: object) -> object:
        """``value``, ``[values]`` and ``{not: values}`` as :class:`RowCondition` fields."""
        if not isinstance(where, dict):
            return where  # pydantic names the type error
        conditions: dict[object, object] = {}
        for column, written in where.items():
            keep, chosen = True, written
            if isinstance(written, dict):
                if set(written) != {"not"}:
                    raise ValueError(
                        f"where.{column}: a condition is a value, a list of values, or {{not: [values]}}; "
                        f"got the keys {sorted(map(str, written))}"
                    )
                keep, chosen = False, written["not"]
            values = chosen if isinstance(chosen, list) else [chosen]
            _refuse_booleans(f"where.{column}", values)
            conditions[column] = {"values": values, "keep_matching": keep}
        return conditions

    @field_validator("values", mode="before")
    @classmethod
    def _no_booleans(cls, values: object) -> object:
        if isinstance(values, dict):
            for column, table in values.items():
                if isinstance(table, dict):
                    _refuse_booleans(f"values.{column}", [*table, *table.values()])
        return values

    @model_validator(mode="after")
    def _fits_table(self) -> Self:
        if self.table == "telemetry":
            if self.channels is None:
                raise ValueError("a telemetry source needs 'channels' (layout: wide or long)")
            if self.columns or self.constants or self.values:
                raise ValueError(
                    "a telemetry source maps its values through 'channels', not 'columns'/'constants'/'values' "
                    "(use 'where' to choose its rows)"
                )
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
            if value is None:
                raise ValueError(f"constants.{column}: {constant!r} is mapped to null, which would skip every row")
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

    def skipped_values(self) -> dict[str, frozenset[str]]:
        """Per source column, the values that ``values`` maps to ``null`` (their rows are skipped)."""
        skipped = {}
        for name, table in self.values.items():
            nulls = frozenset(raw for raw, mapped in table.items() if mapped is None)
            if nulls and name in self.columns:
                skipped[self.columns[name]] = nulls
        return skipped

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
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: mapping file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: mapping file cannot be opened ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: not a mapping file (a folder or special file; give the YAML mapping file)")
    if info.st_size > MAX_MAPPING_BYTES:
        raise ConfigError(f"{path}: {info.st_size:,} bytes is too large for a mapping file (at most 1 MiB)")
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8"), Loader=_YAML_LOADER)
    except UnicodeDecodeError:
        where = locate_decoding_error(path, "utf-8") or "not valid utf-8"
        raise ConfigError(f"{path}: {where}; a mapping file is UTF-8 text") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(_one_line(f"{path}: {where}not valid YAML ({exc.problem})")) from exc
    except (yaml.YAMLError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ConfigError(_one_line(f"{path}: not valid YAML ({reason})")) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'sources' list at the top level")
    if _count_nodes(raw, _MAX_NODES) > _MAX_NODES:
        raise ConfigError(f"{path}: more than {_MAX_NODES:,} values once YAML aliases are expanded")
    try:
        return Mapping.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_one_line(f"{path}: {describe_validation_error(exc)}")) from exc
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None


def _count_nodes(value: object, limit: int) -> int:
    """Values in a loaded YAML document, counting each alias use; stops counting past ``limit``."""
    count = 0
    stack = [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _one_line(text: str) -> str:
    """Escape line breaks and other control characters (keys written in the mapping can hold them)."""
    return "".join(repr(c)[1:-1] if not c.isprintable() else c for c in text)
