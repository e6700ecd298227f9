"""API keys and roles: the key format and its stored hash, revocation, the key cache, the FastAPI dependency
and ``omnimaint keys``, on temporary SQLite stores."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from omnimaint.cli import app as cli_app
from omnimaint.errors import ConfigError
from omnimaint.service.auth import (
    ApiKeyError,
    KeyCache,
    KeyInfo,
    Principal,
    Role,
    authenticate,
    create_key,
    list_keys,
    require,
    revoke_key,
)
from omnimaint.service.db import api_keys, make_engine, open_store
from omnimaint.service.settings import default_db_url

KEY_FORMAT = re.compile(r"om_(?P<key_id>[A-Za-z0-9]{12})\.(?P<secret>[A-Za-z0-9_-]{43})")
HASH_FORMAT = re.compile(r"scrypt\$16384\$8\$1\$(?P<salt>[A-Za-z0-9+/=]{24})\$(?P<hash>[A-Za-z0-9+/=]{44})")
T0_US = 1_700_000_000_000_000  # 2023-11-14 22:13:20 UTC


def _open(path: Path) -> Engine:
    return open_store(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty store, migrated once per module (copying it is faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    _open(path).dispose()
    return path


@pytest.fixture
def engine(empty_store: Path, tmp_path: Path) -> Iterator[Engine]:
    shutil.copyfile(empty_store, tmp_path / "store.db")
    store = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts scrypt runs (one entry per call)."""
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


# --- keys in the store -------------------------------------------------------------------------------------


def test_a_key_is_om_id_dot_secret_and_only_a_salted_scrypt_of_the_secret_is_stored(engine: Engine) -> None:
    first, second = create_key(engine, "gateway", Role.operator), create_key(engine, "gateway", Role.operator)
    parts = [KEY_FORMAT.fullmatch(key) for key in (first, second)]
    assert all(parts), (first, second)
    with engine.connect() as connection:
        rows = {row.key_id: row for row in connection.execute(select(api_keys))}
    assert set(rows) == {p["key_id"] for p in parts if p}
    hashes = []
    for part in parts:
        assert part is not None
        row = rows[part["key_id"]]
        stored = HASH_FORMAT.fullmatch(row.hash)
        assert stored, row.hash
        assert part["secret"] not in row.hash and row.role == "operator" and row.revoked_us is None
        hashes.append(stored)
    assert hashes[0]["salt"] != hashes[1]["salt"] and hashes[0]["hash"] != hashes[1]["hash"]


def test_authenticate_admits_the_key_and_refuses_wrong_unknown_and_revoked_ones(engine: Engine) -> None:
    key = create_key(engine, "line-3 gateway", Role.viewer)
    key_id = key[3:15]
    assert authenticate(engine, key) == Principal(key_id=key_id, name="line-3 gateway", role=Role.viewer)
    other_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert authenticate(engine, other_secret) is None
    assert authenticate(engine, "om_" + "x" * 12 + key[15:]) is None  # unknown key id, real secret
    revoked = revoke_key(engine, key_id)
    assert revoked.key_id == key_id and revoked.revoked_us is not None
    assert authenticate(engine, key) is None


MALFORMED = {
    "empty": "",
    "prefix only": "om_",
    "no dot": "om_" + "a" * 55,
    "no prefix": "a" * 12 + "." + "b" * 43,
    "empty secret": "om_" + "a" * 12 + ".",
    "short key id": "om_" + "a" * 11 + "." + "b" * 43,
    "two dots": "om_" + "a" * 12 + "." + "b" * 20 + "." + "c" * 22,
    "10 kB": "om_" + "a" * 12 + "." + "b" * 10_000,
    "non-ASCII": "om_" + "é" * 12 + "." + "b" * 43,
    "trailing newline": "om_" + "a" * 12 + "." + "b" * 43 + "\n",
}


