"""Load benchmark of the monitoring service on loopback (`make bench`; prints measured figures).

A real `omnimaint serve` process (SQLite store, MQTT subscriber on the local Mosquitto) takes synthetic
telemetry from two sender threads for 60 s over REST as fast as it acknowledges, then 60 s over REST and 60 s
over MQTT paced at 22,000 points/s. Printed and written to
BENCH_OUT/service-load.json: sustained points/s, points sent / acknowledged / stored (they must be equal:
zero loss), 429 refusals, scoring lag and alarm latency p50/p99 (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from omnimaint.atomic import BENCH, claim_folder
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import Predictor
from omnimaint.service.auth import Role, create_key
from omnimaint.service.db import open_store
from omnimaint.service.loadtest import chattering_threshold, run_load
from tests.unit.service.conftest import free_port

pytestmark = pytest.mark.bench
SECONDS = 60.0
PACE = 22_000.0
"""Points/s of the paced runs: the issue's target of 20,000 sustained, and a tenth more. The latencies are read at
this load; a sender faster than the service measures a queue (the service's, or over MQTT the broker's, which
also drops beyond its limit) rather than the service."""
RUNS = (("rest-max", None), ("rest", PACE), ("mqtt", PACE))
"""(run, points/s): REST as fast as the service acknowledges (its capacity), then REST and MQTT paced."""


def test_service_load(tiny_service_bundle: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
        mqtt = "mqtt://127.0.0.1:1883"
    except OSError:
        mqtt = None
    data_dir = tmp_path / "service"
    engine = open_store(f"sqlite:///{data_dir / 'omnimaint.db'}")
    key = create_key(engine, "load", Role("admin"))
    vocab = Bundle.load(tiny_service_bundle).preprocessor.vocab

    def registered(transport: str) -> list[dict[str, str]]:
        types = vocab.asset_types
        return [{"asset_id": f"{transport}-{i:03d}", "asset_type": types[i % len(types)]} for i in range(20)]

    # Alarms that come and go all through the run: one abnormal window raises (or returns) an alarm, one normal
    # window clears it, no cool-down; the threshold is where half of one component's windows lie above it.
    threshold = chattering_threshold(
        Predictor.from_bundle(tiny_service_bundle), {a["asset_id"]: a["asset_type"] for a in registered("rest")}
    )
    rules = tmp_path / "alarms.yaml"
    rule = f"threshold: {threshold!r}, deadband: 0.0, on_count: 1, window: 1, off_count: 1, cooldown: PT0S"
    rules.write_text(f"default: {{{rule}}}\n", encoding="utf-8")
    port = free_port()
    site = f"load-{uuid.uuid4().hex[:6]}"
    command = [
        sys.executable,
        "-m",
        "omnimaint",
        "serve",
        "--bundle",
        str(tiny_service_bundle),
        "--data-dir",
        str(data_dir),
    ]
    command += ["--port", str(port), "--alarm-rules", str(rules), "--site", site]
    if mqtt:
        command += ["--mqtt", mqtt]
    env_site = {"OMNIMAINT_MQTT_SITE": site, "OMNIMAINT_MQTT_CLIENT_ID": site}
    log = (tmp_path / "server.log").open("wb")  # a file, not an unread pipe that could fill and stall the server
    server = subprocess.Popen(command, env={**os.environ, **env_site}, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        results: dict[str, object] = {"alarm_threshold": threshold}
        for run, rate in RUNS:
            if run == "mqtt" and mqtt is None:
                continue
            assets = [a["asset_id"] for a in registered(run)]
            put = httpx.put(f"{url}/api/assets", json=registered(run), headers={"X-API-Key": key}, timeout=60)
            put.raise_for_status()
            report = run_load(
                url,
                key,
                engine,
                assets=assets,
                channels=vocab.telemetry_channels,
                seconds=SECONDS,
                mqtt=mqtt if run == "mqtt" else None,
                site=site,
                rate=rate,
            )
            results[run] = {"rate": rate, **report.as_dict()}
            print(f"\n{run}: {json.dumps(results[run])}")
            assert report.points_sent == report.points_acknowledged == report.points_stored, "every point accounted for"
    finally:
        server.terminate()
        server.wait(60)
        log.close()
        engine.dispose()
    out = claim_folder(Path(request.config.getoption("--bench-out")), BENCH, reuse=True)
    (out / "service-load.json").write_text(json.dumps(results, indent=2) + "\n")


def test_worker_scaling(tiny_service_bundle: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Windows scored per second by 1 and by 2 `omnimaint worker` processes (NATS JetStream + PostgreSQL), the
    plant's data stored beforehand by the API (so the figure is the scoring alone)."""
    import uuid as uuid_

    from sqlalchemy import create_engine, func, select, text

    from omnimaint.data.dataset import Dataset
    from omnimaint.service import db
    from omnimaint.service.replay import RestSink, assets_payload, replay
    from omnimaint.sim import PlantConfig, simulate

    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"NATS at 4222 and PostgreSQL at 5432 are needed ({type(exc).__name__})")
    plant = tmp_path / "plant"
    simulate(PlantConfig(n_assets=12, days=20, seed=5, fault_rate_scale=3.0, telemetry_period_s=1800, workers=1), plant)
    results: dict[str, object] = {}
    for workers in (1, 2):
        name = f"omnimaint_scale_{uuid_.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        store = f"postgresql://postgres@127.0.0.1:5432/{name}"
        stream = f"s{uuid_.uuid4().hex[:10]}"
        data_dir = tmp_path / f"service-{workers}"
        engine = db.open_store(store)
        key = create_key(engine, "scale", Role("admin"))
        port = free_port()
        env = {**os.environ, "OMNIMAINT_BUS_STREAM": stream}
        api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "omnimaint",
                "serve",
                "--bundle",
                str(tiny_service_bundle),
                "--db",
                store,
                "--bus",
                "nats://127.0.0.1:4222",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for _ in range(240):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            sink = RestSink(url, key)
            sink.put_assets(assets_payload(Dataset(plant), None))
            replay(Dataset(plant), sink, progress=False, register=False, slice_=timedelta(hours=12))
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "omnimaint",
                        "worker",
                        "--bundle",
                        str(tiny_service_bundle),
                        "--bus",
                        "nats://127.0.0.1:4222",
                        "--db",
                        store,
                        "--data-dir",
                        str(data_dir),
                        "--name",
                        f"w{i}",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for i in range(workers)
            ]
            last, stable = -1, 0
            while stable < 10:  # scored count unchanged for 5 s: done
                with engine.connect() as connection:
                    scored = int(connection.execute(select(func.count()).select_from(db.scores)).scalar_one())
                stable = stable + 1 if scored == last and scored > 0 else 0
                last = scored
                time.sleep(0.5)
            with engine.connect() as connection:
                first, final = connection.execute(
                    select(func.min(db.scores.c.scored_at_us), func.max(db.scores.c.scored_at_us))
                ).one()
            seconds = (final - first) / 1e6
            results[f"{workers}_workers"] = {
                "windows": last,
                "scoring_seconds": round(seconds, 1),
                "windows_per_s": round(last / seconds, 1) if seconds else None,
                "wall_seconds_incl_start": round(time.perf_counter() - started, 1),
            }
            print(f"\n{workers} worker(s): {results[f'{workers}_workers']}")
        finally:
            for process in [*procs, api]:
                process.terminate()
                process.wait(60)
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    out = claim_folder(Path(request.config.getoption("--bench-out")), BENCH, reuse=True)
    (out / "service-workers.json").write_text(json.dumps(results, indent=2) + "\n")
