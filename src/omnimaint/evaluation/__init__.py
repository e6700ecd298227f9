"""Evaluation: metrics, benchmark protocols, early-warning scoring and benchmark records.

Owns: the metric definitions (:mod:`~omnimaint.evaluation.metrics`), leak-free splits
(:mod:`~omnimaint.evaluation.splits`), one protocol per public benchmark with the protocol/method
registry (:mod:`~omnimaint.evaluation.protocols`), event-level early-warning metrics and alert-threshold
calibration (:mod:`~omnimaint.evaluation.early_warning`), and benchmark runs (:mod:`~omnimaint.evaluation.bench`).
Must not import training or service code; methods come in through the registry.
"""

from omnimaint.evaluation.early_warning import (
    EarlyWarningReport,
    evaluate_early_warning,
    observation_spans,
    threshold_for_false_alarm_rate,
)

__all__ = [
    "EarlyWarningReport",
    "evaluate_early_warning",
    "observation_spans",
    "threshold_for_false_alarm_rate",
]
