""":func:`fill_store`: a synthetic plant's history written into an empty store, asset by asset."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, Engine, Table, func, insert, select

from omnimaint.data.sample_builder import anchor_grid
from omnimaint.inference.bundle import Bundle
from omnimaint.service import db
from omnimaint.service.clock import now_us
from omnimaint.service.synthetic import records
from omnimaint.service.synthetic.control_room import ControlRoom
from omnimaint.service.synthetic.heads import head_outputs
from omnimaint.service.synthetic.plant import DAY_US, EPISODES_PER_ASSET_DAY, Plant, draw_episodes
from omnimaint.sim import catalog

logger = logging.getLogger(__name__)

ASSETS_PER_TRANSACTION = 50
"""Assets written per transaction: few commits, and SQLite's write-ahead log stays near 50 MB."""
SITES = ("north", "south")
LINES_PER_SITE = 4


class StoreNotEmptyError(db.StoreError):
    """The store to fill already holds assets."""


@dataclass(frozen=True)
class FilledStore:
    """What :func:`fill_store` wrote.

    Attributes:
        asset_ids: The assets, of the bundle's types in turn (P0001, S0002, C0003, P0004 … for the simulator's).
        start_us: Start of the history (µs, exclusive).
        end_us: End of the history: every asset's newest telemetry step (µs).
        rows: Rows written per table.
    """

    asset_ids: tuple[str, ...]
    start_us: int
    end_us: int
    rows: dict[str, int]


def fill_store(
    engine: Engine,
    bundle: Bundle,
    *,
    assets: int = 500,
    days: float = 30,
    seed: int = 0,
    end_us: int | None = None,
    episodes_per_asset_day: float = EPISODES_PER_ASSET_DAY,
) -> FilledStore:
    """Write a synthetic plant's history into an empty store (what is written: :mod:`omnimaint.service.synthetic`).

    The store is left as the service would have left it after scoring that history, the alarm engine's memory
    included, so a service started on it goes on from there.

    Args:
        engine: A migrated store (:func:`~omnimaint.service.db.open_store`) without assets.
        bundle: The bundle whose asset types, channels, stride, heads and alarm threshold the history follows.
        assets: How many assets (at least 1).
        days: Length of the history (positive).
        seed: Seed of everything drawn.
        end_us: End of the history, µs (rounded down to the telemetry step); now by default, so that the alarms'
            wall-clock times (raised, acknowledged, shelved until) read as a live plant's.
        episodes_per_asset_day: How often a component starts to wear (each wear episode may raise an alarm;
            episodes of an asset follow each other, a day apart at least).

    Returns:
        What was written.

    Raises:
        StoreNotEmptyError: if the store already holds assets.
        ValueError: if ``assets`` or ``days`` is not positive, ``episodes_per_asset_day`` is negative, or the
            bundle has no components or fault types.
    """
    if assets < 1 or days <= 0 or episodes_per_asset_day < 0:
        raise ValueError(
            f"a plant needs at least an asset, a positive length and a rate of wear that is not negative, got "
            f"{assets} assets, {days} days, {episodes_per_asset_day} episodes per asset-day"
        )
    vocab = bundle.preprocessor.vocab
    if not vocab.components or not vocab.fault_types:
        raise ValueError("the bundle has no components or no fault types: its heads have nothing to raise alarms on")
    with engine.connect() as connection:
        present = connection.execute(select(func.count()).select_from(db.assets)).scalar_one()
    if present:
        safe = engine.url.render_as_string(hide_password=True)
        raise StoreNotEmptyError(f"{safe}: the store holds {present} assets; fill_store writes into an empty store")
    plant = Plant.of(bundle, episodes_per_asset_day)
    end = (now_us() if end_us is None else end_us) // plant.step_us * plant.step_us
    start = end - int(days * DAY_US)
    rng = np.random.default_rng(seed)
    control_room = ControlRoom(plant, end, rng)
    types = vocab.asset_types
    ids = [f"{catalog.TYPE_PREFIX.get(types[i % len(types)], 'A')}{i + 1:04d}" for i in range(assets)]
    rows = dict.fromkeys(("assets", "scores", "telemetry_steps", "events", "maintenance", "waveforms"), 0)
    with engine.begin() as connection:
        if bundle.window.telemetry is not None:
            kept = select(db.rollups.c.step_us).where(db.rollups.c.step_us == plant.step_us)
            if connection.execute(kept).first() is None:
                connection.execute(insert(db.rollups).values(step_us=plant.step_us, created_us=start))
    # Assets in id order (and their channels sorted): the roll-up's rows then go in at the end of its primary
    # key's index, which SQLite appends to faster than it inserts in the middle (about a tenth of the fill).
    in_key_order = sorted(range(assets), key=ids.__getitem__)
    for first in range(0, assets, ASSETS_PER_TRANSACTION):
        with engine.begin() as connection:
            for i in in_key_order[first : first + ASSETS_PER_TRANSACTION]:
                written = _fill_asset(
                    connection, plant, control_room, ids[i], types[i % len(types)], i, start, end, rng
                )
                for table, count in written.items():
                    rows[table] += count
    with engine.connect() as connection:
        rows["alarm_audit"] = connection.execute(select(func.count()).select_from(db.alarm_audit)).scalar_one()
    rows["alarms"] = control_room.raised
    logger.info("filled %s with %d assets over %g days: %s", engine.url.database, assets, days, rows)
    return FilledStore(tuple(ids), start, end, rows)


