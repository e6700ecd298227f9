"""Customer CSV/Parquet files + a YAML mapping (:mod:`omnimaint.adapters.mapping`) → canonical dataset.

Two passes over the sources: a survey (assets and their types, channel names, fault types, components,
cameras and frame images, reading only the columns that carry them) builds the assets table and the
manifest; then each source is streamed chunk by chunk into its canonical table. Both passes keep the same
rows (a source's ``where`` conditions and its values mapped to ``null``). Every file is read only from the
mapping's folder or an allowed root (:class:`~omnimaint.adapters.paths.SourceRoots`). Every value error
names the source file, line (CSV) or row (Parquet) and column.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from omnimaint.adapters.clock import parse_times
from omnimaint.adapters.csv_text import check_encoding
from omnimaint.adapters.mapping import ChannelSpec, LongChannels, Mapping, SourceMapping, WideChannels, load_mapping
from omnimaint.adapters.paths import SourceRoots, shown_path
from omnimaint.adapters.sources import (
    CHUNK_ROWS,
    TableChunk,
    count_records,
    optional_numeric_values,
    path_segment,
    read_table_chunks,
    text_values,
)
from omnimaint.data import CameraInfo, ChannelInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION, TABLES
from omnimaint.errors import DatasetError
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Source:
    """A mapped source with its file resolved inside the roots, and how to read it."""

    number: int
    mapping: SourceMapping
    path: Path
    encoding: str


def _source_columns(source: SourceMapping, *, survey: bool) -> list[str]:
    """Source columns a pass reads.

    The survey reads the time column (so that a source whose asset is a constant still has rows), the
    columns that name assets, channels, faults, cameras and frame images, and those that decide which rows
    are kept; the second pass reads every mapped column.
    """
    columns = [source.time.column]
    columns += [spec.column for spec in (source.asset, source.asset_type) if spec.column is not None]
    channels = source.channels
    if isinstance(channels, LongChannels):
        columns += [channels.channel_column] + ([] if survey else [channels.value_column])
    elif isinstance(channels, WideChannels) and not survey:
        columns += list(channels.columns)
    surveyed = {"component", "fault_type", "camera", "path"}
    columns += [col for name, col in source.columns.items() if not survey or name in surveyed]
    columns += list(source.where)
    columns += list(source.skipped_values())
    return list(dict.fromkeys(columns))


def _chunks(source: _Source, columns: list[str], chunk_rows: int) -> Iterator[tuple[TableChunk, int]]:
    """The source's records, chunk by chunk, holding only the rows its ``where`` and ``null`` values keep.

    Yields:
        The kept records of a chunk (possibly none) and how many records the chunk read.
    """
    mapping = source.mapping
    for chunk in read_table_chunks(
        source.path,
        required=columns,
        columns=columns,
        text_columns=[c for c in columns if c not in _numeric_columns(mapping)],
        chunk_rows=chunk_rows,
        encoding=source.encoding,
        delimiter=mapping.csv.delimiter,
        decimal=mapping.csv.decimal,
    ):
        keep = _kept_rows(mapping, chunk)
        yield (chunk if keep.all() else chunk.subset(keep)), len(chunk)


def _kept_rows(source: SourceMapping, chunk: TableChunk) -> np.ndarray:
    """Flags of the rows that meet every ``where`` condition and hold no value mapped to ``null``."""
    keep = np.ones(len(chunk), dtype=bool)
    for column, condition in source.where.items():
        matches = text_values(chunk, column, required=False).isin(condition.values).to_numpy()
        keep &= matches if condition.keep_matching else ~matches
    for column, skipped in source.skipped_values().items():
        keep &= ~text_values(chunk, column, required=False).isin(skipped).to_numpy()
    return keep


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


def _survey_sources(sources: Sequence[_Source], roots: SourceRoots, chunk_rows: int) -> Survey:
    """First pass: read only the identifying columns of every source (and check every frame image)."""
    survey = Survey()
    for source in sources:
        mapping = source.mapping
        if isinstance(mapping.channels, WideChannels):
            for column, spec in mapping.channels.columns.items():
                survey.channels[spec.name or column] = spec
        for chunk, _ in _chunks(source, _source_columns(mapping, survey=True), chunk_rows):
            if not len(chunk):
                continue
            ids = _asset_ids(mapping, chunk)
            if mapping.asset_type.column is not None:
                types = text_values(chunk, mapping.asset_type.column)
            else:
                types = pd.Series(mapping.asset_type.value, index=chunk.frame.index, dtype=object)
            survey.add_assets(chunk, ids, types)
            if isinstance(mapping.channels, LongChannels):
                for name in text_values(chunk, mapping.channels.channel_column).unique():
                    survey.channels.setdefault(name, mapping.channels.channels.get(name, ChannelSpec()))
            if mapping.table == "failures":
                survey.fault_types.update(_values(mapping, chunk, "fault_type", required=True).unique())
                components = _values(mapping, chunk, "component", required=True)
                for asset_type, component in zip(types, components, strict=True):
                    survey.components.setdefault(asset_type, set()).add(component)
            if mapping.table == "frames":
                survey.cameras.update(_values(mapping, chunk, "camera", required=True).unique())
                _frame_files(mapping, chunk, roots, check_images=True)
    if not survey.asset_types:
        raise DatasetError(f"{roots.base}: the mapped sources hold no rows (after their 'where' conditions)")
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


def _table_rows(source: _Source, chunk: TableChunk, roots: SourceRoots, writer: DatasetWriter) -> pd.DataFrame:
    mapping = source.mapping
    spec = TABLES[mapping.table]
    ids = _asset_ids(mapping, chunk).to_numpy()
    formats = [mapping.time.format] if mapping.time.format else None
    times = parse_times(
        chunk, mapping.time.column, formats=formats, timezone=mapping.time.timezone, unit=mapping.time.unit
    )
    if mapping.table == "telemetry":
        return _telemetry_rows(mapping, chunk, ids, times)
    rows: dict[str, object] = {"asset_id": ids, spec.time_column or "ts": times}
    for name in (c.name for c in spec.columns if c.name not in rows):
        if name in mapping.time_columns():
            rows[name] = _optional_times(mapping, chunk, mapping.columns[name]).to_numpy()
            continue
        values = _values(mapping, chunk, name, required=spec.column(name).required)
        _check_choices(mapping, chunk, name, values)
        rows[name] = values.to_numpy()
    frame = pd.DataFrame(rows)
    if mapping.table == "frames":
        images = _frame_files(mapping, chunk, roots, check_images=False)  # checked by the survey
        frame["path"] = _copy_frames(source.number, chunk, images, writer, frame)
    return frame


def _frame_files(source: SourceMapping, chunk: TableChunk, roots: SourceRoots, *, check_images: bool) -> list[Path]:
    """The real path of each row's image, checked to lie inside the roots (and, if asked, to be an image).

    Raises:
        DatasetError: naming the file, line and column of the first path that leads outside the roots, is
            missing, or is not an image (without quoting anything of a file outside them).
    """
    column = source.columns.get("path")
    texts = _values(source, chunk, "path", required=True)
    files = []
    for position, text in zip(chunk.frame.index, texts, strict=True):
        where = chunk.where(int(position), column) if column is not None else f"{chunk.path}: constants.path"
        image = roots.resolve(str(text), where)
        if not check_images:
            files.append(image)
            continue
        try:
            with Image.open(image) as opened:  # parses the structure without decoding pixels
                opened.verify()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            reason = "too large" if isinstance(exc, Image.DecompressionBombError) else "not a readable image"
            raise DatasetError(f"{where}: {shown_path(str(text))} is {reason} (PNG, JPEG, BMP, TIFF ...)") from None
        files.append(image)
    return files


def _copy_frames(
    number: int, chunk: TableChunk, images: list[Path], writer: DatasetWriter, frame: pd.DataFrame
) -> list[str]:
    """Copy each row's image into ``frames/<asset>/<camera>/`` (named by source and record: never a clash)."""
    copied: list[str] = []
    for position, asset_id, camera, image in zip(
        chunk.frame.index, frame["asset_id"], frame["camera"], images, strict=True
    ):
        folder = f"frames/{path_segment(asset_id)}/{path_segment(camera)}"
        relative = f"{folder}/{number}-{int(position):07d}-{path_segment(image.stem)}{path_segment(image.suffix, 16)}"
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
    allow_roots: Sequence[Path] = (),
    encoding: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    show_progress: bool = True,
) -> Dataset:
    """Convert the CSV/Parquet files described by the YAML mapping ``src`` into a canonical dataset.

    Args:
        src: The mapping file; the files it lists are relative to its folder.
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        allow_roots: Folders besides the mapping's own that source files and frame images may be read
            from (``--allow-root``); any other path is refused before it is opened.
        encoding: Text encoding of every CSV source, overriding each source's ``csv.encoding``.
        chunk_rows: Records per streamed chunk (bounds memory).
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        ConfigError: if the mapping file is invalid (naming the field), an allowed root is not a folder, or
            ``encoding`` is unknown.
        DatasetError: if a source file or frame image is missing, leads outside the mapping's folder and the
            allowed roots, or a value is malformed (naming file, line and column).
    """
    if encoding is not None:
        check_encoding(encoding)
    mapping = load_mapping(src)
    roots = SourceRoots.of_mapping(src, allow_roots)
    sources = [
        _Source(
            number,
            source,
            roots.resolve(source.file, f"{src}: field 'sources.{number}.file'"),
            encoding or source.csv.encoding,
        )
        for number, source in enumerate(mapping.sources)
    ]
    survey = _survey_sources(sources, roots, chunk_rows)
    total = sum(count_records(source.path) for source in sources)
    with (
        DatasetWriter(out, _manifest(mapping, survey, src), overwrite=overwrite) as writer,
        progress_bar("mapped sources", total, enabled=show_progress) as advance,
    ):
        writer.append(
            "assets",
            pd.DataFrame({"asset_id": list(survey.asset_types), "asset_type": list(survey.asset_types.values())}),
        )
        for source in sources:
            for chunk, records in _chunks(source, _source_columns(source.mapping, survey=False), chunk_rows):
                if len(chunk):
                    writer.append(source.mapping.table, _table_rows(source, chunk, roots, writer))
                advance(records)
        dataset = writer.commit()
    logger.info("converted %d mapped sources from %s", len(mapping.sources), src)
    return dataset
