"""report.html links the diagnosis card of each warned failure: which failures, which moment, which link."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from omnimaint.evaluation.report import WarnedFailure, warned_failures, write_report
from tests.unit.evaluation.test_report import ALERTS, START, _evaluation, _rows, _section

# A's failure at 30 h is warned from 25 h (and again at 26 h and 28 h); B's at 20 h is missed (its one alert, at
# 10 h, is outside the 6 h warning window).
FAILURES = {"A": [30.0], "B": [20.0]}


def test_each_warned_failure_links_the_card_of_its_first_warning(tmp_path: Path) -> None:
    case = _evaluation(ALERTS, FAILURES)
    failed_a = START + pd.Timedelta(hours=30)
    assert warned_failures(case) == [WarnedFailure("A", failed_a, START + pd.Timedelta(hours=25), 0)]
    _, report = write_report(case, tmp_path, "x", cards={("A", failed_a): "cards/A-20240302T0100Z.html"})
    page = report.read_text(encoding="utf-8")
    for lang, word in (("en", "diagnosis card"), ("zh", "诊断卡")):
        failures = _section(page, "failures", lang)
        rows = {row[0]: row for row in _rows(failures)}
        assert rows["A"][-1] == word and rows["B"][-1] == "—"
        assert f'href="cards/A-20240302T0100Z.html#{lang}"' in failures
        assert "2024-03-02 01:00" in failures  # the card's moment, in the link's label
    _, plain = write_report(case, tmp_path / "plain", "x")
    assert "cards/" not in plain.read_text(encoding="utf-8")  # no cards, no column
