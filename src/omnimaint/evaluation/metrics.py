"""Metric helpers shared by the benchmark protocols, in plain numpy (no scikit-learn needed).

Every function takes array-likes, checks that they line up, and returns a Python ``float`` (or a small
frozen dataclass), so results serialise to JSON as they are. A metric that the data do not define (AUROC
with one class, average precision without a positive, a macro-F1 asked for over fewer classes than it
needs) raises :class:`UndefinedMetric`, whose message is the reason, instead of returning a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

ArrayLike = npt.ArrayLike


class UndefinedMetric(ValueError):
    """The data do not define the metric (one class only, nothing to score); the message says why."""


def _paired(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true)
    pred = np.asarray(y_pred)
    if true.shape != pred.shape:
        raise ValueError(f"y_true has shape {true.shape} but y_pred has shape {pred.shape}")
    if true.size == 0:
        raise UndefinedMetric("nothing to score (an empty set of predictions)")
    return true, pred


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    true, pred = _paired(y_true, y_pred)
    return float(np.sqrt(np.mean((pred.astype(float) - true.astype(float)) ** 2)))


def nasa_score(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The asymmetric scoring function of the PHM 2008 challenge (Saxena et al., 2008).

    With ``d = predicted - true`` remaining useful life, each engine adds ``exp(-d/13) - 1`` when
    ``d < 0`` (early prediction) and ``exp(d/10) - 1`` when ``d >= 0`` (late prediction, punished harder).
    Lower is better; a perfect prediction scores 0.
    """
    true, pred = _paired(y_true, y_pred)
    d = pred.astype(float) - true.astype(float)
    per_engine = np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)
    return float(per_engine.sum())


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of predictions equal to the truth."""
    true, pred = _paired(y_true, y_pred)
    return float(np.mean(true == pred))


@dataclass(frozen=True)
class BinaryScores:
    """Precision, recall and F1 of one binary decision.

    Attributes:
        precision: TP / (TP + FP), 0 when nothing was predicted positive.
        recall: TP / (TP + FN), 0 when there is no positive.
        f1: Harmonic mean of precision and recall, 0 when both are 0.
        support: Number of true positives in the truth (TP + FN).
        predicted: Number of predicted positives (TP + FP).
    """

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int


def binary_scores(y_true: ArrayLike, y_pred: ArrayLike) -> BinaryScores:
    """Precision, recall and F1 of boolean predictions against boolean truth."""
    true, pred = _paired(y_true, y_pred)
    true = true.astype(bool)
    pred = pred.astype(bool)
    tp = int(np.sum(true & pred))
    support = int(true.sum())
    predicted = int(pred.sum())
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return BinaryScores(precision=precision, recall=recall, f1=f1, support=support, predicted=predicted)


def per_class_f1(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[object] | None = None) -> dict[str, float]:
    """F1 of each class (one-vs-rest), for ``labels`` or every class in the truth."""
    true, pred = _paired(y_true, y_pred)
    classes = list(labels) if labels is not None else sorted(set(true.tolist()))
    return {str(label): binary_scores(true == label, pred == label).f1 for label in classes}


def macro_f1(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[object] | None = None, *, min_classes: int = 1
) -> float:
    """Unweighted mean of the per-class F1 over ``labels`` (default: the classes present in the truth).

    Raises:
        UndefinedMetric: if fewer than ``min_classes`` classes are scored. Over a single class a "macro"
            average is that class's F1, and predicting the one class everywhere scores 1.0; pass
            ``min_classes=2`` where that would be read as a classifier's quality.
    """
    per_class = per_class_f1(y_true, y_pred, labels)
    if len(per_class) < min_classes:
        present = ", ".join(per_class) or "none"
        raise UndefinedMetric(f"macro-F1 needs at least {min_classes} classes; the truth holds {present}")
    return float(np.mean(list(per_class.values())))


def auroc(is_positive: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random negative.

    Computed exactly from ranks (Mann-Whitney U), ties counting one half.

    Raises:
        UndefinedMetric: if the truth holds only one class (a ``ValueError``).
    """
    truth, score = _paired(is_positive, scores)
    truth = truth.astype(bool)
    n_pos = int(truth.sum())
    n_neg = truth.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise UndefinedMetric(f"AUROC needs both classes; got {n_pos} positives and {n_neg} negatives")
    ranks = rankdata(score.astype(float))
    u = ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def average_precision(is_positive: ArrayLike, scores: ArrayLike) -> float:
    """Average precision: the mean, over the positives, of the precision among the items ranked at or above
    each (ties broken by input order, as a stable ranking does).

    Raises:
        UndefinedMetric: if the truth holds no positive, or only positives (then every ranking scores 1).
    """
    truth, score = _paired(is_positive, scores)
    truth = truth.astype(bool)
    n_pos = int(truth.sum())
    if n_pos in (0, truth.size):
        raise UndefinedMetric(f"average precision needs both classes; got {n_pos} positives of {truth.size}")
    order = np.argsort(-score.astype(float), kind="stable")
    hits = truth[order].astype(float)
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float((precision * hits).sum() / n_pos)


