"""``dataset.json``: the manifest that makes a folder of Parquet files a dataset.

It records the schema version, the time zone (always UTC), the channel metadata (units, sampling
rates, which asset types carry them), cameras, components and fault types per asset type, where
the data came from (provenance), and per table the row count and SHA-256 checksum of its file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from omnimaint.data.blobs import inside, is_file
from omnimaint.data.schema import SCHEMA_VERSION, TABLES
from omnimaint.errors import DatasetError, describe_validation_error

MANIFEST_FILE = "dataset.json"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelInfo(_Frozen):
    """A telemetry or waveform channel.

    Attributes:
        name: Channel name as it appears in the ``channel`` column.
        kind: ``telemetry`` (scalar readings) or ``waveform`` (high-rate bursts).
        unit: Physical unit, e.g. ``degC``, ``bar``, ``A``, ``mm/s``, ``g``.
        sampling_rate_hz: Nominal rate: readings per second for telemetry, samples per second in a burst
            for waveforms.
        asset_types: Asset types that carry the channel (``None``: all).
        description: Free text.
        role: ``reading`` (measures the machine) or ``operating_setting`` (sets its operating regime: altitude,
            throttle, load, speed …; see :mod:`omnimaint.data.regimes`).
    """

    name: str
    kind: Literal["telemetry", "waveform"]
    unit: str = ""
    sampling_rate_hz: float | None = Field(default=None, gt=0)
    asset_types: tuple[str, ...] | None = None
    description: str = ""
    role: Literal["reading", "operating_setting"] = "reading"


class CameraInfo(_Frozen):
    """A camera whose frames are stored under ``frames/``."""

    name: str
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)
    asset_types: tuple[str, ...] | None = None
    description: str = ""


class TableInfo(_Frozen):
    """Row count and checksum of one table file, recorded when the dataset was written."""

    rows: int = Field(ge=0)
    sha256: str | None = None


class Manifest(_Frozen):
    """The content of ``dataset.json``.

    Attributes:
        schema_version: Layout version; the loader refuses versions it does not know.
        name: Human-readable dataset name.
        timezone: Always ``UTC``: every timestamp in every table is UTC.
        channels: Telemetry and waveform channel metadata.
        cameras: Camera metadata.
        components: Components per asset type (the per-component failure labels use this order).
        fault_types: Every fault type that may appear in ``failures`` (the fault-type label uses this
            order, after the implicit class ``none``).
        provenance: Where the data came from: source, generator and its parameters, creation time,
            omnimaint version.
        tables: Per table present, its row count and checksum.
    """

    schema_version: int
    name: str = "dataset"
    timezone: Literal["UTC"] = "UTC"
    channels: tuple[ChannelInfo, ...] = ()
    cameras: tuple[CameraInfo, ...] = ()
    components: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    fault_types: tuple[str, ...] = ()
    provenance: dict[str, Any] = Field(default_factory=dict)
    tables: dict[str, TableInfo] = Field(default_factory=dict)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(
                f"unknown schema version {value}; this omnimaint reads version {SCHEMA_VERSION} "
                "(upgrade omnimaint, or re-create the dataset)"
            )
        return value

    @field_validator("tables")
    @classmethod
    def _canonical_tables(cls, value: dict[str, TableInfo]) -> dict[str, TableInfo]:
        unknown = sorted(name for name in value if name not in TABLES)
        if unknown:
            raise ValueError(
                f"unknown table {', '.join(repr(n) for n in unknown)} (the tables are {', '.join(TABLES)})"
            )
        return value

    def channel_kinds(self) -> dict[str, str]:
        """Every declared channel's kind (``telemetry`` or ``waveform``) by name."""
        return {c.name: c.kind for c in self.channels}

    def channel_names(self, kind: Literal["telemetry", "waveform"]) -> tuple[str, ...]:
        """Names of the channels of one kind, in manifest order."""
        return tuple(c.name for c in self.channels if c.kind == kind)

    def all_components(self) -> tuple[str, ...]:
        """Every component of every asset type, de-duplicated, in first-seen order."""
        seen: dict[str, None] = {}
        for components in self.components.values():
            seen.update(dict.fromkeys(components))
        return tuple(seen)


def read_manifest(folder: Path) -> Manifest:
    """Read and validate ``folder/dataset.json``.

    Raises:
        DatasetError: if the file is missing, is a symbolic link that leads outside ``folder``, is not
            JSON, or breaks the manifest schema (the message names the field).
    """
    path = folder / MANIFEST_FILE
    if not is_file(path):
        raise DatasetError(f"{folder}: not a dataset (no {MANIFEST_FILE})")
    if not inside(folder, path):
        raise DatasetError(f"{path}: a symbolic link that leads outside the dataset folder (not read)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise DatasetError(f"{path}: not valid JSON: {exc}") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise DatasetError(f"{path}: {describe_validation_error(exc)}") from exc


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write ``folder/dataset.json`` (the caller makes the whole folder appear atomically)."""
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False)
    (folder / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
