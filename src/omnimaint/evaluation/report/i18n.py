"""The :class:`Translator` that reads the page's words from one catalogue per language
(:mod:`.catalogue_en`, :mod:`.catalogue_zh`), and writes numbers, durations and times.

Both catalogues hold the same keys with the same ``{placeholders}`` (a test checks it). Asset ids,
component and fault names are the dataset's own and are shown as they are; times are UTC, written
``YYYY-MM-DD HH:MM`` in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd

from omnimaint.evaluation.report.catalogue_en import EN
from omnimaint.evaluation.report.catalogue_zh import REASONS as REASONS_ZH
from omnimaint.evaluation.report.catalogue_zh import ZH

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

CATALOGUES: dict[Language, dict[str, str]] = {"en": EN, "zh": ZH}
# Renderings of the (English) reasons metrics.json gives for undefined figures: (pattern, template) pairs.
REASONS: dict[Language, tuple[tuple[re.Pattern[str], str], ...]] = {
    "en": (),
    "zh": tuple((re.compile(pattern), template) for pattern, template in REASONS_ZH),
}


class Translator:
    """The words of one language, and how numbers and times are written in it.

    Args:
        lang: The language.
        extra: More words per language, added to the report's (another page's own catalogue, such as the
            diagnosis card's); both languages must hold the same keys.
    """

    def __init__(self, lang: Language, extra: Mapping[Language, Mapping[str, str]] | None = None) -> None:
        self.lang = lang
        self._strings = {**CATALOGUES[lang], **extra[lang]} if extra else CATALOGUES[lang]

    def __call__(self, key: str, **params: Any) -> str:
        return self._strings[key].format(**params)

    def has(self, key: str) -> bool:
        return key in self._strings

    def reason(self, text: str) -> str:
        """A reason ``metrics.json`` gives for an undefined figure, in this language when it is a known one."""
        for pattern, template in REASONS[self.lang]:
            match = pattern.fullmatch(text)
            if match:
                return template.format(*match.groups())
        return text

    def horizon(self, hours: float) -> str:
        """A horizon: ``72 h`` / ``72 小时``."""
        return self("format.horizon", hours=f"{hours:g}")

    def horizon_key(self, key: str) -> str:
        """A horizon as ``metrics.json`` keys it (``"72h"``), written in this language."""
        number = key[:-1] if key.endswith("h") else key
        try:
            return self.horizon(float(number))
        except ValueError:
            return key

    def duration(self, hours: float) -> str:
        """A duration in hours with one decimal: ``53.6 h`` / ``53.6 小时``."""
        return self("format.duration", hours=f"{hours:.1f}")

    def unit_hours(self) -> str:
        """The unit of :meth:`duration`, with its leading space."""
        return self("format.duration", hours="")

    @staticmethod
    def time(ts: pd.Timestamp) -> str:
        """A UTC time to the minute."""
        stamp = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return stamp.strftime("%Y-%m-%d %H:%M")

    def time_us(self, us: int) -> str:
        return self.time(pd.Timestamp(us * 1000, tz="UTC"))

    @staticmethod
    def probability(value: float) -> str:
        return f"{value:.3f}"
