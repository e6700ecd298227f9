"""The streaming scorer: each asset's windows scored as the store fills, through the bundle's Predictor.

For every asset, the anchors are the bundle's stride grid (:func:`~omnimaint.data.sample_builder.anchor_grid`,
the grid training and evaluation use). An anchor is scored once the asset's clock is past it by ``lateness``:
the clock is its newest telemetry reading when the bundle reads telemetry (the one continuous input; a
sender delivers a period's frames, bursts and events before or with its telemetry), else its newest row.
Rows of an asset arrive in time order, so by then its window is complete. The rows a window
reads (each modality as far back as :meth:`~omnimaint.data.windows.WindowSpec.reach` says, every work order;
telemetry as the store's roll-up at the window's step, which holds the step means windowing starts from) are
read from the store into a :class:`~omnimaint.data.dataset.MemoryDataset` and cut and scored by the
Predictor — the windowing, vocabularies and preprocessing of the bundle, no second implementation. Scores,
the asset's progress and the alarms they raise are written in one transaction, so a restart resumes after
the last anchor scored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, update

from omnimaint.data.dataset import MemoryDataset
from omnimaint.data.manifest import Manifest
from omnimaint.data.sample_builder import anchor_grid
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.data.windows import micros
from omnimaint.inference.predictor import HealthOutput, Predictor
from omnimaint.service import db
from omnimaint.service.clock import now_us
from omnimaint.service.store import AssetProgress, LiveStore

logger = logging.getLogger(__name__)

AfterScores = Callable[[Connection, HealthOutput], "list[dict[str, Any]] | None"]
"""Called in the transaction that stores a round's scores (the alarm engine hooks in here); what it returns
(changed alarm rows) is handed to ``after_commit`` once the transaction has committed."""

AfterCommit = Callable[[HealthOutput, "list[dict[str, Any]]"], None]
"""Called once a round's scores are committed, with its output and the alarm rows ``after_scores`` changed
(notifications and metrics: never for what a rollback erased)."""


@dataclass(frozen=True)
class Round:
    """What one scoring round did: windows scored, and whether anchors are still waiting."""

    scored: int
    more: bool


def score_rows(output: HealthOutput, now_us: int, scored_by: str) -> list[dict[str, object]]:
    """One ``scores`` row per window of ``output``."""
    anchors = output.anchors.astype("datetime64[us]").astype(np.int64)
    return [
        {
            "asset_id": str(output.asset_ids[i]),
            "ts_us": int(anchors[i]),
            "failure_probability": output.failure_probability[i].tolist(),
            "component_failure_probability": output.component_failure_probability[i].tolist(),
            "rul_hours": float(output.rul_hours[i]),
            "fault_probabilities": output.fault_probabilities[i].tolist(),
            "health_probabilities": output.health_probabilities[i].tolist(),
            "anomaly_score": float(output.anomaly_score[i]),
            "modality_weights": output.modality_weights[i].tolist(),
            "scored_at_us": now_us,
            "scored_by": scored_by,
        }
        for i in range(len(output))
    ]


class StreamingScorer:
    """Scores every asset's complete windows.

    Args:
        store: The live store.
        predictor: The bundle's predictor.
        lateness_us: How far past an anchor an asset's newest row must be before the anchor is scored.
        max_anchors: Windows scored per round at most.
        after_scores: Hook run in the transaction that stores each round's scores.
        name: Who scores (recorded with each score: the service, or a worker's id).
        after_commit: Called after each round's transaction committed (see :data:`AfterCommit`).
        commit: Where a round's scores go (default :meth:`commit`, stored here; a scorer process hands them to
            the service, which stores them).
    """

    def __init__(
        self,
        store: LiveStore,
        predictor: Predictor,
        *,
        lateness_us: int = 0,
        max_anchors: int = 512,
        after_scores: AfterScores | None = None,
        name: str = "service",
        after_commit: AfterCommit | None = None,
        commit: Callable[[dict[str, np.ndarray], HealthOutput], None] | None = None,
    ) -> None:
        self._commit = commit or self.commit
        self.after_commit = after_commit
        self.name = name
        self.store = store
        self.predictor = predictor
        self.spec = predictor.bundle.window
        self._reach_us: dict[str, int | None] = {  # per modality, read from the store's table of the same name
            modality: (None if (reach := self.spec.reach(modality)) is None else micros(reach))
            for modality in self.spec.enabled
        }
        self._step_us = None if self.spec.telemetry is None else micros(self.spec.telemetry.step)
        if self._step_us is not None:
            store.track_steps(self._step_us)
        self._stride_us = micros(self.spec.stride)
        self.lateness_us = lateness_us
        self.max_anchors = max_anchors
        self.after_scores = after_scores
        self._manifest = Manifest(schema_version=SCHEMA_VERSION, name="live store")
        self._lock = threading.Lock()  # one round at a time

    def pending(self, progress: AssetProgress) -> np.ndarray:
        """Anchors (µs) of an asset that are complete and not yet scored: those before its clock (the newest
        telemetry reading when the bundle reads telemetry, else the newest row of any modality) by more than
        ``lateness``."""
        clock = progress.telemetry_us if self.spec.telemetry is not None else progress.watermark_us
        if progress.first_us is None or clock is None:
            return np.zeros(0, dtype=np.int64)
        last = clock - self.lateness_us - 1  # anchors strictly before the clock
        start = None if progress.scored_us is None else progress.scored_us + self._stride_us
        return anchor_grid(self.spec, progress.first_us, last, start_us=start)

    def score_round(self, asset_ids: Iterable[str] | None = None) -> Round:
        """Score the pending anchors of some assets (all when ``None``), oldest first, up to ``max_anchors``, and
        hand them to ``commit``."""
        with self._lock:
            todo, more = self.plan(asset_ids)
            if not todo:
                return Round(0, more)
            output = self.score(todo)
            self._commit(todo, output)
            logger.debug("scored %d windows of %d assets", len(output), len(todo))
            return Round(len(output), more)

    def plan(self, asset_ids: Iterable[str] | None = None) -> tuple[dict[str, np.ndarray], bool]:
        """The anchors of a round: each asset's pending ones (all assets when ``None``), oldest first, up to
        ``max_anchors`` in all; and whether more are waiting."""
        todo: dict[str, np.ndarray] = {}
        budget = self.max_anchors
        more = False
        for progress in self.store.progress(asset_ids):
            anchors = self.pending(progress)
            if anchors.size == 0:
                continue
            if budget == 0 or anchors.size > budget:
                more = True
            take = anchors[:budget]
            budget -= take.size
            if take.size:
                todo[progress.asset_id] = take
        return todo, more

    def commit(self, todo: dict[str, np.ndarray], output: HealthOutput) -> None:
        """Store a round in one transaction: its scores, each asset's last anchor scored, and what
        ``after_scores`` writes (the alarm engine); then call ``after_commit``."""
        now = now_us()
        with self.store.writing() as connection:
            connection.execute(insert(db.scores), score_rows(output, now, self.name))
            for asset_id, anchors in todo.items():
                connection.execute(
                    update(db.assets).where(db.assets.c.asset_id == asset_id).values(scored_us=int(anchors[-1]))
                )
            changed = self.after_scores(connection, output) if self.after_scores is not None else None
        if self.after_commit is not None:
            self.after_commit(output, changed or [])

    def score(self, todo: dict[str, np.ndarray]) -> HealthOutput:
        """Score windows without storing anything: ``todo`` maps assets to anchors (µs, ascending); each modality
        is read from the store as far back as the bundle's window reaches (:meth:`WindowSpec.reach`)."""
        spans = {
            table: {asset: (None if reach is None else int(a[0]) - reach, int(a[-1])) for asset, a in todo.items()}
            for table, reach in self._reach_us.items()
        }
        tables = self.store.window_tables(spans, telemetry_step_us=self._step_us)
        dataset = MemoryDataset(self._manifest, tables, self.store.root, source="live store")
        anchors = pd.DataFrame(
            {
                "asset_id": np.concatenate([[asset] * a.size for asset, a in todo.items()]),
                "ts": pd.to_datetime(np.concatenate(list(todo.values())), unit="us", utc=True),
            }
        )
        windows = self.predictor.windows(dataset, anchors=anchors, check=False)
        # The scores table has no frame anomaly column (a bundle's PatchCore component is read by diagnoses), so
        # the scorer does not spend a backbone pass per frame computing it.
        return self.predictor.predict_windows(windows, batch_size=128, frame_anomaly=False)


