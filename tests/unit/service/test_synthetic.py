"""The synthetic plant history: written in the store's shapes, read back by the service's own readers, alarms
in every state as the alarm engine and the operator actions leave them, and a scorer carries on from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import Engine, func, select

from omnimaint.data.sample_builder import anchor_grid
from omnimaint.data.schema import TIMESTAMP_TYPE
from omnimaint.data.windows import micros
from omnimaint.inference.bundle import Bundle
from omnimaint.inference.predictor import Predictor
from omnimaint.service import alarms, db
from omnimaint.service.alarms import AlarmRecorder
from omnimaint.service.rules import alarm_rules
from omnimaint.service.scorer import StreamingScorer
from omnimaint.service.store import LiveStore
from omnimaint.service.synthetic import FilledStore, StoreNotEmptyError, fill_store

END_US = 1_767_225_600_000_000  # 2026-01-01T00:00Z


def _filled(tmp_path: Path, bundle: Bundle, name: str, **size: float) -> tuple[Engine, FilledStore]:
    engine = db.open_store(f"sqlite:///{tmp_path / name}")
    return engine, fill_store(engine, bundle, end_us=END_US, **size)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def bundle(trained_bundle: Path) -> Bundle:
    return Bundle.load(trained_bundle)


def test_every_asset_is_scored_at_every_anchor_of_its_grid_in_the_scorers_shapes(
    bundle: Bundle, tmp_path: Path
) -> None:
    engine, filled = _filled(tmp_path, bundle, "plant.db", assets=6, days=4)
    spec, vocab = bundle.window, bundle.preprocessor.vocab
    progress = LiveStore(engine, tmp_path).progress()
    assert [p.asset_id for p in progress] == sorted(filled.asset_ids)
    with engine.connect() as connection:
        for table, count in filled.rows.items():
            assert connection.execute(select(func.count()).select_from(db.metadata.tables[table])).scalar_one() == count
        for p in progress:
            assert p.telemetry_us == p.watermark_us == filled.end_us and p.first_us is not None
            expected = anchor_grid(spec, p.first_us, filled.end_us - 1).tolist()
            rows = connection.execute(select(db.scores).where(db.scores.c.asset_id == p.asset_id)).mappings().all()
            assert sorted(r["ts_us"] for r in rows) == expected and p.scored_us == expected[-1]
            for r in rows:
                failure = np.array(r["failure_probability"])  # (H,)
                components = np.array(r["component_failure_probability"])  # (H, P)
                assert failure.shape == (len(spec.horizons),) and components.shape == (
                    len(spec.horizons),
                    len(vocab.components),
                )
                assert np.all(np.diff(failure) >= 0), "a longer horizon is at least as likely to see a failure"
                assert np.all(failure >= components.max(axis=1) - 1e-6), "the asset fails if any component does"
                assert np.isclose(sum(r["health_probabilities"]), 1, atol=1e-5) and len(r["health_probabilities"]) == 3
                assert np.isclose(sum(r["fault_probabilities"]), 1, atol=1e-5)
                assert len(r["fault_probabilities"]) == len(vocab.fault_classes)
                assert len(r["modality_weights"]) == 5 and 0 <= r["rul_hours"] <= spec.rul_cap.total_seconds() / 3600
                assert r["ts_us"] < r["scored_at_us"] and r["anomaly_score"] > 0
    assert filled.rows["telemetry_steps"] > 0 and filled.rows["events"] > 0 and filled.rows["waveforms"] > 0
    with pytest.raises(StoreNotEmptyError, match="holds 6 assets"):
        fill_store(engine, bundle, assets=1, days=1, end_us=END_US)
    engine.dispose()


def test_the_same_seed_writes_the_same_plant(bundle: Bundle, tmp_path: Path) -> None:
    def scores(engine: Engine) -> list[tuple[object, ...]]:
        with engine.connect() as connection:
            return [
                tuple(r)
                for r in connection.execute(select(db.scores).order_by(db.scores.c.asset_id, db.scores.c.ts_us))
            ]

    one, _ = _filled(tmp_path, bundle, "one.db", assets=3, days=3, seed=4)
    two, _ = _filled(tmp_path, bundle, "two.db", assets=3, days=3, seed=4)
    other, _ = _filled(tmp_path, bundle, "other.db", assets=3, days=3, seed=5)
    assert scores(one) == scores(two) != scores(other)


def test_alarms_are_in_every_state_with_audit_trails_and_kpis_and_the_engine_remembers_them(
    bundle: Bundle, tmp_path: Path
) -> None:
    engine, filled = _filled(tmp_path, bundle, "alarms.db", assets=40, days=8, episodes_per_asset_day=0.5)
    listed = alarms.list_alarms(engine, limit=10_000)
    assert len(listed) == filled.rows["alarms"] > 20
    states = {(a["state"], (a["shelved_until_us"] or 0) > filled.end_us) for a in listed}
    assert {
        ("open", False),
        ("acknowledged", False),
        ("open", True),
        ("acknowledged", True),
        ("resolved", False),
    } <= states
    with engine.connect() as connection:
        orders = dict(connection.execute(select(db.maintenance.c.work_order_id, db.maintenance.c.asset_id)).all())
    for alarm in listed:
        trail = alarms.audit_trail(engine, alarm["id"])
        assert trail[0]["action"] == "raised" and trail[0]["actor"] == "system"
        assert [t["at_us"] for t in trail] == sorted(t["at_us"] for t in trail), "the trail is in time order"
        if alarm["state"] == "resolved":
            assert trail[-1]["action"] == "resolved" and trail[-1]["actor"].startswith("operator-")
            assert orders[alarm["work_order_id"]] == alarm["asset_id"], "resolved naming the asset's work order"
    kpis = alarms.alarm_kpis(engine, filled.end_us + 1, since_us=filled.start_us)
    assert kpis["alarms"] == sum(a["opened_at_us"] >= filled.start_us for a in listed) and kpis["asset_count"] == 40
    assert kpis["standing"] == sum(a["state"] != "resolved" for a in listed) and kpis["bad_actors"]["assets"]
    # The alarm engine's memory holds exactly the active alarms, so a scorer started on the store carries on.
    for asset_id in filled.asset_ids:
        memory = alarms.load_state(engine, asset_id)
        remembered = {(c, m.active.fault) for c, m in memory.components.items() if m.active is not None}
        active = {
            (a["component"], a["fault"]) for a in listed if a["asset_id"] == asset_id and a["state"] != "resolved"
        }
        assert remembered == active
    engine.dispose()


def test_a_scorer_reads_the_filled_store_and_carries_on_with_new_readings(
    bundle: Bundle, trained_bundle: Path, tmp_path: Path
) -> None:
    engine, filled = _filled(tmp_path, bundle, "carry-on.db", assets=3, days=3)
    store = LiveStore(engine, tmp_path)
    predictor = Predictor.from_bundle(trained_bundle)
    vocab = bundle.preprocessor.vocab
    recorder = AlarmRecorder(alarm_rules(bundle, None), vocab.components, vocab.fault_classes)
    scorer = StreamingScorer(store, predictor, after_scores=recorder)
    asset = filled.asset_ids[0]
    last = store.progress([asset])[0].scored_us
    assert last is not None
    # The last stored window, scored again from what the filler wrote: every modality cut without error.
    again = scorer.score({asset: np.array([last])})
    assert len(again) == 1 and np.isfinite(again.failure_probability).all()
    # New readings past the next anchor: exactly that anchor is scored, through the alarm engine.
    stride = micros(bundle.window.stride)
    times = np.arange(filled.end_us + 600_000_000, last + stride + 600_000_001, 600_000_000)
    channels = vocab.telemetry_channels[:2]
    telemetry = pa.table(
        {
            "asset_id": [asset] * (times.size * len(channels)),
            "ts": pa.array(np.repeat(times, len(channels)), pa.int64()).cast(TIMESTAMP_TYPE),
            "channel": list(channels) * times.size,
            "value": [1.0] * (times.size * len(channels)),
        }
    )
    store.store_batch(None, {"telemetry": telemetry})
    assert scorer.score_round([asset]).scored == 1
    with engine.connect() as connection:
        newest = connection.execute(
            select(func.max(db.scores.c.ts_us)).where(db.scores.c.asset_id == asset)
        ).scalar_one()
        stored = connection.execute(
            select(db.scores.c.failure_probability).where(db.scores.c.asset_id == asset, db.scores.c.ts_us == newest)
        ).scalar_one()
    assert newest == last + stride and len(stored) == len(bundle.window.horizons)
    engine.dispose()


@pytest.mark.parametrize(
    "size", [{"assets": 0, "days": 1}, {"assets": 1, "days": 0}, {"assets": 1, "days": 1, "episodes_per_asset_day": -1}]
)
def test_a_plant_without_assets_or_days_or_with_negative_wear_is_refused(
    bundle: Bundle, tmp_path: Path, size: dict[str, float]
) -> None:
    engine = db.open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ValueError, match="at least"):
        fill_store(engine, bundle, end_us=END_US, **size)  # type: ignore[arg-type]
    engine.dispose()
