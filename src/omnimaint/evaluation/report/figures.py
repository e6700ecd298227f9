"""Reading figures out of ``metrics.json``: a value, or why it is undefined.

An undefined metric is ``null`` in ``metrics.json`` with its reason in ``metrics["undefined"]`` under
its dotted path (``"failure_within.72h.auroc"``). Older files hold ``null`` (or NaN) without a reason;
those read as undefined with no recorded reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["count", "ratio", "hours", "rate"]


@dataclass(frozen=True)
class Figure:
    """One metric of an evaluation.

    Attributes:
        path: Dotted path in ``metrics.json``.
        value: The number, or ``None`` when undefined.
        reason: Why it is undefined, as ``metrics["undefined"]`` records it (``None`` when it records none).
        unit: How to print the number.
    """

    path: str
    value: float | None
    reason: str | None = None
    unit: Unit = "ratio"

    @property
    def defined(self) -> bool:
        return self.value is not None

    def number(self) -> str:
        """The value as printed (``""`` when undefined)."""
        if self.value is None:
            return ""
        if self.unit == "count":
            return f"{int(self.value):d}"
        return f"{self.value:.1f}" if self.unit == "hours" else f"{self.value:.3f}"


@dataclass(frozen=True)
class HeadlineRow:
    """A row of the summary table: a catalogue key for its label (with parameters) and its figure."""

    label: str
    params: dict[str, str]
    figure: Figure


def lookup(tree: Any, path: str) -> Any:
    """The value at a dotted path, where keys may themselves hold dots (``"0.5h"``); ``None`` when absent."""
    if not isinstance(tree, dict):
        return None
    if path in tree:
        return tree[path]
    for key, value in tree.items():
        if path.startswith(f"{key}."):
            found = lookup(value, path[len(key) + 1 :])
            if found is not None:
                return found
    return None


def figure(metrics: dict[str, Any], path: str, unit: Unit = "ratio") -> Figure:
    """The figure at ``path``: its number, or undefined with the reason ``metrics["undefined"]`` gives."""
    reasons = metrics.get("undefined")
    reason = reasons.get(path) if isinstance(reasons, dict) else None
    value = lookup(metrics, path)
    if reason is not None or not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return Figure(path, None, None if reason is None else str(reason), unit)
    return Figure(path, float(value), None, unit)


def has(metrics: dict[str, Any], path: str) -> bool:
    """Whether ``metrics.json`` holds the path, as a value (``null`` included) or as an undefined entry."""
    reasons = metrics.get("undefined")
    return (isinstance(reasons, dict) and path in reasons) or _present(metrics, path)


def _present(tree: Any, path: str) -> bool:
    if not isinstance(tree, dict):
        return False
    if path in tree:
        return True
    return any(path.startswith(f"{key}.") and _present(value, path[len(key) + 1 :]) for key, value in tree.items())


def headline_figures(metrics: dict[str, Any]) -> tuple[HeadlineRow, ...]:
    """The headline figures of an evaluation, in the order the summary table and the CLI show them."""
    rows: list[tuple[str, dict[str, str], str, Unit]] = [("row.windows", {}, "windows", "count")]
    for horizon in metrics.get("failure_within") or {}:
        rows += [
            ("row.auroc", {"horizon": horizon}, f"failure_within.{horizon}.auroc", "ratio"),
            ("row.average_precision", {"horizon": horizon}, f"failure_within.{horizon}.average_precision", "ratio"),
            ("row.alert_precision", {"horizon": horizon}, f"failure_within.{horizon}.alert_precision", "ratio"),
            ("row.alert_recall", {"horizon": horizon}, f"failure_within.{horizon}.alert_recall", "ratio"),
            ("row.alert_f1", {"horizon": horizon}, f"failure_within.{horizon}.alert_f1", "ratio"),
        ]
    rows += [
        ("row.rul_mae", {}, "rul.mae_hours", "hours"),
        ("row.fault_macro_f1", {}, "fault_type.macro_f1", "ratio"),
        ("row.fault_macro_f1_before_failure", {}, "fault_type.macro_f1_before_failure", "ratio"),
        ("row.diagnosis_accuracy", {}, "fault_type.diagnosis_accuracy", "ratio"),
        ("row.health_macro_f1", {}, "health_state.macro_f1", "ratio"),
        ("row.anomaly_auroc", {}, "anomaly.auroc", "ratio"),
    ]
    for horizon in metrics.get("early_warning") or {}:
        rows += [
            ("row.detection_rate", {"horizon": horizon}, f"early_warning.{horizon}.detection_rate", "ratio"),
            ("row.lead_time", {"horizon": horizon}, f"early_warning.{horizon}.lead_time_hours_median", "hours"),
            (
                "row.false_alarm_rate",
                {"horizon": horizon},
                f"early_warning.{horizon}.false_alarms_per_asset_day",
                "rate",
            ),
        ]
    return tuple(
        HeadlineRow(label, params, figure(metrics, path, unit))
        for label, params, path, unit in rows
        if has(metrics, path)
    )
