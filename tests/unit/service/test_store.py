"""The store's schema: migrations match the tables the code uses, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from omnimaint.service import db
from tests.unit.service.conftest import ServiceFactory

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.open_store(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), db.metadata))
    finally:
        engine.dispose()


def test_the_migrations_create_exactly_the_tables_the_code_uses(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'store.db'}") == []


def test_opening_a_store_twice_migrates_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.open_store(url).dispose()
    engine = db.open_store(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
    engine.dispose()


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


@pytest.mark.timeout(600)
def test_the_service_runs_on_postgresql(postgres_url: str, make_service: ServiceFactory, live_plant: Path) -> None:
    assert _differences(postgres_url) == []
    from tests.unit.service.test_scoring import _replay, _wait_scored

    service = make_service(db=postgres_url)
    _replay(service, live_plant, slice_=__import__("datetime").timedelta(hours=12))
    _wait_scored(service)
    assets = service.client.get("/api/assets", headers=service.headers("viewer")).json()
    assert assets and all(a["scored_until"] is not None for a in assets)
