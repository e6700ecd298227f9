"""The monitoring service's commands: ``serve`` (the API, ingestion and streaming scorer) and ``replay``
(stream a dataset into a running service). API keys are ``omnimaint keys``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from omnimaint.cli.app import DatasetArg
from omnimaint.cli.output import console, reports_errors
from omnimaint.errors import ConfigError

commands = typer.Typer()


@commands.command()
@reports_errors
def serve(
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Bundle folder whose Predictor scores the live windows.", show_default=False),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Store URL (postgresql://…). [default: SQLite in --data-dir]", show_default=False),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the SQLite store and received frames. [default: service-data]", show_default=False
        ),
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on. [default: 127.0.0.1]", show_default=False)
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. [default: 8000]", show_default=False)] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="Predictor backend: torch, onnx or onnx-int8. [default: torch]", show_default=False),
    ] = None,
    lateness: Annotated[
        float | None,
        typer.Option(
            help="Seconds of data time the scorer waits past an anchor for late rows. [default: 0]", show_default=False
        ),
    ] = None,
    alarm_rules: Annotated[
        Path | None,
        typer.Option(
            help="YAML of alarm rule fields (default:) and per-asset overrides (overrides:).", show_default=False
        ),
    ] = None,
    mqtt: Annotated[
        str | None, typer.Option(help="MQTT broker to take data from (mqtt://host:1883).", show_default=False)
    ] = None,
    bus: Annotated[
        str | None,
        typer.Option(
            help="NATS JetStream (nats://host:4222): announce data to `omnimaint worker`s, which score.",
            show_default=False,
        ),
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="The plant's site name (topics, subjects). [default: plant]", show_default=False)
    ] = None,
    opcua_map: Annotated[
        Path | None, typer.Option(help="OPC UA mapping file (server, node id → asset/channel).", show_default=False)
    ] = None,
    scorer_process: Annotated[
        bool | None,
        typer.Option(
            "--scorer-process/--scorer-thread",
            help="Score in a process of its own (no interpreter lock shared with ingestion) or in a thread "
            "(starts quicker). [default: --scorer-process]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the monitoring service: REST ingestion, the streaming scorer on the bundle, alarms (docs/service.md).
    A flag not given is read from its OMNIMAINT_* environment variable (OMNIMAINT_BUNDLE, OMNIMAINT_DB …)."""
    from datetime import timedelta

    import uvicorn
    from pydantic import ValidationError

    from omnimaint.errors import describe_validation_error
    from omnimaint.inference.bundle import Bundle
    from omnimaint.service.app import create_app
    from omnimaint.service.db import open_store
    from omnimaint.service.rules import alarm_rules as alarm_rules_of
    from omnimaint.service.settings import ServiceSettings

    given = {
        "bundle": bundle,
        "db": db,
        "data_dir": data_dir,
        "host": host,
        "port": port,
        "backend": backend,
        "lateness": None if lateness is None else timedelta(seconds=lateness),
        "alarm_rules": alarm_rules,
        "mqtt": mqtt,
        "bus": bus,
        "site": site,
        "opcua_map": opcua_map,
        "scorer_process": scorer_process,
    }
    try:
        settings = ServiceSettings(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"serve: {describe_validation_error(exc)} (give --bundle, or set OMNIMAINT_BUNDLE)") from exc
    alarm_rules_of(Bundle.load(settings.bundle), settings.alarm_rules)  # refuse bad inputs before listening
    open_store(settings.db_url).dispose()
    url = f"http://{settings.host}:{settings.port}"
    console.print(Text.assemble(("serving", "green"), f" {settings.bundle} at {url} (API docs at {url}/docs)"))
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


