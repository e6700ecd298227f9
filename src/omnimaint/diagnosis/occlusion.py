"""Occlusion: score many edited copies of one window through the bundle's :class:`Predictor` at once.

Every piece of evidence is a question of the form "how much lower would the score be without this?": drop a
modality, replace a telemetry channel (or a time segment of it) with the asset's healthy baseline, paint a
patch of a camera frame with the healthy frame, remove one log line or work order. Each question is one
edited copy of the window; :class:`Occlusions` stacks the copies into a single :class:`Batch` and scores them
with one :meth:`Predictor.predict` call (in chunks), so a diagnosis costs a few forward passes, not hundreds.

Dropping a modality clears its column of ``Batch.presence``; the preprocessor copies that column into the
model's presence input, which is exactly what :func:`~omnimaint.models.preprocessing.mask_modalities` (the
``drop=`` argument of ``predict``) does, so the model sees a missing modality the way it was trained to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields

import numpy as np

from omnimaint.data.windows import MODALITIES, Batch
from omnimaint.inference.predictor import HealthOutput, Predictor

Row = dict[str, np.ndarray]
"""One copy of the window: each array field of the :class:`Batch` without its batch axis (writable views)."""

Edit = Callable[[Row], None]

CHUNK = 256
"""Copies scored per ``predict`` call (bounds memory for large windows)."""


@dataclass(frozen=True)
class Scores:
    """What the model says about each copy.

    Attributes:
        failure_probability: (N,) P(failure within the chosen horizon) per copy.
        fault_probability: (N,) probability of the window's likeliest fault class per copy.
        output: The full assessment of every copy (row 0: the window itself).
    """

    failure_probability: np.ndarray
    fault_probability: np.ndarray
    output: HealthOutput


class Occlusions:
    """Edited copies of one window, scored together.

    Args:
        window: A batch of exactly one window (the one being diagnosed).
    """

    def __init__(self, window: Batch) -> None:
        if len(window) != 1:
            raise ValueError(f"Occlusions edits one window, got a batch of {len(window)}")
        self.window = window
        self._keys: list[Hashable] = []
        self._edits: list[Edit] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable, edit: Edit) -> None:
        """Add a copy of the window changed by ``edit`` (which writes into the copy's arrays in place)."""
        if key in self._keys:
            raise ValueError(f"occlusion {key!r} added twice")
        self._keys.append(key)
        self._edits.append(edit)

    def drop_modality(self, key: Hashable, modality: str) -> None:
        """Add a copy in which ``modality`` is absent (as ``Predictor.predict(drop=...)`` marks it)."""
        column = MODALITIES.index(modality)

        def edit(row: Row) -> None:
            row["presence"][column] = False

        self.add(key, edit)

    def stacked(self) -> Batch:
        """Copy 0 is the window as it is, copy ``i + 1`` the window with the ``i``-th edit."""
        n = 1 + len(self._edits)
        values: dict[str, object] = {}
        for f in fields(self.window):
            value = getattr(self.window, f.name)
            values[f.name] = np.repeat(value, n, axis=0) if isinstance(value, np.ndarray) else value
        values["labels"] = self.window.labels.take(np.zeros(n, dtype=np.int64))
        batch = Batch(**values)  # type: ignore[arg-type]
        arrays = [f.name for f in fields(batch) if isinstance(getattr(batch, f.name), np.ndarray)]
        for i, edit in enumerate(self._edits, start=1):
            edit({name: getattr(batch, name)[i] for name in arrays})
        return batch

    def score(self, predictor: Predictor, horizon: int) -> tuple[Scores, dict[Hashable, int]]:
        """Score the window and every copy.

        Args:
            predictor: The bundle's predictor.
            horizon: Index of the horizon whose failure probability is read.

        Returns:
            The scores (row 0: the window itself) and the row of each copy's key.
        """
        batch = self.stacked()
        parts = []
        for start in range(0, len(batch), CHUNK):
            rows = np.arange(start, min(start + CHUNK, len(batch)))
            # The frame anomaly (PatchCore) is asked once, of the window itself, not of every edited copy.
            parts.append(predictor.predict(take(batch, rows), frame_anomaly=False))
        output = HealthOutput.concat(parts)
        fault = int(output.likely_fault[0])
        scores = Scores(
            failure_probability=output.failure_probability[:, horizon].astype(np.float64),
            fault_probability=output.fault_probabilities[:, fault].astype(np.float64),
            output=output,
        )
        return scores, {key: i for i, key in enumerate(self._keys, start=1)}


def merge(
    first: tuple[Scores, dict[Hashable, int]], second: tuple[Scores, dict[Hashable, int]]
) -> tuple[Scores, dict[Hashable, int]]:
    """The scores of two scorings of the same window as one (the second's row 0, the window again, dropped)."""
    (a, rows_a), (b, rows_b) = first, second
    scores = Scores(
        failure_probability=np.concatenate([a.failure_probability, b.failure_probability[1:]]),
        fault_probability=np.concatenate([a.fault_probability, b.fault_probability[1:]]),
        output=a.output,
    )
    offset = len(a.failure_probability) - 1
    return scores, rows_a | {key: row + offset for key, row in rows_b.items()}


def take(batch: Batch, rows: np.ndarray) -> Batch:
    """The windows of ``batch`` at ``rows`` (a batch of its own)."""
    if np.array_equal(rows, np.arange(len(batch))):
        return batch
    values: dict[str, object] = {}
    for f in fields(batch):
        value = getattr(batch, f.name)
        values[f.name] = value[rows] if isinstance(value, np.ndarray) else value
    values["labels"] = batch.labels.take(rows)
    return Batch(**values)  # type: ignore[arg-type]


def take_output(output: HealthOutput, rows: np.ndarray) -> HealthOutput:
    """The assessments at ``rows``."""
    values = {f.name: getattr(output, f.name) for f in dataclasses.fields(output)}
    return HealthOutput(**{k: v[rows] if isinstance(v, np.ndarray) else v for k, v in values.items()})
