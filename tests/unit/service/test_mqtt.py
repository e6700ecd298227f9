"""MQTT ingestion against the real broker: stored once acknowledged, refusals on the dead-letter topic, and a
replay over MQTT scored like one over REST."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from omnimaint.data.dataset import Dataset
from omnimaint.service import db
from omnimaint.service.mqtt import IngestRejected, parse_message, topic_of
from omnimaint.service.replay import MqttSink, RestSink, replay
from tests.unit.service.conftest import Service, ServiceFactory

pytestmark = pytest.mark.timeout(600)
BROKER = ("127.0.0.1", 1883)


def _broker_or_skip() -> None:
    try:
        socket.create_connection(BROKER, timeout=1).close()
    except OSError:
        pytest.skip(f"no MQTT broker at {BROKER[0]}:{BROKER[1]} (start mosquitto)")


def test_a_message_names_its_asset_and_kind_in_the_topic() -> None:
    site, asset, kind, key, rows = parse_message(
        "omnimaint/plant/P1/telemetry",
        b'{"key": "k1", "rows": [{"ts": "2024-01-01T00:00:00Z", "channel": "t", "value": 1}]}',
    )
    assert (site, asset, kind, key) == ("plant", "P1", "telemetry", "k1")
    assert rows[0]["asset_id"] == "P1"
    for topic, payload in [
        ("omnimaint/plant/P1/nonsense", b"{}"),
        ("other/plant/P1/telemetry", b"{}"),
        ("omnimaint/plant/P1/telemetry", b"{not json"),
        ("omnimaint/plant/P1/telemetry", b'[{"asset_id": "P2", "ts": "2024-01-01T00:00:00Z"}]'),
        ("omnimaint/plant/P1/telemetry", b"[1, 2]"),
    ]:
        with pytest.raises(IngestRejected) as refused:
            parse_message(topic, payload)
        assert refused.value.status == 422


def _count(service: Service, table: str) -> int:
    engine = service.client.app.state.services.store.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(db.metadata.tables[table])).scalar_one())


def _wait(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_mqtt_rows_are_stored_and_refusals_go_to_the_dead_letter_topic(
    make_service: ServiceFactory, live_plant: Path
) -> None:
    _broker_or_skip()
    import paho.mqtt.client as mqtt

    site = f"test-{uuid.uuid4().hex[:8]}"
    service = make_service(scorer=False, mqtt="mqtt://127.0.0.1:1883", mqtt_site=site, mqtt_client_id=site)
    from omnimaint.service.replay import assets_payload

    service.client.put("/api/assets", json=assets_payload(Dataset(live_plant), None), headers=service.headers("admin"))
    state = service.client.app.state.services  # type: ignore[attr-defined]
    asset = sorted(state.store.asset_types)[0]
    channel = state.predictor.bundle.preprocessor.vocab.telemetry_channels[0]
    letters: list[dict[str, object]] = []
    got_letter = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        letters.append(json.loads(message.payload))
        got_letter.set()

    client.on_message = on_message
    client.connect(*BROKER)
    client.subscribe(topic_of(site, "+", "dead-letter"), qos=1)
    client.loop_start()
    try:
        _wait(lambda: state.intake is not None and service.client.app.state.mqtt.client.is_connected())  # type: ignore[attr-defined]
        point = {"ts": "2024-01-02T00:00:00Z", "channel": channel, "value": 2.5}
        client.publish(
            topic_of(site, asset, "telemetry"), json.dumps({"key": "m1", "rows": [point]}), qos=1
        ).wait_for_publish()
        _wait(lambda: _count(service, "telemetry") == 1)
        client.publish(
            topic_of(site, asset, "telemetry"), json.dumps({"key": "m1", "rows": [point]}), qos=1
        ).wait_for_publish()
        bad = {"ts": "2024-01-02T01:00:00Z", "channel": "no_such_channel", "value": 1.0}
        client.publish(topic_of(site, asset, "telemetry"), json.dumps([bad]), qos=1).wait_for_publish()
        assert got_letter.wait(30), "the refusal reached the dead-letter topic"
        assert letters[0]["status"] == 422 and "no_such_channel" in str(letters[0]["reason"])
        assert _count(service, "telemetry") == 1, "the resent message is not stored twice, the bad one not at all"
        # A burst is stored in groups; a bad message inside one is still dead-lettered alone.
        got_letter.clear()
        burst = []
        for i in range(30):
            row = {"ts": f"2024-01-03T00:{i:02d}:00Z", "channel": "no_such_channel" if i == 17 else channel, "value": i}
            burst.append(client.publish(topic_of(site, asset, "telemetry"), json.dumps([row]), qos=1))
        for info in burst:
            info.wait_for_publish()
        assert got_letter.wait(30)
        _wait(lambda: _count(service, "telemetry") == 1 + 29)
        assert len(letters) == 2 and "no_such_channel" in str(letters[1]["reason"])
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.e2e
def test_a_replay_over_mqtt_is_scored(make_service: ServiceFactory, live_plant: Path) -> None:
    _broker_or_skip()
    site = f"test-{uuid.uuid4().hex[:8]}"
    service = make_service(mqtt="mqtt://127.0.0.1:1883", mqtt_site=site, mqtt_client_id=site)
    _wait(service.client.app.state.mqtt.client.is_connected)  # type: ignore[attr-defined]
    api = RestSink("", service.keys["admin"], client=service.client)
    api.close = lambda: None  # type: ignore[method-assign]
    report = replay(
        Dataset(live_plant),
        MqttSink("mqtt://127.0.0.1:1883", site, api=api),
        progress=False,
        slice_=pd.Timedelta(hours=12).to_pytimedelta(),
    )
    dataset = Dataset(live_plant)
    _wait(lambda: _count(service, "telemetry") == len(dataset.table("telemetry")), timeout=300)
    assert _count(service, "frames") == len(dataset.table("frames")) == report.frames
    from tests.unit.service.test_scoring import _wait_scored

    _wait_scored(service)
    assert _count(service, "scores") > 0
