"""The charts of the diagnosis card, as inline SVG in one language, drawn with the evaluation report's SVG kit.

Each function returns the SVG markup, or ``None`` when there is nothing to draw (the card then says why in
words). Colours and line styles come from the card's stylesheet through class names
(:mod:`omnimaint.diagnosis.card`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from omnimaint.diagnosis.evidence import Diagnosis
from omnimaint.diagnosis.spectrum import SpectrumEvidence
from omnimaint.diagnosis.telemetry import ChannelEvidence, TelemetryEvidence
from omnimaint.evaluation.report.i18n import Translator
from omnimaint.evaluation.report.svg import (
    Box,
    Canvas,
    Linear,
    nice_bounds,
    thin,
    tick_label,
    time_ticks,
    x_axis,
    y_axis,
)

BAND_Z = 2.0
"""The healthy band of a telemetry chart: the asset's healthy median ± this many robust spreads."""

NUMBERED_Z = 2.0
"""A numbered band (``band 512-1024 Hz``) is shaded on the spectrum only this far above healthy (named ones always)."""

_MOST_POINTS = 400


def _named(name: str) -> bool:
    return not name.startswith("band ")


def _modality_name(t: Translator, modality: str) -> str:
    return t(f"modality.{modality}") if t.has(f"modality.{modality}") else modality


def modality_bars(diagnosis: Diagnosis, t: Translator) -> str | None:
    """Per modality, the fall in failure probability when it is dropped beside the fusion's weight on it."""
    rows = diagnosis.modalities
    if not rows:
        return None
    falls = [m.contribution for m in rows if m.contribution is not None]
    low, high, ticks = nice_bounds(min(0.0, *falls), max(0.0, *falls) or 0.01, count=4)
    row_height, left = 30, 120
    fall_box = Box(left=left, top=34, width=300, height=row_height * len(rows))
    weight_box = Box(left=fall_box.right + 60, top=34, width=220, height=fall_box.height)
    canvas = Canvas(weight_box.right + 20, fall_box.bottom + 42, t("dx.chart.modalities"))
    x_fall = Linear(low, high, fall_box.left, fall_box.right)
    x_weight = Linear(0.0, 1.0, weight_box.left, weight_box.right)
    canvas.text(
        fall_box.left, 18, t("dx.legend.contribution", horizon=t.horizon(diagnosis.horizon_hours)), "chart-title"
    )
    canvas.text(weight_box.left, 18, t("dx.legend.weight"), "chart-title")
    zero = x_fall.at(0.0)
    for i, m in enumerate(rows):
        y = fall_box.top + i * row_height
        name = _modality_name(t, m.modality)
        canvas.text(fall_box.left - 8, y + row_height / 2 + 4, name, "tick", "end")
        if m.contribution is None:
            canvas.text(zero + 6, y + row_height / 2 + 4, t("dx.absent"), "note")
        else:
            end = x_fall.at(m.contribution)
            cls = "bar b0" if m.contribution >= 0 else "bar negative"
            tip = f"{name}: {m.contribution:+.4f}"
            canvas.rect(min(zero, end), y + 6, abs(end - zero), row_height - 12, cls, tip)
            canvas.text(max(zero, end) + 4, y + row_height / 2 + 4, f"{m.contribution:+.3f}", "tick")
        width = x_weight.at(m.fusion_weight) - weight_box.left
        canvas.rect(weight_box.left, y + 6, width, row_height - 12, "bar b1", f"{name}: {m.fusion_weight:.2f}")
        canvas.text(weight_box.left + width + 4, y + row_height / 2 + 4, f"{m.fusion_weight:.2f}", "tick")
    canvas.line(zero, fall_box.top, zero, fall_box.bottom, "axis")
    x_axis(canvas, fall_box, x_fall, [(v, tick_label(v, ticks)) for v in ticks], None)
    x_axis(canvas, weight_box, x_weight, [(v, f"{v:g}") for v in (0.0, 0.5, 1.0)], None)
    return canvas.render()


