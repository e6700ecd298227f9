"""OPC UA ingestion against a real asyncua server on a free local port: values arrive as telemetry with the
right asset, channel, value and time; bad values are skipped and counted; refused batches are retried or
dropped by their status; a server restart is survived."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("asyncua", reason="the service extra is not installed (pip install omnimaint[service])")

from asyncua import Node, Server, ua

from omnimaint.errors import ConfigError
from omnimaint.service.ingest import Accepted, IngestBatch, IngestRejected
from omnimaint.service.opcua import OpcuaIngester, OpcuaMap, _batch_key, _Reading, load_map
from tests.unit.service.conftest import free_port

pytestmark = pytest.mark.timeout(120)

NAMESPACE = "urn:omnimaint:test-plant"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@dataclass
class Plant:
    """A running OPC UA server with three variables."""

    server: Server
    temperature: Node  # ns=2;s=Line1.Pump3.Temperature, Double
    current: Node  # ns=2;i=1042, Int32
    state: Node  # ns=2;s=Line1.Pump3.State, String

    async def write(self, node: Node, value: float | str, ts: datetime | None, **stamps: object) -> None:
        """Write ``value`` (as the variable's type) with these timestamps (``None``: none)."""
        variant = ua.Variant(int(value), ua.VariantType.Int32) if node == self.current else ua.Variant(value)
        await node.write_value(ua.DataValue(variant, SourceTimestamp=ts, **stamps))  # type: ignore[arg-type]


async def start_plant(port: int, initial: dict[str, tuple[float, datetime]] | None = None) -> Plant:
    """A server on ``port``; ``initial`` gives (value, source time) per variable name, else (0, now)."""
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/plant")
    server.set_force_server_timestamp(False)  # values keep the timestamps they are written with
    idx = await server.register_namespace(NAMESPACE)
    assert idx == 2
    line = await server.nodes.objects.add_object(idx, "Line1")
    temperature = await line.add_variable("ns=2;s=Line1.Pump3.Temperature", "Temperature", 0.0)
    current = await line.add_variable("ns=2;i=1042", "Current", ua.Variant(0, ua.VariantType.Int32))
    state = await line.add_variable("ns=2;s=Line1.Pump3.State", "State", "running")
    plant = Plant(server, temperature, current, state)
    for name, (value, ts) in (initial or {}).items():
        await plant.write({"Temperature": temperature, "Current": current}[name], value, ts)
    await server.start()
    return plant


def plant_map(port: int, **fields: object) -> OpcuaMap:
    return OpcuaMap.model_validate(
        {
            "endpoint": f"opc.tcp://127.0.0.1:{port}/plant",
            "publishing_interval_ms": 50,
            "nodes": [
                {"node": "ns=2;s=Line1.Pump3.Temperature", "asset": "P003", "channel": "bearing_temp", "unit": "degC"},
                {"node": f"nsu={NAMESPACE};i=1042", "asset": "P003", "channel": "motor_current", "unit": "A"},
                {"node": "ns=2;s=Line1.Pump3.State", "asset": "P003", "channel": "state"},
            ],
            **fields,
        }
    )


@dataclass
class Recorder:
    """An ``ingest`` function that keeps what it is given; ``failures`` are raised first, one per call."""

    failures: list[Exception] = field(default_factory=list)
    calls: list[IngestBatch] = field(default_factory=list)
    stored: list[IngestBatch] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, batch: IngestBatch) -> Accepted:
        with self.lock:
            self.calls.append(batch)
            if self.failures:
                raise self.failures.pop(0)
            self.stored.append(batch)
        return Accepted(stored={"telemetry": len(batch.telemetry)})

    def rows(self) -> list[tuple[str, str, float, datetime]]:
        with self.lock:
            return [(t.asset_id, t.channel, t.value, t.ts) for b in self.stored for t in b.telemetry]

    def values(self, channel: str) -> list[float]:
        return [value for _, c, value, _ in self.rows() if c == channel]


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def ingesting(mapping: OpcuaMap, recorder: Recorder, **options: float) -> AsyncIterator[OpcuaIngester]:
    """Run an ingester until the block ends, then stop it and wait for its last delivery."""
    ingester = OpcuaIngester(mapping, recorder, **{"flush_interval": 0.05, "max_backoff": 0.3, **options})  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(ingester.run(stop))
    try:
        await eventually(lambda: ingester.connected or task.done(), "the subscription")
        yield ingester
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_values_arrive_with_asset_channel_value_and_time() -> None:
    async def scenario() -> None:
        port = free_port()
        plant = await start_plant(port, {"Temperature": (20.0, T0), "Current": (3.0, T0)})
        recorder = Recorder()
        try:
            async with ingesting(plant_map(port), recorder) as ingester:
                await eventually(lambda: len(recorder.rows()) == 2, "the initial values")
                await plant.write(plant.temperature, 61.5, T0 + timedelta(seconds=1))
                await plant.write(plant.current, 12, T0 + timedelta(seconds=1))
                server_time = T0 + timedelta(seconds=2, microseconds=250)
                await plant.write(plant.temperature, 62.0, None, ServerTimestamp=server_time)
                before = datetime.now(UTC)
                await plant.write(plant.temperature, 62.5, None)
                await eventually(lambda: len(recorder.rows()) == 6, "the written values")
        finally:
            await plant.server.stop()
        rows = recorder.rows()
        assert sorted(rows[:2]) == [("P003", "bearing_temp", 20.0, T0), ("P003", "motor_current", 3.0, T0)]
        assert sorted(rows[2:4]) == [
            ("P003", "bearing_temp", 61.5, T0 + timedelta(seconds=1)),
            ("P003", "motor_current", 12.0, T0 + timedelta(seconds=1)),
        ]
        assert rows[4] == ("P003", "bearing_temp", 62.0, server_time)  # no source time: the server's
        asset, channel, value, ts = rows[5]  # no time at all: when it was received
        assert (asset, channel, value) == ("P003", "bearing_temp", 62.5)
        assert before <= ts <= datetime.now(UTC)
        assert all(ts.utcoffset() == timedelta(0) for *_, ts in rows)
        assert all(isinstance(t.value, float) for b in recorder.stored for t in b.telemetry)
        nodes = {target.channel: target.node for target in plant_map(port).nodes}
        for batch in recorder.stored:  # the key is the content's
            readings = [_Reading(nodes[t.channel], t.asset_id, t.channel, t.ts, t.value) for t in batch.telemetry]
            assert batch.key == _batch_key(readings)
        assert len({b.key for b in recorder.stored}) == len(recorder.stored)
        assert (ingester.received, ingester.ingested, ingester.rejected, ingester.backlog) == (7, 6, 0, 0)
        assert ingester.skipped == 1  # the string node's initial 'running'

    run(scenario)


