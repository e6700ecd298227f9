"""``report.html`` and ``metrics.json`` of an evaluation, written for a maintenance engineer.

The page says which assets were evaluated and how many failures they hold, lists every alert with its
outcome and every failure with its warning, draws each asset's failure risk over time, states the
thresholds in force, and shows the fault-diagnosis confusion matrices and the model-quality figures.
It is one self-contained file (inline CSS, SVG and a few lines of JavaScript; nothing fetched), in
English and Chinese with a switch between them. A metric that is undefined on the evaluated data is
shown as undefined with its reason, never as a number.

Modules: :mod:`.model` (what the page says, from an ``Evaluation``) with :mod:`.alerts` (alerts and
warned or missed failures) and :mod:`.figures` (reading ``metrics.json``); :mod:`.i18n` with
:mod:`.catalogue_en` and :mod:`.catalogue_zh` (every word, per language); :mod:`.svg` and :mod:`.charts`
(the charts); :mod:`.page` and :mod:`.static` (the HTML, CSS and script).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnimaint.evaluation.model_eval import Evaluation
from omnimaint.evaluation.report import alerts as _alerts
from omnimaint.evaluation.report import figures as _figures
from omnimaint.evaluation.report import i18n as _i18n
from omnimaint.evaluation.report import model as _model
from omnimaint.evaluation.report import page as _page
from omnimaint.evaluation.report.figures import Figure
from omnimaint.evaluation.report.i18n import LANGUAGES, Language

__all__ = [
    "LANGUAGES",
    "Figure",
    "Language",
    "SummaryRow",
    "WarnedFailure",
    "summary_rows",
    "warned_failures",
    "write_report",
]


@dataclass(frozen=True)
class SummaryRow:
    """A headline figure as the CLI prints it: an English name and the figure."""

    name: str
    figure: Figure

    @property
    def text(self) -> str:
        """The number, or ``undefined (reason)``."""
        if self.figure.defined:
            return self.figure.number()
        t = _i18n.Translator("en")
        return f"{t('undefined')} ({self.figure.reason or t('undefined.no_reason')})"


def summary_rows(metrics: dict[str, Any]) -> list[SummaryRow]:
    """The headline figures of ``metrics.json`` (printed by ``evaluate`` and ``demo``; the page's summary table)."""
    t = _i18n.Translator("en")
    return [
        SummaryRow(t(row.label, **{k: t.horizon_key(v) for k, v in row.params.items()}), row.figure)
        for row in _figures.headline_figures(metrics)
    ]


@dataclass(frozen=True)
class WarnedFailure:
    """A failure the evaluation warned about, the first alert step before it (over all horizons) and the index of
    the horizon that alerted then."""

    asset: str
    failure_at: pd.Timestamp
    first_warning: pd.Timestamp
    horizon: int


def warned_failures(evaluation: Evaluation) -> list[WarnedFailure]:
    """The failures of ``evaluation`` that were warned about, in time order, each with its first warning: the
    moments whose diagnosis cards ``omnimaint evaluate`` links from report.html."""
    found = []
    for record in _model.build_model(evaluation, "").failures:
        warned = _alerts.first_warning(record)
        if warned is not None:
            found.append(WarnedFailure(record.asset, record.ts, *warned))
    return found


def write_report(
    evaluation: Evaluation,
    out: Path,
    title: str,
    *,
    lang: Language = "en",
    cards: Mapping[tuple[str, pd.Timestamp], str] | None = None,
) -> tuple[Path, Path]:
    """Write ``metrics.json`` and ``report.html`` into ``out``.

    Args:
        evaluation: What :func:`~omnimaint.evaluation.model_eval.evaluate_bundle` measured.
        out: The folder to write into (created when missing).
        title: The page's title: which bundle on which data.
        lang: The language the page opens in (the reader can switch).
        cards: (asset, failure time) → address of the diagnosis card of that failure's first warning, relative
            to ``out`` (see :func:`warned_failures`); the failures table links them.

    Returns:
        The paths of ``metrics.json`` and ``report.html``.
    """
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    text = json.dumps(_json_ready(evaluation.metrics), indent=2, allow_nan=False)
    metrics_path.write_text(text + "\n", encoding="utf-8")
    report_path = out / "report.html"
    page = _page.render(_model.build_model(evaluation, title), lang, cards=cards)
    report_path.write_text(page, encoding="utf-8")
    return metrics_path, report_path


def _json_ready(value: Any) -> Any:
    """``value`` with numpy scalars made Python and NaN/inf made ``null`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
