"""The dashboard's message catalogues hold every message its templates and code use, and nothing else; every
Chinese message is translated, keeps the message's placeholders, and no entry is fuzzy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from omnimaint.service.ui.i18n import LANGUAGES, Language, catalogue_path

UI = Path(__file__).resolve().parents[4] / "src" / "omnimaint" / "service" / "ui"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

MessageId = str | tuple[str, ...]


def _used() -> dict[MessageId, str]:
    """Every message extracted from the dashboard as ``pybabel extract -F babel.cfg`` extracts it, with where."""
    with (UI / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    used: dict[MessageId, str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(UI, method_map, options_map):
        used.setdefault(message, f"{filename}:{line}")
    return used


def _catalogue(lang: Language) -> Iterator[tuple[Any, Any, set[str]]]:
    with catalogue_path(lang).open("rb") as source:
        for message in read_po(source):
            if message.id:
                yield message.id, message.string, set(message.flags)


@pytest.fixture(scope="module")
def used() -> dict[MessageId, str]:
    found = _used()
    assert len(found) > 200, "the extraction sees the templates and the code"
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_in_use_is_in_the_catalogue_and_no_other(used: dict[MessageId, str], lang: Language) -> None:
    held = {message_id for message_id, _, _ in _catalogue(lang)}
    missing = [f"{where}: {message_id!r}" for message_id, where in used.items() if message_id not in held]
    stale = sorted(str(message_id) for message_id in held - set(used))
    assert not missing, f"not in locale/{lang} (run pybabel extract and update, docs/dashboard.md):\n" + "\n".join(
        missing
    )
    assert not stale, f"locale/{lang} holds messages no longer used: {stale}"


def test_every_chinese_message_is_translated_with_its_placeholders() -> None:
    problems = []
    for message_id, string, flags in _catalogue("zh"):
        ids = message_id if isinstance(message_id, tuple) else (message_id,)
        strings = string if isinstance(string, tuple) else (string,)
        if "fuzzy" in flags:
            problems.append(f"{ids[0]!r} is fuzzy")
        if not all(s and s.strip() for s in strings):
            problems.append(f"{ids[0]!r} has no translation")
            continue
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            got = set(PLACEHOLDER.findall(str(text)))
            if got != wanted:
                problems.append(f"{ids[0]!r}: placeholders {sorted(got)}, the message has {sorted(wanted)}")
    assert not problems, "\n".join(problems)
