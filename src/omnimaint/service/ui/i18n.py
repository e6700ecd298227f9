"""The dashboard's languages: gettext catalogues, the language of a request, and numbers in it.

Every string the dashboard shows is a message of ``locale/{en,zh}/LC_MESSAGES/messages.po``, managed with Babel
(``pybabel extract`` / ``update``; docs/dashboard.md). The ``.po`` files are read when the service starts
(:func:`load_translations`: Babel's parser, compiled in memory), so no ``.mo`` file is built or committed.
The data's own names and texts (assets, channels, faults, work orders) are shown as they are.

A request's language is the ``omnimaint_lang`` cookie (set by the language switch) when it names one of
:data:`LANGUAGES`, else the best match of its ``Accept-Language`` header, else English (:func:`negotiate`).
Times are not formatted here: pages carry them as ``<time datetime>`` in UTC and the browser shows them in the
user's own time zone (``static/app.js``).
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Literal, TypeGuard

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
LANG_COOKIE = "omnimaint_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

HTML_LANG: dict[Language, str] = {"en": "en", "zh": "zh-CN"}
"""The ``lang`` attribute of a page (BCP 47; also the locale the browser formats times in)."""

LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "zh": "中文"}
"""Each language named in itself, as the switch shows it."""

BABEL_LOCALES: dict[Language, str] = {"en": "en", "zh": "zh_Hans_CN"}


def is_language(value: object) -> TypeGuard[Language]:
    """Whether ``value`` names a language of the dashboard."""
    return value in LANGUAGES


def catalogue_path(lang: Language) -> Path:
    """The ``.po`` file of ``lang``."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_translations(lang: Language) -> Translations:
    """The gettext translations of ``lang``, read from its ``.po`` file (fuzzy entries are left out, as gettext does).

    Raises:
        FileNotFoundError: if the catalogue is missing (a broken install).
    """
    with catalogue_path(lang).open("rb") as source:
        catalogue = read_po(source, locale=BABEL_LOCALES[lang], domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def negotiate(cookie: str | None, accept_language: str | None) -> Language:
    """The language of a request: the cookie's, else ``Accept-Language``'s best supported one, else English.

    ``Accept-Language: zh-TW;q=0.9, en;q=0.8`` picks Chinese (any ``zh`` tag matches); a language of weight 0 is
    one the user refuses.
    """
    if is_language(cookie):
        return cookie
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if not is_language(primary):
            continue
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        if weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else "en"


class Numbers:
    """Numbers, probabilities and durations written the way ``lang`` writes them.

    English and Chinese write numbers alike (CLDR: ``,`` groups thousands, ``.`` marks decimals, ``12%``), so
    Python's format does it: Babel's number formatting costs 10 to 60 µs a number, and the fleet page of a plant
    writes thousands (``tests/unit/service/ui/test_session.py`` checks the two agree). A language that writes
    them otherwise would format with Babel here.

    Args:
        lang: The page's language.
        translations: Its catalogue (durations are messages: "36 h", "36 小时").
    """

    def __init__(self, lang: Language, translations: Translations) -> None:
        self.lang = lang
        self.translations = translations

    def percent(self, probability: float | None) -> str:
        """``0.123`` as ``12%``; below 10 % with one decimal (``3.4%``), so that small risks are not all ``0%``."""
        if probability is None:
            return "—"
        return f"{probability * 100:,.{1 if abs(probability) < 0.1 else 0}f}%"

    def decimal(self, value: float | None, digits: int = 2, *, trim: bool = False) -> str:
        """``value`` with ``digits`` decimals (``—`` when unknown); with ``trim``, trailing zeros are dropped."""
        if value is None:
            return "—"
        text = f"{value:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if trim and digits else text

    def hours(self, hours: float | None) -> str:
        """A duration: hours below two days (``36 h``, ``1.5 h``), else days (``3 d``, ``4.5 d``)."""
        if hours is None:
            return "—"
        gettext = self.translations.gettext
        if abs(hours) < 48:
            return gettext("%(n)s h") % {"n": self.decimal(hours, 0 if abs(hours) >= 10 else 1, trim=True)}
        return gettext("%(n)s d") % {"n": self.decimal(hours / 24, 1, trim=True)}
