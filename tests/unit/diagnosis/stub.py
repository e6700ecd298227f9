"""A stand-in predictor whose failure probability is a known function of the window, and a synthetic window.

With a score that reads, say, one channel over some hours or one patch of a frame, the evidence that the
occlusion machinery finds can be checked against the truth exactly: no trained model needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from omnimaint.data.windows import MODALITIES, Batch, Labels
from omnimaint.inference.predictor import HealthOutput, Predictor

LENGTH, CHANNELS, FRAME, EVENTS = 12, 3, 16, 4
ANCHOR = np.datetime64("2024-01-10T12:00:00", "us")


class StubPredictor:
    """``predict(batch)`` returns ``score(batch)`` as the failure probability of every horizon."""

    def __init__(self, score: Callable[[Batch], np.ndarray]) -> None:
        self.score = score
        self.calls = 0

    def predict(self, batch: Batch, **_: object) -> HealthOutput:
        self.calls += 1
        p = np.asarray(self.score(batch), dtype=np.float32)
        n = len(batch)
        return HealthOutput(
            asset_ids=batch.asset_ids,
            anchors=batch.anchors,
            failure_probability=np.stack([p, p], axis=1),
            component_failure_probability=np.stack([p, p], axis=1)[:, :, None],
            rul_hours=np.zeros(n),
            fault_probabilities=np.tile([0.2, 0.8], (n, 1)),
            health_probabilities=np.tile([1.0, 0.0, 0.0], (n, 1)),
            anomaly_score=np.zeros(n),
            modality_weights=np.zeros((n, len(MODALITIES))),
            alerts=np.zeros((n, 2), dtype=bool),
            horizons_hours=(24.0, 72.0),
            components=("bearing",),
            fault_classes=("none", "bearing_wear"),
        )

    def as_predictor(self) -> Predictor:
        return cast("Predictor", self)


def window(n: int = 1, *, rng: np.random.Generator | None = None) -> Batch:
    """``n`` windows with telemetry (noise), one frame, and four events; no waveforms or work orders."""
    rng = rng if rng is not None else np.random.default_rng(0)
    labels = Labels(
        failure_within=np.zeros((n, 2)),
        failure_within_known=np.zeros((n, 2)),
        component_failure_within=np.zeros((n, 2, 1)),
        component_failure_within_known=np.zeros((n, 2, 1)),
        rul_hours=np.zeros(n),
        rul_known=np.zeros(n),
        fault_type=np.full(n, -1),
        health_state=np.full(n, -1),
    )
    presence = np.zeros((n, len(MODALITIES)), dtype=bool)
    presence[:, [0, 2, 3]] = True
    return Batch(
        asset_ids=np.array(["P001"] * n, dtype=object),
        anchors=np.full(n, ANCHOR),
        asset_type=np.zeros(n, dtype=np.int64),
        presence=presence,
        labels=labels,
        texts=("start", "trip", "stop", "trip again"),
        telemetry=rng.normal(0.0, 1.0, (n, LENGTH, CHANNELS)).astype(np.float32),
        telemetry_mask=np.ones((n, LENGTH, CHANNELS), dtype=bool),
        frames=np.zeros((n, 1, 1, FRAME, FRAME, 3), dtype=np.uint8),
        frame_mask=np.ones((n, 1, 1), dtype=bool),
        frame_age_hours=np.ones((n, 1), dtype=np.float32),
        event_codes=np.tile(np.array([3, 5, 7, 5]), (n, 1)),
        event_severity=np.ones((n, EVENTS), dtype=np.int64),
        event_age_hours=np.tile(np.array([40.0, 30.0, 20.0, 10.0], dtype=np.float32), (n, 1)),
        event_text=np.tile(np.arange(EVENTS), (n, 1)),
        event_mask=np.ones((n, EVENTS), dtype=bool),
    )
