"""The streaming scorer in a process of its own: how ``omnimaint serve`` scores by default.

In one process, the scorer and the ingestion threads share one interpreter lock: under a load of
20,000 points/s a scoring round of ten windows took 0.26–0.37 s against 0.1 s idle (docs/benchmarks.md),
and the alarm latency followed. A child process (spawned, never forked from a process that runs threads)
has a lock of its own. It opens the same store and bundle and runs the same :class:`~.scorer.ScoringLoop`
over :func:`~.runtime.build_scorer` — the alarm engine in the round's transaction, notifications after its
commit — exactly as the scorer thread or a worker does. On SQLite the two processes' write transactions
begin ``IMMEDIATE`` (:meth:`~.store.LiveStore.writing`), so an operator's alarm action and a scoring round
never interleave.

The service wakes the child when data arrive (a :mod:`multiprocessing` event) and learns what each round did
from a queue (:class:`~.metrics.RoundReport`, round durations, failures), which feeds its ``/metrics``. A child
that dies is started again (its anchors stay pending in the store: nothing is marked scored unless its scores
were stored); a child whose service dies stops after its round. Two children never store the same window
twice: a score's key is (asset, anchor), so the later transaction fails whole and its round is retried.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from omnimaint.service.metrics import RoundReport, ServiceMetrics
from omnimaint.service.settings import ServiceSettings

logger = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("spawn")
_RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before starting a dead child again, growing


def _child(settings: ServiceSettings, wake: Any, stop: Any, reports: Any) -> None:
    """The child's main: score until ``stop`` is set or the service is gone."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s (scorer process): %(message)s")
    from omnimaint.inference.bundle import Bundle
    from omnimaint.inference.predictor import Predictor
    from omnimaint.service.db import open_store
    from omnimaint.service.runtime import build_scorer
    from omnimaint.service.scorer import ScoringLoop
    from omnimaint.service.store import LiveStore

    parent = multiprocessing.parent_process()
    if parent is not None:  # the service killed (SIGKILL included): finish the round and go

        def watch() -> None:
            parent.join()
            stop.set()
            wake.set()

        threading.Thread(target=watch, name="omnimaint-scorer-parent", daemon=True).start()
    engine = open_store(settings.db_url)
    predictor = Predictor(Bundle.load(settings.bundle), settings.backend, threads=1)
    predictor.preprocessor.load_text_model()
    scorer, notifier = build_scorer(
        LiveStore(engine, settings.data_dir),
        predictor,
        settings,
        on_scored=lambda output, changed: reports.put(("scored", RoundReport.of(output, changed))),
    )
    loop = ScoringLoop(
        scorer,
        wake,
        stop,
        settings.score_interval,
        on_round=lambda seconds: reports.put(("round", seconds)),
        on_failure=lambda: reports.put(("failed", None)),
    )
    reports.put(("ready", None))
    try:
        loop.run()
    finally:
        notifier.stop(10.0)
        engine.dispose()


class ScorerProcess:
    """The service's handle on its scorer process: :meth:`start`, :meth:`wake` on new data, :meth:`stop`.

    Args:
        settings: The service's settings (the child opens the same store and bundle).
        metrics: The service's metrics, fed with what each round reports.
        restart_delays: Seconds to wait before starting a dead child again (the last repeats).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        restart_delays: tuple[float, ...] = _RESTART_DELAYS,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.restart_delays = restart_delays
        self._wake = _CONTEXT.Event()
        self._stop = _CONTEXT.Event()
        self._reports: Any = _CONTEXT.Queue()
        self._stopping = threading.Event()
        self._child: BaseProcess | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []
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
        """Start the child, and the threads that read its reports and start it again if it dies."""
        self._spawn()
        for target, name in ((self._read, "omnimaint-scorer-reports"), (self._supervise, "omnimaint-scorer-watch")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_ready(self, timeout: float) -> bool:
        """Whether a child has loaded the bundle and is scoring (within ``timeout`` seconds)."""
        return self._ready.wait(timeout)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current round (the child is killed if it has not stopped within ``timeout``)."""
        self._stopping.set()
        self._stop.set()
        self._wake.set()
        with self._lock:
            child = self._child
        if child is not None:
            child.join(timeout)
            if child.is_alive():
                logger.warning("the scorer process did not stop within %.0f s; killing it", timeout)
                child.kill()
                child.join(5)
        self._reports.put(("closed", None))
        for thread in self._threads:
            thread.join(5)
        self._reports.close()

    def _spawn(self) -> None:
        with self._lock:
            self._ready.clear()
            child = _CONTEXT.Process(
                target=_child,
                args=(self.settings, self._wake, self._stop, self._reports),
                name="omnimaint-scorer",
                daemon=True,
            )
            child.start()
            self._child = child
            self.starts += 1

    def _supervise(self) -> None:
        """Start the child again whenever it dies, after a delay that grows while it keeps dying."""
        failures_in_a_row = 0
        while not self._stopping.is_set():
            child = self._child
            assert child is not None
            started = time.monotonic()
            child.join()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > 60:  # it had been scoring for a while: start again at once-ish
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
            self._spawn()

    def _read(self) -> None:
        handlers: dict[str, Callable[[Any], None]] = {
            "scored": self.metrics.scored,
            "round": self._round,
            "failed": self._failed,
            "ready": lambda _: self._ready.set(),
        }
        while True:
            try:
                kind, payload = self._reports.get(timeout=1.0)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if kind == "closed":
                return
            handlers[kind](payload)

    def _round(self, seconds: float) -> None:
        self.rounds += 1
        self.metrics.rounds.observe(seconds)

    def _failed(self, _payload: object) -> None:
        self.failures += 1
