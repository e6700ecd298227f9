"""The charts of report.html, as inline SVG in one language.

Each function returns the SVG markup, or ``None`` when there is nothing to draw: the page then says in
words why (an empty chart tells a reader nothing). Axes fit their data: probabilities span the range
the scores and thresholds actually take (the same range for every asset, so that assets compare),
bars start at zero, and time axes are UTC with ticks at round hours or days.
"""

from __future__ import annotations

import itertools

import numpy as np

from omnimaint.data.windows import HEALTH_STATES
from omnimaint.evaluation.report.i18n import Translator
from omnimaint.evaluation.report.model import Confusion, ReportModel, Timeline
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

_US_PER_HOUR = 3_600_000_000
_TIMELINE = Box(left=64, top=10, width=900, height=120)
_HEALTH_STRIP = 10  # px, under the plot
_RIGHT_LABELS = 96  # px for the threshold labels right of a timeline


def probability_range(model: ReportModel) -> tuple[float, float, list[float]]:
    """The y range shared by every asset's timeline: the scores and the thresholds, on round ticks in [0, 1]."""
    values = [float(t.probability.min()) for t in model.timelines if t.probability.size]
    highs = [float(t.probability.max()) for t in model.timelines if t.probability.size]
    thresholds = [v for v in model.thresholds.failure_probability if v is not None]
    low, high = min(values + thresholds, default=0.0), max(highs + thresholds, default=1.0)
    low, high, ticks = nice_bounds(max(0.0, low), min(1.0, high), count=4)
    low, high = max(0.0, low), min(1.0, high)
    return low, high, [v for v in ticks if low - 1e-9 <= v <= high + 1e-9]


