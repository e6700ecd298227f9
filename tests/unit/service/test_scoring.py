"""Streaming scoring through the bundle: a replayed plant gets the Predictor's offline scores, resumes after a
restart, and raises alarms operators can act on."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from omnimaint.data.dataset import Dataset
from omnimaint.inference.predictor import Predictor
from omnimaint.service import db
from omnimaint.service.metrics import parse_samples
from omnimaint.service.replay import RestSink, replay
from omnimaint.service.scorer import StreamingScorer
from tests.unit.service.conftest import Service, ServiceFactory

pytestmark = pytest.mark.timeout(900)


def _replay(service: Service, plant: Path, **kwargs: object) -> None:
    sink = RestSink("", service.keys["admin"], client=service.client)
    sink.close = lambda: None  # type: ignore[method-assign]  # the TestClient belongs to the fixture
    report = replay(Dataset(plant), sink, progress=False, **kwargs)  # type: ignore[arg-type]
    assert sum(report.stored.values()) == sum(report.rows.values()) + report.frames


def _wait_scored(service: Service, timeout: float = 300) -> None:
    state = service.client.app.state.services  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while any(state.scorer.scorer.pending(p).size for p in state.store.progress()):
        assert time.monotonic() < deadline, "the scorer did not catch up"
        assert state.scorer.failures == 0, "a scoring round failed (see the log)"
        time.sleep(0.2)


def _scores(service: Service) -> pd.DataFrame:
    engine = service.client.app.state.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return pd.DataFrame(connection.execute(select(db.scores).order_by("asset_id", "ts_us")).mappings().all())


def _metrics(service: Service) -> dict[str, float]:
    return parse_samples(service.client.get("/metrics", headers=service.headers("viewer")).text)


def _expected_anchors(predictor: Predictor, plant: Path) -> set[tuple[str, int]]:
    """The offline grid's anchors that the service can know complete: those before the asset's last reading."""
    dataset = Dataset(plant)
    grid = predictor.windows(dataset).anchors
    last = dataset.table("telemetry").groupby("asset_id")["ts"].max()
    complete = grid["ts"].to_numpy() < last.reindex(grid["asset_id"]).to_numpy()
    return {(a, t.value // 1000) for a, t in zip(grid["asset_id"][complete], grid["ts"][complete], strict=True)}


def _offline(bundle: Path, plant: Path, scores: pd.DataFrame) -> tuple[Predictor, object]:
    predictor = Predictor.from_bundle(bundle)
    anchors = pd.DataFrame({"asset_id": scores["asset_id"], "ts": pd.to_datetime(scores["ts_us"], unit="us", utc=True)})
    return predictor, predictor.predict_windows(predictor.windows(Dataset(plant), anchors=anchors))


def test_a_replayed_plant_is_scored_as_the_predictor_scores_it_offline(
    make_service: ServiceFactory, live_plant: Path, trained_bundle: Path
) -> None:
    service = make_service()
    _replay(service, live_plant, slice_=pd.Timedelta(hours=6).to_pytimedelta())
    _wait_scored(service)
    live = _scores(service)
    predictor, offline = _offline(trained_bundle, live_plant, live)
    # Every anchor of the offline grid is scored but one at an asset's very last reading (the service waits for a
    # newer reading before it knows that window complete), and no window twice.
    got = set(zip(live["asset_id"], live["ts_us"], strict=True))
    assert got == _expected_anchors(predictor, live_plant)
    assert len(got) == len(live)
    # Every window's lag is measured from the stored batch that completed it; rounds are timed.
    metrics = _metrics(service)
    assert metrics["omnimaint_scoring_lag_seconds_count"] == metrics["omnimaint_windows_scored_total"] == len(live)
    assert metrics["omnimaint_scoring_round_seconds_count"] >= 1
    cap = predictor.bundle.window.rul_cap.total_seconds() / 3600
    assert np.abs(np.stack(live["failure_probability"]) - offline.failure_probability).max() <= 1e-5  # type: ignore[attr-defined]
    assert np.abs(np.stack(live["fault_probabilities"]) - offline.fault_probabilities).max() <= 1e-5  # type: ignore[attr-defined]
    assert np.abs(np.stack(live["health_probabilities"]) - offline.health_probabilities).max() <= 1e-5  # type: ignore[attr-defined]
    assert np.abs(live["rul_hours"].to_numpy() - offline.rul_hours).max() / cap <= 1e-5  # type: ignore[attr-defined]
    assert np.abs(live["anomaly_score"].to_numpy() - offline.anomaly_score).max() <= 1e-4 * max(
        1.0, np.abs(offline.anomaly_score).max()
    )  # type: ignore[attr-defined]


def test_scoring_resumes_after_a_restart_without_repeating_a_window(
    make_service: ServiceFactory, live_plant: Path
) -> None:
    service = make_service(scorer=False)
    _replay(service, live_plant, slice_=pd.Timedelta(hours=12).to_pytimedelta())
    state = service.client.app.state.services  # type: ignore[attr-defined]
    first = StreamingScorer(state.store, state.predictor, max_anchors=7)
    assert first.score_round().more
    # A new scorer (a restarted process) starts from what the store says was scored.
    second = StreamingScorer(state.store, state.predictor, max_anchors=50)
    rounds = 1
    while second.score_round().more:
        rounds += 1
    assert second.score_round().scored == 0, "nothing is left, and nothing is scored again"
    with state.store.engine.connect() as connection:
        scored = set(map(tuple, connection.execute(select(db.scores.c.asset_id, db.scores.c.ts_us)).all()))
    assert scored == _expected_anchors(state.predictor, live_plant)


def test_alarms_are_raised_once_per_problem_and_operators_act_on_them(
    make_service: ServiceFactory, live_plant: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "alarms.yaml"
    rules.write_text("default: {threshold: 0.001, deadband: 0.0005, on_count: 1, window: 1}\n", encoding="utf-8")
    service = make_service(alarm_rules=rules)
    _replay(service, live_plant, slice_=pd.Timedelta(hours=12).to_pytimedelta())
    _wait_scored(service)
    active = service.client.get("/api/alarms", params={"state": "active"}, headers=service.headers("viewer")).json()
    assert active, "a threshold of 0.001 raises alarms"
    keys = [(a["asset_id"], a["component"]) for a in active]
    assert len(keys) == len(set(keys)), "one active alarm per asset and component, not a flood"
    alarm = active[0]["id"]
    viewer = service.client.post(f"/api/alarms/{alarm}/acknowledge", json={}, headers=service.headers("viewer"))
    assert viewer.status_code == 403
    ack = service.client.post(
        f"/api/alarms/{alarm}/acknowledge", json={"note": "seen"}, headers=service.headers("operator")
    )
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    resolved = service.client.post(
        f"/api/alarms/{alarm}/resolve", json={"work_order_id": "WO-1"}, headers=service.headers("operator")
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    again = service.client.post(f"/api/alarms/{alarm}/resolve", json={}, headers=service.headers("operator"))
    assert again.status_code == 409
    trail = service.client.get(f"/api/alarms/{alarm}/audit", headers=service.headers("viewer")).json()
    assert [t["action"] for t in trail][-2:] == ["acknowledged", "resolved"]
    assert {t["actor"] for t in trail} >= {"system", "operator"}
    kpis = service.client.get("/api/alarm-kpis", headers=service.headers("viewer"))
    assert kpis.status_code == 200 and kpis.json()["alarms"] >= len(active)
    metrics = service.client.get("/metrics", headers=service.headers("viewer")).text
    assert "omnimaint_windows_scored_total" in metrics and 'omnimaint_alarm_transitions_total{kind="raised"}' in metrics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default: {threshold: 0}", "threshold"),
        ("default: {on_count: 3, window: 2}", "field"),
        ("overrides: {P1: {deadband: -1}}", "P1"),
        ("- a list", "a mapping"),
        ("default: {", "not valid YAML"),
    ],
)
def test_bad_alarm_rules_are_refused_in_one_line(
    trained_bundle: Path, tmp_path: Path, text: str, expected: str
) -> None:
    from omnimaint.errors import ConfigError
    from omnimaint.inference.bundle import Bundle
    from omnimaint.service.rules import alarm_rules

    path = tmp_path / "alarms.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        alarm_rules(Bundle.load(trained_bundle), path)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert str(path) in str(refused.value)


def test_a_small_calibrated_threshold_gets_a_deadband_it_can_clear_below(trained_bundle: Path, tmp_path: Path) -> None:
    """A bundle calibrated on a plant with rare failures may alert at P = 0.001; the default deadband (0.05)
    would make such a rule impossible (it never clears), and once stopped `omnimaint demo` from serving."""
    from omnimaint.inference.bundle import Bundle
    from omnimaint.service.rules import alarm_rules

    path = tmp_path / "alarms.yaml"
    path.write_text("default: {threshold: 0.001}\n", encoding="utf-8")
    rule = alarm_rules(Bundle.load(trained_bundle), path).default
    assert rule.threshold == 0.001 and 0 < rule.deadband < rule.threshold
    path.write_text("default: {threshold: 0.6}\n", encoding="utf-8")
    assert alarm_rules(Bundle.load(trained_bundle), path).default.deadband == 0.05
