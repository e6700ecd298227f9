"""``omnimaint replay``: stream a canonical dataset into a running service, in time order, every modality.

The dataset's span is cut into slices of data time; each slice is sent as its frames (one upload each) and
then one or more JSON batches (bursts, events, work orders, then telemetry, in time order), each with an
idempotency key derived from the dataset and the slice, so that a retried or repeated replay stores nothing
twice. With ``speed`` the slices are paced against the wall clock (3600: an hour of data per second).
A batch answered 429 or 503, or lost to a broken connection, is retried with back-off; any other refusal
stops the replay with the service's reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.errors import OmnimaintError
from omnimaint.progress import progress_bar

if TYPE_CHECKING:
    import httpx

SLICE = timedelta(hours=1)
BATCH_ROWS = 20_000
_TABLE_KEYS = {"waveforms": "waveforms", "events": "events", "maintenance": "work_orders", "telemetry": "telemetry"}


class ReplayError(OmnimaintError):
    """The service refused part of a replay, or could not be reached."""


class Sink(Protocol):
    """Where a replay goes (REST or MQTT)."""

    def put_assets(self, assets: list[dict[str, Any]]) -> None: ...

    def send_batch(self, key: str, batch: dict[str, Any]) -> dict[str, Any]: ...

    def send_frame(self, asset_id: str, ts: str, camera: str, data: bytes, name: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass
class ReplayReport:
    """What a replay sent and what the service answered."""

    batches: int = 0
    frames: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    stored: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    resent: int = 0
    seconds: float = 0.0

    def add(self, answer: dict[str, Any]) -> None:
        for table, count in answer.get("stored", {}).items():
            self.stored[table] = self.stored.get(table, 0) + int(count)
        self.duplicates += int(answer.get("duplicates", 0))
        self.resent += bool(answer.get("resent", False))


def _iso(series: pd.Series) -> list[str | None]:
    text = series.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return [None if pd.isna(v) else str(v) for v in text]


def _records(name: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = _iso(frame[column])
    if name == "waveforms":
        frame["samples"] = [np.asarray(s, dtype=np.float64).tolist() for s in frame["samples"]]
    records = frame.to_dict("records")
    return [
        {str(k): (None if isinstance(v, float) and np.isnan(v) and k != "value" else v) for k, v in r.items()}
        for r in records
    ]


def assets_payload(dataset: Dataset, assets: list[str] | None) -> list[dict[str, Any]]:
    table = dataset.table("assets")
    if assets is not None:
        table = table[table["asset_id"].isin(assets)]
    table = table.astype(object).where(table.notna(), None)
    if "install_date" in table:
        table["install_date"] = [None if v is None else pd.Timestamp(v).isoformat() for v in table["install_date"]]
    return [{str(k): v for k, v in r.items() if v is not None} for r in table.to_dict("records")]


def _slices(
    dataset: Dataset, assets: list[str] | None, step: timedelta
) -> Iterator[tuple[pd.Timestamp, dict[str, pd.DataFrame]]]:
    """Per slice of data time: its end, and the rows of each table in it, oldest first."""
    tables: dict[str, pd.DataFrame] = {}
    for name in ("frames", *_TABLE_KEYS):
        frame = dataset.table(name)
        if assets is not None:
            frame = frame[frame["asset_id"].isin(assets)]
        time_column = "ts_open" if name == "maintenance" else "ts"
        tables[name] = frame.sort_values([time_column, "asset_id"], kind="stable").reset_index(drop=True)
    stamps = [t["ts_open" if n == "maintenance" else "ts"] for n, t in tables.items() if len(t)]
    if not stamps:
        return
    start = min(s.iloc[0] for s in stamps).floor(step)
    end = max(s.iloc[-1] for s in stamps)
    bound = start
    while bound <= end:
        upper = bound + step
        part = {}
        for name, frame in tables.items():
            column = frame["ts_open" if name == "maintenance" else "ts"]
            lo, hi = column.searchsorted(bound, "left"), column.searchsorted(upper, "left")
            part[name] = frame.iloc[lo:hi]
        yield upper, part
        bound = upper


def replay(
    dataset: Dataset,
    sink: Sink,
    *,
    speed: float | None = None,
    assets: list[str] | None = None,
    slice_: timedelta = SLICE,
    batch_rows: int = BATCH_ROWS,
    register: bool = True,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Stream ``dataset`` into ``sink``.

    Args:
        dataset: The dataset.
        sink: Where to send it.
        speed: Data time per wall time (3600: an hour per second); ``None``: as fast as the service takes it.
        assets: Only these assets.
        slice_: Data time per slice.
        batch_rows: Rows per JSON batch at most.
        register: Register the assets first (needs an admin key).
        progress: Show a progress bar over the slices.
        sleep: The pacing clock's sleep (for tests).
    """
    if assets is not None:
        unknown = sorted(set(assets) - dataset.asset_ids)
        if unknown:
            raise ReplayError(f"{dataset.path}: no asset {unknown[0]!r}")
    report = ReplayReport()
    began = time.perf_counter()
    if register:
        sink.put_assets(assets_payload(dataset, assets))
    identity = hashlib.sha256(f"{dataset.path.resolve()}|{sorted(assets or [])}|{slice_}".encode()).hexdigest()[:16]
    slices = list(_slices(dataset, assets, slice_))
    first_end = slices[0][0] if slices else None
    with progress_bar("replaying", len(slices), enabled=progress) as advance:
        for index, (upper, part) in enumerate(slices):
            if speed is not None and first_end is not None:
                due = (upper - first_end).total_seconds() / speed
                wait = due - (time.perf_counter() - began)
                if wait > 0:
                    sleep(wait)
            for row in part["frames"].itertuples(index=False):
                path = dataset.frame_file(str(row.path))
                answer = sink.send_frame(
                    str(row.asset_id), _iso(pd.Series([row.ts]))[0] or "", str(row.camera), path.read_bytes(), path.name
                )
                report.frames += 1
                report.add(answer)
            records: list[tuple[str, dict[str, Any]]] = []
            for name, key in _TABLE_KEYS.items():
                frame = part[name]
                report.rows[key] = report.rows.get(key, 0) + len(frame)
                records.extend((key, r) for r in _records(name, frame))
            for chunk, start in enumerate(range(0, len(records), batch_rows)):
                batch: dict[str, list[dict[str, Any]]] = {}
                for key, record in records[start : start + batch_rows]:
                    batch.setdefault(key, []).append(record)
                report.add(sink.send_batch(f"replay-{identity}-{index}-{chunk}", batch))
                report.batches += 1
            advance(1)
    report.seconds = time.perf_counter() - began
    sink.close()
    return report


