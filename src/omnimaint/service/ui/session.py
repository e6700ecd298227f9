"""Dashboard sessions: an API key, checked once at sign-in, becomes a signed cookie; forms carry a CSRF token.

A session token is ``v1.<key_id>.<expires>.<nonce>.<signature>``: the signing key's id (public), when the
session ends (Unix seconds), 18 random bytes naming the session, and an HMAC-SHA256 of the rest under the
dashboard's secret. It holds no secret and no role: each request reads the key's role and revocation from the
store (:mod:`.access`), so revoking the API key ends its sessions at once and a role change applies at the next
click. The token is stateless, so several API processes on one data folder accept each other's sessions; sign-out
clears the cookie and this process refuses the token until it expires (a stolen cookie is cut off everywhere by
revoking the key).

The CSRF token of a session is an HMAC of its nonce (under the same secret, in another domain of the hash): a page
embeds it in every form, and a POST without the token of its own session is refused. The sign-in form, which has
no session yet, is protected by a double-submit cookie (:data:`LOGIN_CSRF_COOKIE`).

The secret is 32 random bytes in ``DATA_DIR/ui-session.key`` (mode 0600), made on first use; deleting the file
signs everyone out. docs/decisions.md says why this scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omnimaint.service.auth import Role

SESSION_COOKIE = "omnimaint_session"
LOGIN_CSRF_COOKIE = "omnimaint_login_csrf"
SECRET_FILE = "ui-session.key"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts: one shift and its overlap, then the key is asked for again."""

_VERSION = "v1"
_TOKEN = re.compile(r"v1\.([A-Za-z0-9]{1,32})\.([0-9]{1,12})\.([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Session:
    """A signed-in browser: the API key it signed in with (by id), when the session ends, and its nonce."""

    key_id: str
    expires: int
    nonce: str


@dataclass(frozen=True)
class User:
    """A signed-in browser: its API key's id, name and role, its session and the session's CSRF token."""

    key_id: str
    name: str
    role: Role
    session: Session
    csrf: str

    def can(self, role: str) -> bool:
        """Whether the user has ``role`` or a higher one (templates ask ``user.can('operator')``)."""
        return self.role >= Role(role)


def load_secret(data_dir: Path) -> bytes:
    """The dashboard's signing secret, made (0600, written whole) in ``data_dir`` if it is not there yet.

    Two processes starting together agree: the file is linked into place only if absent, and the loser reads
    the winner's.
    """
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        staged = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(staged, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            staged.unlink()
    secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(secret) < 32:
        raise ValueError(f"{path}: the dashboard secret must be at least 32 bytes (64 hex digits); delete it to renew")
    return secret


class SessionSigner:
    """Issues and checks session tokens and their CSRF tokens under one secret.

    Args:
        secret: At least 32 random bytes (:func:`load_secret`).
        lifetime_s: How long a session lasts.
        clock: Unix seconds (tests pass a fake one).
    """

    def __init__(
        self, secret: bytes, lifetime_s: int = SESSION_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._ended: dict[str, int] = {}  # nonce -> expiry, of sessions signed out in this process
        self._lock = threading.Lock()

    def _now(self) -> int:
        return int(self._clock())

    def _mac(self, domain: bytes, message: str) -> str:
        digest = hmac.new(self._secret, domain + b"\0" + message.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, key_id: str) -> tuple[str, Session]:
        """A new session of ``key_id``: its token (the cookie's value) and what it says."""
        session = Session(key_id, self._now() + self.lifetime_s, secrets.token_urlsafe(18))
        body = f"{_VERSION}.{session.key_id}.{session.expires}.{session.nonce}"
        return f"{body}.{self._mac(b'session', body)}", session

    def read(self, token: str | None) -> Session | None:
        """The session of ``token``, or ``None`` if it is absent, malformed, forged, expired or signed out."""
        parsed = _TOKEN.fullmatch(token or "")
        if parsed is None:
            return None
        key_id, expires, nonce, signature = parsed.groups()
        body = f"{_VERSION}.{key_id}.{expires}.{nonce}"
        if not hmac.compare_digest(signature, self._mac(b"session", body)):
            return None
        if int(expires) <= self._now():
            return None
        with self._lock:
            if nonce in self._ended:
                return None
        return Session(key_id, int(expires), nonce)

    def end(self, session: Session) -> None:
        """Refuse ``session`` in this process from now on (sign-out); forgets sessions that have expired anyway."""
        now = self._now()
        with self._lock:
            self._ended = {n: e for n, e in self._ended.items() if e > now}
            self._ended[session.nonce] = session.expires

    def csrf_token(self, session: Session) -> str:
        """The token that forms of ``session`` carry."""
        return self._mac(b"csrf", session.nonce)

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        """Whether ``presented`` is the CSRF token of ``session`` (constant time)."""
        return bool(presented) and hmac.compare_digest(str(presented), self.csrf_token(session))


def login_csrf_ok(cookie: str | None, presented: str | None) -> bool:
    """Whether the sign-in form's token matches the double-submit cookie set with the form."""
    return bool(cookie) and bool(presented) and hmac.compare_digest(str(cookie), str(presented))


def new_login_csrf() -> str:
    """A fresh double-submit token for the sign-in form."""
    return secrets.token_urlsafe(24)
