"""Microsoft Azure Predictive Maintenance sample data (``PdM_*.csv``) → canonical dataset.

Source files (as Microsoft ships them): ``PdM_machines.csv`` (machineID, model, age),
``PdM_telemetry.csv`` (datetime, machineID, volt, rotate, pressure, vibration; hourly),
``PdM_errors.csv`` (datetime, machineID, errorID), ``PdM_maint.csv`` (datetime, machineID, comp) and
``PdM_failures.csv`` (datetime, machineID, failure). Telemetry is streamed in chunks, so the full public
set (100 machines × a year, 876k rows) converts in bounded memory. See ``docs/adapters.md``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from omnimaint.adapters.clock import check_timezone, parse_times
from omnimaint.adapters.csv_text import check_encoding
from omnimaint.adapters.sources import (
    CHUNK_ROWS,
    TableChunk,
    count_records,
    first_duplicate,
    integer_values,
    numeric_values,
    read_table_chunks,
    read_whole_table,
    require_file,
    text_values,
)
from omnimaint.data import ChannelInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)

ASSET_TYPE: Final = "machine"
CHANNELS: Final = ("volt", "rotate", "pressure", "vibration")
COMPONENTS: Final = ("comp1", "comp2", "comp3", "comp4")
DATETIME_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %I:%M:%S %p")
"""The Kaggle copies write ``2015-01-01 06:00:00``; Microsoft's original blobs ``1/1/2015 6:00:00 AM``."""

_UNITS: Final = {"volt": "V", "rotate": "rpm", "pressure": "", "vibration": ""}
_HOURLY_HZ: Final = 1.0 / 3600.0


@dataclass(frozen=True)
class AzureFiles:
    """Paths of the five ``PdM_*.csv`` files under a source folder."""

    machines: Path
    telemetry: Path
    errors: Path
    maintenance: Path
    failures: Path

    @classmethod
    def under(cls, src: Path) -> AzureFiles:
        files = cls(
            machines=src / "PdM_machines.csv",
            telemetry=src / "PdM_telemetry.csv",
            errors=src / "PdM_errors.csv",
            maintenance=src / "PdM_maint.csv",
            failures=src / "PdM_failures.csv",
        )
        for path in (files.machines, files.telemetry, files.errors, files.maintenance, files.failures):
            require_file(path, "one of the five Azure PdM files: PdM_machines/telemetry/errors/maint/failures.csv")
        return files


def azure_asset_id(machine_id: int) -> str:
    """Asset id of an Azure machine: ``M001`` for machineID 1."""
    return f"M{machine_id:03d}"


def _asset_ids(chunk: TableChunk, known: frozenset[int]) -> np.ndarray:
    machines = integer_values(chunk, "machineID")
    unknown = ~np.isin(machines, np.fromiter(known, dtype=np.int64, count=len(known)))
    chunk.fail_where(unknown, "machineID", "machineID {value} is not in PdM_machines.csv")
    return np.array([azure_asset_id(int(m)) for m in machines], dtype=object)


def _components(chunk: TableChunk, column: str) -> pd.Series:
    values = text_values(chunk, column)
    chunk.fail_where(
        ~values.isin(COMPONENTS).to_numpy(), column, f"unknown component {{value}} (expected {COMPONENTS})"
    )
    return values


def _drop_repeated(frame: pd.DataFrame, path: Path, what: str) -> pd.DataFrame:
    repeated = frame.duplicated(keep="first")
    if repeated.any():
        logger.warning("%s: dropping %d exact repeats of earlier %s rows", path, int(repeated.sum()), what)
    return frame.loc[~repeated.to_numpy()]


def _read_assets(path: Path, encoding: str) -> tuple[pd.DataFrame, frozenset[int]]:
    chunk = read_whole_table(path, required=("machineID", "model", "age"), encoding=encoding)
    first_duplicate(chunk, ["machineID"], "machineID")
    machines = integer_values(chunk, "machineID")
    ages = integer_values(chunk, "age")
    assets = pd.DataFrame(
        {
            "asset_id": [azure_asset_id(int(m)) for m in machines],
            "asset_type": ASSET_TYPE,
            "model": text_values(chunk, "model").to_numpy(),
            "metadata": [json.dumps({"age_years": int(age)}) for age in ages],
        }
    )
    return assets, frozenset(int(m) for m in machines)


def _read_failures(path: Path, known: frozenset[int], timezone: str | None, encoding: str) -> pd.DataFrame:
    chunk = read_whole_table(path, required=("datetime", "machineID", "failure"), encoding=encoding)
    component = _components(chunk, "failure")
    failures = pd.DataFrame(
        {
            "asset_id": _asset_ids(chunk, known),
            "ts": parse_times(chunk, "datetime", formats=DATETIME_FORMATS, timezone=timezone),
            "component": component.to_numpy(),
            "fault_type": (component + "_failure").to_numpy(),
        }
    )
    return _drop_repeated(failures, path, "failure")


