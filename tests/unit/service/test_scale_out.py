"""Scale-out: the API announces on NATS JetStream, two `omnimaint worker` processes score from one PostgreSQL;
every window is scored once, no asset by two workers at once, and a killed worker's assets pass to the other."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, select

from omnimaint.inference.predictor import Predictor
from omnimaint.service import db
from tests.unit.service.conftest import ServiceFactory
from tests.unit.service.test_scoring import _expected_anchors, _replay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
NATS = ("127.0.0.1", 4222)


@pytest.fixture
def nats_url() -> str:
    try:
        socket.create_connection(NATS, timeout=1).close()
    except OSError:
        pytest.skip(f"no NATS server at {NATS[0]}:{NATS[1]} (start nats-server -js)")
    return f"nats://{NATS[0]}:{NATS[1]}"


def _worker(name: str, bundle: Path, bus: str, store: str, data_dir: Path, stream: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "omnimaint", "worker", "--bundle", str(bundle), "--bus", bus, "--db", store]
    command += ["--data-dir", str(data_dir), "--name", name]
    env = {**os.environ, "OMNIMAINT_BUS_STREAM": stream}
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


@pytest.fixture
def stream() -> Iterator[str]:
    yield f"t{uuid.uuid4().hex[:10]}"


def test_two_workers_share_the_plant_and_survive_one_killed(
    make_service: ServiceFactory,
    live_plant: Path,
    trained_bundle: Path,
    postgres_url: str,
    nats_url: str,
    stream: str,
    tmp_path: Path,
) -> None:
    service = make_service(db=postgres_url, bus=nats_url, bus_stream=stream)
    data_dir = tmp_path / "service"
    workers = {name: _worker(name, trained_bundle, nats_url, postgres_url, data_dir, stream) for name in ("w1", "w2")}
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        # Both workers up (heartbeating) before the data come, or the first could score everything alone.
        deadline = time.monotonic() + 300
        while True:
            with engine.connect() as connection:
                up = set(connection.execute(select(db.workers.c.worker_id)).scalars())
            if up >= set(workers):
                break
            for name, process in workers.items():
                assert process.poll() is None, (
                    f"{name} died: {process.stderr.read().decode() if process.stderr else ''}"
                )
            assert time.monotonic() < deadline, f"workers up: {sorted(up)}"
            time.sleep(0.5)
        _replay(service, live_plant, slice_=pd.Timedelta(hours=6).to_pytimedelta())
        expected = _expected_anchors(Predictor.from_bundle(trained_bundle), live_plant)

        def scores() -> pd.DataFrame:
            with engine.connect() as connection:
                rows = connection.execute(select(db.scores.c.asset_id, db.scores.c.ts_us, db.scores.c.scored_by)).all()
            return pd.DataFrame(rows, columns=["asset_id", "ts_us", "scored_by"])

        deadline = time.monotonic() + 300
        while scores()["scored_by"].nunique() < 2 or len(scores()) < 10:
            for name, process in workers.items():
                assert process.poll() is None, (
                    f"{name} died: {process.stderr.read().decode() if process.stderr else ''}"
                )
            assert time.monotonic() < deadline, f"both workers should score: {scores()['scored_by'].value_counts()}"
            time.sleep(0.5)
        workers["w1"].send_signal(signal.SIGKILL)
        workers["w1"].wait()
        deadline = time.monotonic() + 300
        while len(scores()) < len(expected):
            assert workers["w2"].poll() is None, "the surviving worker died"
            assert time.monotonic() < deadline, f"{len(scores())} of {len(expected)} windows scored"
            time.sleep(0.5)
        final = scores()
        assert set(zip(final["asset_id"], final["ts_us"], strict=True)) == expected and len(final) == len(expected)
        assert set(final["scored_by"]) == {"w1", "w2"}
        for asset_id, rows in final.sort_values("ts_us").groupby("asset_id"):
            owners = rows["scored_by"].tolist()
            changes = sum(a != b for a, b in itertools.pairwise(owners))
            assert changes <= 1, f"{asset_id} went back and forth between workers: {owners}"
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.terminate()
                process.wait(30)
        engine.dispose()
