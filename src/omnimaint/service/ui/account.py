"""Signing in and out, and the admin's page of API keys.

Sign-in takes an API key (the service's own keys, verified as the API verifies them: :func:`~omnimaint.service.auth.
authenticate`) and answers with a session cookie (:mod:`.session`): ``HttpOnly`` (no script reads it),
``SameSite=Lax`` (another site's forms and scripts do not send it; a link from a mail or a chat still opens the
page signed in), ``Secure`` when the page was served over https, valid for :data:`~.session.SESSION_SECONDS`
and scoped to the dashboard's path. The key itself is never stored in the browser.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omnimaint.service.auth import ApiKeyError, Role, authenticate, create_key, list_keys, revoke_key
from omnimaint.service.ui.access import form_user, page_user, safe_next, signed_in
from omnimaint.service.ui.session import LOGIN_CSRF_COOKIE, SESSION_COOKIE, User, login_csrf_ok, new_login_csrf
from omnimaint.service.ui.state import Dashboard, DashboardDep, ServiceParts, ServicesDep
from omnimaint.service.ui.templating import PREFIX, url

Next = Annotated[str | None, Query(alias="next", max_length=2000)]
Admin = Annotated[User, Depends(page_user(Role.admin))]
AdminForm = Annotated[User, Depends(form_user(Role.admin))]
KeyId = Annotated[str, Path(pattern="^[A-Za-z0-9]{1,32}$")]

router = APIRouter()


def _login_form(
    request: Request, dashboard: Dashboard, next_url: str | None, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = new_login_csrf()
    context = {"user": None, "csrf": token, "next": safe_next(next_url), "error": error, "active_alarms": 0}
    response = dashboard.pages.render(request, "login.html", context, status=status)
    secure = request.url.scheme == "https"
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, path=url("/login"))
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, dashboard: DashboardDep, next_url: Next = None) -> Response:
    """The sign-in form (a browser already signed in goes straight on)."""
    if signed_in(request, dashboard) is not None:
        return RedirectResponse(safe_next(next_url), status_code=303)
    return _login_form(request, dashboard, next_url)


@router.post("/login")
def login(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    api_key: Annotated[str, Form(max_length=300)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check the API key; on success set the session cookie and go on to ``next``."""
    if not login_csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_form(request, dashboard, next_url, error="expired", status=403)
    principal = authenticate(services.store.engine, api_key.strip())
    if principal is None:
        return _login_form(request, dashboard, next_url, error="invalid", status=401)
    token, _ = dashboard.signer().issue(principal.key_id)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=dashboard.signer().lifetime_s,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=url("/login"))
    return response


@router.post("/logout")
def logout(dashboard: DashboardDep, user: Annotated[User, Depends(form_user(Role.viewer))]) -> Response:
    """End the session: the cookie is cleared and this process refuses its token from now on."""
    dashboard.signer().end(user.session)
    response = RedirectResponse(url("/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


def _keys_page(
    request: Request,
    dashboard: Dashboard,
    services: ServiceParts,
    user: User,
    *,
    created: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {"keys": list_keys(services.store.engine), "roles": [r.value for r in Role]}
    context |= {"created": created, "error": error}
    response = dashboard.page(request, services, "keys.html", context, user=user, status=status)
    response.headers["Cache-Control"] = "no-store"  # a new key is on this page once
    return response


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, dashboard: DashboardDep, services: ServicesDep, user: Admin) -> HTMLResponse:
    """The service's API keys (never a secret): who, which role, since when, revoked or not."""
    return _keys_page(request, dashboard, services, user)


@router.post("/keys", response_class=HTMLResponse)
def new_key(
    request: Request,
    dashboard: DashboardDep,
    services: ServicesDep,
    user: AdminForm,
    name: Annotated[str, Form(max_length=300)] = "",
    role: Annotated[str, Form(pattern="^(viewer|operator|admin)$")] = "viewer",
) -> HTMLResponse:
    """Make a key; the page shows it once."""
    try:
        key = create_key(services.store.engine, name, Role.parse(role))
    except ApiKeyError as exc:
        return _keys_page(request, dashboard, services, user, error=str(exc), status=422)
    return _keys_page(request, dashboard, services, user, created=key, status=201)


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke(
    request: Request, key_id: KeyId, dashboard: DashboardDep, services: ServicesDep, user: AdminForm
) -> Response:
    """Revoke a key for good (its sessions end at once). An admin cannot revoke the key they are signed in with."""
    if key_id == user.key_id:
        return _keys_page(request, dashboard, services, user, error="own key", status=409)
    try:
        revoke_key(services.store.engine, key_id)
    except ApiKeyError as exc:
        return _keys_page(request, dashboard, services, user, error=str(exc), status=409)
    return RedirectResponse(url("/keys"), status_code=303)
