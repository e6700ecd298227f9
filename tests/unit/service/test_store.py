"""The store's schema: migrations match the tables the code uses, on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import text

from omnimaint.service import db
from tests.unit.service.conftest import ServiceFactory


def _differences(url: str) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = db.open_store(url)
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection), db.metadata))
    finally:
        engine.dispose()


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_the_migrations_create_exactly_the_tables_the_code_uses(tmp_path: Path) -> None:
    assert _differences(f"sqlite:///{tmp_path / 'store.db'}") == []


def test_opening_a_store_twice_migrates_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.open_store(url).dispose()
    engine = db.open_store(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
    engine.dispose()


@pytest.mark.timeout(600)
def test_the_service_runs_on_postgresql(postgres_url: str, make_service: ServiceFactory, live_plant: Path) -> None:
    assert _differences(postgres_url) == []
    from tests.unit.service.test_scoring import _replay, _wait_scored

    service = make_service(db=postgres_url)
    _replay(service, live_plant, slice_=__import__("datetime").timedelta(hours=12))
    _wait_scored(service)
    assets = service.client.get("/api/assets", headers=service.headers("viewer")).json()
    assert assets and all(a["scored_until"] is not None for a in assets)


@pytest.mark.parametrize("roll_up", ["at ingest, batch by batch", "of what was stored before"])
def test_windows_cut_from_the_store_are_the_windows_of_the_readings_it_holds(
    trained_bundle: Path, live_plant: Path, tmp_path: Path, roll_up: str
) -> None:
    """The scorer reads telemetry from the store's roll-up at the window's step, and each modality only as far back
    as the window reaches: the windows must be those of the raw readings. Three readings fall in each step here;
    the roll-up is kept as batches are stored, or made at once from readings stored before it was asked for."""
    from datetime import timedelta

    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from omnimaint.data.dataset import Dataset, MemoryDataset
    from omnimaint.data.schema import MODALITY_TABLES
    from omnimaint.data.windows import micros
    from omnimaint.inference.predictor import Predictor
    from omnimaint.service.ingest import AssetIn
    from omnimaint.service.scorer import StreamingScorer
    from omnimaint.service.store import LiveStore

    predictor = Predictor.from_bundle(trained_bundle)
    plant = Dataset(live_plant)
    tables = {name: plant.arrow(name) for name in (*MODALITY_TABLES, "assets")}
    readings = tables["telemetry"].to_pandas()
    early = [
        readings.assign(ts=readings["ts"] - timedelta(minutes=7), value=readings["value"] * 1.1 + 0.3),
        readings.assign(ts=readings["ts"] - timedelta(minutes=13), value=readings["value"] - 0.2),
    ]
    tables["telemetry"] = pa.Table.from_pandas(pd.concat([readings, *early]), preserve_index=False)
    raw = MemoryDataset(plant.manifest, tables, live_plant, source="raw readings")
    engine = db.open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store = LiveStore(engine, live_plant)
    store.put_assets([AssetIn.model_validate(row) for row in raw.table("assets").to_dict("records")])
    if roll_up == "at ingest, batch by batch":
        scorer = StreamingScorer(store, predictor)
        store.track_steps(micros(timedelta(minutes=20)))  # another bundle's step is kept beside it
        telemetry = raw.arrow("telemetry")
        cuts = np.linspace(0, telemetry.num_rows, 8).astype(int)  # batches that split steps
        for lo, hi in itertools.pairwise(cuts):
            store.store_batch(None, {"telemetry": telemetry.slice(lo, hi - lo)})
        store.store_batch(None, {name: raw.arrow(name) for name in MODALITY_TABLES if name != "telemetry"})
    else:
        store.store_batch(None, {name: raw.arrow(name) for name in MODALITY_TABLES})
        scorer = StreamingScorer(store, predictor)
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT step_us, SUM(n) FROM telemetry_steps GROUP BY step_us")).all()
    assert {n for _, n in kept} == {len(readings) * 3}, "every reading is in the roll-up of every step kept"
    grid = predictor.windows(raw).anchors
    todo = {
        asset: grid.loc[grid["asset_id"] == asset, "ts"].dt.as_unit("us").astype("int64").to_numpy()
        for asset in grid["asset_id"].unique()
    }
    live = scorer.score(todo)
    offline = predictor.predict_windows(predictor.windows(raw, anchors=grid))
    engine.dispose()
    assert len(live) == len(offline) > 0
    assert (live.anchors == offline.anchors).all()
    for head in ("failure_probability", "fault_probabilities", "health_probabilities", "modality_weights"):
        assert np.abs(getattr(live, head) - getattr(offline, head)).max() <= 1e-5, head
    assert np.abs(live.anomaly_score - offline.anomaly_score).max() <= 1e-4 * max(
        1.0, np.abs(offline.anomaly_score).max()
    )
