"""Metric helpers against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omnimaint.evaluation.metrics import (
    UndefinedMetric,
    accuracy,
    auroc,
    average_precision,
    best_f1_threshold,
    binary_scores,
    classification_scores,
    first_hit_ranks,
    macro_f1,
    mean_reciprocal_rank,
    nasa_score,
    recall_at_k,
    rmse,
)


def test_rmse_and_nasa_score_by_hand() -> None:
    true = [10.0, 20.0, 30.0]
    predicted = [5.0, 20.0, 40.0]  # d = -5 (early), 0, +10 (late)
    assert rmse(true, predicted) == pytest.approx(math.sqrt((25 + 0 + 100) / 3))
    expected = (math.exp(5 / 13) - 1) + 0.0 + (math.exp(10 / 10) - 1)
    assert nasa_score(true, predicted) == pytest.approx(expected)


def test_nasa_score_punishes_late_more_than_early() -> None:
    assert nasa_score([50], [60]) > nasa_score([50], [40]) > 0
    assert nasa_score([50], [50]) == 0


def test_shape_mismatch_and_empty_are_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        rmse([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])
    # Nothing to score is an undefined figure (reported with its reason), not a crash: a small evaluation whose
    # windows have no known health state once ended `omnimaint demo` with a traceback here.
    with pytest.raises(UndefinedMetric, match="nothing to score"):
        auroc(np.zeros(0, dtype=bool), np.zeros(0))


def test_binary_and_macro_scores_by_hand() -> None:
    truth = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    predicted = np.array([1, 1, 0, 1, 0, 0], dtype=bool)  # TP 2, FP 1, FN 1
    scores = binary_scores(truth, predicted)
    assert (scores.precision, scores.recall, scores.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert (scores.support, scores.predicted) == (3, 3)
    none = binary_scores([0, 0], [0, 0])
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)

    y = ["a", "a", "b", "b"]
    p = ["a", "b", "b", "b"]  # F1(a) = 2/3, F1(b) = 0.8
    assert macro_f1(y, p) == pytest.approx((2 / 3 + 0.8) / 2)
    assert macro_f1(y, p, labels=["a", "b", "c"]) == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    both = classification_scores(y, p)
    assert both.accuracy == 0.75
    assert both.per_class_f1 == pytest.approx({"a": 2 / 3, "b": 0.8})


def test_auroc_by_hand_with_ties() -> None:
    # Pairs (pos, neg): (0.9, 0.5) ok, (0.9, 0.1) ok, (0.4, 0.5) wrong, (0.4, 0.1) ok.
    assert auroc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]) == pytest.approx(0.75)
    assert auroc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="both classes"):
        auroc([1, 1], [0.1, 0.2])


def test_retrieval_metrics_by_hand() -> None:
    relevance = [[False, True, False], [True, False, False], [False, False, False]]
    ranks = first_hit_ranks(relevance)
    assert ranks.tolist() == [2, 1, 0]
    assert recall_at_k(ranks, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ranks, 2) == pytest.approx(2 / 3)
    assert recall_at_k(ranks, 5) == pytest.approx(2 / 3)
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_best_f1_threshold_by_hand() -> None:
    # >=0.9: F1 2/3; >=0.7: 1/2; >=0.6: 4/5 (best); >=0.1: 2/3.
    assert best_f1_threshold([1, 1, 0, 0], [0.9, 0.6, 0.7, 0.1]) == pytest.approx(0.6)
    # Equal scores are one operating point: >=0.8 alerts on both (F1 1/2), >=0.2 on all three (F1 4/5).
    assert best_f1_threshold([1, 0, 1], [0.8, 0.8, 0.2]) == pytest.approx(0.2)
    # Among equal F1 (2/3 at >=0.9 and at >=0.3) the highest threshold wins.
    assert best_f1_threshold([1, 0, 0, 1], [0.9, 0.5, 0.4, 0.3]) == pytest.approx(0.9)
    assert best_f1_threshold([0, 0], [0.3, 0.4]) is None


def test_undefined_metrics_raise_with_the_reason_instead_of_scoring() -> None:
    with pytest.raises(UndefinedMetric, match="0 positives and 3 negatives"):
        auroc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):  # an UndefinedMetric is a ValueError, as callers caught before
        auroc([1, 1], [0.1, 0.2])
    with pytest.raises(UndefinedMetric, match="0 positives of 2"):
        average_precision([0, 0], [0.1, 0.2])
    with pytest.raises(UndefinedMetric, match="2 positives of 2"):
        average_precision([1, 1], [0.1, 0.2])
    # Predicting the only class everywhere is a "perfect" macro-F1 over one class: undefined when two are asked for.
    assert macro_f1(["none"] * 4, ["none"] * 4) == 1.0
    with pytest.raises(UndefinedMetric, match="at least 2 classes; the truth holds none"):
        macro_f1(["none"] * 4, ["none"] * 4, min_classes=2)
    assert macro_f1(["a", "b"], ["a", "a"], min_classes=2) == pytest.approx((2 / 3 + 0) / 2)


def test_average_precision_by_hand() -> None:
    # Ranked: 0.9 (hit, precision 1), 0.7 (miss), 0.6 (hit, precision 2/3), 0.1 (miss).
    assert average_precision([1, 0, 1, 0], [0.9, 0.7, 0.6, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1], [0.9, 0.1]) == pytest.approx(0.5)
