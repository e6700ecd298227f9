"""How technicians write: abbreviations, terseness, capitals and typos, in English or Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np

ABBREVIATIONS_EN: Final = {
    "preventive maintenance": "PM",
    "non-drive end": "NDE",
    "drive end": "DE",
    "bearings": "brgs",
    "bearing": "brg",
    "motor": "mtr",
    "replaced": "repl",
    "replace": "repl",
    "checked": "chkd",
    "check": "chk",
    "vibration": "vib",
    "temperature": "temp",
    "leaking": "lkg",
    "without": "w/o",
    "with": "w/",
    "inspection": "insp",
    "pressure": "press",
    "lubrication": "lube",
    "alignment": "algn",
    "approximately": "approx",
    "coupling": "cplg",
    "maintenance": "maint",
    "and": "&",
}
_ABBREV_PATTERN = re.compile(r"\b(" + "|".join(re.escape(k) for k in ABBREVIATIONS_EN) + r")\b", re.IGNORECASE)

TYPOS_ZH: Final = {"振动": "震动", "检查": "检察", "异响": "异向", "松动": "松懂", "更换": "跟换", "润滑": "润华"}
"""Pinyin input-method slips Chinese maintenance logs really contain."""

_NAMES_EN: Final = ("JK", "MR", "T. Hall", "D.S.", "pete", "A.Novak", "RG", "Sam L.")
_NAMES_ZH: Final = ("王工", "李师傅", "张伟", "刘班长", "陈工", "赵师傅", "孙强", "周工")


@dataclass(frozen=True)
class Technician:
    """One technician's writing habits.

    Attributes:
        name: Signature at the end of a long entry.
        abbreviate: Probability of abbreviating each abbreviable word.
        terse: Probability of writing only the first clause.
        upper: Writes in capitals (English).
        typo_scale: Multiplies the plant's typo rate.
        detail: Probability of adding a measurement or a remark.
    """

    name: str
    abbreviate: float
    terse: float
    upper: bool
    typo_scale: float
    detail: float


def draw_crew(lang: str, rng: np.random.Generator, size: int = 6) -> tuple[Technician, ...]:
    """A crew of technicians with varied habits."""
    names = _NAMES_ZH if lang == "zh" else _NAMES_EN
    picked = rng.choice(len(names), size=size, replace=False)
    return tuple(
        Technician(
            name=names[int(i)],
            abbreviate=float(rng.uniform(0.1, 0.95)),
            terse=float(rng.uniform(0.05, 0.6)),
            upper=bool(rng.random() < 0.2),
            typo_scale=float(rng.uniform(0.3, 2.0)),
            detail=float(rng.uniform(0.2, 0.8)),
        )
        for i in picked
    )


def abbreviate_en(text: str, probability: float, rng: np.random.Generator) -> str:
    """Replace abbreviable words, each occurrence with ``probability``."""

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= probability:
            return word
        short = ABBREVIATIONS_EN[word.lower()]
        return short.upper() if word.isupper() and len(word) > 1 else short

    return _ABBREV_PATTERN.sub(replace, text)


def add_typos_en(text: str, rate: float, rng: np.random.Generator) -> str:
    """Swap two adjacent letters or drop one, in words of 4+ letters, each with ``rate``."""

    def slip(match: re.Match[str]) -> str:
        word = match.group(0)
        if rng.random() >= rate:
            return word
        i = int(rng.integers(1, len(word) - 1))
        if rng.random() < 0.5:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        return word[:i] + word[i + 1 :]

    return re.sub(r"[A-Za-z]{4,}", slip, text)


def add_typos_zh(text: str, rate: float, rng: np.random.Generator) -> str:
    """Input-method slips: a few common homophone substitutions, each with ``rate`` x 5."""
    for right, wrong in TYPOS_ZH.items():
        if right in text and rng.random() < rate * 5:
            text = text.replace(right, wrong, 1)
    return text


def first_clause(text: str) -> str:
    """The text up to its first clause break (a terse technician stops there)."""
    return re.split(r"[,;，；。]", text, maxsplit=1)[0].strip()


def style(text: str, technician: Technician, lang: str, typo_rate: float, rng: np.random.Generator) -> str:
    """Write ``text`` the way ``technician`` would."""
    if rng.random() < technician.terse:
        text = first_clause(text)
    rate = min(1.0, typo_rate * technician.typo_scale)
    if lang == "zh":
        return add_typos_zh(text, rate, rng)
    text = add_typos_en(abbreviate_en(text, technician.abbreviate, rng), rate, rng)
    return text.upper() if technician.upper else text
