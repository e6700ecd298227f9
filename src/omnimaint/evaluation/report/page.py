"""The HTML of report.html: one body per language from the same :class:`ReportModel`, a switch between them.

The file is self-contained and works offline: inline CSS, inline SVG charts, system fonts, and a few
lines of inline JavaScript for the language switch (without JavaScript the default language shows).
``#zh`` or ``#en`` at the end of the address (or a section link such as ``#alerts-zh``) opens that language.
Every word comes from the language's catalogue; the dataset's own names (assets, components, faults) are
shown as they are, and so is a reason ``metrics.json`` gives for an undefined figure that the catalogue
has no rendering of.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from omnimaint.evaluation.report import charts
from omnimaint.evaluation.report.alerts import AlertEpisode, FailureRecord, first_warning
from omnimaint.evaluation.report.figures import Figure
from omnimaint.evaluation.report.i18n import LANGUAGES, Language, Translator
from omnimaint.evaluation.report.model import ReportModel
from omnimaint.evaluation.report.static import SCRIPT, STYLE
from omnimaint.evaluation.report.svg import esc

_SCROLL_ROWS = 40  # longer tables scroll inside the page
_SECTIONS = ("overview", "alerts", "failures", "timelines", "diagnosis", "quality")
_FAULT_FIGURE_LABELS = {
    "macro_f1": "row.fault_macro_f1",
    "macro_f1_before_failure": "row.fault_macro_f1_before_failure",
    "diagnosis_accuracy": "row.diagnosis_accuracy",
}


def undefined(t: Translator, reason: str | None) -> str:
    """The one way the page shows an undefined figure: the word, and why (``reason`` as metrics.json gives it)."""
    return _undefined(t, t.reason(reason) if reason else t("undefined.no_reason"))


def _undefined(t: Translator, why: str) -> str:
    return f'<span class="undefined">{esc(t("undefined"))} <span class="reason">({esc(why)})</span></span>'


def value(t: Translator, fig: Figure, suffix: str = "", fallback: str | None = None) -> str:
    """A figure as HTML: its number (with ``suffix``), or undefined with the recorded reason (else ``fallback``)."""
    return esc(fig.number() + suffix) if fig.defined else undefined(t, fig.reason or fallback)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: str = "", scroll: bool = True) -> str:
    """A table; cells are HTML the caller escaped. A long one scrolls unless ``scroll`` is false."""
    heading = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    table = f'<table class="{classes}"><thead><tr>{heading}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="scroll">{table}</div>' if scroll and len(rows) > _SCROLL_ROWS else table


def _p(text: str, cls: str) -> str:
    return f'<p class="{cls}">{esc(text)}</p>'


def _h3(text: str) -> str:
    return f"<h3>{esc(text)}</h3>"


def _section(key: str, t: Translator, *parts: str) -> str:
    return f'<section id="{key}-{t.lang}"><h2>{esc(t(f"section.{key}"))}</h2>{"".join(parts)}</section>'


def _badge(kind: str, text: str) -> str:
    return f'<span class="badge {kind}">{esc(text)}</span>'


def _header(model: ReportModel, t: Translator, generated: pd.Timestamp) -> str:
    split = model.split or "unknown"
    scope = t(f"split.{split}") if t.has(f"split.{split}") else t("split.other", split=split)
    meta = t("page.meta", windows=model.windows, assets=len(model.assets), generated=t.time(generated))
    links = "".join(f'<a href="#{key}-{t.lang}">{esc(t(f"section.{key}"))}</a>' for key in _SECTIONS)
    return (
        f"<header>{_p(t('page.kicker'), 'kicker')}<h1>{esc(model.title)}</h1>{_p(meta, 'meta')}"
        f"{_p(scope, 'note caution' if split in ('train', 'all') else 'note info')}<nav>{links}</nav></header>"
    )


def _overview(model: ReportModel, t: Translator) -> str:
    h = len(model.horizons_hours) - 1
    horizon = t.horizon(model.horizons_hours[h])
    figures = model.early_warning[model.horizons_hours[h]]
    counted = sum(r.warnings[h].counted for r in model.failures)
    detected = sum(r.warnings[h].lead_hours is not None for r in model.failures)
    why = t("reason.no_failure") if not counted else None if detected else t("reason.no_detection")
    warned = (
        esc(t("card.of", part=detected, whole=counted)) if counted else value(t, figures["detection_rate"], "", why)
    )
    rate = figures["false_alarms_per_asset_day"].number() or "—"
    cards = [
        (t("card.assets"), esc(str(len(model.assets))), t("card.assets_note", windows=model.windows)),
        (t("card.failures"), esc(str(model.n_failures)), t("card.failures_note", counted=counted)),
        (t("card.warned", horizon=horizon), warned, t("card.warned_note", horizon=horizon)),
        (
            t("card.lead_time", horizon=horizon),
            value(t, figures["lead_time_hours_median"], t.unit_hours(), why),
            t("card.lead_time_note"),
        ),
        (
            t("card.false_alarms", horizon=horizon),
            value(t, figures["n_false_alarms"]),
            t("card.false_alarms_note", rate=rate),
        ),
    ]
    body = "".join(
        f'<div class="card">{_p(label, "card-label")}<div class="card-value">{n}</div>{_p(note, "card-note")}</div>'
        for label, n, note in cards
    )
    empty = "" if model.n_failures else _p(t("empty.no_failures"), "note caution")
    return _section("overview", t, empty, f'<div class="cards">{body}</div>', _assets(model, t), _thresholds(model, t))


def _assets(model: ReportModel, t: Translator) -> str:
    head = [t("col.asset"), t("col.period"), t("col.windows"), t("col.failures")]
    for hours in model.horizons_hours:
        head += [t("col.detected", horizon=t.horizon(hours)), t("col.false_alarms", horizon=t.horizon(hours))]
    rows = []
    for a in model.assets:
        row = [
            esc(a.asset),
            esc(t("period", start=t.time(a.first), end=t.time(a.last))),
            str(a.windows),
            str(a.failures),
        ]
        for h in range(len(model.horizons_hours)):
            warned = esc(t("card.of", part=a.detected[h], whole=a.counted[h])) if a.counted[h] else "—"
            row += [warned, str(a.false_alarms[h])]
        rows.append(row)
    return _h3(t("heading.assets")) + _table(head, rows)


def _thresholds(model: ReportModel, t: Translator) -> str:
    thresholds = model.thresholds
    none = esc(t("threshold.none"))
    rows = [
        [esc(t("threshold.failure", horizon=t.horizon(hours))), esc(t.probability(v)) if v is not None else none]
        for hours, v in zip(model.horizons_hours, thresholds.failure_probability, strict=True)
    ]
    target, anomaly = thresholds.target_false_alarms_per_asset_day, thresholds.anomaly_score
    rows.append([esc(t("threshold.target")), esc(f"{target:g}") if target is not None else none])
    rows.append([esc(t("threshold.anomaly")), esc(f"{anomaly:.3f}") if anomaly is not None else none])
    return _h3(t("heading.thresholds")) + _table([t("col.rule"), t("col.threshold")], rows, "narrow", scroll=False)


def _alert_row(t: Translator, n: int, a: AlertEpisode) -> list[str]:
    return [
        str(n),
        esc(a.asset),
        esc(t.time(a.start)),
        esc(t.time(a.end)),
        esc(t.horizon(a.horizon_hours)),
        esc(f"{a.component[0]} ({a.component[1]:.2f})"),
        esc(f"{a.fault[0]} ({a.fault[1]:.2f})"),
        esc(t.probability(a.peak_probability)),
        esc(t.duration(a.lead_hours)) if a.lead_hours is not None else "—",
        _badge(a.outcome, t(f"outcome.{a.outcome}")),
    ]


def _alerts(model: ReportModel, t: Translator) -> str:
    if not model.alerts:
        return _section("alerts", t, _p(t("empty.no_alerts"), "empty"))
    head = [t(f"col.{c}") for c in ("number", "asset", "raised", "last_step", "horizon", "component", "fault")]
    head += [t(f"col.{c}") for c in ("peak", "lead_time", "outcome")]
    rows = [_alert_row(t, n, a) for n, a in enumerate(model.alerts, start=1)]
    return _section("alerts", t, _p(t("explain.alerts"), "explain"), _table(head, rows, "alerts"))


def _warning_cell(t: Translator, record: FailureRecord, h: int) -> str:
    warning = record.warnings[h]
    if not warning.counted:
        return _badge("outside", t("failure.outside"))
    if warning.lead_hours is None:
        return _badge("missed", t("failure.missed"))
    return _badge("detected", t("failure.warned", lead=t.duration(warning.lead_hours)))


def _diagnosis_cell(t: Translator, record: FailureRecord) -> str:
    diagnosis = next((w.diagnosis for w in reversed(record.warnings) if w.diagnosis is not None), None)
    if diagnosis is None:
        return "—"
    mark = "right" if diagnosis == record.fault_type else "wrong"
    return f'{esc(diagnosis)} <span class="{mark}">{esc(t(f"diagnosis.{mark}"))}</span>'


def _card_cell(t: Translator, record: FailureRecord, cards: Mapping[tuple[str, pd.Timestamp], str]) -> str:
    link = cards.get((record.asset, record.ts))
    warned = first_warning(record)
    if link is None or warned is None:
        return "—"
    label = t("failure.card_label", asset=record.asset, time=t.time(warned[0]))
    return f'<a href="{esc(link)}#{t.lang}" aria-label="{esc(label)}">{esc(t("failure.card"))}</a>'


def _failures(model: ReportModel, t: Translator, cards: Mapping[tuple[str, pd.Timestamp], str]) -> str:
    if not model.failures:
        return _section("failures", t, _p(t("empty.no_failure_records"), "empty"))
    head = [t("col.asset"), t("col.failed_at"), t("col.component"), t("col.fault")]
    head += [t("col.warned", horizon=t.horizon(hours)) for hours in model.horizons_hours] + [t("col.diagnosis")]
    head += [t("col.card")] if cards else []
    rows = [
        [esc(r.asset), esc(t.time(r.ts)), esc(r.component), esc(r.fault_type)]
        + [_warning_cell(t, r, h) for h in range(len(model.horizons_hours))]
        + [_diagnosis_cell(t, r)]
        + ([_card_cell(t, r, cards)] if cards else [])
        for r in model.failures
    ]
    return _section("failures", t, _p(t("explain.failures"), "explain"), _table(head, rows))


def _legend(model: ReportModel, t: Translator) -> str:
    def key(swatch: str, text: str) -> str:
        return f'<span class="key"><i class="swatch {swatch}"></i>{esc(text)}</span>'

    longest = t.horizon(max(model.horizons_hours))
    items = [
        key(f"line s{h}", t("legend.probability", horizon=t.horizon(hours)))
        for h, hours in enumerate(model.horizons_hours)
    ]
    items += [key("dashed", t("legend.threshold")), key("dot", t("legend.alert")), key("failure", t("legend.failure"))]
    items += [key("window", t("legend.window", horizon=longest))]
    items += [key(f"health-{s}", t(f"health.{s}")) for s in ("healthy", "degrading", "critical")]
    return f'<p class="legend">{"".join(items)}</p>'


def _timelines(model: ReportModel, t: Translator) -> str:
    if not model.timelines:
        return _section("timelines", t, _p(t("empty.no_windows"), "empty"))
    y_range, x_range = charts.probability_range(model), charts.time_range(model)
    figures = []
    for line in model.timelines:
        alerts = sum(a.asset == line.asset for a in model.alerts)
        caption = esc(t("timeline.caption", asset=line.asset, failures=len(line.failures), alerts=alerts))
        chart = charts.timeline(line, model, t, y_range, x_range)
        figures.append(f"<figure><figcaption>{caption}</figcaption>{chart}</figure>")
    return _section("timelines", t, _p(t("explain.timelines"), "explain"), _legend(model, t), *figures)


def _diagnosis(model: ReportModel, t: Translator) -> str:
    panels = (
        ("diagnosis.before_failure", model.diagnosis_confusion, ("macro_f1_before_failure", "diagnosis_accuracy")),
        ("diagnosis.all_windows", model.fault_confusion, ("macro_f1",)),
    )
    empty = {"diagnosis.before_failure": "empty.no_failure_windows", "diagnosis.all_windows": "empty.no_fault_labels"}
    parts = []
    for key, matrix, names in panels:
        scores = "".join(
            f'<p class="figure-line">{esc(t(_FAULT_FIGURE_LABELS[name]))}: {value(t, model.fault_figures[name])}</p>'
            for name in names
            if name in model.fault_figures
        )
        chart = charts.confusion_matrix(matrix, t) if matrix is not None else _p(t(empty[key]), "empty")
        parts.append(f'<div class="panel">{_h3(t(key))}{_p(t(key + ".explain"), "explain")}{scores}{chart}</div>')
    return _section("diagnosis", t, f'<div class="panels">{"".join(parts)}</div>')


def _ablation(model: ReportModel, t: Translator) -> str:
    if not model.ablation:
        return _p(t("empty.no_ablation"), "empty")
    figures = [*model.ablation_full.values(), *(f for group in model.ablation.values() for f in group.values())]
    reasons = "; ".join(
        sorted({t.reason(f.reason) if f.reason else t("undefined.no_reason") for f in figures if not f.defined})
    )
    svg = charts.ablation_bars(model, t)
    if svg is None:
        return _p(t("empty.ablation_undefined", reasons=reasons), "empty")
    return svg + (f'<p class="explain">{esc(t("ablation.dash"))} {_undefined(t, reasons)}</p>' if reasons else "")


def _quality(model: ReportModel, t: Translator) -> str:
    rows = [
        [esc(t(row.label, **{k: t.horizon_key(v) for k, v in row.params.items()})), value(t, row.figure)]
        for row in model.headline
    ]
    summary = _h3(t("heading.summary")) + _table([t("col.metric"), t("col.value")], rows, "narrow", scroll=False)
    if model.undefined:
        listed = "".join(
            f"<li><code>{esc(p)}</code>: {undefined(t, r)}</li>" for p, r in sorted(model.undefined.items())
        )
        summary += f"<details><summary>{esc(t('heading.undefined', count=len(model.undefined)))}</summary>"
        summary += f"<ul>{listed}</ul></details>"
    no_lead = "empty.no_detections" if model.failures else "empty.no_failure_records"
    blocks = [
        ("heading.curves", charts.roc_pr(model, t), "empty.no_curves"),
        ("heading.rul", charts.rul_scatter(model, t), "empty.no_rul"),
        ("heading.lead_times", charts.lead_times(model, t), no_lead),
    ]
    drawn = "".join(_h3(t(heading)) + (svg or _p(t(empty), "empty")) for heading, svg, empty in blocks)
    drawn += _h3(t("heading.ablation")) + _ablation(model, t)
    return _section("quality", t, _p(t("explain.quality"), "explain"), summary, drawn)


def _body(
    model: ReportModel,
    lang: Language,
    shown: bool,
    generated: pd.Timestamp,
    cards: Mapping[tuple[str, pd.Timestamp], str],
) -> str:
    t = Translator(lang)
    reading = "".join(f"<p>{esc(line)}</p>" for line in t("explain.reading").splitlines() if line)
    sections = [
        _header(model, t, generated),
        _overview(model, t),
        _alerts(model, t),
        _failures(model, t, cards),
        _timelines(model, t),
        _diagnosis(model, t),
        _quality(model, t),
        f"<footer><h2>{esc(t('section.reading'))}</h2>{reading}</footer>",
    ]
    hidden = "" if shown else " hidden"
    return f'<main class="lang" data-lang="{lang}" lang="{t("html_lang")}"{hidden}>{"".join(sections)}</main>'


def render(
    model: ReportModel,
    default: Language = "en",
    generated: pd.Timestamp | None = None,
    cards: Mapping[tuple[str, pd.Timestamp], str] | None = None,
) -> str:
    """The whole page: every language's body (``default`` shown first) and the switch between them.

    ``cards`` maps (asset, failure time) to the relative address of the diagnosis card of that failure's first
    warning; the failures table links each one (a column shown only when there are cards).
    """
    generated = generated if generated is not None else pd.Timestamp.now(tz="UTC")
    first = Translator(default)
    buttons = "".join(
        f'<button type="button" data-show="{lang}" aria-pressed="{str(lang == default).lower()}">'
        f"{esc(Translator(lang)('language'))}</button>"
        for lang in LANGUAGES
    )
    bodies = "".join(_body(model, lang, lang == default, generated, cards or {}) for lang in LANGUAGES)
    return (
        f'<!doctype html><html lang="{first("html_lang")}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(model.title)}</title>'
        f"<style>{STYLE}</style></head><body>"
        f'<div class="switch" role="group" aria-label="{esc(first("switch.label"))}">{buttons}</div>{bodies}'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
