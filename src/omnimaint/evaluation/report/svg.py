"""A small SVG kit for the report's charts: linear scales, round-number ticks, UTC time ticks, a canvas.

The charts are inline SVG rather than matplotlib images so that their words are page text: set in the
reader's fonts (Chinese included, with no CJK font needed on the machine that writes the report),
switched with the page's language, and crisp at any zoom. Colours and line styles come from the
page's stylesheet through class names.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
# Tick spacings of a time axis; weeks start on Monday (the epoch is a Thursday, hence the offset).
_TIME_STEPS_US = tuple(h * _HOUR_US for h in (1, 2, 3, 6, 12)) + tuple(d * _DAY_US for d in (1, 2, 7, 14))
_WEEK_OFFSET_US = 4 * _DAY_US


def esc(text: object) -> str:
    """Text made safe for SVG/HTML content and attributes."""
    return html.escape(str(text), quote=True)


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` intervals over ``span``."""
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def nice_bounds(low: float, high: float, count: int = 5) -> tuple[float, float, list[float]]:
    """``[low, high]`` widened to round ticks, and the ticks; a point range is widened to show it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 1.0
    if high - low < 1e-12:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    start, stop = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    ticks = [round(start + i * step, 12) for i in range(round((stop - start) / step) + 1)]
    return start, stop, ticks


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """A tick value with as many decimals as the tick spacing needs."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    return f"{value:.{decimals}f}"


def time_ticks(start_us: int, end_us: int, count: int = 8) -> list[tuple[int, str]]:
    """UTC ticks between two instants (µs since the epoch), labelled ``MM-DD`` or ``HH:MM``.

    The first tick and each midnight carry the date; the first tick also carries the year.
    """
    span = max(end_us - start_us, _HOUR_US)
    step = next((s for s in _TIME_STEPS_US if span / s <= count), None)
    if step is None:  # months: ticks at month starts, or every few months
        months = pd.date_range(_stamp(start_us).floor("D"), _stamp(end_us), freq="MS")
        stride = max(1, math.ceil(len(months) / count))
        values = [int(m.value // 1000) for m in months[::stride]]
    else:
        offset = _WEEK_OFFSET_US if step % (7 * _DAY_US) == 0 else 0
        first = math.ceil((start_us - offset) / step) * step + offset
        values = list(range(first, end_us + 1, step))
    ticks = []
    for i, value in enumerate(values):
        stamp = _stamp(value)
        if i == 0:
            label = stamp.strftime("%Y-%m-%d" if step is None or step >= _DAY_US else "%Y-%m-%d %H:%M")
        elif step is not None and step < _DAY_US and value % _DAY_US:
            label = stamp.strftime("%H:%M")
        else:
            label = stamp.strftime("%m-%d")
        ticks.append((value, label))
    return ticks


def _stamp(us: int) -> pd.Timestamp:
    return pd.Timestamp(us * 1000, tz="UTC")


@dataclass(frozen=True)
class Box:
    """The plotting area of a chart, in SVG pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Linear:
    """Maps ``[low, high]`` of the data onto ``[start, stop]`` pixels (``stop < start`` for a y axis)."""

    low: float
    high: float
    start: float
    stop: float

    def __call__(self, value: float | np.ndarray) -> np.ndarray:
        span = self.high - self.low or 1.0
        return self.start + (np.asarray(value, dtype=float) - self.low) / span * (self.stop - self.start)

    def at(self, value: float) -> float:
        return float(self(value))


class Canvas:
    """An SVG image under construction; ``render`` gives the markup."""

    def __init__(self, width: float, height: float, label: str) -> None:
        self.width, self.height, self.label = width, height, label
        self.parts: list[str] = []

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    @staticmethod
    def _titled(element: str, body: str, title: str | None) -> str:
        if title is None:
            return f"<{element}{body}/>"
        return f"<{element}{body}><title>{esc(title)}</title></{element}>"

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str, title: str | None = None) -> None:
        self.add(self._titled("line", f' x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{cls}"', title))

    def polyline(self, xs: np.ndarray, ys: np.ndarray, cls: str) -> None:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))
        self.add(f'<polyline points="{points}" class="{cls}"/>')

    def rect(
        self, x: float, y: float, width: float, height: float, cls: str, title: str | None = None, style: str = ""
    ) -> None:
        extra = f' style="{style}"' if style else ""
        body = (
            f' x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{max(height, 0):.1f}" class="{cls}"{extra}'
        )
        self.add(self._titled("rect", body, title))

    def circle(self, x: float, y: float, radius: float, cls: str, title: str | None = None) -> None:
        self.add(self._titled("circle", f' cx="{x:.1f}" cy="{y:.1f}" r="{radius:g}" class="{cls}"', title))

    def polygon(self, points: Sequence[tuple[float, float]], cls: str, title: str | None = None) -> None:
        body = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        self.add(self._titled("polygon", f' points="{body}" class="{cls}"', title))

    def text(
        self, x: float, y: float, text: str, cls: str = "", anchor: str = "start", rotate: float | None = None
    ) -> None:
        turn = f' transform="rotate({rotate:g} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" class="{cls}" text-anchor="{anchor}"{turn}>{esc(text)}</text>')

    def render(self) -> str:
        head = (
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width:g} {self.height:g}" '
            f'width="{self.width:g}" height="{self.height:g}" role="img" aria-label="{esc(self.label)}">'
        )
        return head + "".join(self.parts) + "</svg>"


def y_axis(canvas: Canvas, box: Box, scale: Linear, ticks: Sequence[float], label: str) -> None:
    """Grid lines, tick labels and the (rotated) label of a y axis on the left of ``box``."""
    for value in ticks:
        y = scale.at(value)
        canvas.line(box.left, y, box.right, y, "grid")
        canvas.text(box.left - 6, y + 4, tick_label(value, ticks), "tick", "end")
    canvas.text(box.left - 44, box.top + box.height / 2, label, "axis-label", "middle", rotate=-90)


def x_axis(canvas: Canvas, box: Box, scale: Linear, ticks: Sequence[tuple[float, str]], label: str | None) -> None:
    """The baseline, tick marks and tick labels of an x axis under ``box``, and its label."""
    canvas.line(box.left, box.bottom, box.right, box.bottom, "axis")
    for value, text in ticks:
        x = scale.at(value)
        canvas.line(x, box.bottom, x, box.bottom + 4, "axis")
        canvas.text(x, box.bottom + 16, text, "tick", "middle")
    if label:
        canvas.text(box.left + box.width / 2, box.bottom + 34, label, "axis-label", "middle")


def thin(xs: np.ndarray, ys: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``most`` points of a curve, evenly spread and keeping both ends."""
    if len(xs) <= most:
        return xs, ys
    keep = np.unique(np.linspace(0, len(xs) - 1, most).round().astype(int))
    return xs[keep], ys[keep]
