"""Labels of windows from the failure records, with right-censoring made explicit.

For an anchor ``t`` only failures strictly after ``t`` matter, and only those recorded up to the end of
observation ``T`` (the end of the asset's data, or of the split when a time split censors it). A label
is *known* when the failure records decide it:

- failure within horizon ``h``: 1 if the next failure is in ``(t, t + h]``; 0 if none is and
  ``t + h <= T`` (the asset was watched long enough to know); unknown otherwise.
- remaining useful life: ``min(next failure - t, cap)``; known if the failure is within the cap or
  ``t + cap <= T``.
- fault type: ``1 + index`` of the next failure's fault type when it falls within the longest horizon,
  ``0`` (none) when no failure does and that is known, ``-1`` when unknown.
- health state: critical (next failure within the longest horizon), degrading (within
  ``degraded_within``), healthy (known to be later), ``-1`` when unknown.

Datasets of labelled states (a classification dataset: a CWRU recording, an inspection image) hold in
``failures`` the *state* of an asset from a time on, not an event that ends a run; under a WindowSpec with
``labels="states"`` (:func:`state_labels`) an anchor's fault type is that of the asset's latest state row at
or before it, and no failure-time label is known.
"""

from __future__ import annotations

import numpy as np

from omnimaint.data.windows import Labels, WindowSpec, micros

MICROS_PER_HOUR = 3_600_000_000


def _time_to_next(anchors: np.ndarray, failures: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor, microseconds to the first failure strictly after it (``inf`` when none) and its index."""
    nxt = np.searchsorted(failures, anchors, side="right")
    has_next = nxt < failures.size
    safe = np.minimum(nxt, max(failures.size - 1, 0))
    ttf = np.where(has_next, (failures[safe] if failures.size else 0) - anchors, np.inf)
    return ttf.astype(np.float64), np.where(has_next, nxt, -1)


def compute_labels(
    anchors_us: np.ndarray,
    failure_ts_us: np.ndarray,
    failure_component: np.ndarray,
    failure_fault: np.ndarray,
    observed_until_us: int,
    spec: WindowSpec,
    n_components: int,
) -> Labels:
    """Labels of the anchors of one asset.

    Args:
        anchors_us: (n,) anchor times, microseconds since the Unix epoch.
        failure_ts_us: (f,) the asset's failure times (any order).
        failure_component: (f,) component index of each failure (-1 when not a known component).
        failure_fault: (f,) fault-type index of each failure (into the manifest's ``fault_types``; -1 when the
            vocabulary lacks it, which makes the fault type of the windows before it unknown).
        observed_until_us: End of observation; later failures are ignored (censoring).
        spec: Horizons, RUL cap and health thresholds.
        n_components: Number of components (second axis of the per-component labels).

    Returns:
        Labels with a leading axis of ``n``.
    """
    anchors = np.asarray(anchors_us, dtype=np.int64)
    keep = np.asarray(failure_ts_us, dtype=np.int64) <= observed_until_us
    fail_ts = np.asarray(failure_ts_us, dtype=np.int64)[keep]
    components = np.asarray(failure_component, dtype=np.int64)[keep]
    faults = np.asarray(failure_fault, dtype=np.int64)[keep]
    order = np.lexsort((components, fail_ts))
    fail_ts, components, faults = fail_ts[order], components[order], faults[order]

    horizons = np.array([micros(h) for h in spec.horizons], dtype=np.float64)
    watched = (observed_until_us - anchors).astype(np.float64)  # how long after t the asset was observed

    ttf, nxt = _time_to_next(anchors, fail_ts)
    within = ttf[:, None] <= horizons[None, :]
    within_known = within | (horizons[None, :] <= watched[:, None])

    comp_within = np.zeros((anchors.size, horizons.size, n_components), dtype=np.float32)
    comp_known = np.zeros_like(comp_within)
    for c in range(n_components):
        ttf_c, _ = _time_to_next(anchors, fail_ts[components == c])
        hit = ttf_c[:, None] <= horizons[None, :]
        comp_within[:, :, c] = hit
        comp_known[:, :, c] = hit | (horizons[None, :] <= watched[:, None])

    cap = float(micros(spec.rul_cap))
    rul = np.minimum(ttf, cap)
    rul_known = (ttf <= cap) | (cap <= watched)

    longest = within[:, -1]
    next_fault = np.where(nxt >= 0, faults[np.maximum(nxt, 0)] if faults.size else 0, 0)
    # A failure of a fault type outside the vocabulary (-1; data scored by a model trained elsewhere) leaves
    # the fault type unknown: reading it as 0 would call the windows before a failure "no fault".
    fault_type = np.where(longest, np.where(next_fault >= 0, 1 + next_fault, -1), np.where(within_known[:, -1], 0, -1))

    degraded = float(micros(spec.degraded_within))
    health = np.where(
        longest,
        2,
        np.where(ttf <= degraded, 1, np.where(degraded <= watched, 0, -1)),
    )
    return Labels(
        failure_within=within.astype(np.float32),
        failure_within_known=within_known.astype(np.float32),
        component_failure_within=comp_within,
        component_failure_within_known=comp_known,
        rul_hours=np.where(rul_known, rul / MICROS_PER_HOUR, 0.0).astype(np.float32),
        rul_known=rul_known.astype(np.float32),
        fault_type=fault_type.astype(np.int64),
        health_state=health.astype(np.int64),
    )


def state_labels(
    anchors_us: np.ndarray,
    state_ts_us: np.ndarray,
    state_fault: np.ndarray,
    spec: WindowSpec,
    n_components: int,
) -> Labels:
    """Labels of the anchors of one asset whose ``failures`` rows are labelled states.

    Args:
        anchors_us: (n,) anchor times, microseconds since the Unix epoch.
        state_ts_us: (s,) times from which each state holds (any order).
        state_fault: (s,) fault-type index of each state (into the manifest's ``fault_types``; -1 when the
            vocabulary lacks it).
        spec: Only the number of horizons is read.
        n_components: Number of components (second axis of the per-component labels).

    Returns:
        Labels with a leading axis of ``n``: the fault type ``1 + index`` of the latest state at or before each
        anchor (``-1`` before the first state or for a state outside the vocabulary); every other label unknown.
    """
    anchors = np.asarray(anchors_us, dtype=np.int64)
    order = np.argsort(np.asarray(state_ts_us, dtype=np.int64), kind="stable")
    stamps = np.asarray(state_ts_us, dtype=np.int64)[order]
    faults = np.asarray(state_fault, dtype=np.int64)[order]
    latest = np.searchsorted(stamps, anchors, side="right") - 1
    fault = np.where(latest >= 0, faults[np.maximum(latest, 0)] if faults.size else -1, -1)
    n, horizons = anchors.size, len(spec.horizons)
    return Labels(
        failure_within=np.zeros((n, horizons), dtype=np.float32),
        failure_within_known=np.zeros((n, horizons), dtype=np.float32),
        component_failure_within=np.zeros((n, horizons, n_components), dtype=np.float32),
        component_failure_within_known=np.zeros((n, horizons, n_components), dtype=np.float32),
        rul_hours=np.zeros(n, dtype=np.float32),
        rul_known=np.zeros(n, dtype=np.float32),
        fault_type=np.where(fault >= 0, 1 + fault, -1).astype(np.int64),
        health_state=np.full(n, -1, dtype=np.int64),
    )
