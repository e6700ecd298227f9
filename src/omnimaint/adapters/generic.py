"""Customer CSV/Parquet files + a YAML mapping (:mod:`omnimaint.adapters.mapping`) → canonical dataset.

Two passes over the sources: a survey (assets and their types, channel names, fault types, components,
cameras, reading only the columns that carry them) builds the assets table and the manifest; then each
source is streamed chunk by chunk into its canonical table. Every value error names the source file,
line (CSV) or row (Parquet) and column.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from omnimaint.adapters.clock import parse_times
from omnimaint.adapters.mapping import ChannelSpec, LongChannels, Mapping, SourceMapping, WideChannels, load_mapping
from omnimaint.adapters.progress import progress_bar
from omnimaint.adapters.sources import (
    CHUNK_ROWS,
    TableChunk,
    count_records,
    optional_numeric_values,
    read_table_chunks,
    text_values,
)
from omnimaint.data import CameraInfo, ChannelInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION, TABLES
from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)


def _source_path(source: SourceMapping, base: Path) -> Path:
    return source.file if source.file.is_absolute() else base / source.file


def _source_columns(source: SourceMapping, *, survey: bool) -> list[str]:
    """Source columns a pass reads (the survey only those that name assets, channels, faults, cameras)."""
    columns = [spec.column for spec in (source.asset, source.asset_type) if spec.column is not None]
    channels = source.channels
    if isinstance(channels, LongChannels):
        columns += [channels.channel_column] + ([] if survey else [channels.value_column])
    elif isinstance(channels, WideChannels) and not survey:
        columns += list(channels.columns)
    surveyed = {"component", "fault_type", "camera"}
    columns += [col for name, col in source.columns.items() if not survey or name in surveyed]
    if not survey:
        columns.append(source.time.column)
    return list(dict.fromkeys(columns))


def _chunks(source: SourceMapping, base: Path, columns: list[str], chunk_rows: int) -> Iterator[TableChunk]:
    return read_table_chunks(
        _source_path(source, base),
        required=columns,
        columns=columns,
        text_columns=[c for c in columns if c not in _numeric_columns(source)],
        chunk_rows=chunk_rows,
        encoding=source.csv.encoding,
        delimiter=source.csv.delimiter,
        decimal=source.csv.decimal,
    )


def _numeric_columns(source: SourceMapping) -> set[str]:
    numeric = {source.time.column} if source.time.unit is not None else set()
    if isinstance(source.channels, WideChannels):
        numeric |= set(source.channels.columns)
    elif isinstance(source.channels, LongChannels):
        numeric.add(source.channels.value_column)
    return numeric


def _values(source: SourceMapping, chunk: TableChunk, name: str, *, required: bool) -> pd.Series:
    """A canonical text column of the chunk: from its source column or constant, through the value map."""
    if name in source.columns:
        values = text_values(chunk, source.columns[name], required=required)
    elif name in source.constants:
        values = pd.Series(source.constants[name], index=chunk.frame.index, dtype=object)
    else:
        return pd.Series(None, index=chunk.frame.index, dtype=object)
    if name in source.values:
        table = source.values[name]
        values = values.map(lambda v: table.get(v, v) if v is not None else None)
    return values


def _check_choices(source: SourceMapping, chunk: TableChunk, name: str, values: pd.Series) -> None:
    choices = TABLES[source.table].column(name).choices
    column = source.columns.get(name)
    if choices is None or column is None:  # constants were checked with the mapping
        return
    outside = (values.notna() & ~values.isin(choices)).to_numpy()
    chunk.fail_where(outside, column, f"{name} {{value}} is not one of {list(choices)}; map it under values.{name}")


def _asset_ids(source: SourceMapping, chunk: TableChunk) -> pd.Series:
    if source.asset.column is not None:
        return text_values(chunk, source.asset.column)
    return pd.Series(source.asset.value, index=chunk.frame.index, dtype=object)


@dataclass
class Survey:
    """What the first pass learns: assets and types, channels, fault types, components, cameras."""

    asset_types: dict[str, str] = field(default_factory=dict)
    channels: dict[str, ChannelSpec] = field(default_factory=dict)
    fault_types: set[str] = field(default_factory=set)
    components: dict[str, set[str]] = field(default_factory=dict)
    cameras: set[str] = field(default_factory=set)

    def add_assets(self, chunk: TableChunk, ids: pd.Series, types: pd.Series) -> None:
        """Record the chunk's assets; raise at a row that gives an asset another type than before."""
        pairs = pd.DataFrame({"id": ids.to_numpy(), "type": types.to_numpy()})
        expected = pairs["id"].map(self.asset_types).fillna(pairs.groupby("id")["type"].transform("first"))
        chunk.fail_where(
            (pairs["type"] != expected).to_numpy(),
            None,
            "asset has another asset type than in an earlier row or source",
        )
        self.asset_types.update(dict(zip(pairs["id"], pairs["type"], strict=True)))


