"""Reading and writing dataset folders.

A dataset is a folder holding ``dataset.json`` (see :mod:`omnimaint.data.manifest`), one Parquet file
per canonical table and blob folders (``frames/``). :class:`DatasetWriter` builds a dataset in a
hidden sibling folder, chunk by chunk (memory stays bounded for large plants), checks it, and only
then renames it into place: a crash mid-write never leaves a half dataset that loads.
:class:`Dataset` reads tables lazily, validates each on first read and returns it sorted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from omnimaint import __version__
from omnimaint.atomic import DATASET, OutputError, check_target, discard_staging, new_staging, swap_into_place
from omnimaint.data.blobs import BlobFolder, inside, is_file, is_plain_relative
from omnimaint.data.manifest import MANIFEST_FILE, Manifest, TableInfo, read_manifest, write_manifest
from omnimaint.data.schema import TABLES, ColumnKind, TableSpec
from omnimaint.data.validation import (
    TableProblems,
    ValidationContext,
    describe_problems,
    normalize_table,
    one_line,
    sort_table,
)
from omnimaint.errors import DatasetError

logger = logging.getLogger(__name__)

FRAMES_DIR = "frames"
_BATCH_ROWS = 4096
_LEADS_OUTSIDE = "a symbolic link that leads outside the dataset folder (not read)"
_PARQUET_ERRORS = (pa.ArrowException, OSError, ValueError)
"""What reading a damaged Parquet file raises (a corrupted column name fails to decode as UTF-8)."""


def _to_arrow(rows: pd.DataFrame | pa.Table, source: str) -> pa.Table:
    """Convert a DataFrame column by column, keeping NaN as NaN (``from_pandas`` would make it null)."""
    if isinstance(rows, pa.Table):
        return rows
    arrays: dict[str, pa.Array] = {}
    for name in rows.columns:
        column = rows[name]
        try:
            if pd.api.types.is_float_dtype(column.dtype):
                arrays[str(name)] = pa.array(column.to_numpy(), type=pa.float64())
            elif column.dtype == object and any(isinstance(v, np.ndarray) for v in column.head(16)):
                # Sample lists may mix float32 and float64 arrays; widen them all (cast down later).
                lists = [None if v is None else np.asarray(v, dtype=np.float64) for v in column]
                arrays[str(name)] = pa.array(lists, type=pa.list_(pa.float64()))
            else:
                arrays[str(name)] = pa.array(column, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise DatasetError(f"{source}: column '{name}': values cannot be converted ({exc})") from exc
    return pa.table(arrays)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_parquet(path: Path) -> pq.ParquetFile:
    try:
        parquet = pq.ParquetFile(path)
        parquet.schema_arrow  # noqa: B018 - converting the schema is part of the check
        return parquet
    except _PARQUET_ERRORS as exc:
        raise DatasetError(f"{path}: not a readable Parquet file ({one_line(exc)})") from exc


def _read_columns(path: Path, columns: list[str] | None) -> pa.Table:
    try:
        # ParquetFile.read, not pq.read_table: the dataset machinery behind the latter costs ~5 ms per file.
        with pq.ParquetFile(path) as parquet:
            table = parquet.read(columns=columns)
        # Parquet decoding does not check that text is UTF-8 (a flipped byte): a full validation does.
        table.validate(full=True)
        return table
    except _PARQUET_ERRORS as exc:
        raise DatasetError(f"{path}: not a readable Parquet file ({one_line(exc)})") from exc


def _list_columns(spec: TableSpec) -> list[str]:
    return [c.name for c in spec.columns if c.kind is ColumnKind.FLOAT_LIST]


def read_table_file(
    path: Path,
    spec: TableSpec,
    *,
    asset_ids: frozenset[str] | None,
    root: Path | None,
    expected_rows: int | None = None,
    keep_lists: bool = True,
    channels: Mapping[str, str] | None = None,
    check_images: bool = False,
) -> pa.Table:
    """Read, check and sort one table file.

    Large list columns (waveform samples) are read and checked batch by batch, so a malformed burst is
    reported with its row; with ``keep_lists=False`` they are checked and dropped (memory stays at one
    batch), and the returned table holds the other columns only.

    Args:
        channels: Declared channels by name and kind; other telemetry/waveform channels are refused.
        check_images: Check that each frame blob has a readable image header.

    Raises:
        DatasetError: if the file cannot be read or breaks any rule of its table.
    """
    parquet = _open_parquet(path)
    present = parquet.schema_arrow.names
    rows = parquet.metadata.num_rows
    if expected_rows is not None and rows != expected_rows:
        raise DatasetError(
            f"{path}: holds {rows} rows but {MANIFEST_FILE} records {expected_rows} (truncated or replaced file?)"
        )
    list_cols = [c for c in _list_columns(spec) if c in present]
    scalar_cols = [name for name in present if name not in list_cols]
    ctx = ValidationContext(
        source=str(path), asset_ids=asset_ids, root=root, channels=channels, check_images=check_images
    )
    scalar_names = [c.name for c in spec.columns if c.name not in list_cols]
    table = normalize_table(_read_columns(path, scalar_cols), spec, ctx, columns=scalar_names)
    if list_cols:
        checked: list[pa.Table] = []
        offset = 0
        batches = parquet.iter_batches(batch_size=_BATCH_ROWS, columns=list_cols)
        while True:
            try:
                batch = next(batches)
                batch.validate(full=True)
            except StopIteration:
                break
            except _PARQUET_ERRORS as exc:
                raise DatasetError(f"{path}: not a readable Parquet file ({one_line(exc)})") from exc
            part_ctx = ValidationContext(source=str(path), row_offset=offset)
            part = normalize_table(pa.Table.from_batches([batch]), spec, part_ctx, columns=list_cols)
            if keep_lists:
                checked.append(part)
            offset += batch.num_rows
        if not keep_lists:
            return sort_table(table, spec)
        lists = pa.concat_tables(checked) if checked else spec.arrow_schema.empty_table().select(list_cols)
        for name in list_cols:
            table = table.append_column(pa.field(name, spec.column(name).arrow_type), lists.column(name))
        table = table.select([c.name for c in spec.columns])
    return sort_table(table, spec)


def empty_table(spec: TableSpec) -> pa.Table:
    """A table with the canonical schema and no rows (for modalities a dataset does not have)."""
    return spec.arrow_schema.empty_table()


class Dataset:
    """A dataset folder opened for reading.

    Tables are read on first use, validated, sorted, and cached as Arrow tables; ``to_pandas`` views
    are built on request. A table the dataset does not have reads as an empty table.

    Args:
        path: The dataset folder.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.manifest: Manifest = read_manifest(self.path)
        self._tables: dict[str, pa.Table] = {}
        self.asset_ids: frozenset[str] = frozenset()
        assets = self.arrow("assets")
        if assets.num_rows == 0:
            raise DatasetError(f"{self.path / 'assets.parquet'}: the dataset has no assets")
        self.asset_ids = frozenset(assets.column("asset_id").to_pylist())

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, assets={len(self.asset_ids)})"

    def has(self, name: str) -> bool:
        """Whether the dataset has a file for table ``name``."""
        return is_file(self.path / TABLES[name].file_name)

    def _table_file(self, spec: TableSpec) -> Path:
        path = self.path / spec.file_name
        if is_file(path) and not inside(self.path, path):
            raise DatasetError(f"{path}: {_LEADS_OUTSIDE}")
        return path

    def arrow(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Table ``name`` as a validated, sorted Arrow table.

        Args:
            name: Canonical table name.
            columns: Read only these columns (not cached; for counting rows of large tables without
                loading waveform samples). ``None`` reads, and caches, the whole table.
        """
        if name not in TABLES:
            raise KeyError(f"unknown table {name!r}; tables are {list(TABLES)}")
        if name in self._tables:
            table = self._tables[name]
            return table if columns is None else table.select(columns)
        spec = TABLES[name]
        path = self._table_file(spec)
        info = self.manifest.tables.get(name)
        if not is_file(path):
            if name == "assets":
                raise DatasetError(f"{self.path}: the dataset has no {spec.file_name}")
            if info is not None:
                raise DatasetError(f"{path}: recorded in {MANIFEST_FILE} but missing")
            table = empty_table(spec)
        elif columns is not None:
            return self._read_some_columns(path, spec, columns, info)
        else:
            table = read_table_file(
                path,
                spec,
                asset_ids=self.asset_ids if name != "assets" else None,
                root=self.path,
                expected_rows=info.rows if info else None,
            )
        self._tables[name] = table
        return table if columns is None else table.select(columns)

    def _read_some_columns(self, path: Path, spec: TableSpec, columns: list[str], info: TableInfo | None) -> pa.Table:
        # A required column absent from the file is reported by normalize_table, not as an unreadable file.
        present = set(_open_parquet(path).schema_arrow.names)
        table = _read_columns(path, [c for c in columns if c in present])
        if info is not None and table.num_rows != info.rows:
            raise DatasetError(
                f"{path}: holds {table.num_rows} rows but {MANIFEST_FILE} records {info.rows} "
                "(truncated or replaced file?)"
            )
        ctx = ValidationContext(source=str(path), asset_ids=self.asset_ids, root=self.path)
        return sort_table(normalize_table(table, spec, ctx, columns=columns), spec)

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` as a pandas DataFrame (timestamps tz-aware UTC, rows in canonical order)."""
        return self.arrow(name).to_pandas()

    def frame_file(self, relative_path: str) -> Path:
        """Where the frame blob recorded in the ``frames`` table as ``relative_path`` really is.

        Raises:
            DatasetError: if the path is not relative or leads outside the dataset folder (through
                ``..`` or a symbolic link).
        """
        target = BlobFolder(self.path).locate(relative_path)
        if target is None:
            raise DatasetError(f"{self.path}: frame path {relative_path!r} leads outside the dataset folder")
        return target

    def components(self, asset_type: str | None = None) -> tuple[str, ...]:
        """Components of one asset type, or of all types when ``asset_type`` is ``None``."""
        if asset_type is None:
            return self.manifest.all_components()
        return self.manifest.components.get(asset_type, ())


class MemoryDataset(Dataset):
    """A dataset held in memory: the live service's view of its store, cut into windows by the same
    :class:`~omnimaint.data.sample_builder.WindowedDataset` as a dataset on disk.

    Each table is checked and sorted exactly as if it had been read from a file.

    Args:
        manifest: The manifest.
        tables: Canonical tables by name (absent ones are empty).
        root: Folder that frame paths are relative to.
        source: Where the rows came from, for messages.

    Raises:
        DatasetError: if a table breaks a rule of the canonical data model.
    """

    def __init__(self, manifest: Manifest, tables: Mapping[str, pa.Table], root: Path, *, source: str) -> None:
        self.path = Path(root)
        self.manifest = manifest
        assets = tables.get("assets")
        if assets is None or assets.num_rows == 0:
            raise DatasetError(f"{source}: no assets")
        self.asset_ids = frozenset(assets.column("asset_id").to_pylist())
        self._tables = {}
        for name, spec in TABLES.items():
            table = tables.get(name)
            if table is None:
                self._tables[name] = empty_table(spec)
                continue
            ctx = ValidationContext(source=f"{source} ({name})", asset_ids=self.asset_ids if name != "assets" else None)
            self._tables[name] = sort_table(normalize_table(table, spec, ctx), spec)

    def __repr__(self) -> str:
        return f"MemoryDataset({str(self.path)!r}, assets={len(self.asset_ids)})"

    def has(self, name: str) -> bool:
        return self._tables[name].num_rows > 0


def validate_dataset(path: str | Path, *, checksums: bool = True) -> Dataset:
    """Fully check a dataset folder: manifest, every table, blobs and (optionally) file checksums.

    Every table is checked, even after one breaks a rule, and all problems are reported together so that a
    user fixes them in one pass. Beyond what reading a dataset checks, this also refuses telemetry and
    waveform channels that ``dataset.json`` does not declare, frame blobs without a readable image header,
    Parquet files that are not a canonical table, and (with ``checksums``) files whose SHA-256 differs from
    the recorded one. Large list columns are checked batch by batch and not kept, so memory stays bounded.

    Returns:
        The opened dataset (tables are read again on use).

    Raises:
        DatasetError: naming, in one line, each file with its problems (column, first row, how many rows),
            the first :data:`~omnimaint.data.validation.MAX_REPORTED_PROBLEMS` of them, and how many more.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    problems: list[tuple[str | None, str]] = [
        (str(stray), f"not a canonical table ({', '.join(TABLES)}), so it would be ignored: rename or move it")
        for stray in _stray_table_files(folder)
    ]
    asset_ids: frozenset[str] | None = None
    for name, spec in TABLES.items():
        table = _validate_table_file(folder, manifest, spec, asset_ids, checksums=checksums, problems=problems)
        if name == "assets" and table is not None:
            if table.num_rows == 0:
                problems.append((str(folder / spec.file_name), "the dataset has no assets"))
            asset_ids = frozenset(table.column("asset_id").to_pylist())
    if problems:
        raise DatasetError(describe_problems(problems))
    return Dataset(folder)


def _stray_table_files(folder: Path) -> list[Path]:
    """Parquet files beside the tables that are no canonical table (a misnamed table would be ignored)."""
    canonical = {spec.file_name for spec in TABLES.values()}
    return sorted(
        entry
        for entry in folder.iterdir()
        if entry.suffix.lower() == ".parquet" and entry.name not in canonical and not entry.name.startswith(".")
    )


def _validate_table_file(
    folder: Path,
    manifest: Manifest,
    spec: TableSpec,
    asset_ids: frozenset[str] | None,
    *,
    checksums: bool,
    problems: list[tuple[str | None, str]],
) -> pa.Table | None:
    """Check one table file, appending its problems; the table without list columns, or ``None``."""
    file = folder / spec.file_name
    source = str(file)
    info = manifest.tables.get(spec.name)
    if not is_file(file):
        if info is not None:
            problems.append((source, f"recorded in {MANIFEST_FILE} but missing"))
        elif spec.name == "assets":
            problems.append((str(folder), f"the dataset has no {spec.file_name}"))
        return None
    if not inside(folder, file):
        problems.append((source, _LEADS_OUTSIDE))
        return None
    if checksums and info is not None and info.sha256 is not None:
        try:
            if file_sha256(file) != info.sha256:
                problems.append(
                    (source, f"checksum differs from the one in {MANIFEST_FILE} (the file is corrupted or was changed)")
                )
        except OSError as exc:
            problems.append((source, f"cannot be read ({exc.strerror or exc})"))
            return None
    try:
        return read_table_file(
            file,
            spec,
            asset_ids=asset_ids if spec.name != "assets" else None,
            root=folder,
            expected_rows=info.rows if info else None,
            keep_lists=False,
            channels=manifest.channel_kinds(),
            check_images=True,
        )
    except TableProblems as exc:
        problems.extend((exc.source, problem) for problem in exc.problems)
    except DatasetError as exc:
        problems.append((source, str(exc).removeprefix(f"{source}: ")))
    return None


class DatasetWriter:
    """Write a dataset atomically, table chunk by table chunk.

    Use as a context manager. Rows go to a hidden sibling folder; :meth:`commit` (called on a clean
    exit) checks unique keys across chunks, records row counts and checksums in ``dataset.json`` and
    renames the folder into place. On an exception the partial folder is removed and nothing appears
    at ``path``.

    Args:
        path: Where the dataset will appear.
        manifest: Manifest without ``tables`` (filled in at commit).
        overwrite: Replace a dataset at ``path`` (atomically swapped at commit); anything else there is
            refused (see :func:`omnimaint.atomic.check_target`).

    Raises:
        DatasetError: at once if ``path`` holds anything but nothing, an empty folder or (with
            ``overwrite``) a dataset.
    """

    def __init__(self, path: str | Path, manifest: Manifest, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.overwrite = overwrite
        try:
            check_target(self.path, DATASET, overwrite=overwrite)
        except OutputError as exc:
            raise DatasetError(str(exc)) from exc
        self.staging: Path  # the hidden sibling folder, created on entering
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._rows: dict[str, int] = {}
        self._key_hashes: dict[str, list[np.ndarray]] = {}
        self._asset_ids: frozenset[str] | None = None
        self._committed = False

    def __enter__(self) -> DatasetWriter:
        try:
            self.staging = new_staging(self.path)
        except OutputError as exc:
            raise DatasetError(str(exc)) from exc
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None and not self._committed:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        elif exc_type is not None:
            self.abort()

    def blob_path(self, relative_path: str) -> Path:
        """Where to write a blob (e.g. ``frames/P01/cam0/000001.png``) so that it lands in the dataset.

        Raises:
            DatasetError: if ``relative_path`` is absolute or climbs out with ``..`` (a writer never writes
                outside the dataset, whatever names its sources hold).
        """
        if not is_plain_relative(relative_path):
            raise DatasetError(f"{self.path}: blob path {relative_path!r} is not a plain path inside the dataset")
        target = self.staging / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def append(self, name: str, rows: pd.DataFrame | pa.Table) -> None:
        """Check a chunk of table ``name`` and append it.

        The ``assets`` table must be written first (in one call) so that every later row's
        ``asset_id`` is checked against it.

        Raises:
            DatasetError: if the chunk breaks a rule; nothing of it is written.
        """
        if name not in TABLES:
            raise DatasetError(f"unknown table {name!r}; tables are {list(TABLES)}")
        spec = TABLES[name]
        if name == "assets":
            if "assets" in self._writers:
                raise DatasetError("the assets table must be written in one call")
        elif self._asset_ids is None:
            raise DatasetError(f"write the assets table before '{name}'")
        ctx = ValidationContext(
            source=f"{self.path.name}/{spec.file_name} (chunk at row {self._rows.get(name, 0)})",
            asset_ids=self._asset_ids,
            root=self.staging,
            row_offset=self._rows.get(name, 0),
        )
        table = sort_table(normalize_table(_to_arrow(rows, ctx.source), spec, ctx, check_keys=name == "assets"), spec)
        if name not in self._writers:
            self._writers[name] = pq.ParquetWriter(self.staging / spec.file_name, spec.arrow_schema)
        self._writers[name].write_table(table)
        self._rows[name] = self._rows.get(name, 0) + table.num_rows
        if spec.key:
            keys = table.select(list(spec.key)).to_pandas()
            self._key_hashes.setdefault(name, []).append(pd.util.hash_pandas_object(keys, index=False).to_numpy())
        if name == "assets":
            self._asset_ids = frozenset(table.column("asset_id").to_pylist())

    def commit(self) -> Dataset:
        """Finish the files, check the whole dataset, and move it into place.

        Returns:
            The written dataset, opened.
        """
        if "assets" not in self._writers:
            raise DatasetError(f"{self.path}: a dataset needs an assets table")
        for writer in self._writers.values():
            writer.close()
        tables: dict[str, TableInfo] = {}
        for name in self._writers:
            spec = TABLES[name]
            file = self.staging / spec.file_name
            if spec.key and self._may_repeat_keys(name):
                # Only then read the keys back, to name the first repeated key and its row exactly.
                keys = _read_columns(file, list(spec.key))
                normalize_table(keys, spec, ValidationContext(source=str(self.path / spec.file_name)), columns=spec.key)
            tables[name] = TableInfo(rows=self._rows[name], sha256=file_sha256(file))
        write_manifest(self.staging, self.manifest.model_copy(update={"tables": tables}))
        self._swap_into_place()
        self._committed = True
        logger.info("wrote dataset %s (%s)", self.path, ", ".join(f"{k}: {v.rows}" for k, v in tables.items()))
        return Dataset(self.path)

    def _may_repeat_keys(self, name: str) -> bool:
        """Whether two rows of table ``name`` may share a key: 64-bit key hashes collected per chunk are
        compared, so memory stays at 8 bytes per row instead of the keys themselves."""
        parts = self._key_hashes.get(name)
        if not parts:
            return False
        hashes = np.sort(np.concatenate(parts))
        return bool((hashes[1:] == hashes[:-1]).any())

    def abort(self) -> None:
        """Drop everything written so far."""
        for writer in self._writers.values():
            try:
                writer.close()
            except (pa.ArrowException, OSError):
                logger.debug("ignoring error while closing an aborted writer", exc_info=True)
        discard_staging(self.staging)

    def _swap_into_place(self) -> None:
        try:
            swap_into_place(self.staging, self.path, DATASET, overwrite=self.overwrite)
        except OutputError as exc:
            raise DatasetError(str(exc)) from exc


def write_dataset(
    path: str | Path,
    manifest: Manifest,
    tables: Mapping[str, pd.DataFrame | pa.Table],
    *,
    blobs: Mapping[str, bytes] | None = None,
    overwrite: bool = False,
) -> Dataset:
    """Write a whole dataset at once (small datasets, adapters, tests).

    Args:
        path: Where the dataset will appear.
        manifest: Its manifest (``tables`` is filled in).
        tables: Canonical tables by name; ``assets`` is required.
        blobs: Extra files by relative path (e.g. frame images under ``frames/``).
        overwrite: Replace an existing dataset.

    Returns:
        The written dataset, opened.
    """
    if "assets" not in tables:
        raise DatasetError(f"{path}: a dataset needs an assets table")
    with DatasetWriter(path, manifest, overwrite=overwrite) as writer:
        for relative, content in (blobs or {}).items():
            writer.blob_path(relative).write_bytes(content)
        writer.append("assets", tables["assets"])
        for name, rows in tables.items():
            if name != "assets":
                writer.append(name, rows)
        return writer.commit()


def iter_tables(dataset: Dataset) -> Iterator[tuple[str, pa.Table]]:
    """Every table the dataset has, in canonical order."""
    for name in TABLES:
        if dataset.has(name):
            yield name, dataset.arrow(name)


def describe_provenance(**fields: Any) -> dict[str, Any]:
    """Provenance record with the creation time and omnimaint version filled in."""
    stamp = pd.Timestamp.now(tz="UTC").isoformat()
    return {"created_at": stamp, "omnimaint_version": __version__, **fields}
