"""Fixtures of the service tests: a short simulated plant, a service app on a fresh store, API keys."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install omnimaint[service])")

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from omnimaint.service import db
from omnimaint.service.auth import Role, create_key


def free_port() -> int:
    """A free local TCP port (bound, then released: nothing listens on it until a test starts a server there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def live_plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three machines over five days: every modality, small enough to replay in seconds."""
    from omnimaint.sim import PlantConfig, simulate

    out = tmp_path_factory.mktemp("live") / "plant"
    simulate(PlantConfig(n_assets=3, days=5, seed=11, fault_rate_scale=4.0, telemetry_period_s=1800, workers=1), out)
    return out


@dataclass
class Service:
    """A running app (through TestClient) and a key of each role."""

    client: TestClient
    data_dir: Path
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


ServiceFactory = Callable[..., Service]


@pytest.fixture
def make_service(trained_bundle: Path, tmp_path: Path) -> Iterator[ServiceFactory]:
    """Start the service app on ``tmp_path/service`` (settings overridable); stopped after the test."""
    from omnimaint.service.app import create_app
    from omnimaint.service.settings import ServiceSettings

    stack: list[TestClient] = []

    def start(**overrides: object) -> Service:
        data_dir = tmp_path / "service"
        given = {"score_interval": 0.2, "scorer_process": False, **overrides}  # a scorer thread: quick to start
        settings = ServiceSettings(bundle=trained_bundle, data_dir=data_dir, **given)  # type: ignore[arg-type]
        engine = db.open_store(settings.db_url)
        keys = {role.value: create_key(engine, role.value, role) for role in Role}
        engine.dispose()
        client = TestClient(create_app(settings))
        client.__enter__()
        stack.append(client)
        return Service(client, data_dir, keys)

    yield start
    for client in reversed(stack):
        client.__exit__(None, None, None)


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    pytest.importorskip("psycopg", reason="psycopg (the service extra's PostgreSQL driver) is not installed")
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    name = f"omnimaint_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is absent or refuses: say so
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES} is not usable ({type(exc).__name__})")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
