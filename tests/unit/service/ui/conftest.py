"""Fixtures of the dashboard tests: a bundle with a case base, and one served plant (the simulated plant replayed
and scored, alarms raised) shared by every test of the session, signed in through the real sign-in form."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from omnimaint.data.dataset import Dataset
from omnimaint.service import db
from omnimaint.service.auth import Role, create_key
from omnimaint.service.replay import RestSink, replay

ALARM_RULES = "default: {threshold: 0.001, deadband: 0.0005, on_count: 1, window: 1}\n"
"""A threshold every window crosses: the replayed plant raises alarms on every asset."""
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="session")
def case_bundle(trained_bundle: Path, small_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained bundle with the case base of the plant it was trained on (its corrective work orders)."""
    from omnimaint.diagnosis import build_cases

    written, _ = build_cases(trained_bundle, small_plant, out=tmp_path_factory.mktemp("cases") / "bundle")
    return written


@dataclass
class Plant:
    """A served, scored plant: the app, a key per role, and the ids of its assets and alarms."""

    client: TestClient
    keys: dict[str, str]
    assets: list[str]
    data_dir: Path
    taken: set[int] = field(default_factory=set)

    def browser(self, role: str | None = None, *, https: bool = False) -> TestClient:
        """A client of its own (its own cookies) on the running app, signed in with ``role``'s key when given."""
        client = TestClient(self.client.app, base_url="https://testserver" if https else "http://testserver")
        if role is not None:
            sign_in(client, self.keys[role])
        return client

    def fresh_alarm(self) -> int:
        """An open alarm that no test has taken yet (a test that acts on an alarm takes its own)."""
        for alarm in self.alarms("open"):
            if alarm["id"] not in self.taken:
                self.taken.add(int(alarm["id"]))  # type: ignore[call-overload]
                return int(alarm["id"])  # type: ignore[call-overload]
        raise AssertionError("the replayed plant has run out of open alarms for the tests")

    def alarms(self, state: str = "active") -> list[dict[str, object]]:
        answer = self.client.get("/api/alarms", params={"state": state}, headers={"X-API-Key": self.keys["admin"]})
        assert answer.status_code == 200
        return list(answer.json())


def sign_in(client: TestClient, key: str) -> str:
    """Sign ``client`` in through the form (its CSRF cookie and token included); returns the session's CSRF token."""
    form = client.get("/ui/login")
    assert form.status_code == 200
    token = CSRF_FIELD.search(form.text)
    assert token is not None, "the sign-in form carries a CSRF token"
    answer = client.post("/ui/login", data={"api_key": key, "csrf_token": token.group(1)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/ui/").text)


def csrf_of(page: str) -> str:
    """The CSRF token a page embeds in its forms."""
    found = CSRF_FIELD.search(page)
    assert found is not None, "the page has a form with a CSRF token"
    return found.group(1)


@pytest.fixture(scope="session")
def plant(case_bundle: Path, live_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    """The live plant replayed into the service (scorer in a thread) until every window is scored."""
    from omnimaint.service.app import create_app
    from omnimaint.service.settings import ServiceSettings

    folder = tmp_path_factory.mktemp("dashboard")
    rules = folder / "alarms.yaml"
    rules.write_text(ALARM_RULES, encoding="utf-8")
    settings = ServiceSettings(
        bundle=case_bundle,
        data_dir=folder / "service",
        score_interval=0.2,
        alarm_rules=rules,
        scorer_process=False,
    )
    engine = db.open_store(settings.db_url)
    keys = {role.value: create_key(engine, role.value, role) for role in Role}
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        sink = RestSink("", keys["admin"], client=client)  # type: ignore[arg-type]
        sink.close = lambda: None  # type: ignore[method-assign]  # the TestClient is closed by this fixture
        replay(Dataset(live_plant), sink, progress=False, slice_=pd.Timedelta(hours=12).to_pytimedelta())
        services = client.app.state.services  # type: ignore[attr-defined]
        deadline = time.monotonic() + 300
        while any(services.scorer.scorer.pending(p).size for p in services.store.progress()):
            assert time.monotonic() < deadline, "the scorer did not catch up"
            time.sleep(0.2)
        yield Plant(client, keys, sorted(services.store.asset_types), settings.data_dir)
