"""The service as a real process: `omnimaint serve` behind uvicorn, `omnimaint replay` over HTTP, and a SIGKILL
mid-replay that loses no acknowledged row, repeats no window and no alarm."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from omnimaint.data.dataset import Dataset
from omnimaint.service import db
from omnimaint.service.auth import Role, create_key
from tests.unit.service.conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


class Server:
    def __init__(self, bundle: Path, data_dir: Path, rules: Path) -> None:
        self.port = free_port()
        self.args = [sys.executable, "-m", "omnimaint", "serve", "--bundle", str(bundle), "--data-dir", str(data_dir)]
        self.args += ["--port", str(self.port), "--alarm-rules", str(rules)]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode() if self.process.stderr else ""
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.3)
        raise AssertionError("the server did not start in 120 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(trained_bundle: Path, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    data_dir = tmp_path / "service"
    engine = db.open_store(f"sqlite:///{data_dir / 'omnimaint.db'}")
    key = create_key(engine, "replayer", Role("admin"))
    engine.dispose()
    rules = tmp_path / "alarms.yaml"
    rules.write_text("default: {threshold: 0.001, deadband: 0.0005, on_count: 1, window: 1}\n", encoding="utf-8")
    server = Server(trained_bundle, data_dir, rules)
    server.start()
    yield server, key
    server.stop()


def test_a_killed_server_loses_nothing_and_repeats_nothing(
    server: tuple[Server, str], live_plant: Path, trained_bundle: Path, tmp_path: Path
) -> None:
    service, key = server
    command = [sys.executable, "-m", "omnimaint", "replay", str(live_plant), "--to", service.url, "--slice-hours", "2"]
    replayer = subprocess.Popen(
        [*command, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMNIMAINT_API_KEY": key},
    )
    engine = create_engine(f"sqlite:///{tmp_path / 'service' / 'omnimaint.db'}")

    def telemetry_rows() -> int:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(db.telemetry)).scalar_one())

    deadline = time.monotonic() + 120
    while telemetry_rows() < 500:  # mid-replay: some batches stored, most to come
        assert time.monotonic() < deadline and replayer.poll() is None, "the replay ended before the kill"
        time.sleep(0.1)
    service.kill()
    killed_at = telemetry_rows()
    threading.Event().wait(1.0)
    service.start()  # the replayer retries its refused batch until the server is back
    out, err = replayer.communicate(timeout=600)
    assert replayer.returncode == 0, err.decode()
    dataset = Dataset(live_plant)
    assert telemetry_rows() == len(dataset.table("telemetry")) > killed_at, "every row stored once"
    for table in ("events", "waveforms", "frames"):
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(db.metadata.tables[table])).scalar_one()
        assert stored == len(dataset.table(table)), table
    from omnimaint.inference.predictor import Predictor
    from tests.unit.service.test_scoring import _expected_anchors

    expected = _expected_anchors(Predictor.from_bundle(trained_bundle), live_plant)
    deadline = time.monotonic() + 300
    while True:
        with engine.connect() as connection:
            scores = connection.execute(select(db.scores.c.asset_id, db.scores.c.ts_us)).all()
        if len(scores) >= len(expected):
            break
        assert time.monotonic() < deadline, f"scoring did not resume: {len(scores)} of {len(expected)} windows"
        time.sleep(0.5)
    with engine.connect() as connection:
        active = connection.execute(
            select(db.alarms.c.asset_id, db.alarms.c.component).where(db.alarms.c.state != "resolved")
        ).all()
    assert len(scores) == len(set(scores)) and set(scores) == expected, "every window scored, none twice"
    assert active and len(active) == len(set(active)), "one active alarm per asset and component"
    assert b"stored" in out
    engine.dispose()
