"""The live store: what the service has received, scored and raised, behind one class.

Writes are serialised by one lock (SQLite has one writer; on PostgreSQL it keeps a batch's duplicate check
and its insert together) and each batch is one transaction: stored whole or not at all. Reads hand rows
back as canonical Arrow tables, so that the scorer cuts windows with the same code as training.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import Connection, Engine, Table, and_, func, insert, select, update

from omnimaint.data.schema import TABLES, TIMESTAMP_TYPE
from omnimaint.service import db
from omnimaint.service.clock import iso_us, now_us, optional_us
from omnimaint.service.ingest import Accepted, AssetIn, IngestRejected

TIMED = ("telemetry", "waveforms", "frames", "events")
"""Tables whose rows arrive in time order per asset (work orders are entered late and updated)."""

_DB_TABLES: Mapping[str, Table] = {
    "telemetry": db.telemetry,
    "waveforms": db.waveforms,
    "frames": db.frames,
    "events": db.events,
    "maintenance": db.maintenance,
}
_TIME_COLUMNS = {"ts": "ts_us", "ts_open": "ts_open_us", "ts_close": "ts_close_us", "install_date": "install_date_us"}
_MATCH = {  # the columns that make a resent row the same row
    "telemetry": ("asset_id", "ts_us", "channel", "value"),
    "waveforms": ("asset_id", "ts_us", "channel", "sample_rate_hz", "samples"),
    "frames": ("asset_id", "ts_us", "camera"),
    "events": ("asset_id", "ts_us", "code", "severity", "message"),
}


@dataclass(frozen=True)
class AssetProgress:
    """Where an asset stands (µs; ``None``: not yet): first and newest observation of any modality, newest
    telemetry reading, last anchor scored."""

    asset_id: str
    first_us: int | None
    watermark_us: int | None
    telemetry_us: int | None
    scored_us: int | None


def _db_rows(name: str, table: pa.Table) -> list[dict[str, Any]]:
    """Canonical rows as rows of the store's table (times in µs, samples as float32 bytes)."""
    columns: dict[str, list[Any]] = {}
    for field in table.schema:
        column = table.column(field.name)
        key = _TIME_COLUMNS.get(field.name, field.name)
        if pa.types.is_timestamp(field.type):
            columns[key] = column.cast(pa.int64()).to_pylist()
        elif name == "waveforms" and field.name == "samples":
            columns[key] = [np.asarray(s, "<f4").tobytes() for s in column.to_numpy(zero_copy_only=False)]
        else:
            columns[key] = column.to_pylist()
    keys = list(columns)
    return [dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows through the driver's ``executemany`` (SQLAlchemy's per-row parameter handling costs more
    than the database at 20,000 rows/s). Table and column names are the schema's own, never a sender's."""
    columns = list(rows[0])
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    connection.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])


def _store_columns(name: str) -> list[str]:
    """The store's columns of table ``name``, in the canonical table's order."""
    return [_TIME_COLUMNS.get(c.name, c.name) for c in TABLES[name].columns]


def _canonical(name: str, rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows of the store's table ``name`` (tuples in :func:`_store_columns` order) as a canonical Arrow table."""
    spec = TABLES[name]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in spec.columns]
    arrays: dict[str, pa.Array] = {}
    for column, values in zip(spec.columns, columns, strict=True):
        if column.arrow_type == TIMESTAMP_TYPE:
            arrays[column.name] = pa.array(values, pa.int64()).cast(TIMESTAMP_TYPE)
        elif name == "waveforms" and column.name == "samples":
            arrays[column.name] = pa.array([np.frombuffer(v, "<f4") for v in values], pa.list_(pa.float32()))
        else:
            arrays[column.name] = pa.array(values, column.arrow_type)
    return pa.table(arrays)


