"""What the service accepts: the JSON payloads of the ingest API, checked as strictly as an import.

A batch is checked whole before anything is stored: types and finiteness by pydantic (FastAPI answers 422),
then the rules of the canonical tables (:func:`~omnimaint.data.validation.normalize_table`, the same checks
an imported dataset passes), then the service's own: known assets, channels the bundle reads, timestamps no
further than ``clock_skew`` after the service's clock. :class:`~omnimaint.service.store.LiveStore` then
stores it whole or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints

from omnimaint.data.schema import MAINTENANCE_KINDS, SEVERITIES, TABLES, TIMESTAMP_TYPE
from omnimaint.data.validation import TableProblems, ValidationContext, normalize_table
from omnimaint.data.vocab import Vocabulary
from omnimaint.errors import OmnimaintError
from omnimaint.service.clock import Instant, optional_us

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=20_000)]
MAX_ROWS = 200_000
"""Rows of one batch at most (the request-size limit bounds it too)."""
MAX_BURST = 1 << 20
"""Samples of one waveform burst at most."""


class IngestRejected(OmnimaintError):
    """A batch (or asset list) is refused; nothing of it was stored.

    Attributes:
        status: The HTTP status that says why: 404 unknown asset, 409 conflicts with what is stored, 422
            breaks a rule, 429 saturated.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AssetIn(_Strict):
    asset_id: Name
    asset_type: Name
    model: Name | None = None
    site: Name | None = None
    line: Name | None = None
    install_date: Instant | None = None
    metadata: Text | None = None


class TelemetryIn(_Strict):
    asset_id: Name
    ts: Instant
    channel: Name
    value: FiniteFloat


class EventIn(_Strict):
    asset_id: Name
    ts: Instant
    code: Name
    severity: Annotated[str, Field(json_schema_extra={"enum": list(SEVERITIES)})]
    message: Text | None = None


class WorkOrderIn(_Strict):
    work_order_id: Name
    asset_id: Name
    ts_open: Instant
    ts_close: Instant | None = None
    component: Name | None = None
    kind: Annotated[str, Field(json_schema_extra={"enum": list(MAINTENANCE_KINDS)})]
    problem: Text | None = None
    cause: Text | None = None
    action: Text | None = None


class WaveformIn(_Strict):
    asset_id: Name
    ts: Instant
    channel: Name
    sample_rate_hz: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    samples: Annotated[list[FiniteFloat], Field(min_length=1, max_length=MAX_BURST)]


class IngestBatch(_Strict):
    """One delivery: rows of any modality, stored whole or not at all.

    Attributes:
        key: Idempotency key: a batch resent with a key already stored is answered as the first time and not
            stored again.
    """

    key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    telemetry: list[TelemetryIn] = Field(default_factory=list)
    events: list[EventIn] = Field(default_factory=list)
    work_orders: list[WorkOrderIn] = Field(default_factory=list)
    waveforms: list[WaveformIn] = Field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.telemetry) + len(self.events) + len(self.work_orders) + len(self.waveforms)


class Accepted(BaseModel):
    """The answer to a stored batch.

    Attributes:
        stored: New rows stored, per table.
        duplicates: Rows already stored exactly so (a resend), not stored again.
        resent: The whole batch had been stored before under its key.
    """

    stored: dict[str, int]
    duplicates: int = 0
    resent: bool = False


def _timestamps(values: list[int | None]) -> pa.Array:
    return pa.array(values, pa.int64()).cast(TIMESTAMP_TYPE)