@pytest.mark.parametrize("presented", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_keys_are_refused_without_touching_scrypt(
    engine: Engine, presented: str, scrypt_calls: list[int]
) -> None:
    assert authenticate(engine, presented) is None
    assert not scrypt_calls


def test_roles_are_ordered_viewer_operator_admin() -> None:
    assert Role.viewer < Role.operator < Role.admin
    assert Role.admin >= Role.operator >= Role.operator and not Role.viewer >= Role.operator
    assert sorted([Role.admin, Role.viewer, Role.operator]) == [Role.viewer, Role.operator, Role.admin]
    assert Role.parse(" Admin ") is Role.admin
    with pytest.raises(TypeError):
        _ = Role.viewer < "admin"
    with pytest.raises(ApiKeyError, match="unknown role 'root': use one of viewer, operator, admin"):
        Role.parse("root")


def test_list_keys_shows_every_key_oldest_first_and_never_a_hash(engine: Engine) -> None:
    late = create_key(engine, "late", Role.admin, now_us=T0_US + 1)
    early = create_key(engine, "early", Role.viewer, now_us=T0_US)
    revoke_key(engine, late[3:15], now_us=T0_US + 2_000_000)
    keys = list_keys(engine)
    assert keys == [
        KeyInfo(key_id=early[3:15], name="early", role=Role.viewer, created_us=T0_US, revoked_us=None),
        KeyInfo(key_id=late[3:15], name="late", role=Role.admin, created_us=T0_US + 1, revoked_us=T0_US + 2_000_000),
    ]
    assert keys[0].created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC) and keys[0].revoked_at is None
    assert keys[1].revoked_at == datetime(2023, 11, 14, 22, 13, 22, tzinfo=UTC)
    assert not any(hasattr(key, "hash") for key in keys)


def test_revoking_an_unknown_or_revoked_key_says_which(engine: Engine) -> None:
    key_id = create_key(engine, "gateway", Role.operator)[3:15]
    with pytest.raises(ApiKeyError, match="'nope': no such key"):
        revoke_key(engine, "nope")
    revoke_key(engine, key_id, now_us=T0_US)
    with pytest.raises(ApiKeyError, match=f"{key_id}: already revoked at 2023-11-14 22:13:20 UTC"):
        revoke_key(engine, key_id)
    assert list_keys(engine)[0].revoked_us == T0_US


@pytest.mark.parametrize(("name", "problem"), [("  ", "needs a name"), ("x" * 201, "201 characters long")])
def test_a_key_needs_a_name_that_fits(engine: Engine, name: str, problem: str) -> None:
    with pytest.raises(ApiKeyError, match=problem):
        create_key(engine, name, Role.viewer)
    assert list_keys(engine) == []


