"""The end of `omnimaint demo`: the service on localhost, the plant replayed into it, windows scored."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from omnimaint.service import db
from omnimaint.service.live_demo import serve_demo

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


class _Finished(Exception):
    pass


def test_the_demo_serves_the_bundle_and_replays_the_plant(
    trained_bundle: Path, live_plant: Path, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("replay finished"):
            raise _Finished

    with pytest.raises(_Finished):
        serve_demo(trained_bundle, live_plant, tmp_path / "service", port=port, speed=1e6, say=say)
    assert lines[0].startswith(f"service: http://127.0.0.1:{port}")
    assert "API key (admin, shown once): om_" in lines[0]
    assert lines[1] == f"dashboard: http://127.0.0.1:{port}/ui/ (sign in with that key)"
    engine = db.make_engine(f"sqlite:///{tmp_path / 'service' / 'omnimaint.db'}")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(db.telemetry)).scalar_one() > 0
    engine.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the service stopped: its port is free again