def first_hit_ranks(ranked_relevance: ArrayLike) -> np.ndarray:
    """1-based rank of the first relevant item of each ranked list, 0 when no item is relevant.

    Args:
        ranked_relevance: Boolean array (n_queries, n_ranked): whether the item at each rank is relevant.
    """
    relevance = np.asarray(ranked_relevance, dtype=bool)
    if relevance.ndim != 2:
        raise ValueError(f"expected (n_queries, n_ranked) relevance, got shape {relevance.shape}")
    has_hit = relevance.any(axis=1)
    return np.where(has_hit, relevance.argmax(axis=1) + 1, 0)


def recall_at_k(first_hit: ArrayLike, k: int) -> float:
    """Fraction of queries with a relevant item among the top ``k`` (hit rate at k).

    Args:
        first_hit: 1-based rank of each query's first relevant item, 0 when none was found
            (see :func:`first_hit_ranks`).
        k: Cut-off, at least 1.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ranks = np.asarray(first_hit)
    if ranks.size == 0:
        raise ValueError("cannot score an empty set of queries")
    return float(np.mean((ranks >= 1) & (ranks <= k)))


def mean_reciprocal_rank(first_hit: ArrayLike) -> float:
    """Mean over queries of ``1 / rank`` of the first relevant item (0 for a query without one)."""
    ranks = np.asarray(first_hit, dtype=float)
    if ranks.size == 0:
        raise ValueError("cannot score an empty set of queries")
    reciprocal = np.divide(1.0, ranks, out=np.zeros_like(ranks), where=ranks >= 1)
    return float(reciprocal.mean())


def best_f1_threshold(is_positive: ArrayLike, scores: ArrayLike) -> float | None:
    """The score threshold (alert when ``score >= threshold``) that maximises F1.

    Among ties the highest threshold wins (fewest alerts). Returns ``None`` when there is no positive
    (F1 is then 0 at every threshold and the choice is meaningless).
    """
    truth, score = _paired(is_positive, scores)
    truth = truth.astype(bool)
    n_pos = int(truth.sum())
    if n_pos == 0:
        return None
    order = np.argsort(-score.astype(float), kind="stable")
    sorted_scores = score[order].astype(float)
    tp = np.cumsum(truth[order])
    predicted = np.arange(1, truth.size + 1)
    # Only the last position of a run of equal scores is a reachable operating point.
    last_of_tie = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    f1 = np.where(last_of_tie, 2 * tp / (predicted + n_pos), -1.0)
    best = int(np.argmax(f1))
    return float(sorted_scores[best])


@dataclass(frozen=True)
class ClassificationScores:
    """Accuracy, macro-F1 and per-class F1 of one set of class predictions."""

    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float]


def classification_scores(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[object] | None = None
) -> ClassificationScores:
    """Accuracy, macro-F1 over ``labels`` (default: classes in the truth) and per-class F1."""
    per_class = per_class_f1(y_true, y_pred, labels)
    return ClassificationScores(
        accuracy=accuracy(y_true, y_pred), macro_f1=float(np.mean(list(per_class.values()))), per_class_f1=per_class
    )