def _fill_asset(
    connection: Connection,
    plant: Plant,
    control_room: ControlRoom,
    asset_id: str,
    asset_type: str,
    index: int,
    start: int,
    end: int,
    rng: np.random.Generator,
) -> dict[str, int]:
    """Write one asset's history; returns the rows written per table (alarms are counted by the control room)."""
    spec = plant.bundle.window
    first = (start // plant.step_us + 1) * plant.step_us  # its first reading
    components = plant.components(asset_type)
    episodes = draw_episodes(plant, components, start, end, rng)
    anchors = anchor_grid(spec, first, end - 1)  # those before the asset's clock, as the scorer scores them
    models = catalog.MODELS.get(asset_type, ())
    asset = {
        "asset_id": asset_id,
        "asset_type": asset_type,
        "model": models[int(rng.integers(len(models)))].name if models else None,
        "site": SITES[index % len(SITES)],
        "line": f"L{index // len(SITES) % LINES_PER_SITE + 1}",
        "install_date_us": start - int(rng.uniform(1, 12) * 365 * DAY_US),
        "first_us": first,
        "watermark_us": end,
        "telemetry_us": end if spec.telemetry is not None else None,
        "scored_us": int(anchors[-1]) if anchors.size else None,
    }
    connection.execute(insert(db.assets).values(asset))
    orders, order_of = records.work_orders(asset_id, asset_type, components, episodes, start, end, rng)
    scores = head_outputs(plant, asset_id, components, anchors, episodes, rng)
    written = {
        db.maintenance: orders,
        db.scores: scores.rows,
        db.telemetry_steps: records.telemetry_steps(plant, asset_id, asset_type, episodes, first, end, rng),
        db.events: records.events(plant, asset_id, episodes, start, end, rng),
        db.waveforms: records.waveforms(plant, asset_id, episodes, start, end, rng),
    }
    for table, rows in written.items():
        _insert(connection, table, rows)
    control_room.watch(connection, asset_id, scores, episodes, order_of)
    return {"assets": 1, **{table.name: len(rows) for table, rows in written.items()}}


def _insert(connection: Connection, table: Table, rows: Sequence[records.Row]) -> None:
    """Insert rows (tuples in the table's column order, without an autoincremented id) through the driver's
    ``executemany``: tuples, not the dicts of ``store._bulk_insert``, whose making costs more than SQLite's
    insert at millions of rows."""
    if not rows:
        return
    columns = [c.name for c in table.columns if c.autoincrement is not True]
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    connection.exec_driver_sql(sql, list(rows))