@commands.command()
@reports_errors
def worker(
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Bundle folder (the API's).", show_default=False),
    ] = None,
    bus: Annotated[str | None, typer.Option(help="NATS JetStream URL (nats://host:4222).", show_default=False)] = None,
    db: Annotated[str | None, typer.Option(help="The API's store (postgresql://…).", show_default=False)] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="The API's data folder (frames). [default: service-data]", show_default=False)
    ] = None,
    alarm_rules: Annotated[Path | None, typer.Option(help="The API's alarm rules file.", show_default=False)] = None,
    name: Annotated[
        str | None, typer.Option(help="Worker id. [default: host name and a random suffix]", show_default=False)
    ] = None,
) -> None:
    """Score for a scaled-out service: pull the API's announcements from NATS, hold leases on a fair share of the
    assets, score their windows with the bundle (docs/service.md). Flags not given come from OMNIMAINT_*."""
    import signal
    import threading

    from pydantic import ValidationError

    from omnimaint.errors import describe_validation_error
    from omnimaint.service.settings import ServiceSettings
    from omnimaint.service.worker import run_worker

    given = {"bundle": bundle, "bus": bus, "db": db, "data_dir": data_dir, "alarm_rules": alarm_rules}
    try:
        settings = ServiceSettings(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"worker: {describe_validation_error(exc)}") from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(Text.assemble(("worker", "green"), f" scoring {settings.bundle} from {settings.bus}"))
    try:
        stats = run_worker(settings, stop, name=name)
    except KeyboardInterrupt:
        stop.set()
        raise
    console.print(f"stopped after {stats.windows:,} windows in {stats.rounds:,} rounds")


@commands.command()
@reports_errors
def replay(
    dataset: DatasetArg,
    to: Annotated[
        str, typer.Option("--to", help="The service's URL (http://host:port) or a broker (mqtt://host:port).")
    ],
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="OMNIMAINT_API_KEY", help="API key (admin to register the assets)."),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            help="Data time per wall time (3600: an hour per second). [default: flat out]", show_default=False
        ),
    ] = None,
    assets: Annotated[list[str] | None, typer.Option("--assets", help="Only these assets (repeat the flag).")] = None,
    slice_hours: Annotated[float, typer.Option("--slice-hours", help="Data time per slice, in hours.")] = 1.0,
    register: Annotated[bool, typer.Option(help="Register the dataset's assets first (REST, admin key).")] = True,
    api: Annotated[
        str | None,
        typer.Option(help="With --to mqtt://: the service's REST URL, to register the assets.", show_default=False),
    ] = None,
    site: Annotated[str, typer.Option(help="With --to mqtt://: the topics' site segment.")] = "plant",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Stream DATASET (simulated or imported) into a running service in time order, every modality, over REST
    or MQTT (topics omnimaint/SITE/ASSET/KIND; docs/service.md)."""
    from datetime import timedelta

    from omnimaint.data.dataset import Dataset
    from omnimaint.service.replay import MqttSink, RestSink, Sink
    from omnimaint.service.replay import replay as run_replay

    if speed is not None and speed <= 0:
        raise ConfigError(f"--speed must be positive, got {speed}")
    sink: Sink
    if to.startswith(("http://", "https://")):
        sink = RestSink(to, api_key)
    elif to.startswith("mqtt://"):
        if register and api is None:
            raise ConfigError(
                "--to mqtt://: give --api http://… (the service's REST URL) to register the assets, or --no-register"
            )
        sink = MqttSink(to, site, api=RestSink(api, api_key) if api is not None else None)
    else:
        raise ConfigError(f"--to {to!r}: give the service's http:// URL or a broker's mqtt:// URL")
    report = run_replay(
        Dataset(dataset),
        sink,
        speed=speed,
        assets=assets,
        slice_=timedelta(hours=slice_hours),
        register=register,
        progress=progress,
    )
    sent = sum(report.rows.values()) + report.frames
    if isinstance(sink, MqttSink):
        console.print(f"published {sent:,} rows and frames to {to} in {report.seconds:.1f} s")
        return
    stored = sum(report.stored.values())
    console.print(
        f"sent {sent:,} rows and frames in {report.batches:,} batches and {report.frames:,} uploads "
        f"in {report.seconds:.1f} s: {stored:,} stored, {report.duplicates:,} already stored"
        + (f", {report.resent} batches resent" if report.resent else "")
    )
