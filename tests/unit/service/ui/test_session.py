"""Sessions, CSRF tokens, languages and numbers of the dashboard, without a server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from babel.numbers import format_decimal, format_percent

from omnimaint.service.ui.i18n import BABEL_LOCALES, Language, Numbers, load_translations, negotiate
from omnimaint.service.ui.session import SECRET_FILE, SessionSigner, load_secret, login_csrf_ok

SECRET = bytes(range(32))


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_token_reads_back_and_a_changed_byte_is_refused() -> None:
    signer = SessionSigner(SECRET)
    token, session = signer.issue("AbCdEf123456")
    assert signer.read(token) == session and session.key_id == "AbCdEf123456"
    body, signature = token.rsplit(".", 1)
    assert signer.read(f"{body}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}") is None
    other_key = body.replace("AbCdEf123456", "ZZZZZZ123456")
    assert signer.read(f"{other_key}.{signature}") is None, "the key id is signed"
    assert SessionSigner(bytes(32)).read(token) is None, "another secret's token"
    for junk in (None, "", "v1", "v1.a.b.c.d", token + "x"):
        assert signer.read(junk) is None


def test_a_session_ends_when_it_expires_or_is_signed_out() -> None:
    clock = Clock()
    signer = SessionSigner(SECRET, lifetime_s=60, clock=clock)
    token, session = signer.issue("AbCdEf123456")
    clock.now += 59
    assert signer.read(token) is not None
    clock.now += 1
    assert signer.read(token) is None, "expired"
    clock.now -= 30
    signer.end(session)
    assert signer.read(token) is None, "signed out"
    fresh, _ = signer.issue("AbCdEf123456")
    assert signer.read(fresh) is not None, "signing out ends that session only"


def test_the_csrf_token_belongs_to_its_session() -> None:
    signer = SessionSigner(SECRET)
    _, one = signer.issue("AbCdEf123456")
    _, two = signer.issue("AbCdEf123456")
    assert signer.csrf_ok(one, signer.csrf_token(one))
    assert signer.csrf_token(one) != signer.csrf_token(two)
    assert not signer.csrf_ok(one, signer.csrf_token(two))
    assert not signer.csrf_ok(one, "") and not signer.csrf_ok(one, None)
    assert login_csrf_ok("abc", "abc") and not login_csrf_ok("abc", "abd") and not login_csrf_ok(None, None)


def test_the_secret_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = load_secret(tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(tmp_path / "data") == first
    assert [p.name for p in (tmp_path / "data").iterdir()] == [SECRET_FILE], "no staged file is left behind"
    path.write_text("00ff\n", encoding="ascii")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        load_secret(tmp_path / "data")


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("zh", "en-US,en;q=0.9", "zh"),
        ("en", "zh-CN", "en"),
        (None, "zh-TW,zh;q=0.9,en;q=0.8", "zh"),
        (None, "fr-FR, en;q=0.5, zh;q=0.4", "en"),
        (None, "de, zh;q=0", "en"),
        ("klingon", "zh-Hans", "zh"),
        (None, None, "en"),
        (None, "zh;q=abc, en", "en"),
    ],
)
def test_the_language_is_the_cookie_else_the_best_accepted_one(
    cookie: str | None, header: str | None, expected: str
) -> None:
    assert negotiate(cookie, header) == expected


def test_numbers_and_durations_read_naturally_in_both_languages() -> None:
    en = Numbers("en", load_translations("en"))
    zh = Numbers("zh", load_translations("zh"))
    assert [en.percent(p) for p in (0.0346, 0.6, 1.0, None)] == ["3.5%", "60%", "100%", "—"]
    assert [en.hours(h) for h in (1.5, 8, 24, 72, 108)] == ["1.5 h", "8 h", "24 h", "3 d", "4.5 d"]
    assert [zh.hours(h) for h in (8, 72)] == ["8 小时", "3 天"]
    assert en.decimal(1234.5678, 2) == "1,234.57" and en.decimal(None) == "—"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_numbers_are_written_as_babel_writes_them_in_each_language(lang: Language) -> None:
    numbers = Numbers(lang, load_translations(lang))
    locale = BABEL_LOCALES[lang]
    for p in (0.0, 0.0346, 0.0999, 0.1, 0.456, 0.995, 1.0, 12.5):
        pattern = "#,##0.0%" if p < 0.1 else "#,##0%"
        assert numbers.percent(p) == format_percent(p, format=pattern, locale=locale), p
    for value in (0.0, 3.14159, 1234.5, -17.25, 1_234_567.891):
        assert numbers.decimal(value, 2) == format_decimal(value, format="#,##0.00", locale=locale), value
        assert numbers.decimal(value, 1, trim=True) == format_decimal(value, format="#,##0.#", locale=locale), value
