"""Chart specifications: what each chart of the dashboard draws, as plain JSON for ``static/charts.js`` (which
hands it to uPlot). A page puts each specification in its chart element's ``data-spec`` attribute; nothing here
knows uPlot.

A specification is ``{"x": "time" | "number", "xs": [...], "series": [{"label", "values", "style", "tone"}],
"range": [x0, x1] | null, "y": {"min", "max"} | null, "band": [hi, lo] | null, "mark": [x0, x1] | null,
"rules": [{"value", "label"}], "sync": key | null, "height": px, "xLabel", "yLabel", "legend": bool,
"xAxis": bool}``. Times are seconds since the epoch (UTC; the browser draws them in its own time zone), ``values``
hold ``null`` for a gap, ``style`` is ``line``, ``dash``, ``bars`` or ``edge`` (an invisible edge of the shaded
``band`` between two series), and ``tone`` picks one of the page's series colours. Charts with the same ``sync``
key share the cursor and the zoom; in a stack of them only the lowest draws the time axis (``xAxis``). A chart
of one series has no legend (its caption names it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from omnimaint.diagnosis import Diagnosis, SpectrumEvidence, TelemetryEvidence
from omnimaint.diagnosis.telemetry import ChannelEvidence
from omnimaint.service.ui.asset import AssetPage, Spectrum

Spec = dict[str, Any]
Gettext = Callable[[str], str]
Hours = Callable[[float], str]


def _seconds(us: int) -> float:
    return us / 1e6


def _iso_seconds(iso: str) -> float:
    return float(pd.Timestamp(iso).timestamp())


def _series(label: str, values: Sequence[float | None], style: str = "line", tone: int = 0) -> dict[str, Any]:
    return {"label": label, "values": list(values), "style": style, "tone": tone}


def _chart(x: str, xs: Sequence[float], series: list[dict[str, Any]], **options: Any) -> Spec:
    spec: Spec = {"x": x, "xs": list(xs), "series": series, "range": None, "y": None, "band": None, "mark": None}
    spec.update({"rules": [], "sync": None, "height": 140, "xLabel": "", "yLabel": "", "xAxis": True})
    spec["legend"] = sum(s["style"] != "edge" for s in series) > 1
    spec.update(options)
    return spec


def asset_charts(
    page: AssetPage, horizons_hours: Sequence[float], threshold: float | None, gettext: Gettext, hours: Hours
) -> dict[str, list[Spec]]:
    """The asset page's charts: ``telemetry`` (one per channel) above ``timeline`` (risk, health, RUL), on one
    time axis over the page's period."""
    period = [_seconds(page.start_us), _seconds(page.end_us)]
    telemetry = [
        _chart(
            "time",
            [_seconds(v) for v in s.times_us],
            [_series(s.name, s.values)],
            range=period,
            sync="asset",
            height=110,
            yLabel=s.name,
        )
        for s in page.telemetry
    ]
    times = [_seconds(v) for v in page.scores.times_us]
    risk = [
        _series(
            gettext("within %(horizon)s") % {"horizon": hours(h)},
            [p[i] for p in page.scores.failure_probability],
            tone=i + 1,
        )
        for i, h in enumerate(horizons_hours)
    ]
    rules = [{"value": threshold, "label": gettext("alert threshold")}] if threshold is not None else []
    health = [
        _series(gettext("degrading"), [p[1] for p in page.scores.health_probabilities], tone=3),
        _series(gettext("critical"), [p[2] for p in page.scores.health_probabilities], tone=4),
    ]
    rul = [_series(gettext("remaining useful life (days)"), [h / 24 for h in page.scores.rul_hours], tone=5)]
    timeline = [
        _chart(
            "time",
            times,
            risk,
            range=period,
            sync="asset",
            y={"min": 0, "max": 1},
            rules=rules,
            yLabel=gettext("P(failure)"),
        ),
        _chart(
            "time",
            times,
            health,
            range=period,
            sync="asset",
            y={"min": 0, "max": 1},
            height=110,
            yLabel=gettext("P(state)"),
        ),
        _chart("time", times, rul, range=period, sync="asset", height=110, yLabel=gettext("days")),
    ]
    for stack in (telemetry, timeline):
        for chart in stack[:-1]:
            chart["xAxis"] = False
    return {"telemetry": telemetry, "timeline": timeline}


def spectrum_chart(spectrum: Spectrum, gettext: Gettext) -> Spec:
    """The amplitude spectrum of the newest burst of one channel."""
    return _chart(
        "number",
        spectrum.frequencies_hz,
        [_series(gettext("amplitude"), spectrum.amplitude)],
        xLabel=gettext("frequency (Hz)"),
        yLabel=gettext("amplitude"),
        height=160,
    )


def counts_chart(
    starts_us: Sequence[int], counts: Sequence[int], label: str, rule: tuple[float, str] | None = None
) -> Spec:
    """Bars of alarm counts per interval (per day, per 10 minutes) over time, with an optional limit line."""
    rules = [{"value": rule[0], "label": rule[1]}] if rule is not None else []
    return _chart(
        "time",
        [_seconds(v) for v in starts_us],
        [_series(label, counts, style="bars", tone=4)],
        rules=rules,
        height=160,
        y={"min": 0, "max": None},
    )


def evidence_charts(d: Diagnosis, gettext: Gettext) -> dict[str, list[Spec]]:
    """The diagnosis card's charts: ``telemetry`` (top channels with their healthy band and the range that drives
    the score) and ``spectra`` (each burst's amplitude and envelope spectrum against the healthy bursts)."""
    telemetry = [_evidence_channel(c, d.telemetry, gettext) for c in d.telemetry.channels[:4]] if d.telemetry else []
    spectra = [chart for s in d.spectra for chart in _evidence_spectra(s, gettext)]
    return {"telemetry": telemetry, "spectra": spectra}


def _evidence_channel(c: ChannelEvidence, evidence: TelemetryEvidence, gettext: Gettext) -> Spec:
    xs = [_iso_seconds(v) for v in evidence.times]
    series = [_series(c.channel, c.values)]
    band = None
    if c.baseline_median is not None and c.baseline_scale is not None:
        hi, lo = c.baseline_median + 2 * c.baseline_scale, c.baseline_median - 2 * c.baseline_scale
        series += [_series(gettext("healthy band"), [hi] * len(xs), "edge", 2), _series("", [lo] * len(xs), "edge", 2)]
        series.append(_series(gettext("healthy median"), [c.baseline_median] * len(xs), "dash", 2))
        band = [2, 3]
    mark = [_iso_seconds(c.highlighted.start), _iso_seconds(c.highlighted.end)] if c.highlighted else None
    return _chart("time", xs, series, band=band, mark=mark, height=150, yLabel=c.unit or c.channel)


def _evidence_spectra(s: SpectrumEvidence, gettext: Gettext) -> list[Spec]:
    amplitude = [
        _series(gettext("this burst"), s.amplitude),
        _series(gettext("healthy bursts"), s.baseline_amplitude, "dash", 2),
    ]
    envelope = [
        _series(gettext("this burst"), s.envelope),
        _series(gettext("healthy bursts"), s.baseline_envelope, "dash", 2),
    ]
    options = {"xLabel": gettext("frequency (Hz)"), "yLabel": gettext("amplitude"), "height": 150}
    charts = [_chart("number", s.frequencies_hz, amplitude if s.baseline_amplitude else amplitude[:1], **options)]
    if s.envelope:
        charts.append(
            _chart("number", s.envelope_frequencies_hz, envelope if s.baseline_envelope else envelope[:1], **options)
        )
    return charts