def batch_tables(batch: IngestBatch) -> dict[str, pa.Table]:
    """The batch as canonical tables (only those it has rows for); samples as float32 lists."""
    tables: dict[str, pa.Table] = {}
    if batch.telemetry:
        rows = batch.telemetry
        tables["telemetry"] = pa.table(
            {
                "asset_id": [r.asset_id for r in rows],
                "ts": _timestamps([optional_us(r.ts) for r in rows]),
                "channel": [r.channel for r in rows],
                "value": pa.array([r.value for r in rows], pa.float64()),
            }
        )
    if batch.events:
        rows_e = batch.events
        tables["events"] = pa.table(
            {
                "asset_id": [r.asset_id for r in rows_e],
                "ts": _timestamps([optional_us(r.ts) for r in rows_e]),
                "code": [r.code for r in rows_e],
                "severity": [r.severity for r in rows_e],
                "message": pa.array([r.message for r in rows_e], pa.string()),
            }
        )
    if batch.work_orders:
        rows_m = batch.work_orders
        columns: dict[str, Any] = {name: [getattr(r, name) for r in rows_m] for name in WorkOrderIn.model_fields}
        for name in ("ts_open", "ts_close"):
            columns[name] = _timestamps([optional_us(v) for v in columns[name]])
        for name in ("component", "problem", "cause", "action"):
            columns[name] = pa.array(columns[name], pa.string())
        tables["maintenance"] = pa.table(columns)
    if batch.waveforms:
        rows_w = batch.waveforms
        tables["waveforms"] = pa.table(
            {
                "asset_id": [r.asset_id for r in rows_w],
                "ts": _timestamps([optional_us(r.ts) for r in rows_w]),
                "channel": [r.channel for r in rows_w],
                "sample_rate_hz": pa.array([r.sample_rate_hz for r in rows_w], pa.float64()),
                "samples": pa.array([np.asarray(r.samples, np.float32) for r in rows_w], pa.list_(pa.float32())),
            }
        )
    return tables


def check_tables(
    tables: dict[str, pa.Table],
    *,
    known_assets: frozenset[str],
    vocab: Vocabulary,
    now_us: int,
    clock_skew_us: int,
) -> dict[str, pa.Table]:
    """Check a batch's tables against the canonical rules and the service's; returns them normalised.

    Raises:
        IngestRejected: 404 for an asset the service does not know, 422 for a channel the bundle does not
            read, a timestamp too far ahead of the clock or any broken table rule.
    """
    checked: dict[str, pa.Table] = {}
    total = sum(t.num_rows for t in tables.values())
    if total > MAX_ROWS:
        raise IngestRejected(413, f"batch: {total:,} rows, more than the {MAX_ROWS:,} a batch may hold")
    readable = {"telemetry": set(vocab.telemetry_channels), "waveforms": set(vocab.waveform_channels)}
    for name, table in tables.items():
        spec = TABLES[name]
        assets = table.column("asset_id").unique().to_pylist()
        unknown = sorted(set(assets) - known_assets)
        if unknown:
            raise IngestRejected(
                404,
                f"{name}: unknown asset {unknown[0]!r}"
                + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                + "; register it with PUT /api/assets first",
            )
        if name in readable:
            channels = set(table.column("channel").unique().to_pylist())
            foreign = sorted(channels - readable[name])
            if foreign:
                raise IngestRejected(
                    422,
                    f"{name}: channel {foreign[0]!r} is not one the bundle reads "
                    f"(it reads {sorted(readable[name])[:8]}{' …' if len(readable[name]) > 8 else ''})",
                )
        try:
            normal = normalize_table(table, spec, ValidationContext(source=name), check_keys=spec.key != ())
        except TableProblems as exc:
            raise IngestRejected(422, str(exc)) from exc
        assert spec.time_column is not None
        stamps = normal.column(spec.time_column).cast(pa.int64()).to_numpy()
        ahead = np.flatnonzero(stamps > now_us + clock_skew_us)
        if ahead.size:
            row = int(ahead[0])
            when = datetime.fromtimestamp(stamps[row] / 1e6, UTC).isoformat()
            raise IngestRejected(
                422,
                f"{name} row {row}: {spec.time_column} {when} is ahead of the service's clock "
                "(check the sender's clock)",
            )
        checked[name] = normal
    return checked
