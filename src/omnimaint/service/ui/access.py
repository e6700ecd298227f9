"""Who is looking: every dashboard route takes a signed-in user of at least some role, and every form POST its
session's CSRF token.

``Annotated[User, Depends(page_user(Role.operator))]`` admits a browser whose session cookie is valid and whose
API key is still there, unrevoked, with that role or a higher one. The key's role is read from the store on each
request (one primary-key read), so a revoked key or a changed role applies at once. Without a valid session a
page redirects to the sign-in page (an htmx request is told to, with ``HX-Redirect``); with too low a role it is
refused with 403. :func:`form_user` also checks the CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``) before the role, and refuses a POST without the right one with 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Form, Request
from sqlalchemy import select

from omnimaint.service.auth import Role
from omnimaint.service.db import api_keys
from omnimaint.service.ui.session import SESSION_COOKIE, User
from omnimaint.service.ui.state import Dashboard
from omnimaint.service.ui.templating import url

logger = logging.getLogger(__name__)


class LoginRequired(Exception):
    """No valid session: the browser is sent to the sign-in page, which returns it to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign in first")
        self.next_url = next_url

    @property
    def login_url(self) -> str:
        return url("/login") + "?next=" + quote(self.next_url, safe="/")


class NotAllowed(Exception):
    """A signed-in user asked for what their role, or a missing CSRF token, does not allow (403).

    ``reason`` is ``csrf`` or ``role:<the role needed>``; the error page says it in the user's language.
    """

    def __init__(self, reason: str, user: User | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user


def _here(request: Request) -> str:
    """Where sign-in should return to: this page, or for a fragment or a POST the page it was made from."""
    if request.method == "GET" and not request.headers.get("hx-request"):
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page = urlsplit(request.headers.get("hx-current-url") or request.headers.get("referer") or "")
    return safe_next(page.path + (f"?{page.query}" if page.query else ""))


def safe_next(next_url: str | None) -> str:
    """``next_url`` if it is a page of the dashboard, else the fleet page (no open redirect to another site)."""
    if next_url and next_url.startswith(url("/")) and not next_url.startswith("//") and "\\" not in next_url:
        return next_url
    return url("/")


def signed_in(request: Request, dashboard: Dashboard) -> User | None:
    """The user of ``request``'s session cookie, or ``None`` (no cookie, a bad or expired one, a revoked key)."""
    signer = dashboard.signer()
    session = signer.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    k = api_keys.c
    query = select(k.name, k.role, k.revoked_us).where(k.key_id == session.key_id)
    with request.app.state.services.store.engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    if row is None or row.revoked_us is not None:
        logger.info("dashboard session of key %s refused: the key is revoked or gone", session.key_id)
        return None
    return User(session.key_id, row.name, Role.parse(row.role), session, signer.csrf_token(session))


def page_user(role: Role) -> Callable[[Request], User]:
    """A dependency admitting a signed-in user with ``role`` or higher (see the module docstring)."""

    def user_with_role(request: Request) -> User:
        user = signed_in(request, request.app.state.dashboard)
        if user is None:
            raise LoginRequired(_here(request))
        if user.role < role:
            raise NotAllowed(f"role:{role.value}", user)
        return user

    return user_with_role


def form_user(role: Role) -> Callable[..., Coroutine[Any, Any, User]]:
    """A dependency for form POSTs: a signed-in user, the session's CSRF token, then ``role`` or higher."""

    async def user_with_token(request: Request, csrf_token: Annotated[str, Form()] = "") -> User:
        user = signed_in(request, request.app.state.dashboard)
        if user is None:
            raise LoginRequired(_here(request))
        presented = csrf_token or request.headers.get("x-csrf-token", "")
        if not request.app.state.dashboard.signer().csrf_ok(user.session, presented):
            logger.info("dashboard POST %s by key %s refused: no valid CSRF token", request.url.path, user.key_id)
            raise NotAllowed("csrf", user)
        if user.role < role:
            logger.info("dashboard POST %s by key %s refused: role %s", request.url.path, user.key_id, user.role.value)
            raise NotAllowed(f"role:{role.value}", user)
        return user

    return user_with_token
