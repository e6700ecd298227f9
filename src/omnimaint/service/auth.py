"""API keys and roles of the service: keys are made, listed and revoked here, and checked on every request.

A key is ``om_<key_id>.<secret>``. The ``key_id`` (12 random letters and digits) is public: it is stored
in clear, finds the key in the store and names it in lists and logs. The ``secret`` (32 random bytes,
url-safe base64) is shown once, when the key is made; the store keeps only its scrypt hash,
``scrypt$n$r$p$salt$hash``. Neither the secret nor the full key is ever logged.

Roles are ordered, ``viewer < operator < admin``: a route that needs a role admits it and every role above.
Routes ask for one with ``Annotated[Principal, Depends(require(Role.operator))]``; the key comes from
``X-API-Key: <key>`` or ``Authorization: Bearer <key>``, the store from ``request.app.state.engine``.

Checking a secret costs an scrypt (16 MiB and tens of milliseconds, on purpose). :class:`KeyCache` remembers
the keys verified in the last few seconds, so that a client sending many batches a second pays it once per
TTL, not once per request; a key revoked in the store is refused by every process within that TTL. The
dependency keeps its cache at ``request.app.state.key_cache`` (made on first use unless the app sets one).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update

from omnimaint.errors import ConfigError, OmnimaintError
from omnimaint.service.db import api_keys

if TYPE_CHECKING:
    from sqlalchemy import Engine, Row
    from starlette.datastructures import State

logger = logging.getLogger(__name__)

KEY_PREFIX = "om_"
_KEY_ID_ALPHABET = string.ascii_letters + string.digits  # url-safe, and never a leading '-' on a command line
_KEY_ID_CHARS = 12
_SECRET_BYTES = 32
_KEY_FORMAT = re.compile(r"om_([A-Za-z0-9]{12})\.([A-Za-z0-9_-]{32,128})")
_MAX_NAME_CHARS = 200  # the api_keys.name column

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_SCRYPT_MAXMEM = 64 << 20  # n=2**14, r=8 needs 16 MiB; OpenSSL's default ceiling (32 MiB) leaves little headroom

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ApiKeyError(OmnimaintError):
    """An API key cannot be made or revoked as asked (unknown key, already revoked, bad name or role)."""


@functools.total_ordering
class Role(Enum):
    """What a key may do. Ordered: each role may do everything that the roles before it may."""

    viewer = "viewer"
    operator = "operator"
    admin = "admin"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        order = list(Role)
        return order.index(self) < order.index(other)

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named ``value`` (any case).

        Raises:
            ApiKeyError: if no role has that name.
        """
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise ApiKeyError(f"unknown role {value!r}: use one of {names}") from None


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: the key it presented (by its public id), the key's name and its role."""

    key_id: str
    name: str
    role: Role


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed: everything but its secret and hash. Times are µs since the epoch, UTC."""

    key_id: str
    name: str
    role: Role
    created_us: int
    revoked_us: int | None

    @property
    def created_at(self) -> datetime:
        """When the key was made (UTC)."""
        return _EPOCH + timedelta(microseconds=self.created_us)

    @property
    def revoked_at(self) -> datetime | None:
        """When the key was revoked (UTC), or ``None`` while it is valid."""
        return None if self.revoked_us is None else _EPOCH + timedelta(microseconds=self.revoked_us)


class KeyCache:
    """Keys verified recently, so that a busy client pays scrypt once per ``ttl_s`` rather than per request.

    An entry lives ``ttl_s`` seconds from its verification, however often it is used since, so a key revoked
    in the store is refused within ``ttl_s``. At most ``max_entries`` are kept, the least recently used
    dropped first. Entries are keyed by a SHA-256 of the presented key: the cache holds no secret. Safe to
    share between threads (FastAPI runs the dependency in its thread pool).

    Args:
        ttl_s: Seconds a verification is trusted (0: never cached).
        max_entries: Keys remembered at most.
        clock: Monotonic seconds (tests pass a fake one).

    Raises:
        ConfigError: if ``ttl_s`` is negative or ``max_entries`` below 1.
    """

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic):
        if ttl_s < 0 or max_entries < 1:
            raise ConfigError(f"KeyCache: ttl_s must be >= 0 and max_entries >= 1, got {ttl_s} and {max_entries}")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, presented: str) -> Principal | None:
        """The principal of ``presented`` if it was verified less than ``ttl_s`` ago, else ``None``."""
        digest = _digest(presented)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            expires, principal = entry
            if self.clock() >= expires:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return principal

    def put(self, presented: str, principal: Principal) -> None:
        """Remember that ``presented`` was verified now as ``principal``."""
        digest = _digest(presented)
        with self._lock:
            self._entries[digest] = (self.clock() + self.ttl_s, principal)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def create_key(engine: Engine, name: str, role: Role, now_us: int | None = None) -> str:
    """Make a key and store its hash.

    Args:
        engine: The service's store.
        name: Who or what uses the key (``"line-3 gateway"``); at most 200 characters.
        role: What the key may do.
        now_us: Creation time, µs since the epoch (UTC); now by default.

    Returns:
        The full key, ``om_<key_id>.<secret>``: the only time the secret is available.

    Raises:
        ApiKeyError: if the name is empty or too long.
    """
    clean = name.strip()
    if not clean:
        raise ApiKeyError("an API key needs a name saying who or what uses it (e.g. 'line-3 gateway')")
    if len(clean) > _MAX_NAME_CHARS:
        raise ApiKeyError(f"API key name is {len(clean)} characters long; at most {_MAX_NAME_CHARS} are kept")
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_CHARS))
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    with engine.begin() as connection:
        connection.execute(
            api_keys.insert().values(
                key_id=key_id,
                name=clean,
                role=role.value,
                hash=_hash_secret(secret),
                created_us=_now_us() if now_us is None else now_us,
            )
        )
    logger.info("API key %s created for %r with role %s", key_id, clean, role.value)
    return f"{KEY_PREFIX}{key_id}.{secret}"


def list_keys(engine: Engine) -> list[KeyInfo]:
    """Every key in the store, revoked ones included, oldest first (never a secret or hash)."""
    columns = [c for c in api_keys.c if c.name != "hash"]
    with engine.connect() as connection:
        rows = connection.execute(select(*columns).order_by(api_keys.c.created_us, api_keys.c.key_id)).all()
    return [_key_info(row) for row in rows]


def revoke_key(engine: Engine, key_id: str, now_us: int | None = None) -> KeyInfo:
    """Revoke a key for good; processes that verified it recently refuse it within their cache's TTL.

    Args:
        engine: The service's store.
        key_id: The key's public id (``omnimaint keys list`` shows them).
        now_us: Revocation time, µs since the epoch (UTC); now by default.

    Returns:
        The key as it is now, revoked.

    Raises:
        ApiKeyError: if no key has that id or it is revoked already.
    """
    at_us = _now_us() if now_us is None else now_us
    columns = [c for c in api_keys.c if c.name != "hash"]
    with engine.begin() as connection:
        revoke = (
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_us.is_(None))
            .values(revoked_us=at_us)
        )
        changed = connection.execute(revoke).rowcount
        row = connection.execute(select(*columns).where(api_keys.c.key_id == key_id)).one_or_none()
    if row is None:
        raise ApiKeyError(f"API key {key_id!r}: no such key (see 'omnimaint keys list' for the key ids)")
    info = _key_info(row)
    if not changed:
        raise ApiKeyError(f"API key {key_id}: already revoked at {info.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
    logger.info("API key %s (%r) revoked", key_id, info.name)
    return info


def authenticate(engine: Engine, presented: str, cache: KeyCache | None = None) -> Principal | None:
    """Who ``presented`` belongs to, or ``None`` if it is malformed, unknown, revoked or has a wrong secret.

    Args:
        engine: The service's store.
        presented: The key as the client sent it.
        cache: Recently verified keys; a hit skips the store and scrypt, and a verified key is added.

    Returns:
        The key's principal, or ``None``.
    """
    parsed = _KEY_FORMAT.fullmatch(presented)
    if parsed is None:
        logger.info("API key refused: not of the form om_<key id>.<secret>")  # it may be a secret: not shown
        return None
    if cache is not None and (remembered := cache.get(presented)) is not None:
        return remembered
    key_id, secret = parsed.groups()
    with engine.connect() as connection:
        row = connection.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one_or_none()
    if row is None:
        logger.info("API key %s refused: no such key", key_id)
        return None
    if row.revoked_us is not None:
        logger.info("API key %s refused: revoked", key_id)
        return None
    if not _verify_secret(secret, row.hash, key_id):
        logger.info("API key %s refused: wrong secret", key_id)
        return None
    principal = Principal(key_id=key_id, name=row.name, role=Role.parse(row.role))
    if cache is not None:
        cache.put(presented, principal)
    return principal


_API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key, om_<key id>.<secret>.")
_BEARER = HTTPBearer(auto_error=False, description="An API key, om_<key id>.<secret>, as a bearer token.")


def require(role: Role) -> Callable[..., Principal]:
    """A FastAPI dependency admitting requests whose API key has ``role`` or a higher one.

    The key is read from ``X-API-Key`` or, when that is absent, ``Authorization: Bearer``.

    Args:
        role: The least role the route needs.

    Returns:
        The dependency; it returns the request's :class:`Principal` and raises HTTP 401 (no key, or a
        malformed, unknown, revoked or wrong one; with ``WWW-Authenticate: Bearer``) or HTTP 403 (a valid
        key whose role is too low).
    """

    def principal_with_role(
        request: Request,
        header_key: Annotated[str | None, Security(_API_KEY_HEADER)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> Principal:
        presented = (header_key or (bearer.credentials if bearer is not None else "")).strip()
        if not presented:
            raise _unauthorized("missing API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'")
        principal = authenticate(request.app.state.engine, presented, cache=_key_cache(request.app.state))
        if principal is None:
            raise _unauthorized("invalid or revoked API key")
        if principal.role < role:
            logger.info("API key %s refused: role %s, needs %s", principal.key_id, principal.role.value, role.value)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs an API key with the {role.value} role or higher; "
                f"key {principal.key_id} has the {principal.role.value} role",
            )
        return principal

    return principal_with_role


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def _key_cache(state: State) -> KeyCache:
    """The app's key cache, made on first use (two racing requests may each make one: one is kept)."""
    cache = getattr(state, "key_cache", None)
    if not isinstance(cache, KeyCache):
        cache = KeyCache()
        state.key_cache = cache
    return cache


def _hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``secret`` with a fresh salt (base64 salt and hash)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    encoded = [base64.b64encode(part).decode("ascii") for part in (salt, digest)]
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), *encoded])


def _verify_secret(secret: str, stored: str, key_id: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (with the parameters ``stored`` names), in constant time."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(f"unknown scheme {scheme!r}")
        digest = base64.b64decode(expected, validate=True)
        actual = _scrypt(secret, base64.b64decode(salt, validate=True), int(n), int(r), int(p), len(digest))
    except ValueError as exc:  # binascii.Error is one too
        logger.error("API key %s: its stored hash is unusable (%s); the key cannot be verified", key_id, exc)
        return False
    return hmac.compare_digest(actual, digest)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int, length: int = _HASH_BYTES) -> bytes:
    return hashlib.scrypt(secret.encode("ascii"), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=length)


def _digest(presented: str) -> bytes:
    return hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()


def _key_info(row: Row[tuple[object, ...]]) -> KeyInfo:
    return KeyInfo(
        key_id=row.key_id,
        name=row.name,
        role=Role.parse(row.role),
        created_us=row.created_us,
        revoked_us=row.revoked_us,
    )


def _now_us() -> int:
    return time.time_ns() // 1000