class LiveStore:
    """The service's store.

    Args:
        engine: A migrated engine (:func:`~omnimaint.service.db.open_store`).
        root: Folder that stored frame paths are relative to.
    """

    def __init__(self, engine: Engine, root: Path) -> None:
        self.engine = engine
        self.root = root
        self.write_lock = threading.Lock()
        with engine.connect() as connection:
            rows = connection.execute(select(db.assets.c.asset_id, db.assets.c.asset_type)).all()
        self._asset_types = {r.asset_id: r.asset_type for r in rows}

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction of the store: one at a time in this process, and on SQLite begun ``IMMEDIATE``, so
        that it holds the database's write lock from its first statement and what it reads before writing cannot
        change under it in another process (the scorer's, :mod:`omnimaint.service.scorer_process`). pysqlite
        would begin at the first write, leaving the reads before it outside the transaction; PostgreSQL's
        transactions lock the rows they read ``FOR UPDATE`` instead."""
        with self.write_lock, self.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    @property
    def asset_types(self) -> dict[str, str]:
        """Every registered asset and its type."""
        return dict(self._asset_types)

    def put_assets(self, assets: Sequence[AssetIn]) -> int:
        """Register assets, or update their descriptions; returns how many were new."""
        new = 0
        with self.writing() as connection:
            for asset in assets:
                values = asset.model_dump(exclude={"install_date"})
                values["install_date_us"] = optional_us(asset.install_date)
                if asset.asset_id in self._asset_types:
                    connection.execute(update(db.assets).where(db.assets.c.asset_id == asset.asset_id).values(values))
                else:
                    connection.execute(insert(db.assets).values(values))
                    new += 1
        self._asset_types.update({a.asset_id: a.asset_type for a in assets})
        return new

    # -- ingestion --------------------------------------------------------------------------------------

    def store_batch(self, key: str | Sequence[str] | None, tables: Mapping[str, pa.Table]) -> Accepted:
        """Store checked tables in one transaction, or nothing.

        Rows already stored exactly so are counted as duplicates and skipped; a batch whose ``key`` was stored
        before gets the first answer again. ``key`` may be the keys of several deliveries stored together (MQTT
        messages in one transaction): all recorded, or, when some were stored before, 409 (store them one by
        one).

        Raises:
            IngestRejected: 409 when a row is older than the asset's newest stored row of its table (and not a
                resend of a stored one), differs from the stored row of the same key, or a work order moves
                to another asset.
        """
        keys = [key] if isinstance(key, str) else list(key or ())
        with self.writing() as connection:
            if keys:
                seen = connection.execute(
                    select(db.batches.c.key, db.batches.c.response).where(db.batches.c.key.in_(keys))
                ).all()
                if len(seen) == len(keys):
                    return Accepted.model_validate({**seen[0].response, "resent": True})
                if seen:
                    raise IngestRejected(409, f"delivery {seen[0].key!r} of this group was stored before")
            stored: dict[str, int] = {}
            duplicates = 0
            for name, table in tables.items():
                rows = _db_rows(name, table)
                if name == "maintenance":
                    fresh = rows
                    stored[name] = self._upsert_work_orders(connection, rows)
                else:
                    fresh = self._fresh_rows(connection, name, rows)
                    duplicates += len(rows) - len(fresh)
                    if fresh:
                        _bulk_insert(connection, _DB_TABLES[name], fresh)
                        if name == "telemetry":
                            _roll_up(connection, fresh)
                    stored[name] = len(fresh)
                time = "ts_open_us" if name == "maintenance" else "ts_us"
                spans: dict[str, tuple[int, int]] = {}
                for row in fresh:
                    lo, hi = spans.get(row["asset_id"], (row[time], row[time]))
                    spans[row["asset_id"]] = (min(lo, row[time]), max(hi, row[time]))
                self._advance(connection, spans, name)
            accepted = Accepted(stored=stored, duplicates=duplicates)
            if keys:
                received = now_us()
                answer = accepted.model_dump()
                connection.execute(
                    insert(db.batches), [{"key": k, "received_us": received, "response": answer} for k in keys]
                )
        return accepted

    def _fresh_rows(self, connection: Connection, name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows not stored yet; refuses rows older than what is stored and conflicting resends."""
        table = _DB_TABLES[name]
        assets = sorted({r["asset_id"] for r in rows})
        newest = dict(
            connection.execute(
                select(table.c.asset_id, func.max(table.c.ts_us))
                .where(table.c.asset_id.in_(assets))
                .group_by(table.c.asset_id)
            ).all()
        )
        match = _MATCH[name]
        spec = TABLES[name]
        fresh = []
        for i, row in enumerate(rows):
            last = newest.get(row["asset_id"])
            if last is None or row["ts_us"] > last:
                fresh.append(row)
                continue
            key_columns = [_TIME_COLUMNS.get(c, c) for c in spec.key] or list(match)
            found = connection.execute(
                select(*[table.c[c] for c in match]).where(and_(*[table.c[c] == row[c] for c in key_columns]))
            ).first()
            if found is None:
                if row["ts_us"] == last:
                    fresh.append(row)  # another row of the newest instant (another channel, another event)
                    continue
                raise IngestRejected(
                    409,
                    f"{name} row {i}: asset {row['asset_id']!r} already has {name} up to {iso_us(last)}; "
                    f"this row at {iso_us(row['ts_us'])} is older (an asset's rows arrive in time order)",
                )
            if tuple(found) != tuple(row[c] for c in match):
                raise IngestRejected(409, f"{name} row {i}: differs from the stored row with the same key")
        return fresh

    def _upsert_work_orders(self, connection: Connection, rows: list[dict[str, Any]]) -> int:
        ids = [r["work_order_id"] for r in rows]
        owners = dict(
            connection.execute(
                select(db.maintenance.c.work_order_id, db.maintenance.c.asset_id).where(
                    db.maintenance.c.work_order_id.in_(ids)
                )
            ).all()
        )
        for i, row in enumerate(rows):
            owner = owners.get(row["work_order_id"])
            if owner is None:
                connection.execute(insert(db.maintenance).values(row))
            elif owner != row["asset_id"]:
                raise IngestRejected(
                    409, f"work_orders row {i}: work order {row['work_order_id']!r} belongs to asset {owner!r}"
                )
            else:  # a work order is updated when it is closed
                connection.execute(
                    update(db.maintenance).where(db.maintenance.c.work_order_id == row["work_order_id"]).values(row)
                )
        return len(rows)

    def _advance(self, connection: Connection, spans: Mapping[str, tuple[int, int]], table: str) -> None:
        """Move each asset's first observation and watermarks to cover newly stored rows of ``table``."""
        a = db.assets.c
        sqlite = connection.dialect.name == "sqlite"
        least, greatest = (func.min, func.max) if sqlite else (func.least, func.greatest)
        for asset_id, (lo, hi) in spans.items():
            values = {"first_us": least(func.coalesce(a.first_us, lo), lo)}
            if table != "maintenance":  # work orders are entered late: they move no clock
                values["watermark_us"] = greatest(func.coalesce(a.watermark_us, hi), hi)
            if table == "telemetry":
                values["telemetry_us"] = greatest(func.coalesce(a.telemetry_us, hi), hi)
            connection.execute(update(db.assets).where(a.asset_id == asset_id).values(values))

    def add_frame(self, asset_id: str, ts_us: int, camera: str, relative_path: str) -> Accepted:
        """Record a frame whose file the service has written under ``root``."""
        row = {"asset_id": asset_id, "ts_us": ts_us, "camera": camera, "path": relative_path}
        with self.writing() as connection:
            fresh = self._fresh_rows(connection, "frames", [row])
            if fresh:
                connection.execute(insert(db.frames).values(row))
                self._advance(connection, {asset_id: (ts_us, ts_us)}, "frames")
        return Accepted(stored={"frames": len(fresh)}, duplicates=1 - len(fresh))

    def track_steps(self, step_us: int) -> None:
        """Keep telemetry rolled up at ``step_us`` from now on (the step of a bundle's telemetry window), rolling
        up what is stored already in the same transaction. Doing nothing when it is kept already.

        On PostgreSQL the transaction first takes a lock that waits for batches being stored and holds new ones
        back until the roll-up is committed, so that no batch is missed: a batch reads which steps to keep after
        it has inserted its readings.
        """
        step = int(step_us)
        if step <= 0:
            raise ValueError(f"a telemetry step must be positive, got {step} µs")
        kept = select(db.rollups.c.step_us).where(db.rollups.c.step_us == step)
        with self.engine.connect() as connection:  # a step once kept stays kept: no lock to find that out
            if connection.execute(kept).first() is not None:
                return
        with self.writing() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("LOCK TABLE telemetry IN SHARE MODE")
            if connection.execute(kept).first() is not None:  # another process kept it meanwhile
                return
            connection.execute(insert(db.rollups).values(step_us=step, created_us=now_us()))
            k = _step_of("ts_us", step)
            connection.exec_driver_sql(
                "INSERT INTO telemetry_steps (step_us, asset_id, k, channel, n, total, last_us) "
                f"SELECT {step}, asset_id, {k}, channel, COUNT(*), SUM(value), MAX(ts_us) FROM telemetry "
                f"GROUP BY asset_id, {k}, channel"
            )

    # -- reading ----------------------------------------------------------------------------------------

    def progress(self, asset_ids: Iterable[str] | None = None) -> list[AssetProgress]:
        """Where each asset (or each of ``asset_ids``) stands."""
        a = db.assets.c
        query = select(a.asset_id, a.first_us, a.watermark_us, a.telemetry_us, a.scored_us).order_by(a.asset_id)
        if asset_ids is not None:
            query = query.where(a.asset_id.in_(list(asset_ids)))
        with self.engine.connect() as connection:
            return [AssetProgress(*row) for row in connection.execute(query).all()]

    def window_tables(
        self, spans: Mapping[str, Mapping[str, tuple[int | None, int]]], *, telemetry_step_us: int | None = None
    ) -> dict[str, pa.Table]:
        """Canonical tables for cutting windows: ``spans[table][asset]`` is the range (since, until] of rows read
        (``since`` ``None``: from the asset's first row; for work orders, every order opened up to ``until``);
        a table not in ``spans`` is empty; ``assets`` holds every asset named.

        Telemetry is read from its roll-up at ``telemetry_step_us`` (a step :meth:`track_steps` keeps): one
        row per (asset, channel, step), the mean of the step's readings at the time of its newest. The step
        means are what windowing computes first (a step ``k`` holds ``(k·step - step, k·step]``), so the windows
        are the same, and a window costs one row per step however often the sensors are read. A step is read
        whole: the last one may hold readings after ``until``, which a window ending at ``until`` does not use.
        """
        out: dict[str, list[Any]] = {name: [] for name in _DB_TABLES}
        names = sorted({asset for by_asset in spans.values() for asset in by_asset})
        with self.engine.connect() as connection:
            assets_query = select(*[db.assets.c[c] for c in _store_columns("assets")])
            assets = connection.execute(assets_query.where(db.assets.c.asset_id.in_(names))).all()
            marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
            for name, by_asset in spans.items():
                if name == "telemetry":
                    if telemetry_step_us is None:
                        raise ValueError("telemetry is read at a step the store keeps: give telemetry_step_us")
                    out[name] = _step_rows(connection, by_asset, int(telemetry_step_us), marker)
                    continue
                # The driver's cursor, not ORM-style rows: a window's rows are thousands.
                time = "ts_open_us" if name == "maintenance" else "ts_us"
                head = f"SELECT {', '.join(_store_columns(name))} FROM {_DB_TABLES[name].name} WHERE"
                for asset_id, (since, until) in by_asset.items():
                    params: tuple[Any, ...] = (asset_id, until)
                    where = f"asset_id = {marker} AND {time} <= {marker}"
                    if since is not None and name != "maintenance":
                        params, where = (asset_id, until, since), f"{where} AND {time} > {marker}"
                    out[name].extend(connection.exec_driver_sql(f"{head} {where}", params).fetchall())
        tables = {name: _canonical(name, rows) for name, rows in out.items()}
        tables["assets"] = _canonical("assets", assets)
        return tables


