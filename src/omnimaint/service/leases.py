"""Which worker scores which asset: leases in the store, so that no asset is scored by two workers at once.

A worker heartbeats every round and holds a lease per asset it scores, renewed every round and expiring
after ``ttl``. It claims assets whose lease is free or expired, up to its fair share (assets with pending
windows divided by live workers, rounded up), and gives back leases above that share, so a new worker
gets work and a dead worker's assets pass to the others once its leases expire. A claim is one
conditional upsert per asset (``… ON CONFLICT DO UPDATE … WHERE the lease is ours or expired``), atomic on
SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from omnimaint.service.db import asset_leases, workers


def _insert(connection: Connection):  # type: ignore[no-untyped-def]
    return pg_insert if connection.dialect.name == "postgresql" else sqlite_insert


def heartbeat(engine: Engine, worker: str, now_us: int) -> None:
    """Record that ``worker`` is alive."""
    with engine.begin() as connection:
        insert = _insert(connection)
        statement = insert(workers).values(worker_id=worker, seen_us=now_us)
        connection.execute(statement.on_conflict_do_update(index_elements=["worker_id"], set_={"seen_us": now_us}))


def live_workers(engine: Engine, now_us: int, ttl_us: int) -> int:
    """Workers heard from within ``ttl_us``."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(workers.c.seen_us >= now_us - ttl_us)).scalar_one())


def claim(engine: Engine, worker: str, wanted: Iterable[str], now_us: int, ttl_us: int, share: int) -> set[str]:
    """Renew ``worker``'s leases and claim free or expired ones among ``wanted``, holding at most ``share``.

    Returns:
        The assets ``worker`` holds now.
    """
    expires = now_us + ttl_us
    with engine.begin() as connection:
        held = set(connection.execute(select(asset_leases.c.asset_id).where(asset_leases.c.owner == worker)).scalars())
        insert = _insert(connection)
        for asset_id in sorted(held) + sorted(set(wanted) - held):
            if asset_id not in held and len(held) >= share:
                break
            statement = insert(asset_leases).values(asset_id=asset_id, owner=worker, expires_us=expires)
            statement = statement.on_conflict_do_update(
                index_elements=["asset_id"],
                set_={"owner": worker, "expires_us": expires},
                where=(asset_leases.c.owner == worker) | (asset_leases.c.expires_us < now_us),
            )
            connection.execute(statement)
        held = set(connection.execute(select(asset_leases.c.asset_id).where(asset_leases.c.owner == worker)).scalars())
        for asset_id in sorted(held)[share:]:  # above the fair share: give back for another worker
            connection.execute(
                delete(asset_leases).where(asset_leases.c.asset_id == asset_id, asset_leases.c.owner == worker)
            )
            held.discard(asset_id)
    return held


def fair_share(assets: int, live: int) -> int:
    return max(1, math.ceil(assets / max(1, live)))


def release(engine: Engine, worker: str) -> None:
    """Give back every lease of ``worker`` (on a clean stop)."""
    with engine.begin() as connection:
        connection.execute(delete(asset_leases).where(asset_leases.c.owner == worker))
        connection.execute(delete(workers).where(workers.c.worker_id == worker))
