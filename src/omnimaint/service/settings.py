"""Service settings: flags of ``omnimaint serve``, or ``OMNIMAINT_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from omnimaint.service.notify import NotifySettings

DEFAULT_DATA_DIR = Path("service-data")


def default_db_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    """SQLAlchemy URL of the store the service keeps in ``data_dir`` when not given one: SQLite ``omnimaint.db``."""
    return f"sqlite:///{data_dir / 'omnimaint.db'}"


class ServiceSettings(BaseSettings):
    """How the service runs.

    Attributes:
        bundle: The bundle folder whose Predictor scores the live windows.
        data_dir: Where the service keeps what it owns: the SQLite store (by default) and received frames.
        db: SQLAlchemy URL of the store; ``None``: SQLite ``DATA_DIR/omnimaint.db`` in WAL mode.
        backend: Predictor backend.
        host: Address to listen on.
        port: Port to listen on.
        mqtt: MQTT broker URL to subscribe to (``mqtt://host:1883``), or ``None``.
        bus: NATS URL (``nats://host:4222``): announce stored data on JetStream for ``omnimaint worker``
            processes, which score; this process then runs no scorer.
        bus_stream: The JetStream stream (and subject prefix) of this plant.
        site: The plant's site name (bus subjects).
        mqtt_site: Topic site segment subscribed to (``+`` for all).
        mqtt_client_id: Client id of the service's persistent MQTT session (one per service instance).
        opcua_map: OPC UA mapping file (YAML), or ``None``.
        notify: Where alarm notifications go (MQTT topic, signed webhooks; ``OMNIMAINT_NOTIFY__WEBHOOKS`` …).
        alarm_rules: YAML file of alarm rule fields (``default:``) and per-asset overrides (``overrides:``).
        max_body_bytes: Largest request body accepted (413 above).
        max_image_pixels: Largest decoded image accepted (decompression-bomb guard).
        max_pending_batches: Ingest batches waiting for the store before new ones get 429.
        clock_skew: How far after the service's clock a timestamp may lie.
        lateness: How long after an anchor the scorer waits for late data (anchors are scored once the
            asset's newest row is this much past them).
        score_interval: Seconds between the scorer's sweeps over every asset (it also wakes on new data).
        max_anchors: Windows scored per sweep at most (later ones wait for the next sweep).
        scorer: Run the streaming scorer (``False`` for an API in front of workers).
        scorer_process: Run it in a process of its own (the default: it then shares no interpreter lock with
            ingestion, :mod:`omnimaint.service.scorer_process`), or in a thread of this one (``False``: quicker to
            start; tests, small plants).
    """

    model_config = SettingsConfigDict(env_prefix="OMNIMAINT_", extra="forbid", env_nested_delimiter="__")

    bundle: Path
    data_dir: Path = DEFAULT_DATA_DIR
    db: str | None = None
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    mqtt: str | None = None
    bus: str | None = None
    bus_stream: str = "omnimaint"
    site: str = "plant"
    mqtt_site: str = "+"
    mqtt_client_id: str = "omnimaint-service"
    opcua_map: Path | None = None
    alarm_rules: Path | None = None
    notify: NotifySettings = Field(default_factory=NotifySettings)
    max_body_bytes: int = Field(default=16 << 20, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    max_pending_batches: int = Field(default=64, gt=0)
    clock_skew: timedelta = timedelta(minutes=10)
    lateness: timedelta = timedelta(0)
    score_interval: float = Field(default=2.0, gt=0)
    max_anchors: int = Field(default=512, gt=0)
    scorer: bool = True
    scorer_process: bool = True

    @property
    def db_url(self) -> str:
        return self.db if self.db is not None else default_db_url(self.data_dir)