def test_an_unusable_stored_hash_refuses_the_key_and_logs_only_its_id(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    key = create_key(engine, "gateway", Role.viewer)
    with engine.begin() as connection:
        connection.execute(api_keys.update().values(hash="scrypt$16384$8$1$not base64$x"))
    with caplog.at_level(logging.ERROR, logger="omnimaint.service.auth"):
        assert authenticate(engine, key) is None
    assert f"API key {key[3:15]}: its stored hash is unusable" in caplog.text
    assert key[16:] not in caplog.text


def test_no_log_line_holds_a_secret_or_a_full_key(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="omnimaint.service.auth"):
        key = create_key(engine, "gateway", Role.viewer)
        secret = key[16:]
        authenticate(engine, key)
        authenticate(engine, key[:-2] + "zz")
        authenticate(engine, key + ".extra")
        revoke_key(engine, key[3:15])
        authenticate(engine, key)
    assert key[3:15] in caplog.text
    assert secret not in caplog.text and secret[:8] not in caplog.text


# --- the key cache -----------------------------------------------------------------------------------------


def test_the_cache_spares_scrypt_and_a_revocation_takes_effect_within_its_ttl(
    engine: Engine, scrypt_calls: list[int]
) -> None:
    key = create_key(engine, "gateway", Role.operator)
    clock = FakeClock()
    cache = KeyCache(ttl_s=5.0, clock=clock)
    scrypt_calls.clear()
    principal = authenticate(engine, key, cache=cache)
    assert principal is not None and len(scrypt_calls) == 1
    for now in (1.0, 2.0, 3.0):
        clock.now = now
        assert authenticate(engine, key, cache=cache) == principal
    assert len(scrypt_calls) == 1  # verified once, answered from the cache since
    revoke_key(engine, principal.key_id)
    clock.now = 4.9
    assert authenticate(engine, key, cache=cache) == principal  # still trusted: verified 4.9 s ago
    clock.now = 5.0  # use did not extend the entry: 5 s after verification, the store is asked again
    assert authenticate(engine, key, cache=cache) is None
    assert authenticate(engine, key, cache=cache) is None
    assert len(cache) == 0


def test_the_cache_keeps_at_most_max_entries_dropping_the_least_recently_used(
    engine: Engine, scrypt_calls: list[int]
) -> None:
    keys = [create_key(engine, f"gateway {i}", Role.viewer) for i in range(3)]
    cache = KeyCache(max_entries=2, clock=FakeClock())
    scrypt_calls.clear()
    for key in (keys[0], keys[1], keys[0], keys[2]):  # keys[1] is the least recently used when keys[2] arrives
        assert authenticate(engine, key, cache=cache) is not None
    assert len(cache) == 2 and len(scrypt_calls) == 3
    assert authenticate(engine, keys[0], cache=cache) is not None and len(scrypt_calls) == 3
    assert authenticate(engine, keys[1], cache=cache) is not None and len(scrypt_calls) == 4


def test_the_cache_never_holds_a_key() -> None:
    cache = KeyCache(clock=FakeClock())
    key = "om_" + "a" * 12 + "." + "s" * 43
    cache.put(key, Principal("a" * 12, "gateway", Role.viewer))
    assert cache.get(key) == Principal("a" * 12, "gateway", Role.viewer)
    assert "s" * 43 not in repr(vars(cache)) and b"s" * 43 not in b"".join(vars(cache)["_entries"])
    with pytest.raises(ConfigError, match="ttl_s must be >= 0"):
        KeyCache(ttl_s=-1)


# --- the FastAPI dependency --------------------------------------------------------------------------------


def _service(engine: Engine, cache: KeyCache | None = None) -> TestClient:
    """A tiny app: ``/status`` for viewers, ``/ingest`` for operators; each answers the caller's name."""
    app = FastAPI()
    app.state.engine = engine
    if cache is not None:
        app.state.key_cache = cache

    @app.get("/status")
    def status(who: Annotated[Principal, Depends(require(Role.viewer))]) -> dict[str, str]:
        return {"name": who.name, "role": who.role.value}

    @app.post("/ingest")
    def ingest(who: Annotated[Principal, Depends(require(Role.operator))]) -> dict[str, str]:
        return {"name": who.name, "role": who.role.value}

    return TestClient(app)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One service and a key per role (a revoked viewer key too), shared by the tests that change nothing."""
    engine = _open(tmp_path_factory.mktemp("http") / "store.db")
    keys = {role.value: create_key(engine, f"{role.value} key", role) for role in Role}
    keys["revoked"] = create_key(engine, "revoked key", Role.admin)
    revoke_key(engine, keys["revoked"][3:15])
    yield _service(engine), keys
    engine.dispose()


def _bearer(key: str | bytes) -> dict[str, Any]:
    return {"Authorization": b"Bearer " + key if isinstance(key, bytes) else f"Bearer {key}"}


@pytest.mark.parametrize("send", [lambda key: {"X-API-Key": key}, _bearer], ids=["X-API-Key", "Bearer"])
@pytest.mark.parametrize(("role", "path"), [("operator", "/ingest"), ("admin", "/ingest"), ("viewer", "/status")])
def test_a_key_with_the_role_or_a_higher_one_is_admitted_from_either_header(
    http: tuple[TestClient, dict[str, str]], send: Callable[[str], dict[str, Any]], role: str, path: str
) -> None:
    client, keys = http
    response = client.request("GET" if path == "/status" else "POST", path, headers=send(keys[role]))
    assert response.status_code == 200, response.text
    assert response.json() == {"name": f"{role} key", "role": role}


def test_a_viewer_key_on_an_operator_route_is_forbidden_naming_the_role(
    http: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = http
    response = client.post("/ingest", headers={"X-API-Key": keys["viewer"]})
    assert response.status_code == 403
    assert "needs an API key with the operator role" in response.json()["detail"]
    assert keys["viewer"][3:15] in response.json()["detail"] and keys["viewer"][16:] not in response.text


def _other_secret(key: str) -> str:
    return key[:-3] + ("abc" if not key.endswith("abc") else "xyz")


MISSING, INVALID = "missing API key", "invalid or revoked API key"
BAD_REQUESTS: dict[str, tuple[Callable[[dict[str, str]], dict[str, Any]], str]] = {
    "no key": (lambda keys: {}, MISSING),
    "empty X-API-Key": (lambda keys: {"X-API-Key": ""}, MISSING),
    "empty Bearer": (lambda keys: {"Authorization": "Bearer "}, MISSING),
    "Basic scheme": (lambda keys: {"Authorization": f"Basic {keys['operator']}"}, MISSING),
    "wrong secret": (lambda keys: {"X-API-Key": _other_secret(keys["operator"])}, INVALID),
    "revoked": (lambda keys: {"X-API-Key": keys["revoked"]}, INVALID),
    "revoked, Bearer": (lambda keys: _bearer(keys["revoked"]), INVALID),
    "no dot": (lambda keys: {"X-API-Key": keys["operator"].replace(".", "")}, INVALID),
    "10 kB": (lambda keys: {"X-API-Key": keys["operator"] + "a" * 10_000}, INVALID),
    "non-ASCII": (lambda keys: {"X-API-Key": (keys["operator"][:-1] + "é").encode()}, INVALID),
    "non-ASCII, Bearer": (lambda keys: _bearer("om_ключ.секрет".encode()), INVALID),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_a_missing_or_bad_key_is_401_with_a_bearer_challenge(
    http: tuple[TestClient, dict[str, str]], case: str, caplog: pytest.LogCaptureFixture
) -> None:
    client, keys = http
    headers, reason = BAD_REQUESTS[case]
    with caplog.at_level(logging.DEBUG):
        response = client.post("/ingest", headers=headers(keys))
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"].startswith(reason)
    assert not any(key[16:] in caplog.text for key in keys.values())


def test_a_key_revoked_while_in_use_is_refused_within_the_cache_ttl(engine: Engine) -> None:
    key = create_key(engine, "gateway", Role.operator)
    clock = FakeClock()
    client = _service(engine, KeyCache(ttl_s=5.0, clock=clock))
    assert client.post("/ingest", headers={"X-API-Key": key}).status_code == 200
    revoke_key(engine, key[3:15])
    clock.now = 4.0
    assert client.post("/ingest", headers={"X-API-Key": key}).status_code == 200  # within the TTL
    clock.now = 5.0
    assert client.post("/ingest", headers={"X-API-Key": key}).status_code == 401


def test_the_dependency_makes_a_key_cache_when_the_app_has_none(engine: Engine, scrypt_calls: list[int]) -> None:
    key = create_key(engine, "gateway", Role.viewer)
    client = _service(engine)
    scrypt_calls.clear()
    for _ in range(3):
        assert client.get("/status", headers=_bearer(key)).status_code == 200
    assert len(scrypt_calls) == 1
    assert isinstance(client.app.state.key_cache, KeyCache)  # type: ignore[attr-defined]


# --- omnimaint keys ----------------------------------------------------------------------------------------

runner = CliRunner()


def test_keys_create_list_revoke_end_to_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'service' / 'omnimaint.db'}"
    created = runner.invoke(cli_app, ["keys", "create", "--name", "line-3 gateway", "--role", "Operator", "--db", url])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert KEY_FORMAT.fullmatch(key), created.stdout
    assert "shown once" in created.stderr and key not in created.stderr
    engine = open_store(url)
    principal = authenticate(engine, key)
    assert principal == Principal(key_id=key[3:15], name="line-3 gateway", role=Role.operator)

    listed = runner.invoke(cli_app, ["keys", "list", "--db", url])
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if principal.key_id in line)
    assert "line-3 gateway" in row and "operator" in row and f"{datetime.now(UTC):%Y-%m-%d}" in row
    assert key[16:] not in listed.output and "scrypt" not in listed.output

    revoked = runner.invoke(cli_app, ["keys", "revoke", principal.key_id, "--db", url])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked key {principal.key_id} (line-3 gateway, operator)" in revoked.stdout
    assert authenticate(engine, key) is None
    row = next(
        line
        for line in runner.invoke(cli_app, ["keys", "list", "--db", url]).stdout.splitlines()
        if principal.key_id in line
    )
    assert row.count(f"{datetime.now(UTC):%Y-%m-%d}") == 2  # created and revoked

    again = runner.invoke(cli_app, ["keys", "revoke", principal.key_id, "--db", url])
    assert again.exit_code == 1
    assert again.stderr.startswith(f"error: API key {principal.key_id}: already revoked at ")
    engine.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "--name", "x", "--role", "root"], "error: unknown role 'root': use one of viewer, operator, admin"),
        (["create", "--name", " ", "--role", "viewer"], "error: an API key needs a name"),
        (["revoke", "nope"], "error: API key 'nope': no such key"),
    ],
)
def test_keys_commands_refuse_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(cli_app, ["keys", *args, "--db", f"sqlite:///{tmp_path / 'store.db'}"])
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_keys_use_the_services_default_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    listed = runner.invoke(cli_app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "no API keys" in listed.stdout
    assert default_db_url() == "sqlite:///service-data/omnimaint.db"
    assert (tmp_path / "service-data" / "omnimaint.db").is_file()