@dataclass
class ScoringLoop:
    """Rounds of a :class:`StreamingScorer`, woken by ``wake`` (new data) and every ``interval`` seconds, until
    ``stop`` is set; a failing round is logged and retried at the next wake-up (nothing is marked scored unless
    its scores were stored). After a wake-up it lets ``settle`` seconds of data gather first, so that a stream of
    small batches is scored in a few larger rounds (a round costs about the same for one window as for dozens)
    instead of competing with ingestion round after round. ``on_round`` is told each round's duration in seconds
    when it scored something."""

    scorer: StreamingScorer
    wake: threading.Event
    stop: threading.Event
    interval: float
    settle: float = 0.1
    on_round: Callable[[float], None] | None = None
    rounds: int = 0
    failures: int = 0

    def run(self) -> None:
        while not self.stop.is_set():
            if self.wake.wait(self.interval):
                self.stop.wait(self.settle)
            self.wake.clear()
            more = True
            while more and not self.stop.is_set():
                try:
                    started = time.perf_counter()
                    done = self.scorer.score_round()
                    more = done.more
                    self.rounds += 1
                    if done.scored and self.on_round is not None:
                        self.on_round(time.perf_counter() - started)
                except Exception:  # the service keeps running; the anchors stay pending and are retried
                    self.failures += 1
                    logger.exception("scoring round failed; retrying at the next wake-up")
                    break


class ScorerThread:
    """A :class:`ScoringLoop` in a background thread of the service (``scorer_process=False``: tests, small
    plants; see :class:`~omnimaint.service.scorer_process.ScorerProcess` for the default)."""

    def __init__(
        self,
        scorer: StreamingScorer,
        interval: float,
        settle: float = 0.1,
        on_round: Callable[[float], None] | None = None,
    ) -> None:
        self.scorer = scorer
        self._loop = ScoringLoop(scorer, threading.Event(), threading.Event(), interval, settle, on_round)
        self._thread = threading.Thread(target=self._loop.run, name="omnimaint-scorer", daemon=True)

    @property
    def rounds(self) -> int:
        return self._loop.rounds

    @property
    def failures(self) -> int:
        return self._loop.failures

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._loop.wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._loop.stop.set()
        self._loop.wake.set()
        self._thread.join(timeout)
