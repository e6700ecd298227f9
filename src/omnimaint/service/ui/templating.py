"""Pages from Jinja2 templates, one environment per language (its gettext catalogue installed with
``jinja2.ext.i18n``), so that a page is rendered whole in one language with no per-request state in Jinja.

Every page gets: ``lang`` and ``html_lang``, the signed-in ``user`` (or ``None``) and its ``csrf`` token,
``url()`` for paths under the dashboard, ``static()`` for its files (versioned, so a new release is never served
from a stale cache), ``when()`` for a time (a ``<time>`` element in UTC that the browser re-renders in the
user's time zone), ``label()`` for the service's codes, and the number filters ``percent``, ``decimal`` and
``hours`` written the language's way.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from omnimaint import __version__
from omnimaint.service.ui import labels
from omnimaint.service.ui.i18n import (
    HTML_LANG,
    LANG_COOKIE,
    LANGUAGE_NAMES,
    LANGUAGES,
    Language,
    Numbers,
    load_translations,
    negotiate,
)

TEMPLATES = Path(__file__).parent / "templates"
PREFIX = "/ui"
"""Where the dashboard is mounted."""
TIME_STYLES = ("datetime", "date", "time")


def url(path: str = "/") -> str:
    """The address of ``path`` under the dashboard (``url("/alarms")`` is ``/ui/alarms``)."""
    return PREFIX + (path if path.startswith("/") else "/" + path)


def static(path: str) -> str:
    """The address of a static file, with the release in the query so that caches renew on upgrade."""
    return f"{PREFIX}/static/{path}?v={__version__}"


def when(us: int | None, style: str = "datetime") -> Markup:
    """A ``<time>`` element: UTC text for readers without script, re-rendered in the browser's time zone.

    ``style`` is ``datetime``, ``date`` or ``time`` (``static/app.js`` reads it).
    """
    if us is None:
        return Markup("—")
    style = style if style in TIME_STYLES else "datetime"
    moment = datetime.fromtimestamp(us / 1e6, tz=UTC)
    text = moment.strftime("%Y-%m-%d" if style == "date" else "%Y-%m-%d %H:%M UTC")
    # Digits, dashes and one of TIME_STYLES: nothing to escape (a page may hold thousands of these).
    return Markup(f'<time datetime="{moment:%Y-%m-%dT%H:%M:%SZ}" data-style="{style}">{text}</time>')


def when_iso(iso: str | None, style: str = "datetime") -> Markup:
    """:func:`when` of an ISO-8601 time (naive: UTC), as the diagnosis reports them."""
    if not iso:
        return Markup("—")
    moment = datetime.fromisoformat(iso)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return when(round(moment.timestamp() * 1e6), style)


def request_language(request: Request) -> Language:
    """The language a request is answered in (cookie, else ``Accept-Language``, else English)."""
    return negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


@dataclass(frozen=True)
class Words:
    """A language's translations and number formats, for text built outside a template (chart labels)."""

    gettext: Callable[[str], str]
    numbers: Numbers


def _environment(lang: Language) -> tuple[Environment, Words]:
    translations = load_translations(lang)
    numbers = Numbers(lang, translations)
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    gettext = translations.gettext
    env.globals.update(
        lang=lang,
        html_lang=HTML_LANG[lang],
        languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        url=url,
        static=static,
        when=when,
        when_iso=when_iso,
        label=lambda kind, value: labels.label(gettext, kind, value),
        version=__version__,
    )
    env.filters.update(percent=numbers.percent, decimal=numbers.decimal, hours=numbers.hours)
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    return env, Words(gettext, numbers)


class Pages:
    """The dashboard's templates in every language."""

    def __init__(self) -> None:
        built = {lang: _environment(lang) for lang in LANGUAGES}
        self._environments = {lang: env for lang, (env, _) in built.items()}
        self._words = {lang: words for lang, (_, words) in built.items()}

    def words(self, request: Request) -> Words:
        """The translations and number formats of the request's language."""
        return self._words[request_language(request)]

    def text(self, request: Request, template: str, context: Mapping[str, Any]) -> str:
        """``template`` rendered in the request's language."""
        env = self._environments[request_language(request)]
        return env.get_template(template).render({"request": request, "path": request.url.path, **context})

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """An HTML response of ``template``; ``context`` should hold ``user`` (``None`` on the sign-in page)."""
        return HTMLResponse(self.text(request, template, context), status_code=status, headers=dict(headers or {}))