def _step_rows(
    connection: Connection, spans: Mapping[str, tuple[int | None, int]], step: int, marker: str
) -> list[Any]:
    """Telemetry rows of the roll-up at ``step``: per asset, the steps holding readings in (since, until], one row
    per channel and step, the mean at the newest reading's time (canonical column order)."""
    rows: list[Any] = []
    for asset_id, (since, until) in spans.items():
        params: tuple[Any, ...] = (step, asset_id, _ceil_div(until, step))
        sql = (
            "SELECT asset_id, last_us, channel, total / n FROM telemetry_steps "
            f"WHERE step_us = {marker} AND asset_id = {marker} AND k <= {marker}"
        )
        if since is not None:
            params, sql = (*params, _ceil_div(since + 1, step)), f"{sql} AND k >= {marker}"
        rows.extend(connection.exec_driver_sql(sql, params).fetchall())
    return rows


def _ceil_div(ts_us: int, step_us: int) -> int:
    """The step of time ``ts_us``: ``ceil(ts / step)``, the step ``k`` whose ``(k·step - step, k·step]`` holds it."""
    return -(-ts_us // step_us)


def _step_of(column: str, step_us: int) -> str:
    """SQL for :func:`_ceil_div` of ``column``: integer division truncates toward zero in SQLite and PostgreSQL,
    which is the ceiling for times at or before the epoch."""
    step = int(step_us)  # an integer of a bundle's spec, never a sender's value
    return f"(CASE WHEN {column} > 0 THEN ({column} + {step - 1}) / {step} ELSE {column} / {step} END)"


def _roll_up(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Add freshly stored telemetry rows to the roll-up of every step kept (read after the rows were inserted:
    see :meth:`LiveStore.track_steps`)."""
    steps = connection.execute(select(db.rollups.c.step_us)).scalars().all()
    for step in steps:
        sums: dict[tuple[str, int, str], list[Any]] = {}
        for row in rows:
            key = (row["asset_id"], _ceil_div(row["ts_us"], step), row["channel"])
            found = sums.get(key)
            if found is None:
                sums[key] = [1, row["value"], row["ts_us"]]
            else:
                found[0] += 1
                found[1] += row["value"]
                found[2] = max(found[2], row["ts_us"])
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        connection.exec_driver_sql(
            "INSERT INTO telemetry_steps (step_us, asset_id, k, channel, n, total, last_us) "
            f"VALUES ({', '.join([marker] * 7)}) ON CONFLICT (step_us, asset_id, k, channel) DO UPDATE SET "
            "n = telemetry_steps.n + excluded.n, total = telemetry_steps.total + excluded.total, "
            "last_us = CASE WHEN excluded.last_us > telemetry_steps.last_us THEN excluded.last_us "
            "ELSE telemetry_steps.last_us END",
            [(step, asset, k, channel, n, total, last) for (asset, k, channel), (n, total, last) in sums.items()],
        )