def time_range(model: ReportModel) -> tuple[int, int]:
    """The period shared by every timeline (µs since the epoch), failures included."""
    starts = [int(t.anchors[0]) for t in model.timelines if t.anchors.size]
    ends = [int(t.anchors[-1]) for t in model.timelines if t.anchors.size]
    failures = [int(r.ts.value // 1000) for r in model.failures]
    return min(starts + failures), max(ends + failures)


def _segments(anchors: np.ndarray) -> list[slice]:
    """Runs of windows without a gap longer than 2.5 times the usual stride (a line must not bridge missing data)."""
    if anchors.size < 2:
        return [slice(0, anchors.size)]
    gaps = np.diff(anchors)
    breaks = np.flatnonzero(gaps > 2.5 * np.median(gaps)) + 1
    edges = [0, *breaks.tolist(), anchors.size]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def timeline(
    line: Timeline,
    model: ReportModel,
    t: Translator,
    y_range: tuple[float, float, list[float]],
    x_range: tuple[int, int],
) -> str:
    """An asset's failure probability per horizon over time, with thresholds, alerts, failures and health."""
    box = _TIMELINE
    canvas = Canvas(box.right + _RIGHT_LABELS, box.bottom + _HEALTH_STRIP + 44, t("chart.timeline", asset=line.asset))
    x = Linear(x_range[0], x_range[1], box.left, box.right)
    y = Linear(y_range[0], y_range[1], box.bottom, box.top)
    longest = max(model.horizons_hours)
    for record in line.failures:
        failure_us = int(record.ts.value // 1000)
        start = x.at(max(failure_us - longest * _US_PER_HOUR, x_range[0]))
        canvas.rect(
            start,
            box.top,
            x.at(failure_us) - start,
            box.height,
            "warn-window",
            t("tip.warning_window", horizon=t.horizon(longest)),
        )
    y_axis(canvas, box, y, y_range[2], t("axis.probability"))
    for h, threshold in enumerate(model.thresholds.failure_probability):
        if threshold is None or not y_range[0] <= threshold <= y_range[1]:
            continue
        tip = t("tip.threshold", horizon=t.horizon(model.horizons_hours[h]), value=t.probability(threshold))
        canvas.line(box.left, y.at(threshold), box.right, y.at(threshold), f"threshold s{h}", tip)
        canvas.text(
            box.right + 4, y.at(threshold) + 4, f"{t.horizon(model.horizons_hours[h])} ≥ {threshold:.3f}", f"note s{h}"
        )
    for h, hours in enumerate(model.horizons_hours):
        for run in _segments(line.anchors):
            canvas.polyline(x(line.anchors[run]), y(line.probability[run, h]), f"series s{h}")
        for i in np.flatnonzero(line.alerts[:, h]).tolist():
            tip = t(
                "tip.alert",
                horizon=t.horizon(hours),
                time=t.time_us(int(line.anchors[i])),
                p=t.probability(float(line.probability[i, h])),
            )
            canvas.circle(x.at(line.anchors[i]), y.at(line.probability[i, h]), 3.2, f"alert s{h}", tip)
    for record in line.failures:
        fx = x.at(int(record.ts.value // 1000))
        tip = t("tip.failure", time=t.time(record.ts), component=record.component, fault=record.fault_type)
        canvas.line(fx, box.top, fx, box.bottom, "failure", tip)
        canvas.polygon([(fx - 5, box.top - 1), (fx + 5, box.top - 1), (fx, box.top + 7)], "failure-mark", tip)
    strip = box.bottom + 3
    if line.anchors.size:
        stride = int(np.median(np.diff(line.anchors))) if line.anchors.size > 1 else _US_PER_HOUR
        change = np.flatnonzero(np.r_[True, line.health[1:] != line.health[:-1]])
        ends = np.r_[line.anchors[change[1:]], line.anchors[-1] + stride]
        for begin, end, state in zip(
            line.anchors[change].tolist(), ends.tolist(), line.health[change].tolist(), strict=True
        ):
            name = HEALTH_STATES[state]
            left, right = x.at(begin), x.at(min(end, x_range[1]))
            canvas.rect(
                left,
                strip,
                right - left,
                _HEALTH_STRIP - 2,
                f"health-{name}",
                t("tip.health", state=t(f"health.{name}")),
            )
    shifted = Box(box.left, box.top, box.width, box.height + _HEALTH_STRIP + 2)
    x_axis(canvas, shifted, x, time_ticks(x_range[0], x_range[1], count=12), None)
    return canvas.render()


def confusion_matrix(matrix: Confusion, t: Translator) -> str:
    """Counts of true (rows) against predicted (columns) fault classes, shaded by the share of the row."""
    cell = 40
    label_width = 8 + 7 * max(len(name) for name in matrix.classes)
    box = Box(
        left=label_width + 24,
        top=label_width * 0.72 + 24,
        width=cell * len(matrix.classes),
        height=cell * len(matrix.classes),
    )
    # Column labels are turned 40 degrees and reach right of the last column by about 0.8 of their length.
    canvas = Canvas(box.right + 0.8 * label_width + 8, box.bottom + 12, t("chart.confusion"))
    totals = matrix.counts.sum(axis=1)
    for i, truth in enumerate(matrix.classes):
        canvas.text(box.left - 6, box.top + i * cell + cell / 2 + 4, truth, "tick", "end")
        for j, predicted in enumerate(matrix.classes):
            count = int(matrix.counts[i, j])
            share = count / totals[i] if totals[i] else 0.0
            tip = t("tip.confusion", count=count, truth=truth, predicted=predicted, share=f"{share:.0%}")
            cls = "cell diagonal" if i == j else "cell"
            canvas.rect(
                box.left + j * cell,
                box.top + i * cell,
                cell,
                cell,
                cls,
                tip,
                style=f"fill-opacity:{0.08 + 0.82 * share:.2f}",
            )
            canvas.text(
                box.left + j * cell + cell / 2,
                box.top + i * cell + cell / 2 + 4,
                str(count),
                "count dark" if share > 0.55 else "count",
                "middle",
            )
    for j, predicted in enumerate(matrix.classes):
        cx = box.left + j * cell + cell / 2
        canvas.text(cx + 4, box.top - 6, predicted, "tick", "start", rotate=-40)
    canvas.text(12, box.top + box.height / 2, t("axis.true_fault"), "axis-label", "middle", rotate=-90)
    canvas.text(box.left + box.width / 2, 14, t("axis.predicted_fault"), "axis-label", "middle")
    return canvas.render()


def roc_pr(model: ReportModel, t: Translator) -> str | None:
    """ROC and precision-recall curves of failure within each horizon that has both outcomes."""
    if not model.curves:
        return None
    size, gap = 240, 110
    canvas = Canvas(2 * size + gap + 80, size + 92, t("chart.roc_pr"))
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    for panel, (title, xlabel, ylabel) in enumerate(
        [(t("chart.roc"), t("axis.fpr"), t("axis.tpr")), (t("chart.pr"), t("axis.recall"), t("axis.precision"))]
    ):
        box = Box(left=64 + panel * (size + gap), top=22, width=size, height=size)
        x, y = Linear(0, 1, box.left, box.right), Linear(0, 1, box.bottom, box.top)
        y_axis(canvas, box, y, ticks, ylabel)
        x_axis(canvas, box, x, [(v, tick_label(v, ticks)) for v in ticks], xlabel)
        canvas.text(box.left + size / 2, 14, title, "chart-title", "middle")
        if panel == 0:
            canvas.line(x.at(0), y.at(0), x.at(1), y.at(1), "reference")
        for curve in model.curves:
            h = model.horizons_hours.index(curve.horizon_hours)
            xs, ys = (curve.fpr, curve.tpr) if panel == 0 else (curve.recall, curve.precision)
            xs, ys = thin(xs, ys, 400)
            canvas.polyline(x(xs), y(ys), f"series s{h}")
    for k, curve in enumerate(model.curves):  # the legend, under both panels
        h = model.horizons_hours.index(curve.horizon_hours)
        left, top = 64 + 130 * k, size + 84
        canvas.line(left, top - 4, left + 20, top - 4, f"series s{h}")
        canvas.text(left + 26, top, t("legend.within", horizon=t.horizon(curve.horizon_hours)), "tick")
    return canvas.render()


def rul_scatter(model: ReportModel, t: Translator) -> str | None:
    """Predicted against true remaining useful life, on the windows whose RUL is known."""
    if model.rul is None:
        return None
    truth, predicted = model.rul
    _, high, ticks = nice_bounds(0.0, float(max(truth.max(), predicted.max())), count=5)
    box = Box(left=64, top=12, width=300, height=300)
    canvas = Canvas(box.right + 20, box.bottom + 44, t("chart.rul"))
    x, y = Linear(0, high, box.left, box.right), Linear(0, high, box.bottom, box.top)
    y_axis(canvas, box, y, ticks, t("axis.predicted_rul"))
    x_axis(canvas, box, x, [(v, tick_label(v, ticks)) for v in ticks], t("axis.true_rul"))
    canvas.line(x.at(0), y.at(0), x.at(high), y.at(high), "reference")
    step = max(1, len(truth) // 4000)
    for true_h, predicted_h in zip(truth[::step].tolist(), predicted[::step].tolist(), strict=True):
        canvas.circle(x.at(true_h), y.at(predicted_h), 2.2, "dot")
    return canvas.render()


def lead_times(model: ReportModel, t: Translator) -> str | None:
    """Lead time of each detected failure, one row per horizon (``None`` when no failure was detected)."""
    rows = [
        [(r, r.warnings[h].lead_hours) for r in model.failures if r.warnings[h].lead_hours is not None]
        for h in range(len(model.horizons_hours))
    ]
    if not any(rows):
        return None
    longest = max(model.horizons_hours)
    _, high, ticks = nice_bounds(0.0, longest, count=6)
    box = Box(left=96, top=8, width=560, height=30 * len(rows))
    canvas = Canvas(box.right + 150, box.bottom + 44, t("chart.lead_times"))
    x = Linear(0, high, box.left, box.right)
    x_axis(canvas, box, x, [(v, tick_label(v, ticks)) for v in ticks], t("axis.lead_time"))
    for h, detected in enumerate(rows):
        cy = box.top + 30 * h + 15
        hours = model.horizons_hours[h]
        canvas.text(box.left - 8, cy + 4, t("legend.within", horizon=t.horizon(hours)), "tick", "end")
        canvas.line(box.left, cy, x.at(hours), cy, "grid")
        for record, lead in detected:
            tip = t("tip.lead", asset=record.asset, time=t.time(record.ts), lead=t.duration(float(lead or 0)))
            canvas.circle(x.at(float(lead or 0)), cy, 4.5, f"alert s{h}", tip)
        counted = sum(r.warnings[h].counted for r in model.failures)
        canvas.text(box.right + 8, cy + 4, t("chart.detected_of", detected=len(detected), counted=counted), "note")
    return canvas.render()


def ablation_bars(model: ReportModel, t: Translator) -> str | None:
    """Each ablation figure with all modalities and with each one masked; bars start at 0, an undefined one is a dash.

    ``None`` when no ablation ran or every figure is undefined.
    """
    groups = [(t("ablation.all"), model.ablation_full)] + [
        (t("ablation.without", modality=t(f"modality.{m}") if t.has(f"modality.{m}") else m), figures)
        for m, figures in model.ablation.items()
    ]
    values = [f.value for _, g in groups for f in g.values() if f.value is not None]
    if not model.ablation or not values:
        return None
    names = list(model.ablation_full)
    _, high, ticks = nice_bounds(0.0, max(values), count=5)
    high = min(high, 1.0)
    ticks = [v for v in ticks if v <= high + 1e-9]
    bar = 26
    group_width = bar * len(names) + 30
    box = Box(left=64, top=30, width=group_width * len(groups), height=200)
    canvas = Canvas(max(box.right + 20, 64 + 250 * len(names)), box.bottom + 40, t("chart.ablation"))
    y = Linear(0, high, box.bottom, box.top)
    y_axis(canvas, box, y, ticks, t("axis.score"))
    canvas.line(box.left, box.bottom, box.right, box.bottom, "axis")
    for k, (label, group) in enumerate(groups):
        left = box.left + k * group_width + 15
        for n, name in enumerate(names):
            figure = group.get(name)
            bx = left + n * bar
            if figure is None or figure.value is None:
                canvas.text(bx + bar / 2, box.bottom - 6, "—", "undefined-mark", "middle")
                continue
            tip = f"{label}: {t(f'legend.{name}')} {figure.value:.3f}"
            canvas.rect(bx + 2, y.at(figure.value), bar - 4, box.bottom - y.at(figure.value), f"bar b{n}", tip)
            canvas.text(bx + bar / 2, y.at(figure.value) - 4, f"{figure.value:.2f}", "tick", "middle")
        canvas.text(box.left + k * group_width + group_width / 2, box.bottom + 16, label, "tick", "middle")
    for n, name in enumerate(names):
        canvas.rect(box.left + 250 * n, 6, 12, 12, f"bar b{n}")
        canvas.text(box.left + 250 * n + 18, 16, t(f"legend.{name}"), "tick")
    return canvas.render()
