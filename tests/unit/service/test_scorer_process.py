"""The scorer in a process of its own (how ``omnimaint serve`` scores by default): the same scores as the
thread, its rounds in the service's metrics, started again when it dies, gone when the service stops; and the
store's write transactions, which two processes now share."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, insert, select

from omnimaint.service import db
from omnimaint.service.db import open_store
from omnimaint.service.metrics import parse_samples
from omnimaint.service.scorer_process import ScorerProcess
from omnimaint.service.store import LiveStore
from tests.unit.service.conftest import Service, ServiceFactory
from tests.unit.service.test_scoring import _expected_anchors, _replay

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _scored(service: Service) -> set[tuple[str, int]]:
    engine = service.client.app.state.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return set(map(tuple, connection.execute(select(db.scores.c.asset_id, db.scores.c.ts_us)).all()))


def _wait_for(condition: object, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _kill(scorer: ScorerProcess) -> int:
    """Kill the running child; returns its pid."""
    pid = scorer.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid


def _wait_restarted(scorer: ScorerProcess, killed: int) -> None:
    _wait_for(lambda: scorer.pid not in (None, killed), "the scorer process was not started again")


def test_the_scorer_process_scores_reports_and_survives_being_killed(
    make_service: ServiceFactory, live_plant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make_service(scorer_process=True, max_anchors=4)  # small rounds: killed in the middle of the work
    scorer = service.client.app.state.services.scorer  # type: ignore[attr-defined]
    assert isinstance(scorer, ScorerProcess)
    assert scorer.wait_ready(120), "the scorer process did not start"
    assert scorer.pid not in (None, os.getpid())

    # Killed while it waits for data: waking its successor must not wait on the dead one (a multiprocessing
    # Event did, forever, and ingestion with it).
    _wait_restarted(scorer, _kill(scorer))
    assert scorer.wait_ready(120), "the second scorer process did not start"

    # Killed in the middle of the work: the service holds the child's second round until the child is dead.
    storer, handed_over, dead = scorer._storer, threading.Event(), threading.Event()
    commit = storer.commit

    def commit_then_hold(todo: dict[str, object], output: object) -> None:
        commit(todo, output)
        if handed_over.is_set():
            dead.wait(120)
        handed_over.set()

    monkeypatch.setattr(storer, "commit", commit_then_hold)
    _replay(service, live_plant, slice_=pd.Timedelta(hours=6).to_pytimedelta())
    predictor = service.client.app.state.services.predictor  # type: ignore[attr-defined]
    expected = _expected_anchors(predictor, live_plant)
    assert len(expected) > 3 * 4, "too few windows for three rounds (raise the plant's size)"
    _wait_for(handed_over.is_set, "the child handed over nothing")
    killed = _kill(scorer)
    assert len(_scored(service)) < len(expected)
    dead.set()
    _wait_restarted(scorer, killed)
    # The next child scores the rest from where the store says the last one stopped.
    _wait_for(lambda: _scored(service) == expected, "the restarted scorer did not catch up")
    assert scorer.starts == 3 and scorer.failures == 0

    # The rounds reached the service's metrics: every window counted once, its lag measured, rounds timed.
    metrics = parse_samples(service.client.get("/metrics", headers=service.headers("viewer")).text)
    assert metrics["omnimaint_windows_scored_total"] == len(expected)
    assert 0 < metrics["omnimaint_scoring_lag_seconds_count"] <= len(expected)
    assert metrics["omnimaint_scoring_round_seconds_count"] == scorer.rounds >= 2

    service.client.__exit__(None, None, None)  # the service stops: so does its child, at the end of its round
    assert scorer.pid is None and scorer.exitcode == 0


def test_a_write_transaction_holds_the_sqlite_lock_from_its_first_read(tmp_path: Path) -> None:
    # Two stores on one file stand for the service and its scorer process. What the first reads before it writes
    # must not change under it: the second waits for its commit, not merely for its first write.
    url = f"sqlite:///{tmp_path / 'omnimaint.db'}"
    first, second = LiveStore(open_store(url), tmp_path), LiveStore(open_store(url), tmp_path)
    done = threading.Event()

    def write_from_the_other_process() -> None:
        with second.writing() as connection:
            connection.execute(insert(db.rollups).values(step_us=2, created_us=0))
        done.set()

    with first.writing() as connection:
        before = connection.execute(select(func.count()).select_from(db.rollups)).scalar_one()
        other = threading.Thread(target=write_from_the_other_process)
        other.start()
        assert not done.wait(0.5), "the other store wrote while this transaction had read"
        connection.execute(insert(db.rollups).values(step_us=1, created_us=before))
    other.join(30)
    assert done.is_set()
    with first.engine.connect() as connection:
        rows = connection.execute(select(db.rollups.c.step_us, db.rollups.c.created_us)).all()
    assert sorted(rows) == [(1, 0), (2, 0)]