def _read_maintenance(
    path: Path, known: frozenset[int], timezone: str | None, failures: pd.DataFrame, encoding: str
) -> pd.DataFrame:
    chunk = read_whole_table(path, required=("datetime", "machineID", "comp"), encoding=encoding)
    frame = pd.DataFrame(
        {
            "asset_id": _asset_ids(chunk, known),
            "ts_open": parse_times(chunk, "datetime", formats=DATETIME_FORMATS, timezone=timezone),
            "component": _components(chunk, "comp").to_numpy(),
        }
    )
    frame = _drop_repeated(frame, path, "maintenance")
    failed = pd.MultiIndex.from_frame(failures[["asset_id", "ts", "component"]])
    replaced = pd.MultiIndex.from_frame(frame[["asset_id", "ts_open", "component"]])
    frame["kind"] = np.where(replaced.isin(failed), "corrective", "preventive")
    frame["work_order_id"] = (
        frame["asset_id"] + "-" + frame["ts_open"].dt.strftime("%Y%m%dT%H%M") + "-" + frame["component"]
    )
    return frame


def _read_events(path: Path, known: frozenset[int], timezone: str | None, encoding: str) -> pd.DataFrame:
    chunk = read_whole_table(path, required=("datetime", "machineID", "errorID"), encoding=encoding)
    codes = text_values(chunk, "errorID")
    return pd.DataFrame(
        {
            "asset_id": _asset_ids(chunk, known),
            "ts": parse_times(chunk, "datetime", formats=DATETIME_FORMATS, timezone=timezone),
            "code": codes.to_numpy(),
            "severity": "alarm",
            "message": codes.to_numpy(),
        }
    )


def _telemetry_rows(chunk: TableChunk, known: frozenset[int], timezone: str | None) -> pd.DataFrame:
    """One chunk of wide telemetry records → long rows (4 per record: volt, rotate, pressure, vibration)."""
    first_duplicate(chunk, ["machineID", "datetime"], "reading (machineID, datetime)")
    assets = _asset_ids(chunk, known)
    times = parse_times(chunk, "datetime", formats=DATETIME_FORMATS, timezone=timezone)
    values = np.column_stack([numeric_values(chunk, name) for name in CHANNELS])  # (records, 4)
    per_record = len(CHANNELS)
    return pd.DataFrame(
        {
            "asset_id": np.repeat(assets, per_record),
            "ts": times.repeat(per_record),
            "channel": np.tile(np.array(CHANNELS, dtype=object), len(chunk)),
            "value": values.reshape(-1),
        }
    )


def _manifest(src: Path, timezone: str | None) -> Manifest:
    return Manifest(
        schema_version=SCHEMA_VERSION,
        name="azure_pdm",
        channels=tuple(
            ChannelInfo(
                name=name,
                kind="telemetry",
                unit=_UNITS[name],
                sampling_rate_hz=_HOURLY_HZ,
                asset_types=(ASSET_TYPE,),
                description=f"Azure PdM hourly mean of {name}; unit not stated by the publisher"
                if not _UNITS[name]
                else f"Azure PdM hourly mean of {name}",
            )
            for name in CHANNELS
        ),
        components={ASSET_TYPE: COMPONENTS},
        fault_types=tuple(f"{component}_failure" for component in COMPONENTS),
        provenance=describe_provenance(
            source="Microsoft Azure Predictive Maintenance sample data (PdM_*.csv)",
            adapter="azure",
            source_path=str(src),
            source_timezone=timezone or "UTC",
        ),
    )


def import_azure(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    timezone: str | None = None,
    encoding: str = "utf-8-sig",
    chunk_rows: int = CHUNK_ROWS,
    show_progress: bool = True,
) -> Dataset:
    """Convert the Azure PdM CSV files in ``src`` into a canonical dataset at ``out``.

    Args:
        src: Folder holding ``PdM_machines.csv``, ``PdM_telemetry.csv``, ``PdM_errors.csv``,
            ``PdM_maint.csv`` and ``PdM_failures.csv``.
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        timezone: IANA zone the files' datetimes are local to; ``None`` reads them as UTC (the sample data
            carries no zone; UTC is the convention).
        encoding: Text encoding of the five files (``utf-8-sig``: UTF-8, with or without a byte-order mark).
        chunk_rows: Telemetry records per streamed chunk (bounds memory).
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if a file is missing or a record is malformed (naming file, line and column).
        ConfigError: if ``timezone`` is not a known IANA zone or ``encoding`` not a known text encoding.
    """
    check_timezone(timezone)
    check_encoding(encoding)
    files = AzureFiles.under(src)
    assets, known = _read_assets(files.machines, encoding)
    failures = _read_failures(files.failures, known, timezone, encoding)
    maintenance = _read_maintenance(files.maintenance, known, timezone, failures, encoding)
    events = _read_events(files.errors, known, timezone, encoding)
    total = count_records(files.telemetry)
    with DatasetWriter(out, _manifest(src, timezone), overwrite=overwrite) as writer:
        writer.append("assets", assets)
        required = ("datetime", "machineID", *CHANNELS)
        with progress_bar("Azure PdM telemetry", total, enabled=show_progress) as advance:
            for chunk in read_table_chunks(
                files.telemetry, required=required, chunk_rows=chunk_rows, encoding=encoding
            ):
                writer.append("telemetry", _telemetry_rows(chunk, known, timezone))
                advance(len(chunk))
        writer.append("events", events)
        writer.append("maintenance", maintenance)
        writer.append("failures", failures)
        dataset = writer.commit()
    logger.info("converted Azure PdM from %s: %d machines, %d telemetry records", src, len(assets), total)
    return dataset