def survey_sources(mapping: Mapping, base: Path, chunk_rows: int) -> Survey:
    """First pass: read only the identifying columns of every source."""
    survey = Survey()
    for source in mapping.sources:
        if isinstance(source.channels, WideChannels):
            for column, spec in source.channels.columns.items():
                survey.channels[spec.name or column] = spec
        for chunk in _chunks(source, base, _source_columns(source, survey=True), chunk_rows):
            ids = _asset_ids(source, chunk)
            if source.asset_type.column is not None:
                types = text_values(chunk, source.asset_type.column)
            else:
                types = pd.Series(source.asset_type.value, index=chunk.frame.index, dtype=object)
            survey.add_assets(chunk, ids, types)
            if isinstance(source.channels, LongChannels):
                for name in text_values(chunk, source.channels.channel_column).unique():
                    survey.channels.setdefault(name, source.channels.channels.get(name, ChannelSpec()))
            if source.table == "failures":
                survey.fault_types.update(_values(source, chunk, "fault_type", required=True).unique())
                components = _values(source, chunk, "component", required=True)
                for asset_type, component in zip(types, components, strict=True):
                    survey.components.setdefault(asset_type, set()).add(component)
            if source.table == "frames":
                survey.cameras.update(_values(source, chunk, "camera", required=True).unique())
    if not survey.asset_types:
        raise DatasetError(f"{base}: the mapped sources hold no rows")
    return survey