def test_batch_key_depends_on_content_only() -> None:
    readings = [
        _Reading("ns=2;i=1", "P1", "a", T0, 1.0),
        _Reading("ns=2;i=2", "P1", "b", T0, 2.0),
        _Reading("ns=2;i=1", "P1", "a", T0 + timedelta(seconds=1), 1.5),
    ]
    key = _batch_key(readings)
    assert key == _batch_key(reversed(readings))
    assert key.startswith("opcua-")
    assert len(key) <= 200
    changed = [*readings[:2], _Reading("ns=2;i=1", "P1", "a", T0 + timedelta(seconds=1), 1.5000001)]
    assert _batch_key(changed) != key
    assert _batch_key(readings[:2]) != key
    moved = [*readings[:2], _Reading("ns=2;i=1", "P2", "a", T0 + timedelta(seconds=1), 1.5)]
    assert _batch_key(moved) != key


def test_nan_non_numeric_bad_status_and_late_values_are_skipped_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        port = free_port()
        plant = await start_plant(port, {"Temperature": (20.0, T0), "Current": (3.0, T0)})
        recorder = Recorder()
        try:
            async with ingesting(plant_map(port), recorder) as ingester:
                await eventually(lambda: len(recorder.rows()) == 2, "the initial values")
                for i, value in enumerate([math.nan, math.inf, math.nan], start=1):
                    await plant.write(plant.temperature, value, T0 + timedelta(seconds=i))
                await plant.write(plant.state, "stopped", T0)
                bad = ua.StatusCode(ua.UInt32(ua.StatusCodes.BadSensorFailure))
                await plant.write(plant.current, 4.0, T0 + timedelta(seconds=4), StatusCode=bad)
                await plant.write(plant.temperature, 64.0, T0 + timedelta(seconds=5))
                await eventually(lambda: 64.0 in recorder.values("bearing_temp"), "the value after the bad ones")
                # Older than what the asset delivered: the store would refuse the whole batch for it.
                await plant.write(plant.current, 7, T0 + timedelta(seconds=3))
                await plant.write(plant.temperature, 65.0, T0 + timedelta(seconds=6))
                await eventually(lambda: 65.0 in recorder.values("bearing_temp"), "the value after the late one")
        finally:
            await plant.server.stop()
        assert recorder.values("bearing_temp") == [20.0, 64.0, 65.0]
        assert recorder.values("motor_current") == [3.0]
        assert ingester.skipped == 2 + 3 + 1 + 1  # the string node twice, NaN, inf, NaN, the bad status, the late one
        assert ingester.received == ingester.ingested + ingester.skipped
        messages = [r.getMessage() for r in caplog.records if r.name == "omnimaint.service.opcua"]
        assert sum("non-finite" in m and "Temperature" in m for m in messages) == 1
        assert sum("non-numeric" in m and "Line1.Pump3.State" in m for m in messages) == 1
        assert sum("BadSensorFailure" in m and "motor_current" in m for m in messages) == 1
        assert sum("older than one its asset already delivered" in m and "motor_current" in m for m in messages) == 1

    with caplog.at_level(logging.WARNING, logger="omnimaint.service.opcua"):
        run(scenario)


