"""The live store: tables, engine and migrations.

Times are integers, microseconds since the Unix epoch in UTC (``*_us``): exact, ordered and the same on
SQLite and PostgreSQL (docs/decisions.md). Waveform samples are little-endian float32 bytes. The schema is
created and upgraded by Alembic (``migrations/``) when the service starts; :func:`open_store` does both.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url

from omnimaint.errors import OmnimaintError

logger = logging.getLogger(__name__)

metadata = MetaData()

_ID = 200  # identifiers: asset ids, channels, cameras, codes, components, fault types

assets = Table(
    "assets",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("asset_type", String(_ID), nullable=False),
    Column("model", String(_ID)),
    Column("site", String(_ID)),
    Column("line", String(_ID)),
    Column("install_date_us", BigInteger),
    Column("metadata", Text),
    Column("first_us", BigInteger),  # first observation of any modality
    Column("watermark_us", BigInteger),  # newest observation of any modality
    Column("telemetry_us", BigInteger),  # newest telemetry reading (the scorer's clock when the bundle reads telemetry)
    Column("scored_us", BigInteger),  # last anchor scored
)

telemetry = Table(
    "telemetry",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True),
    Column("channel", String(_ID), primary_key=True),
    Column("value", Float, nullable=False),
)

telemetry_steps = Table(
    "telemetry_steps",
    metadata,
    # Telemetry rolled up at a bundle's window step, kept in the transaction that stores the readings: step k
    # holds the readings in (k·step - step, k·step] (see omnimaint.service.store).
    Column("step_us", BigInteger, primary_key=True),
    Column("asset_id", String(_ID), primary_key=True),
    Column("k", BigInteger, primary_key=True),
    Column("channel", String(_ID), primary_key=True),
    Column("n", Integer, nullable=False),  # readings
    Column("total", Float, nullable=False),  # their sum
    Column("last_us", BigInteger, nullable=False),  # the newest one's time
)

rollups = Table(
    "rollups",
    metadata,
    Column("step_us", BigInteger, primary_key=True),  # a step that telemetry_steps is kept for
    Column("created_us", BigInteger, nullable=False),
)

waveforms = Table(
    "waveforms",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True),
    Column("channel", String(_ID), primary_key=True),
    Column("sample_rate_hz", Float, nullable=False),
    Column("samples", LargeBinary, nullable=False),
)

frames = Table(
    "frames",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True),
    Column("camera", String(_ID), primary_key=True),
    Column("path", String(1000), nullable=False),  # under DATA_DIR, written by the service
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asset_id", String(_ID), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("code", String(_ID), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("message", Text),
    Index("ix_events_asset_ts", "asset_id", "ts_us"),
)

maintenance = Table(
    "maintenance",
    metadata,
    Column("work_order_id", String(_ID), primary_key=True),
    Column("asset_id", String(_ID), nullable=False),
    Column("ts_open_us", BigInteger, nullable=False),
    Column("ts_close_us", BigInteger),
    Column("component", String(_ID)),
    Column("kind", String(20), nullable=False),
    Column("problem", Text),
    Column("cause", Text),
    Column("action", Text),
    Index("ix_maintenance_asset_open", "asset_id", "ts_open_us"),
)

batches = Table(
    "batches",
    metadata,
    Column("key", String(200), primary_key=True),  # the sender's idempotency key
    Column("received_us", BigInteger, nullable=False),
    Column("response", JSON, nullable=False),  # what the first delivery was answered
)

scores = Table(
    "scores",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("ts_us", BigInteger, primary_key=True),
    Column("failure_probability", JSON, nullable=False),  # per horizon
    Column("component_failure_probability", JSON, nullable=False),  # per horizon, per component
    Column("rul_hours", Float, nullable=False),
    Column("fault_probabilities", JSON, nullable=False),  # per fault class ("none" first)
    Column("health_probabilities", JSON, nullable=False),
    Column("anomaly_score", Float, nullable=False),
    Column("modality_weights", JSON, nullable=False),
    Column("scored_at_us", BigInteger, nullable=False),
    Column("scored_by", String(_ID)),  # the scorer (service or worker id) that stored it
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asset_id", String(_ID), nullable=False),
    Column("component", String(_ID), nullable=False),
    Column("fault", String(_ID), nullable=False),
    Column("state", String(20), nullable=False),  # open / acknowledged / resolved
    Column("priority", String(20), nullable=False),
    Column("horizon_hours", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("peak", Float, nullable=False),
    Column("opened_at_us", BigInteger, nullable=False),  # data time of the window that raised it
    Column("cleared_at_us", BigInteger),  # data time the condition cleared (the alarm may stay unacknowledged)
    Column("raised_us", BigInteger, nullable=False),  # wall clock
    Column("shelved_until_us", BigInteger),  # wall clock; notifications muted until then
    Column("shelve_reason", Text),
    Column("resolved_us", BigInteger),  # wall clock
    Column("work_order_id", String(_ID)),
    Index("ix_alarms_key", "asset_id", "component", "fault", "state"),
    Index("ix_alarms_opened", "opened_at_us"),
    # One active (open or acknowledged) alarm per key (asset, component, fault), enforced by the database too.
    Index(
        "uq_alarms_active_key",
        "asset_id",
        "component",
        "fault",
        unique=True,
        sqlite_where=text("state != 'resolved'"),
        postgresql_where=text("state != 'resolved'"),
    ),
)

alarm_audit = Table(
    "alarm_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", Integer, ForeignKey("alarms.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(_ID), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", Text),
    Column("data_us", BigInteger),  # data time of the scored window behind a system change
    Index("ix_alarm_audit_alarm", "alarm_id"),
)

alarm_state = Table(
    "alarm_state",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("state", JSON, nullable=False),  # the alarm engine's memory of this asset (persistence, cool-down)
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),  # the public part of a key, before the dot
    Column("name", String(_ID), nullable=False),
    Column("role", String(20), nullable=False),
    Column("hash", String(200), nullable=False),  # scrypt of the secret part
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
)


asset_leases = Table(
    "asset_leases",
    metadata,
    Column("asset_id", String(_ID), primary_key=True),
    Column("owner", String(_ID), nullable=False),  # the worker that scores this asset until the lease expires
    Column("expires_us", BigInteger, nullable=False),
)

workers = Table(
    "workers",
    metadata,
    Column("worker_id", String(_ID), primary_key=True),
    Column("seen_us", BigInteger, nullable=False),  # last heartbeat (wall clock)
)


class StoreError(OmnimaintError):
    """The live store cannot be opened or migrated."""


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged batch survives a power cut
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine on ``url``; SQLite files get WAL mode and their folder is created; ``postgresql://`` uses
    psycopg 3 (the driver the service extra installs)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration (Alembic ``upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_store(url: str) -> Engine:
    """The engine of the store at ``url``, migrated to the newest schema.

    Raises:
        StoreError: if the database cannot be reached or migrated.
    """
    from sqlalchemy.exc import SQLAlchemyError

    engine = make_engine(url)
    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        safe = make_url(url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"{safe}: cannot open the store ({reason})") from exc
    return engine
