"""The diagnosis card: one :class:`~omnimaint.diagnosis.evidence.Diagnosis` as a self-contained HTML page.

What a maintenance engineer reads before acting on a warning: the likely fault with its probability, the
component, RUL and failure probability per horizon; the modalities' contributions beside the fusion weights;
the top telemetry channels over the window with the healthy band and the range that drives the score; the
vibration spectra with the running-speed and bearing-defect bands; the camera frame with its heat map; the
weighty log lines and work orders; the nearest past cases and the actions that fixed them.

One file that works offline: inline CSS, inline SVG charts, the heat maps as base64 PNG, system fonts, and
the evaluation report's few lines of script to switch between English and Chinese (without script, the
default language shows). The SVG kit, translator, stylesheet and switch are the evaluation report's
(:mod:`omnimaint.evaluation.report`); the card's words are :mod:`.card_words`, its charts :mod:`.card_charts`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pandas as pd

from omnimaint.diagnosis import card_charts as charts
from omnimaint.diagnosis.card_words import CARD_WORDS
from omnimaint.diagnosis.evidence import Diagnosis
from omnimaint.diagnosis.frames import FrameEvidence
from omnimaint.diagnosis.spectrum import SpectrumEvidence
from omnimaint.evaluation.report.i18n import LANGUAGES, Language, Translator
from omnimaint.evaluation.report.static import SCRIPT, STYLE
from omnimaint.evaluation.report.svg import esc

GENERATOR = "omnimaint diagnosis card"
"""The page's ``<meta name="generator">``: how ``omnimaint diagnose --overwrite`` knows a card it wrote."""

TELEMETRY_CHANNELS = 4
LOG_LINES = 10
SPECTRAL_BANDS = 8

_CARD_STYLE = """
.cards.four{grid-template-columns:repeat(4,1fr)}
.card-value small{font-size:13px;font-weight:400;color:var(--muted)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:4px 28px}
img.heatmap{display:block;max-width:100%;height:auto;image-rendering:pixelated;border:1px solid var(--line)}
.scroll-x{overflow-x:auto}
.card-table td{white-space:nowrap}
.card-table td.text{white-space:normal;min-width:180px}
img.heatmap{width:min(384px,100%)}
svg .bar.negative{fill:#8c959f}
svg .driving-range,.swatch.driving-range{fill:rgba(207,34,46,.14);background:rgba(207,34,46,.14)}
svg .healthy-band,.swatch.healthy-band{fill:rgba(26,127,55,.12);background:rgba(26,127,55,.12)}
svg .healthy-median{stroke:#1a7f37;stroke-dasharray:4 3}
.swatch.healthy-median{height:0;border-top:2px dashed #1a7f37}
svg .point{fill:#1f6feb}
svg .spectral-band,.swatch.spectral-band{fill:rgba(130,80,223,.13);background:rgba(130,80,223,.13)}
svg .spectral-band.deviating,.swatch.deviating{fill:rgba(207,34,46,.22);background:rgba(207,34,46,.22)}
svg .band-label{fill:#6639ba;font-size:10.5px}
svg .baseline-spectrum{stroke:#8c959f;stroke-width:1.2}
.swatch.baseline-spectrum{height:0;border-top:2px solid #8c959f}
@media (max-width:900px){.cards.four{grid-template-columns:repeat(2,1fr)}.charts{grid-template-columns:1fr}
.card-table td{white-space:normal}.card-table td.text{min-width:120px}}
""".replace("\n", "")