def _telemetry_rows(source: SourceMapping, chunk: TableChunk, ids: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    channels = source.channels
    if isinstance(channels, WideChannels):
        parts = []
        for column, spec in channels.columns.items():
            values = optional_numeric_values(chunk, column)
            keep = ~np.isnan(values)  # an empty cell is a missing reading: no row, never a zero
            parts.append(
                pd.DataFrame(
                    {"asset_id": ids[keep], "ts": times[keep], "channel": spec.name or column, "value": values[keep]}
                )
            )
        return pd.concat(parts, ignore_index=True)
    assert isinstance(channels, LongChannels)
    values = optional_numeric_values(chunk, channels.value_column)
    keep = ~np.isnan(values)
    names = text_values(chunk, channels.channel_column).to_numpy()
    return pd.DataFrame({"asset_id": ids[keep], "ts": times[keep], "channel": names[keep], "value": values[keep]})


def _optional_times(source: SourceMapping, chunk: TableChunk, column: str) -> pd.Series:
    present = chunk.frame[column].notna().to_numpy()
    out = pd.Series(pd.NaT, index=chunk.frame.index, dtype="datetime64[us, UTC]")
    if present.any():
        spec = source.time
        formats = [spec.format] if spec.format else None
        out[present] = parse_times(
            chunk.subset(present), column, formats=formats, timezone=spec.timezone, unit=spec.unit
        )
    return out


def _table_rows(
    source: SourceMapping, number: int, chunk: TableChunk, base: Path, writer: DatasetWriter
) -> pd.DataFrame:
    spec = TABLES[source.table]
    ids = _asset_ids(source, chunk).to_numpy()
    formats = [source.time.format] if source.time.format else None
    times = parse_times(
        chunk, source.time.column, formats=formats, timezone=source.time.timezone, unit=source.time.unit
    )
    if source.table == "telemetry":
        return _telemetry_rows(source, chunk, ids, times)
    rows: dict[str, object] = {"asset_id": ids, spec.time_column or "ts": times}
    for name in (c.name for c in spec.columns if c.name not in rows):
        if name in source.time_columns():
            rows[name] = _optional_times(source, chunk, source.columns[name]).to_numpy()
            continue
        values = _values(source, chunk, name, required=spec.column(name).required)
        _check_choices(source, chunk, name, values)
        rows[name] = values.to_numpy()
    frame = pd.DataFrame(rows)
    if source.table == "frames":
        frame["path"] = _copy_frames(source, number, chunk, base, writer, frame)
    return frame


def _copy_frames(
    source: SourceMapping, number: int, chunk: TableChunk, base: Path, writer: DatasetWriter, frame: pd.DataFrame
) -> list[str]:
    """Copy each row's image into ``frames/<asset>/<camera>/`` (named by source and record: never a clash)."""
    copied: list[str] = []
    for i, (asset_id, camera, text) in enumerate(zip(frame["asset_id"], frame["camera"], frame["path"], strict=True)):
        image = Path(text) if Path(text).is_absolute() else base / text
        if not image.is_file():
            flags = np.arange(len(frame)) == i
            chunk.fail_where(flags, source.columns.get("path"), f"image file {str(image)!r} not found")
        relative = f"frames/{asset_id}/{camera}/{number}-{int(chunk.frame.index[i]):07d}-{image.name}"
        shutil.copyfile(image, writer.blob_path(relative))
        copied.append(relative)
    return copied


def _manifest(mapping: Mapping, survey: Survey, src: Path) -> Manifest:
    components = {t: tuple(sorted(c)) for t, c in survey.components.items()}
    components.update(mapping.components)
    return Manifest(
        schema_version=SCHEMA_VERSION,
        name=mapping.name,
        channels=tuple(
            ChannelInfo(
                name=name,
                kind="telemetry",
                unit=spec.unit,
                sampling_rate_hz=spec.sampling_rate_hz,
                description=spec.description,
            )
            for name, spec in sorted(survey.channels.items())
        ),
        cameras=tuple(CameraInfo(name=name) for name in sorted(survey.cameras)),
        components=components,
        fault_types=tuple(sorted(survey.fault_types)),
        provenance=describe_provenance(
            source=f"mapped files ({', '.join(str(s.file) for s in mapping.sources)})",
            adapter="generic",
            source_path=str(src),
        ),
    )


def import_generic(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    show_progress: bool = True,
) -> Dataset:
    """Convert the CSV/Parquet files described by the YAML mapping ``src`` into a canonical dataset.

    Args:
        src: The mapping file; the files it lists are relative to its folder.
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        chunk_rows: Records per streamed chunk (bounds memory).
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        ConfigError: if the mapping file is invalid (naming the field).
        DatasetError: if a source file is missing or a value is malformed (naming file, line and column).
    """
    mapping = load_mapping(src)
    base = src.parent
    survey = survey_sources(mapping, base, chunk_rows)
    total = sum(count_records(_source_path(source, base)) for source in mapping.sources)
    with (
        DatasetWriter(out, _manifest(mapping, survey, src), overwrite=overwrite) as writer,
        progress_bar("mapped sources", total, enabled=show_progress) as advance,
    ):
        writer.append(
            "assets",
            pd.DataFrame({"asset_id": list(survey.asset_types), "asset_type": list(survey.asset_types.values())}),
        )
        for number, source in enumerate(mapping.sources):
            for chunk in _chunks(source, base, _source_columns(source, survey=False), chunk_rows):
                writer.append(source.table, _table_rows(source, number, chunk, base, writer))
                advance(len(chunk))
        dataset = writer.commit()
    logger.info("converted %d mapped sources from %s", len(mapping.sources), src)
    return dataset
