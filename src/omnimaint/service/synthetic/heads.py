"""The bundle's head outputs at each anchor of a synthetic asset, following its components' wear, as the
``scores`` rows the scorer stores (:func:`omnimaint.service.scorer.score_rows`)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from omnimaint.data.windows import HEALTH_STATES, MODALITIES
from omnimaint.service.synthetic.plant import READING_PERIOD_US, Episode, Plant

WEAR_AT_THRESHOLD = 0.45
"""A component's failure probability at the alarm horizon crosses the alarm threshold at this wear."""


@dataclass(frozen=True)
class Scores:
    """An asset's ``scores`` rows (tuples in the table's column order) and what the alarm engine reads of them.

    Attributes:
        rows: The rows.
        anchors: (n,) window anchors (µs).
        scored_at: (n,) wall-clock time each was stored (µs).
        alarm_probability: (n, P) failure probability per component at the alarm horizon.
        likely_fault: (n,) the likeliest fault other than ``none``.
    """

    rows: list[tuple[Any, ...]]
    anchors: np.ndarray
    scored_at: np.ndarray
    alarm_probability: np.ndarray
    likely_fault: list[str]


def head_outputs(
    plant: Plant,
    asset_id: str,
    components: tuple[str, ...],
    anchors: np.ndarray,
    episodes: list[Episode],
    rng: np.random.Generator,
) -> Scores:
    """Every head's output at each of ``anchors``.

    A component's failure probability is a logistic of its wear, crossing the alarm threshold at
    :data:`WEAR_AT_THRESHOLD` and near 1 once worn out, higher for longer horizons; components the asset is not
    built of stay lowest. The failure probability is that any component fails; RUL falls from the cap as the
    worst wear grows; the fault of a worn component becomes likeliest; health moves from healthy through
    degrading to critical with the worst wear.
    """
    vocab, spec = plant.vocab, plant.bundle.window
    n, shape = anchors.size, (anchors.size, len(vocab.components))
    wear = np.zeros(shape)  # (n, P)
    fault_logit = rng.normal(0, 0.3, (n, len(vocab.fault_classes)))  # (n, F)
    for episode in episodes:
        worn = episode.wear(anchors)
        c = vocab.components.index(episode.component)
        wear[:, c] = np.maximum(wear[:, c], worn)
        fault_logit[:, vocab.fault_classes.index(episode.fault)] += 8 * worn
    worst = wear.max(axis=1)  # (n,)
    fault_logit[:, 0] += 4 * (1 - worst)  # "none"
    threshold = min(max(plant.rules.default.threshold, 1e-3), 1 - 1e-3)  # a rule may be set to never alarm
    absent = np.array([c not in components for c in vocab.components])
    offset = rng.normal(0, 0.5, len(vocab.components)) - 3.0 * absent  # (P,) this asset's components
    logit = np.log(threshold / (1 - threshold)) + 12 * (wear - WEAR_AT_THRESHOLD) + offset + rng.normal(0, 0.3, shape)
    seconds = np.array([h.total_seconds() for h in spec.horizons])
    component_p = _sigmoid(logit[:, None, :] + np.log(seconds / seconds[0])[None, :, None])  # (n, H, P)
    failure_p = (1 - np.prod(1 - component_p.astype(np.float64), axis=2)).astype(np.float32)  # (n, H)
    cap = spec.rul_cap.total_seconds() / 3600
    rul = np.clip(cap * (1 - worst) ** 1.5 * rng.lognormal(0, 0.1, n), 0, cap)  # (n,)
    fault_p = _softmax(fault_logit)  # (n, F)
    health = np.stack([(1 - worst) ** 2, 2 * worst * (1 - worst), worst**2], axis=1) + 0.02  # (n, 3)
    health_p = (health / health.sum(axis=1, keepdims=True)).astype(np.float32)
    assert health_p.shape[1] == len(HEALTH_STATES)
    anomaly = (plant.bundle.thresholds.anomaly_score or 1.0) * (0.35 + worst) * rng.lognormal(0, 0.2, n)
    enabled = np.array([m in spec.enabled for m in MODALITIES])
    weights = np.zeros((n, len(MODALITIES)), np.float32)  # (n, 5), 0 for modalities the bundle does not read
    weights[:, enabled] = rng.dirichlet(np.full(int(enabled.sum()), 4.0), n)
    # Stored once the reading after the anchor came in (the asset's clock passed it), a second or so later.
    scored_at = anchors + READING_PERIOD_US + rng.lognormal(np.log(1.5e6), 0.5, n).astype(np.int64)
    rows = list(
        zip(
            itertools.repeat(asset_id),
            anchors.tolist(),
            map(json.dumps, failure_p.tolist()),
            map(json.dumps, component_p.tolist()),
            rul.tolist(),
            map(json.dumps, fault_p.tolist()),
            map(json.dumps, health_p.tolist()),
            anomaly.tolist(),
            map(json.dumps, weights.tolist()),
            scored_at.tolist(),
            itertools.repeat("service"),
        )
    )
    likely = [vocab.fault_classes[f] for f in (1 + fault_p[:, 1:].argmax(axis=1)).tolist()]
    return Scores(rows, anchors, scored_at, component_p[:, plant.rules.horizon_index], likely)


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-logit))).astype(np.float32)


def _softmax(logit: np.ndarray) -> np.ndarray:
    e = np.exp(logit - logit.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
