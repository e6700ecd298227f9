"""The store's schema: migrations match the tables the code uses, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from omnimaint.service import db
from tests.unit.service.conftest import ServiceFactory


def _differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.open_store(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), db.metadata))
    finally:
        engine.dispose()


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_the_migrations_create_exactly_the_tables_the_code_uses(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'store.db'}") == []


def test_opening_a_store_twice_migrates_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.open_store(url).dispose()
    engine = db.open_store(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
    engine.dispose()


@pytest.mark.timeout(600)
def test_the_service_runs_on_postgresql(postgres_url: str, make_service: ServiceFactory, live_plant: Path) -> None:
    assert _differences(postgres_url) == []
    from tests.unit.service.test_scoring import _replay, _wait_scored

    service = make_service(db=postgres_url)
    _replay(service, live_plant, slice_=__import__("datetime").timedelta(hours=12))
    _wait_scored(service)
    assets = service.client.get("/api/assets", headers=service.headers("viewer")).json()
    assert assets and all(a["scored_until"] is not None for a in assets)