def test_a_batch_refused_for_now_is_retried_under_the_same_key_and_nothing_is_lost() -> None:
    async def scenario() -> None:
        port = free_port()
        plant = await start_plant(port, {"Temperature": (20.0, T0), "Current": (3.0, T0)})
        failures: list[Exception] = [
            IngestRejected(429, "saturated"),
            IngestRejected(503, "store down"),
            ConnectionError("reset"),
        ]
        recorder = Recorder(failures=list(failures))
        try:
            async with ingesting(plant_map(port), recorder) as ingester:
                await eventually(lambda: len(recorder.calls) >= 1, "the first attempt")
                for i in range(1, 4):  # arrive while the first batch waits for its retries
                    await plant.write(plant.temperature, 20.0 + i, T0 + timedelta(seconds=i))
                await eventually(lambda: len(recorder.rows()) == 5, "every value")
        finally:
            await plant.server.stop()
        first = recorder.calls[: len(failures) + 1]
        assert all(batch == recorder.stored[0] for batch in first)  # the same batch, under the same key
        assert recorder.values("bearing_temp") == [20.0, 21.0, 22.0, 23.0]
        assert recorder.values("motor_current") == [3.0]
        assert (ingester.ingested, ingester.rejected) == (5, 0)

    run(scenario)


def test_a_batch_refused_for_good_is_dropped_alone(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        port = free_port()
        plant = await start_plant(port, {"Temperature": (20.0, T0), "Current": (3.0, T0)})
        recorder = Recorder()
        try:
            async with ingesting(plant_map(port), recorder) as ingester:
                await eventually(lambda: len(recorder.rows()) == 2, "the initial values")
                recorder.failures.append(
                    IngestRejected(422, "telemetry: channel 'bearing_temp' is not one the bundle reads")
                )
                await plant.write(plant.temperature, 21.0, T0 + timedelta(seconds=1))
                await eventually(lambda: len(recorder.calls) == 2, "the refused batch")
                await plant.write(plant.temperature, 22.0, T0 + timedelta(seconds=2))
                await eventually(lambda: len(recorder.rows()) == 3, "the next value")
        finally:
            await plant.server.stop()
        assert recorder.values("bearing_temp") == [20.0, 22.0]
        assert (ingester.received, ingester.ingested, ingester.rejected) == (5, 3, 1)
        refusal = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(refusal) == 1
        assert "422" in refusal[0] and "not one the bundle reads" in refusal[0]
        assert "ns=2;s=Line1.Pump3.Temperature" in refusal[0] and "P003" in refusal[0]

    with caplog.at_level(logging.WARNING, logger="omnimaint.service.opcua"):
        run(scenario)


def test_a_server_restart_is_survived() -> None:
    async def scenario() -> None:
        port = free_port()
        plant = await start_plant(port, {"Temperature": (20.0, T0), "Current": (3.0, T0)})
        recorder = Recorder()
        async with ingesting(plant_map(port), recorder) as ingester:
            try:
                await eventually(lambda: len(recorder.rows()) == 2, "the initial values")
                await plant.write(plant.temperature, 21.0, T0 + timedelta(seconds=1))
                await eventually(lambda: len(recorder.rows()) == 3, "a value before the restart")
            finally:
                await plant.server.stop()
            await eventually(lambda: not ingester.connected, "the loss to be noticed")
            await asyncio.sleep(0.5)  # a few failed reconnections
            # The restarted server restores its last values: resends of what was delivered, not stored again.
            plant = await start_plant(port, {"Temperature": (21.0, T0 + timedelta(seconds=1)), "Current": (3.0, T0)})
            try:
                await eventually(lambda: ingester.connected, "the reconnection")
                await eventually(lambda: ingester.received == 4 + 3, "the resent initial values")
                await plant.write(plant.temperature, 22.0, T0 + timedelta(seconds=2))
                await plant.write(plant.current, 5.0, T0 + timedelta(seconds=2))
                await eventually(lambda: len(recorder.rows()) == 5, "the values after the restart")
            finally:
                await plant.server.stop()
        assert recorder.values("bearing_temp") == [20.0, 21.0, 22.0]
        assert recorder.values("motor_current") == [3.0, 5.0]
        assert ingester.skipped == 2 + 2  # the string node on each server, the two resent values

    run(scenario)


def test_a_full_buffer_is_delivered_early_and_stop_delivers_the_rest() -> None:
    async def scenario() -> None:
        port = free_port()
        plant = await start_plant(port, {"Temperature": (20.0, T0), "Current": (3.0, T0)})
        recorder = Recorder()
        try:
            async with ingesting(plant_map(port), recorder, flush_interval=60.0, max_points=4):
                for i in range(1, 4):
                    await plant.write(plant.temperature, 20.0 + i, T0 + timedelta(seconds=i))
                # Four values fill a batch: everything waiting goes, long before the interval.
                await eventually(lambda: len(recorder.rows()) == 5, "the values of a full buffer")
                await plant.write(plant.temperature, 30.0, T0 + timedelta(seconds=10))
                await asyncio.sleep(0.3)  # the notification arrives; only stopping delivers it
                assert len(recorder.rows()) == 5
        finally:
            await plant.server.stop()
        sizes = [len(b.telemetry) for b in recorder.stored]
        assert sizes[0] == 4 and max(sizes) == 4 and sum(sizes[:-1]) == 5 and sizes[-1] == 1
        assert recorder.values("bearing_temp") == [20.0, 21.0, 22.0, 23.0, 30.0]


def test_an_unreachable_server_is_retried_until_stopped() -> None:
    async def scenario() -> None:
        recorder = Recorder()
        ingester = OpcuaIngester(plant_map(free_port()), recorder, flush_interval=0.05, max_backoff=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(ingester.run(stop))
        await asyncio.sleep(1.0)
        assert not task.done() and not ingester.connected
        stop.set()
        await asyncio.wait_for(task, 5)
        assert recorder.calls == []

    run(scenario)


VALID = """\
endpoint: opc.tcp://127.0.0.1:4840/plant
publishing_interval_ms: 500
nodes:
  - {node: "ns=2;s=Line1.Pump3.Temperature", asset: P003, channel: bearing_temp, unit: degC}
  - {node: "ns=2;i=1042", asset: P003, channel: motor_current, unit: A}
"""


def test_load_map_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "opcua.yaml"
    path.write_text(VALID, encoding="utf-8")
    mapping = load_map(path)
    assert mapping.endpoint == "opc.tcp://127.0.0.1:4840/plant"
    assert mapping.publishing_interval_ms == 500
    assert [(n.node, n.asset, n.channel, n.unit) for n in mapping.nodes] == [
        ("ns=2;s=Line1.Pump3.Temperature", "P003", "bearing_temp", "degC"),
        ("ns=2;i=1042", "P003", "motor_current", "A"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "cannot read the OPC UA map"),
        ("endpoint: [opc.tcp://x\nnodes: []\n", "line 2, column 6: not valid YAML"),
        ("- just a list\n", "must be a mapping with 'endpoint' and 'nodes'"),
        (VALID + "publish_ms: 100\n", "field 'publish_ms': Extra inputs are not permitted"),
        (VALID.replace("unit: A", "unit: A, chanel: x"), "field 'nodes.1.chanel': Extra inputs are not permitted"),
        (
            VALID.replace("ns=2;i=1042", "ns=2;s=Line1.Pump3.Temperature"),
            "field 'nodes': entries 0 and 1 both map node 'ns=2;s=Line1.Pump3.Temperature'",
        ),
        (
            VALID.replace("motor_current", "bearing_temp"),
            "field 'nodes': entries 0 and 1 both feed asset 'P003' channel 'bearing_temp'",
        ),
        ("endpoint: opc.tcp://h:4840\nnodes: []\n", "field 'nodes': no nodes to subscribe to"),
        ("endpoint: opc.tcp://h:4840\n", "field 'nodes': Field required"),
        (VALID.replace("ns=2;i=1042", "ns=2;i=pump"), "field 'nodes.1.node': 'ns=2;i=pump' is not an OPC UA node id"),
        (VALID.replace("opc.tcp://", "http://"), "field 'endpoint': String should match pattern"),
        (VALID.replace("500", "0"), "field 'publishing_interval_ms': Input should be greater than 0"),
    ],
    ids=[
        "missing",
        "yaml",
        "not-mapping",
        "unknown-key",
        "unknown-node-key",
        "duplicate-node",
        "duplicate-target",
        "empty",
        "no-nodes",
        "bad-node-id",
        "endpoint",
        "interval",
    ],
)
def test_load_map_errors_are_one_line_with_file_and_field(tmp_path: Path, text: str | None, expected: str) -> None:
    path = tmp_path / "opcua.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_map(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_the_service_stores_what_an_opcua_server_publishes(
    make_service: Any, live_plant: Path, trained_bundle: Path, tmp_path: Path
) -> None:
    """End to end: `serve` with an OPC UA map subscribes to a real server and stores its readings."""
    from sqlalchemy import select

    from omnimaint.data.dataset import Dataset
    from omnimaint.inference.bundle import Bundle
    from omnimaint.service import db
    from omnimaint.service.replay import assets_payload

    port = free_port()
    ready, done, write = threading.Event(), threading.Event(), threading.Event()

    async def serve_plant() -> None:
        plant = await start_plant(port)
        ready.set()
        while not write.is_set() and not done.is_set():
            await asyncio.sleep(0.05)
        await plant.write(plant.temperature, 42.5, datetime.now(UTC))
        while not done.is_set():
            await asyncio.sleep(0.05)
        await plant.server.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve_plant()), daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        assets = assets_payload(Dataset(live_plant), None)
        asset = sorted(a["asset_id"] for a in assets)[0]
        channel = Bundle.load(trained_bundle).preprocessor.vocab.telemetry_channels[0]
        mapping = tmp_path / "opcua.yaml"
        mapping.write_text(
            f"endpoint: opc.tcp://127.0.0.1:{port}/plant\npublishing_interval_ms: 50\n"
            f'nodes:\n  - {{node: "ns=2;s=Line1.Pump3.Temperature", asset: {asset}, channel: {channel}}}\n',
            encoding="utf-8",
        )
        service = make_service(scorer=False, opcua_map=mapping)
        assert service.client.put("/api/assets", json=assets, headers=service.headers("admin")).status_code == 200
        write.set()
        engine = service.client.app.state.services.store.engine
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as connection:
                rows = connection.execute(
                    select(db.telemetry.c.asset_id, db.telemetry.c.channel, db.telemetry.c.value)
                ).all()
            if (asset, channel, 42.5) in rows:
                break
            assert time.monotonic() < deadline, f"the reading did not reach the store: {rows}"
            time.sleep(0.2)
    finally:
        done.set()
        thread.join(30)
