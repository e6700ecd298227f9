"""schemathesis against the running service's OpenAPI spec: no generated request gets a server error (5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.unit.service.test_server_process import Server

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis (a dev dependency) is not installed")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture
def running(trained_bundle: Path, tmp_path: Path, live_plant: Path) -> Iterator[tuple[str, str]]:
    import httpx

    from omnimaint.data.dataset import Dataset
    from omnimaint.service.auth import Role, create_key
    from omnimaint.service.db import open_store
    from omnimaint.service.replay import assets_payload

    data_dir = tmp_path / "service"
    engine = open_store(f"sqlite:///{data_dir / 'omnimaint.db'}")
    key = create_key(engine, "fuzz", Role("admin"))
    engine.dispose()
    rules = tmp_path / "alarms.yaml"
    rules.write_text("default: {}\n", encoding="utf-8")
    server = Server(trained_bundle, data_dir, rules)
    server.start()
    headers = {"X-API-Key": key}
    httpx.put(
        f"{server.url}/api/assets", json=assets_payload(Dataset(live_plant), None), headers=headers
    ).raise_for_status()
    yield server.url, key
    server.stop()


def test_no_generated_request_gets_a_server_error(running: tuple[str, str]) -> None:
    url, key = running
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, "every route is in the spec"
    for operation in operations:

        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def call(case: object) -> None:
            for headers in ({"X-API-Key": key}, {}):
                response = case.call(base_url=url, headers=headers)  # type: ignore[attr-defined]
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                    )  # type: ignore[attr-defined]

        call()
    assert not failures, "\n".join(failures[:10])