class RestSink:
    """Sends to a service over HTTP.

    Args:
        url: The service's base URL.
        api_key: An API key (operator; admin to register assets).
        retries: Tries per request when the service is saturated or unreachable.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        retries: int = 30,
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        import httpx

        headers = {"X-API-Key": api_key} if api_key else {}
        if client is None:
            client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        client.headers.update(headers)
        self.client = client
        self.retries = retries

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import httpx

        delay = 0.1
        for attempt in range(self.retries):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt == self.retries - 1:
                    raise ReplayError(f"{self.client.base_url}{path}: unreachable ({type(exc).__name__})") from exc
            else:
                if response.status_code < 400:
                    answer: dict[str, Any] = response.json()
                    return answer
                if response.status_code not in (429, 502, 503, 504):
                    detail = (
                        response.json().get("detail")
                        if response.headers.get("content-type", "").startswith("application/json")
                        else response.text
                    )
                    raise ReplayError(f"{method} {path}: {response.status_code} {detail}")
                delay = max(delay, float(response.headers.get("Retry-After", 0) or 0))
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise ReplayError(f"{method} {path}: still refused after {self.retries} tries")

    def put_assets(self, assets: list[dict[str, Any]]) -> None:
        self._request("PUT", "/api/assets", json=assets)

    def send_batch(self, key: str, batch: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", "/api/ingest", json=batch, params={"idempotency_key": key})

    def send_frame(self, asset_id: str, ts: str, camera: str, data: bytes, name: str) -> dict[str, Any]:
        from urllib.parse import quote

        return self._request(
            "POST",
            f"/api/assets/{quote(asset_id, safe='')}/frames",
            data={"ts": ts, "camera": camera},
            files={"image": (name, data)},
        )

    def close(self) -> None:
        self.client.close()


class MqttSink:
    """Publishes to a broker on the service's topic scheme (:mod:`omnimaint.service.mqtt`), QoS 1, in order.

    MQTT has no answer per message, so the report counts rows sent, not stored. Assets are registered over
    REST (``api``), as only an admin key may register them.

    Args:
        url: ``mqtt://host[:port]``.
        site: The topics' site segment.
        api: The service's REST sink for registering assets, or ``None`` (assets registered already).
    """

    def __init__(self, url: str, site: str = "plant", api: RestSink | None = None) -> None:
        import paho.mqtt.client as mqtt

        from omnimaint.service.mqtt import Broker

        broker = Broker.parse(url)
        self.site = site
        self.api = api
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        self.client.max_inflight_messages_set(100)
        try:
            self.client.connect(broker.host, broker.port, keepalive=30)
        except OSError as exc:
            raise ReplayError(f"{url}: broker unreachable ({exc})") from exc
        self.client.loop_start()

    def _publish(self, asset_id: str, kind: str, body: dict[str, Any]) -> None:
        from omnimaint.service.mqtt import topic_of

        info = self.client.publish(topic_of(self.site, asset_id, kind), json.dumps(body), qos=1)
        info.wait_for_publish(timeout=60)
        if not info.is_published():
            raise ReplayError(f"MQTT publish to {topic_of(self.site, asset_id, kind)} not acknowledged in 60 s")

    def put_assets(self, assets: list[dict[str, Any]]) -> None:
        if self.api is None:
            raise ReplayError("registering assets needs the service's REST URL (replay --api URL) and an admin key")
        self.api.put_assets(assets)

    def send_batch(self, key: str, batch: dict[str, Any]) -> dict[str, Any]:
        for kind, rows in batch.items():
            by_asset: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_asset.setdefault(row["asset_id"], []).append(row)
            for asset_id, asset_rows in by_asset.items():
                self._publish(asset_id, kind, {"key": f"{key}-{asset_id}-{kind}", "rows": asset_rows})
        return {}

    def send_frame(self, asset_id: str, ts: str, camera: str, data: bytes, name: str) -> dict[str, Any]:
        del name
        image = base64.b64encode(data).decode("ascii")
        self._publish(asset_id, "frames", {"rows": [{"ts": ts, "camera": camera, "image": image}]})
        return {}

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        if self.api is not None:
            self.api.close()
