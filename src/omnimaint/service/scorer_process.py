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

The service wakes the child when data arrive, and stops it, by a byte on a one-way pipe of its own (a
:class:`_Doorbell`), never by a :mod:`multiprocessing` event: ``Event.set`` waits until every process that
waits on the event has woken, forever when one was killed while waiting, which would hang ingestion with it.
A child that dies is started again (its anchors stay pending in the store: nothing is marked scored unless its
scores were stored); a child whose service dies stops (its end of the pipe reads end-of-file).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

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


_WAKE, _STOP = b"w", b"s"


class _Doorbell:
    """The service's end of a one-way pipe to one child: :meth:`ring` never blocks and never waits on the child
    (a full pipe means the child has wake-ups pending already; a closed one, that it is gone)."""

    def __init__(self) -> None:
        self.child_end, self._ours = _CONTEXT.Pipe(duplex=False)
        os.set_blocking(self._ours.fileno(), False)  # a message of a few bytes is written whole or not at all
        self._lock = threading.Lock()  # ingestion threads ring while the supervisor may close it

    def ring(self, what: bytes) -> None:
        with self._lock:
            if self._ours.closed:
                return
            with contextlib.suppress(OSError):  # BlockingIOError (full), BrokenPipeError (the child is gone)
                self._ours.send_bytes(what)

    def close(self) -> None:
        with self._lock:
            self._ours.close()


def _listen(bell: Connection, wake: threading.Event, stop: threading.Event) -> None:
    """The child's thread that turns the service's rings into its loop's events; the service gone (the pipe at
    end-of-file, SIGKILL included) reads as stop."""
    while True:
        try:
            message = bell.recv_bytes()
        except (EOFError, OSError):
            message = _STOP
        wake.set()
        if message == _STOP:
            stop.set()
            return


def _child(settings: ServiceSettings, bell: Connection, service: Connection) -> None:
    """The child's main: plan and score rounds, hand each to the service, until the service says stop or is
    gone."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (scorer process): %(message)s")
    wake, stop = threading.Event(), threading.Event()
    wake.set()  # score what is pending at once: data may have arrived while no child ran
    threading.Thread(target=_listen, args=(bell, wake, stop), name="omnimaint-scorer-bell", daemon=True).start()

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
        self._bell: _Doorbell | None = None
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
        bell = self._bell
        if bell is not None:
            bell.ring(_WAKE)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current round (the child is killed if it has not stopped within ``timeout``), then the
        notifier."""
        self._stopping.set()
        bell = self._bell
        if bell is not None:
            bell.ring(_STOP)
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
            bell = _Doorbell()
            child = _CONTEXT.Process(
                target=_child,
                args=(self.settings, bell.child_end, theirs),
                name="omnimaint-scorer",
                daemon=True,
            )
            self._ready.clear()
            child.start()
            theirs.close()
            bell.child_end.close()
            self._child, self._bell = child, bell
            if self._stopping.is_set():  # stop() came while this child was being started: it rang the last bell
                bell.ring(_STOP)
            self.starts += 1
            started = time.monotonic()
            self._serve(ours)
            child.join()
            ours.close()
            bell.close()
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