_WRAP = ' class="text"'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: str = "", text: Sequence[int] = ()) -> str:
    """A table with column headers; cells are HTML the caller escaped. Columns ``text`` wrap, the others do not."""
    heading = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td{_WRAP if i in text else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    table = f'<table class="card-table {classes}"><thead><tr>{heading}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="scroll-x">{table}</div>'


def _p(text: str, cls: str) -> str:
    return f'<p class="{cls}">{esc(text)}</p>'


def _section(key: str, t: Translator, *parts: str) -> str:
    return f'<section id="{key}-{t.lang}"><h2>{esc(t(f"dx.section.{key}"))}</h2>{"".join(parts)}</section>'


def _time(iso: str) -> str:
    return Translator.time(pd.Timestamp(iso))


def _header(d: Diagnosis, t: Translator) -> str:
    fault, component = d.likely_fault, d.components[0] if d.components else None
    cards = [
        (t("dx.likely_fault"), fault.name, t("dx.probability_of", p=t.probability(fault.probability))),
        (
            t("dx.component"),
            component.name if component else "—",
            t("dx.probability_of", p=t.probability(component.probability)) if component else "",
        ),
        (t("dx.rul"), t.duration(d.rul_hours), ""),
        (t("dx.health"), t(f"health.{d.health}"), _anomaly_note(d, t)),
    ]
    body = "".join(
        f'<div class="card">{_p(label, "card-label")}<div class="card-value">{esc(value)}</div>{_p(note, "card-note")}'
        "</div>"
        for label, value, note in cards
    )
    rows = []
    for hours, p, alert in zip(d.horizons_hours, d.failure_probability, d.alerts, strict=True):
        threshold = esc(t.probability(d.threshold)) if hours == d.horizon_hours else "—"
        state = f'<span class="badge missed">{esc(t("dx.alert"))}</span>' if alert else esc(t("dx.below"))
        rows.append([esc(t.horizon(hours)), f"<strong>{esc(t.probability(p))}</strong>", threshold, state])
    head = [t("dx.col.horizon"), t("dx.col.probability"), t("dx.col.threshold"), t("dx.col.state")]
    meta = t("dx.meta", asset_type=d.asset_type, time=_time(d.at), seconds=f"{d.seconds:.2f}")
    return (
        f"<header>{_p(t('dx.kicker'), 'kicker')}<h1>{esc(t('dx.title', asset=d.asset_id, time=_time(d.at)))}</h1>"
        f'{_p(meta, "meta")}<div class="cards four">{body}</div>{_table(head, rows, "narrow")}</header>'
    )


def _anomaly_note(d: Diagnosis, t: Translator) -> str:
    """The fused state's anomaly score, and the frame anomaly beside it when the bundle has the component."""
    note = t("dx.anomaly", score=f"{d.anomaly_score:.2f}")
    if d.frame_anomaly is not None:
        note += " · " + t("dx.frame_anomaly", score=f"{d.frame_anomaly:.2f}")
    return note


def _modalities(d: Diagnosis, t: Translator) -> str:
    horizon = t.horizon(d.horizon_hours)
    chart = charts.modality_bars(d, t) or ""
    return _section("modalities", t, _p(t("dx.explain.modalities", horizon=horizon), "explain"), chart)


def _telemetry(d: Diagnosis, t: Translator) -> str:
    if d.telemetry is None:
        return _section("telemetry", t, _p(t("dx.no_telemetry"), "empty"))
    horizon = t.horizon(d.horizon_hours)
    explain = _p(t(f"dx.explain.telemetry.{d.telemetry.occlusion}", horizon=horizon), "explain")
    keys = [("line s0", t("dx.legend.series")), ("healthy-band", t("dx.legend.band"))]
    keys += [("healthy-median", t("dx.legend.median")), ("driving-range", t("dx.legend.range"))]
    figures = []
    for channel in d.telemetry.channels[:TELEMETRY_CHANNELS]:
        chart = charts.telemetry_chart(channel, d.telemetry, t)
        if chart is None:
            continue
        z = t("dx.no_z") if channel.z_score is None else t("dx.z", z=f"{channel.z_score:+.1f}")
        caption = t("dx.channel", channel=channel.channel, fall=f"{channel.contribution:+.4f}", z=z)
        figures.append(f"<figure><figcaption>{esc(caption)}</figcaption>{chart}</figure>")
    legend = charts.legend([(s, esc(text)) for s, text in keys])
    return _section("telemetry", t, explain, legend, f'<div class="charts">{"".join(figures)}</div>')


def _spectrum(s: SpectrumEvidence, t: Translator) -> str:
    speed = t("dx.speed", hz=f"{s.shaft_hz:.1f}") if s.shaft_hz else ""
    bearing = t("dx.bearing", bearing=s.bearing) if s.bearing else ""
    explain = t("dx.explain.spectrum", channel=s.channel, time=_time(s.burst_time), speed=speed, bearing=bearing)
    drawn = [(kind, charts.spectrum_chart(s, kind, t)) for kind in ("amplitude", "envelope")]
    keys = [("line s0", t("dx.legend.burst")), ("baseline-spectrum", t("dx.legend.healthy_bursts"))]
    keys += [("spectral-band", t("dx.legend.band_shaded")), ("deviating", t("dx.legend.deviating"))]
    rows = [
        [
            esc(b.name),
            esc(b.spectrum),
            esc(f"{b.low_hz:.1f}–{b.high_hz:.1f}"),
            esc(f"{b.amplitude:.3g}"),
            esc(f"{b.baseline_amplitude:.3g}") if b.baseline_amplitude is not None else "—",
            esc(f"{b.z_score:+.1f}") if b.z_score is not None else "—",
        ]
        for b in s.bands[:SPECTRAL_BANDS]
    ]
    head = [t(f"dx.col.{c}") for c in ("band", "spectrum", "range_hz", "amplitude", "healthy", "z")]
    charts_html = "".join(
        f"<figure><figcaption>{esc(t(f'dx.chart.{kind}', channel=s.channel))}</figcaption>{svg}</figure>"
        for kind, svg in drawn
        if svg
    )
    return (
        f"<h3>{esc(s.channel)}</h3>{_p(explain, 'explain')}{charts.legend([(k, esc(v)) for k, v in keys])}"
        f'<div class="charts">{charts_html}</div>{_table(head, rows, "narrow")}'
    )


def _vibration(d: Diagnosis, t: Translator) -> str:
    if not d.spectra:
        return _section("spectrum", t, _p(t("dx.no_waveforms"), "empty"))
    return _section("spectrum", t, *(_spectrum(s, t) for s in d.spectra))


def _frames(d: Diagnosis, t: Translator) -> str:
    if not d.frames:
        return _section("frames", t, _p(t("dx.no_frames"), "empty"))
    figures = []
    for f in d.frames:
        row, column = f.hottest
        where = {"camera": f.camera, "time": _time(f.frame_time), "row": row + 1, "column": column + 1, "grid": f.grid}
        source = "data:image/png;base64," + base64.b64encode(f.overlay_png).decode("ascii")
        caption = t("dx.frame.caption", fall=f"{f.peak:+.4f}", **where)
        figures.append(
            f'<figure><img class="heatmap" src="{source}" alt="{esc(t("dx.frame.alt", **where))}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
        if f.anomaly is not None:
            figures.append(_frame_anomaly(f, t))
    explain = [_p(t("dx.explain.frames"), "explain")]
    if any(f.anomaly is not None for f in d.frames):
        explain.append(_p(t("dx.explain.frame_anomaly"), "explain"))
    return _section("frames", t, *explain, f'<div class="charts">{"".join(figures)}</div>')


def _frame_anomaly(f: FrameEvidence, t: Translator) -> str:
    """The PatchCore anomaly map of a camera's newest frame, as a figure."""
    assert f.anomaly is not None
    row, column = f.anomaly.peak
    where = {"camera": f.camera, "time": _time(f.frame_time), "row": row + 1, "column": column + 1}
    source = "data:image/png;base64," + base64.b64encode(f.anomaly.overlay_png).decode("ascii")
    caption = t("dx.frame.anomaly_caption", score=f"{f.anomaly.score:.2f}", **where)
    return (
        f'<figure class="frame-anomaly"><img class="heatmap" src="{source}" '
        f'alt="{esc(t("dx.frame.anomaly_alt", **where))}"><figcaption>{esc(caption)}</figcaption></figure>'
    )


def _logs(d: Diagnosis, t: Translator) -> str:
    if not d.log_lines:
        return _section("logs", t, _p(t("dx.no_logs"), "empty"))
    head = [t(f"dx.col.{c}") for c in ("fall", "time", "kind", "label", "severity", "text")]
    rows = [
        [
            esc(f"{line.contribution:+.4f}"),
            esc(_time(line.time)),
            esc(t(f"dx.kind.{line.kind}")),
            esc(line.label),
            esc(line.severity),
            esc(line.text),
        ]
        for line in d.log_lines[:LOG_LINES]
    ]
    explain = _p(t("dx.explain.logs", horizon=t.horizon(d.horizon_hours)), "explain")
    return _section("logs", t, explain, _table(head, rows, text=(5,)))


def _cases(d: Diagnosis, t: Translator) -> str:
    if d.past.unavailable is not None:
        return _section("cases", t, _p(t("dx.no_cases", reason=d.past.unavailable), "empty"))
    head = [t(f"dx.col.{c}") for c in ("case", "similarity", "asset_failure", "fault_component", "problem", "action")]
    head.append(t("dx.col.outcome"))
    rows = [
        [
            esc(c.case_id),
            esc(f"{c.similarity:.2f}"),
            f"{esc(c.asset_id)}<br>{esc(_time(c.failure_at)) if c.failure_at else '—'}",
            f"{esc(c.fault_type or '—')}<br>{esc(c.component or '—')}",
            esc(c.problem),
            esc(c.action),
            f'<span class="badge {_outcome_badge(c.outcome)}">{esc(t(f"dx.outcome.{c.outcome}"))}</span>',
        ]
        for c in d.past.cases
    ]
    return _section("cases", t, _p(t("dx.explain.cases"), "explain"), _table(head, rows, text=(4, 5)))


def _outcome_badge(outcome: str) -> str:
    return {"held": "detected", "failed_again": "missed"}.get(outcome, "unconfirmed")


def _suggestions(d: Diagnosis, t: Translator) -> str:
    if not d.past.suggestions:
        return _section("suggestions", t, _p(t("dx.no_suggestions"), "empty"))
    head = [t(f"dx.col.{c}") for c in ("action", "votes", "held", "cases")]
    rows = []
    for s in d.past.suggestions:
        known = s.held + s.failed_again
        held = t("dx.held", held=s.held, known=known) if known else t("dx.held_unknown")
        rows.append([f"<strong>{esc(s.action)}</strong>", esc(f"{s.score:.2f}"), esc(held), esc(", ".join(s.case_ids))])
    return _section("suggestions", t, _p(t("dx.explain.suggestions"), "explain"), _table(head, rows, text=(0, 3)))


def _body(d: Diagnosis, lang: Language, shown: bool, generated: pd.Timestamp) -> str:
    t = Translator(lang, CARD_WORDS)
    reading = t(
        "dx.reading",
        windows=d.baseline.windows,
        candidates=d.baseline.candidates,
        rule=d.baseline.rule,
        generated=t.time(generated),
    )
    parts = [
        _header(d, t),
        _modalities(d, t),
        _suggestions(d, t),
        _cases(d, t),
        _telemetry(d, t),
        _vibration(d, t),
        _frames(d, t),
        _logs(d, t),
        f"<footer><h2>{esc(t('dx.section.reading'))}</h2>"
        + "".join(f"<p>{esc(line)}</p>" for line in reading.splitlines())
        + "</footer>",
    ]
    hidden = "" if shown else " hidden"
    return f'<main class="lang" data-lang="{lang}" lang="{t("html_lang")}"{hidden}>{"".join(parts)}</main>'


def render_card(diagnosis: Diagnosis, lang: Language = "en", generated: pd.Timestamp | None = None) -> str:
    """The card of ``diagnosis``: every language's body (``lang`` shown first) and the switch between them."""
    generated = generated if generated is not None else pd.Timestamp.now(tz="UTC")
    first = Translator(lang, CARD_WORDS)
    title = first("dx.title", asset=diagnosis.asset_id, time=_time(diagnosis.at))
    buttons = "".join(
        f'<button type="button" data-show="{other}" aria-pressed="{str(other == lang).lower()}">'
        f"{esc(Translator(other)('language'))}</button>"
        for other in LANGUAGES
    )
    bodies = "".join(_body(diagnosis, other, other == lang, generated) for other in LANGUAGES)
    return (
        f'<!doctype html><html lang="{first("html_lang")}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{GENERATOR}"><title>{esc(title)}</title>'
        f"<style>{STYLE}{_CARD_STYLE}</style></head><body>"
        f'<div class="switch" role="group" aria-label="{esc(first("switch.label"))}">{buttons}</div>{bodies}'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