def _us(iso: str) -> int:
    return int(pd.Timestamp(iso).value // 1000)


def telemetry_chart(channel: ChannelEvidence, evidence: TelemetryEvidence, t: Translator) -> str | None:
    """The channel's readings over the window, its healthy band and median, and the range that drives the score."""
    times = np.array([_us(s) for s in evidence.times], dtype=np.int64)
    values = np.array([np.nan if v is None else v for v in channel.values], dtype=float)
    if not np.isfinite(values).any():
        return None
    span = [float(np.nanmin(values)), float(np.nanmax(values))]
    median, scale = channel.baseline_median, channel.baseline_scale
    if median is not None and scale is not None:
        span += [median - BAND_Z * scale, median + BAND_Z * scale]
    low, high, ticks = nice_bounds(min(span), max(span), count=4)
    box = Box(left=62, top=12, width=450, height=130)
    unit = f" ({channel.unit})" if channel.unit else ""
    canvas = Canvas(box.right + 16, box.bottom + 26, t("dx.chart.telemetry", channel=channel.channel + unit))
    start_us = int(times[0] - (times[1] - times[0])) if len(times) > 1 else int(times[0])
    x = Linear(start_us, int(times[-1]), box.left, box.right)
    y = Linear(low, high, box.bottom, box.top)
    y_axis(canvas, box, y, ticks, channel.unit or channel.channel)
    if channel.highlighted is not None:
        left, right = x.at(_us(channel.highlighted.start)), x.at(_us(channel.highlighted.end))
        canvas.rect(left, box.top, right - left, box.height, "driving-range", t("dx.legend.range"))
    if median is not None and scale is not None:
        top, bottom = y.at(median + BAND_Z * scale), y.at(median - BAND_Z * scale)
        canvas.rect(box.left, top, box.width, bottom - top, "healthy-band", t("dx.legend.band"))
        canvas.line(box.left, y.at(median), box.right, y.at(median), "healthy-median", t("dx.legend.median"))
    for piece in _runs(np.isfinite(values)):
        xs, ys = thin(times[piece].astype(float), values[piece], _MOST_POINTS)
        if len(xs) == 1:
            canvas.circle(x.at(float(xs[0])), y.at(float(ys[0])), 2, "point")
        else:
            canvas.polyline(x(xs), y(ys), "series s0")
    x_axis(canvas, box, x, [(v, label) for v, label in time_ticks(start_us, int(times[-1]), 6)], None)
    return canvas.render()


def _runs(present: np.ndarray) -> list[slice]:
    """The runs of consecutive ``True`` (a missing reading breaks the line)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], present.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def spectrum_chart(evidence: SpectrumEvidence, kind: str, t: Translator) -> str | None:
    """The ``amplitude`` or ``envelope`` spectrum of the burst beside the healthy bursts', with its bands shaded."""
    if kind == "amplitude":
        freqs, amplitude, baseline = evidence.frequencies_hz, evidence.amplitude, evidence.baseline_amplitude
    else:
        freqs, amplitude, baseline = evidence.envelope_frequencies_hz, evidence.envelope, evidence.baseline_envelope
    if not freqs:
        return None
    bands = [b for b in evidence.bands if b.spectrum == kind and (_named(b.name) or (b.z_score or 0.0) >= NUMBERED_Z)]
    f = np.asarray(freqs, dtype=float)
    top_hz = float(f[-1])
    named = [b for b in bands if _named(b.name)]
    if kind == "envelope" and named:  # the defect frequencies sit low: show up to a few times the highest
        top_hz = min(top_hz, max(b.high_hz for b in named) * 4)
    keep = f <= top_hz
    curves = [np.asarray(amplitude, dtype=float)[keep]] + (
        [np.asarray(baseline, dtype=float)[keep]] if baseline else []
    )
    _, high, ticks = nice_bounds(0.0, max(float(c.max()) for c in curves) or 1.0, count=4)
    box = Box(left=62, top=22, width=450, height=140)
    title = t(f"dx.chart.{kind}", channel=evidence.channel)
    canvas = Canvas(box.right + 16, box.bottom + 40, title)
    x = Linear(0.0, top_hz, box.left, box.right)
    y = Linear(0.0, high, box.bottom, box.top)
    y_axis(canvas, box, y, ticks, "")  # the tick labels are wide; the figure's caption says what is plotted
    for n, band in enumerate(sorted(bands, key=lambda b: b.low_hz)):
        if band.low_hz > top_hz:
            continue
        left, right = x.at(band.low_hz), x.at(min(band.high_hz, top_hz))
        z = "" if band.z_score is None else f" z {band.z_score:+.1f}"
        cls = "spectral-band deviating" if band.z_score is not None and band.z_score >= 3 else "spectral-band"
        canvas.rect(left, box.top, max(right - left, 2.0), box.height, cls, f"{band.name}{z}")
        label = band.name if _named(band.name) else band.name.removeprefix("band ").removesuffix(" Hz")
        canvas.text((left + right) / 2, box.top - 4 - 10 * (n % 2), label, "band-label", "middle")
    if baseline:
        canvas.polyline(x(f[keep]), y(curves[1]), "series baseline-spectrum")
    canvas.polyline(x(f[keep]), y(curves[0]), "series s0")
    _, _, hz_ticks = nice_bounds(0.0, top_hz, count=6)
    shown = [(v, tick_label(v, hz_ticks)) for v in hz_ticks if v <= top_hz + 1e-9]
    x_axis(canvas, box, x, shown, t("dx.axis.frequency"))
    return canvas.render()


def legend(items: Sequence[tuple[str, str]]) -> str:
    """A legend line: (swatch class, escaped text) pairs."""
    keys = "".join(f'<span class="key"><i class="swatch {swatch}"></i>{text}</span>' for swatch, text in items)
    return f'<p class="legend">{keys}</p>'
