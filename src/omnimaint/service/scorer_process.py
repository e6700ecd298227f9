"""The streaming scorer in a process of its own: how ``omnimaint serve`` scores by default.

In one process, the scorer and the ingestion threads share one interpreter lock: under a load of
20,000 points/s a scoring round of ten windows took 0.26–0.37 s against 0.1 s idle (docs/benchmarks.md),
and the alarm latency followed. A child process (spawned, never forked from a process that runs threads)
has a lock of its own for the round's costly part: reading the windows' rows from the store and scoring them
through the bundle's Predictor, with the same :class:`~.scorer.StreamingScorer` and
:class:`~.scorer.ScoringLoop` as the scorer thread. The child does not write: it hands each round's anchors
and outputs to the service, which stores them with :meth:`~.scorer.StreamingScorer.commit` — scores,
progress and the alarm engine in one transaction, notifications and metrics after it — and answers once
committed; only then does the child plan its next round. So the store keeps one writing process (SQLite
gives a second one its lock only when that one's polling finds it free, while the service's ingestion takes
it back to back), and a round is stored exactly as the thread stores it.

The service wakes the child when data arrive (a :mod:`multiprocessing` event). A child that dies is started
again (its anchors stay pending in the store: nothing is marked scored unless its scores were stored); a
child whose service dies stops.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np

from omnimaint.data.windows import micros
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import HealthOutput, Predictor
from omnimaint.service.db import make_engine
from omnimaint.service.metrics import ServiceMetrics
from omnimaint.service.runtime import build_scorer
from omnimaint.service.scorer import ScoringLoop, StreamingScorer
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import LiveStore

logger = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")
_RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before starting a dead child again, growing


class RoundNotStored(RuntimeError):
    """The service could not store a round the child scored (the child's loop logs it and retries)."""


def _child(settings: ServiceSettings, wake: Any, stop: Any, service: Connection) -> None:
    """The child's main: plan and score rounds, hand each to the service, until ``stop`` is set or the service
    is gone."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (scorer process): %(message)s")

    parent = multiprocessing.parent_process()
    if parent is not None:  # the service killed (SIGKILL included): stop

        def watch() -> None:
            parent.join()
            stop.set()
            wake.set()

        threading.Thread(target=watch, name="omnimaint-scorer-parent", daemon=True).start()

    def hand_over(todo: dict[str, np.ndarray], output: HealthOutput) -> None:
        service.send(("round", (todo, output)))
        answer, detail = service.recv()
        if answer != "stored":
            raise RoundNotStored(f"the service did not store the round: {detail}")

    engine = make_engine(settings.db_url)  # the service migrated it
    predictor = Predictor(Bundle.load(settings.bundle), settings.backend, threads=1)
    predictor.preprocessor.load_text_model()
    scorer = StreamingScorer(
        LiveStore(engine, settings.data_dir),
        predictor,
        lateness_us=micros(settings.lateness),
        max_anchors=settings.max_anchors,
        commit=hand_over,
    )
    loop = ScoringLoop(
        scorer, wake, stop, settings.score_interval, on_round=lambda seconds: service.send(("timed", seconds))
    )
    service.send(("ready", None))
    try:
        loop.run()
    finally:
        engine.dispose()


class ScorerProcess:
    """The service's handle on its scorer process: :meth:`start`, :meth:`wake` on new data, :meth:`stop`.

    Args:
        settings: The service's settings (the child opens the same store and bundle).
        store: The service's store, where the rounds the child scores are stored.
        predictor: The service's predictor (its bundle's alarm rules and vocabularies).
        metrics: The service's metrics, fed with every stored round and each round's duration.
        restart_delays: Seconds to wait before starting a dead child again (the last repeats).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        store: LiveStore,
        predictor: Predictor,
        metrics: ServiceMetrics,
        restart_delays: tuple[float, ...] = _RESTART_DELAYS,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.restart_delays = restart_delays
        self._storer, self._notifier = build_scorer(
            store,
            predictor,
            settings,
            on_scored=metrics.scored,
        )
        self._wake = _CONTEXT.Event()
        self._stop = _CONTEXT.Event()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._child: BaseProcess | None = None
        self._thread = threading.Thread(target=self._supervise, name="omnimaint-scorer-process", daemon=True)
        self.rounds = 0
        self.failures = 0
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        child = self._child
        return child.pid if child is not None and child.is_alive() else None

    @property
    def exitcode(self) -> int | None:
        """The last child's exit code (``None`` while it runs; negative: killed by that signal)."""
        child = self._child
        return None if child is None else child.exitcode

    def start(self) -> None:
        """Start the child, and the thread that stores its rounds and starts it again if it dies."""
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        """Whether a child has loaded the bundle and is scoring (within ``timeout`` seconds)."""
        return self._ready.wait(timeout)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current round (the child is killed if it has not stopped within ``timeout``), then the
        notifier."""
        self._stopping.set()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        child = self._child
        if child is not None and child.is_alive():
            logger.warning("the scorer process did not stop within %.0f s; killing it", timeout)
            child.kill()
            child.join(5)
        self._notifier.stop(10.0)

    def _supervise(self) -> None:
        """Run a child, store its rounds until it ends, and start another (after a delay that grows while they
        keep dying) until stopped."""
        failures_in_a_row = 0
        while not self._stopping.is_set():
            ours, theirs = _CONTEXT.Pipe()
            child = _CONTEXT.Process(
                target=_child,
                args=(self.settings, self._wake, self._stop, theirs),
                name="omnimaint-scorer",
                daemon=True,
            )
            self._ready.clear()
            child.start()
            theirs.close()
            self._child = child
            self.starts += 1
            started = time.monotonic()
            self._serve(ours)
            child.join()
            ours.close()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:  # it had been scoring for a while
                failures_in_a_row = 0
            delay = self.restart_delays[min(failures_in_a_row, len(self.restart_delays) - 1)]
            failures_in_a_row += 1
            logger.error(
                "the scorer process exited (code %s); starting it again in %.0f s (pending windows are kept)",
                child.exitcode,
                delay,
            )
            if self._stopping.wait(delay):
                return

    def _serve(self, child: Connection) -> None:
        """Answer a child until it ends: store each round it hands over and say whether it was stored."""
        while True:
            try:
                kind, payload = child.recv()
            except (EOFError, OSError):  # the child ended
                return
            if kind == "ready":
                self._ready.set()
            elif kind == "timed":
                self.rounds += 1
                self.metrics.rounds.observe(payload)
            elif kind == "round":
                todo, output = payload
                try:
                    self._storer.commit(todo, output)
                    answer: tuple[str, str | None] = ("stored", None)
                except Exception as exc:  # the child's round fails and is retried; the service goes on
                    self.failures += 1
                    logger.exception("storing a scoring round failed")
                    answer = ("failed", f"{type(exc).__name__}: {exc}")
                try:
                    child.send(answer)
                except (BrokenPipeError, OSError):
                    return
