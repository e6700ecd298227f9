"""Alarm notifications against real receivers: an HTTP server in the test (retries on 5xx/429, exactly-once
delivery, signatures that verify and refuse tampering and replays, no retry on 4xx, order per alarm, a bounded
queue that never blocks, stopping) and the MQTT broker at 127.0.0.1:1883 (skipped when nothing listens)."""

from __future__ import annotations

import json
import logging
import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from omnimaint.service.alarm_engine import AlarmCleared, AlarmPeak, AlarmRaised, AlarmReturned, AlarmTransition
from omnimaint.service.alarms import apply_transitions
from omnimaint.service.db import make_engine, metadata
from omnimaint.service.notify import Notifier, NotifySettings, verify_signature
from tests.unit.service.conftest import free_port

pytestmark = pytest.mark.timeout(120)

SECRET = "s3cret-of-the-test"
T0 = 1_718_000_000_000_000  # 2024-06-10T06:13:20Z, µs
BROKER = ("127.0.0.1", 1883)


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on a free port: records every request and answers ``failures`` first, then 200."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []  # headers, body, status answered
        self.failures: list[int] = []  # statuses to answer, in turn, before 200
        self.answer: Callable[[int], int] | None = None  # or: status from the request's number (1-based)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/alarms"

    def record(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            if self.answer is not None:
                status = self.answer(len(self.requests) + 1)
            else:
                status = self.failures.pop(0) if self.failures else 200
            self.requests.append({"headers": headers, "body": body, "status": status})
            return status

    def delivered(self) -> list[dict[str, Any]]:
        """The JSON documents answered 2xx, in the order they arrived."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["status"] == 200]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.server.record(dict(self.headers.items()), body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_notifier() -> Iterator[Callable[..., Notifier]]:
    """A notifier with back-off in milliseconds; stopped after the test."""
    made: list[Notifier] = []

    def make(*, start: bool = True, **settings: Any) -> Notifier:
        if settings.get("webhooks"):
            settings.setdefault("secret", SECRET)
        notifier = Notifier(
            NotifySettings(**settings), backoff_base=0.01, backoff_max=0.05, timeout=5.0, rng=random.Random(7)
        )
        made.append(notifier)
        if start:
            notifier.start()
        return notifier

    yield make
    for notifier in made:
        notifier.stop(timeout=1.0)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def stored_rows(asset_id: str = "P-101") -> list[dict[str, Any]]:
    """What the alarm recorder hands the notifier: an alarm raised, escalated, cleared and returned, stored by
    :func:`apply_transitions` in a real (in-memory SQLite) store."""
    engine = make_engine("sqlite://")
    metadata.create_all(engine)
    where: dict[str, Any] = {"asset_id": asset_id, "component": "bearing", "fault": "wear"}
    minute = 60_000_000
    changes: list[AlarmTransition] = [
        AlarmRaised(
            **where, at_us=T0, notify=True, probability=0.72, priority="medium", threshold=0.6, horizon_hours=24
        ),
        AlarmPeak(**where, at_us=T0 + 10 * minute, notify=True, peak=0.93, priority="high"),
        AlarmCleared(**where, at_us=T0 + 20 * minute, notify=False, probability=0.2),
        AlarmReturned(**where, at_us=T0 + 30 * minute, notify=True, probability=0.8, peak=0.93, priority="high"),
    ]
    with engine.begin() as connection:
        rows = apply_transitions(connection, asset_id, changes, T0 + 31 * minute)
    engine.dispose()
    return rows


def row_of(alarm_id: int, peak: float = 0.9, **changes: Any) -> dict[str, Any]:
    """A stored ``raised`` row renumbered as alarm ``alarm_id``."""
    return {**stored_rows()[0], "id": alarm_id, "peak": peak, **changes}


# --- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"webhooks": ["https://example.test/hook"]}, "unsigned webhooks are not allowed"),
        ({"webhooks": ["https://example.test/hook"], "secret": ""}, "unsigned webhooks are not allowed"),
        ({"webhooks": ["ftp://example.test/hook"], "secret": SECRET}, "is not an http(s) URL"),
        ({"webhooks": ["example.test/hook"], "secret": SECRET}, "is not an http(s) URL"),
        ({"mqtt": "tcp://127.0.0.1:1883"}, "is not mqtt://host:port"),
        ({"mqtt": "mqtt://127.0.0.1:99999"}, "out of range"),
        ({"max_age": timedelta(0)}, "max_age must be positive"),
        ({"queue_size": 0}, "greater than 0"),
    ],
)
def test_settings_refuse(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        NotifySettings(**settings)


def test_settings_keep_the_secret_out_of_their_repr() -> None:
    settings = NotifySettings(
        mqtt="mqtt://broker:1883", webhooks=["https://example.test/hook"], secret=SecretStr(SECRET)
    )
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    assert settings.site == "plant" and settings.max_age == timedelta(hours=1) and settings.queue_size == 10_000


# --- webhooks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_webhook_retries_then_delivers_once_signed(
    status: int, receiver: Receiver, make_notifier: Callable[..., Notifier]
) -> None:
    receiver.failures = [status, status]
    notifier = make_notifier(webhooks=[receiver.url])
    raised, peak, cleared, returned = stored_rows()
    notifier.submit([raised, peak, cleared, returned])  # cleared asks for no notification
    wait_for(lambda: notifier.sent == 3)

    assert (notifier.failed, notifier.pending, notifier.dropped) == (0, 0, 0)
    assert [r["status"] for r in receiver.requests] == [status, status, 200, 200, 200]
    first = receiver.requests[:3]  # three attempts of the same message: same event, same bytes, each signed
    assert len({r["body"] for r in first}) == 1
    assert len({r["headers"]["X-Omnimaint-Event-Id"] for r in first}) == 1
    for request in receiver.requests:
        headers = request["headers"]
        assert verify_signature(
            SECRET.encode(), headers["X-Omnimaint-Timestamp"], request["body"], headers["X-Omnimaint-Signature"]
        )
        assert headers["Content-Type"] == "application/json"

    documents = receiver.delivered()
    assert [d["transition"] for d in documents] == ["raised", "peak", "returned"]
    assert [r["headers"]["X-Omnimaint-Event"] for r in receiver.requests[2:]] == [
        "alarm.raised",
        "alarm.peak",
        "alarm.returned",
    ]
    assert len({d["event_id"] for d in documents}) == 3
    message = documents[0]
    assert message["event_id"] == receiver.requests[0]["headers"]["X-Omnimaint-Event-Id"]
    assert message["event_id"].startswith(f"{raised['id']}.raised.")
    expected = {
        "alarm_id": raised["id"],
        "site": "plant",
        "asset_id": "P-101",
        "component": "bearing",
        "fault": "wear",
        "state": "open",
        "priority": "medium",
        "peak": 0.72,
        "threshold": 0.6,
        "horizon_hours": 24.0,
        "transition": "raised",
        "opened_at": "2024-06-10T06:13:20+00:00",
    }
    assert {k: message[k] for k in expected} == expected
    assert (documents[1]["priority"], documents[1]["peak"]) == ("high", 0.93)


def test_signature_refuses_tampering_and_replays(receiver: Receiver, make_notifier: Callable[..., Notifier]) -> None:
    notifier = make_notifier(webhooks=[receiver.url])
    notifier.submit([row_of(1)])
    wait_for(lambda: notifier.sent == 1)
    request = receiver.requests[0]
    body, timestamp = request["body"], request["headers"]["X-Omnimaint-Timestamp"]
    header = request["headers"]["X-Omnimaint-Signature"]
    secret, sent_at = SECRET.encode(), int(timestamp)

    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert verify_signature(secret, timestamp, body, header, now=sent_at + 299)
    assert not verify_signature(secret, timestamp, body.replace(b'"peak":0.9', b'"peak":0.1'), header)
    assert not verify_signature(secret, timestamp, body + b" ", header)
    assert not verify_signature(secret, timestamp, body, header, now=sent_at + 301)  # too old: a replay
    assert not verify_signature(secret, timestamp, body, header, now=sent_at - 301)  # from the future
    assert not verify_signature(secret, str(sent_at + 1), body, header, now=sent_at)  # the timestamp is signed
    assert not verify_signature(b"another secret", timestamp, body, header)
    assert not verify_signature(secret, timestamp, body, header.removeprefix("sha256="))
    assert not verify_signature(secret, "yesterday", body, header)
    assert not verify_signature(secret, timestamp, body, "sha256=é")


def test_webhook_4xx_fails_without_retry(
    receiver: Receiver, make_notifier: Callable[..., Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.failures = [400]
    notifier = make_notifier(webhooks=[receiver.url + "?token=abc"])
    with caplog.at_level(logging.WARNING, logger="omnimaint.service.notify"):
        notifier.submit([row_of(41)])
        wait_for(lambda: notifier.failed == 1)
        time.sleep(0.3)  # several back-offs: nothing is retried

    assert len(receiver.requests) == 1
    assert (notifier.sent, notifier.failed, notifier.pending) == (0, 1, 0)
    failure = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(failure) == 1 and "alarm 41" in failure[0] and "HTTP 400" in failure[0] and receiver.url in failure[0]
    assert "token=abc" not in caplog.text and SECRET not in caplog.text


def test_webhook_gives_up_after_max_age(
    make_notifier: Callable[..., Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: connection refused, again and again
    notifier = make_notifier(webhooks=[url], max_age=timedelta(seconds=2))
    with caplog.at_level(logging.WARNING, logger="omnimaint.service.notify"):
        notifier.submit([row_of(7)])
        wait_for(lambda: notifier.failed == 1)

    assert (notifier.sent, notifier.pending) == (0, 0)
    failure = [r.getMessage() for r in caplog.records if "alarm 7" in r.getMessage()]
    assert len(failure) == 1 and url in failure[0] and "ConnectError" in failure[0]
    assert SECRET not in caplog.text


def test_order_per_alarm_preserved_through_retries(receiver: Receiver, make_notifier: Callable[..., Notifier]) -> None:
    receiver.answer = lambda n: 503 if n % 3 == 1 else 200  # every third request fails
    notifier = make_notifier(webhooks=[receiver.url])
    for step in range(6):  # six changes of each of three alarms, interleaved over six rounds
        notifier.submit([row_of(alarm_id, peak=step / 10, transition="peak") for alarm_id in (1, 2, 3)])
    wait_for(lambda: notifier.sent == 18)

    assert notifier.failed == 0
    documents = receiver.delivered()
    assert len({d["event_id"] for d in documents}) == 18  # each delivered exactly once
    for alarm_id in (1, 2, 3):
        assert [d["peak"] for d in documents if d["alarm_id"] == alarm_id] == [step / 10 for step in range(6)]
    assert sum(r["status"] == 503 for r in receiver.requests) >= 6


def test_full_queue_drops_without_blocking(
    receiver: Receiver, make_notifier: Callable[..., Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    notifier = make_notifier(webhooks=[receiver.url], queue_size=3, start=False)
    rows = [row_of(alarm_id) for alarm_id in range(1, 11)]
    with caplog.at_level(logging.WARNING, logger="omnimaint.service.notify"):
        began = time.perf_counter()
        notifier.submit(rows)
        elapsed = time.perf_counter() - began
    assert elapsed < 0.5
    assert (notifier.pending, notifier.dropped) == (3, 7)
    lost = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(lost) == 7 and all("stored in the database, only its notification is lost" in m for m in lost)
    assert "alarm 4 alarm.raised" in lost[0]

    notifier.start()
    wait_for(lambda: notifier.sent == 3)
    assert [d["alarm_id"] for d in receiver.delivered()] == [1, 2, 3]


def test_stop_drains_then_counts_what_is_left(receiver: Receiver, make_notifier: Callable[..., Notifier]) -> None:
    reachable = make_notifier(webhooks=[receiver.url])
    reachable.submit([row_of(alarm_id) for alarm_id in range(5)])
    reachable.stop(timeout=10.0)
    assert (reachable.sent, reachable.pending) == (5, 0)

    dead = make_notifier(webhooks=[f"http://127.0.0.1:{free_port()}/hook"])  # max_age 1 h: retried until stop
    dead.submit([row_of(alarm_id) for alarm_id in range(3)])
    began = time.monotonic()
    dead.stop(timeout=0.3)
    assert time.monotonic() - began < 3.0
    assert (dead.sent, dead.failed, dead.pending) == (0, 3, 0)
    dead.submit([row_of(9)])  # after stop: dropped, not queued
    assert (dead.dropped, dead.pending) == (1, 0)


def test_event_ids_differ_between_submissions(receiver: Receiver, make_notifier: Callable[..., Notifier]) -> None:
    notifier = make_notifier(webhooks=[receiver.url])
    row = row_of(5)
    notifier.submit([row])
    notifier.submit([row])
    notifier.submit([{**row, "notify": False}, {"id": 6, "notify": True}])  # not notified; not an alarm row
    wait_for(lambda: notifier.sent == 2)
    first, second = receiver.delivered()
    assert first["event_id"] != second["event_id"] and first["alarm_id"] == second["alarm_id"] == 5
    assert notifier.dropped == 1


# --- MQTT --------------------------------------------------------------------------------------------------


@pytest.fixture
def mqtt_messages() -> Iterator[queue.Queue[Any]]:
    """Messages of ``omnimaint/+/+/alarms`` on the broker at 127.0.0.1:1883, as a paho subscriber receives them."""
    try:
        socket.create_connection(BROKER, timeout=1.0).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker listens on {BROKER[0]}:{BROKER[1]} ({exc})")
    from paho.mqtt import client as mqtt

    received: queue.Queue[Any] = queue.Queue()
    subscribed = threading.Event()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"omnimaint-test-{uuid.uuid4().hex[:8]}")
    subscriber.on_connect = lambda c, *_: c.subscribe("omnimaint/+/+/alarms", qos=1)
    subscriber.on_subscribe = lambda *_: subscribed.set()
    subscriber.on_message = lambda _c, _u, message: received.put(message)
    subscriber.connect(*BROKER)
    subscriber.loop_start()
    try:
        assert subscribed.wait(10.0), "the broker did not acknowledge the subscription"
        yield received
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()


@pytest.mark.service
def test_mqtt_publishes_to_the_site_and_asset_topic(
    mqtt_messages: queue.Queue[Any], make_notifier: Callable[..., Notifier]
) -> None:
    tag = uuid.uuid4().hex[:8]  # the broker is shared: this test's assets only
    notifier = make_notifier(mqtt=f"mqtt://{BROKER[0]}:{BROKER[1]}")
    notifier.submit([row_of(1, asset_id=f"P-{tag}", site="north"), row_of(2, asset_id=f"line/{tag}")])
    wait_for(lambda: notifier.sent == 2)

    got: dict[str, Any] = {}
    deadline = time.monotonic() + 10.0
    while len(got) < 2:
        message = mqtt_messages.get(timeout=max(0.0, deadline - time.monotonic()))
        if tag in message.topic:
            got[message.topic] = message
    north, plant = got[f"omnimaint/north/P-{tag}/alarms"], got[f"omnimaint/plant/line%2F{tag}/alarms"]
    assert not north.retain and north.qos == 1
    document = json.loads(north.payload)
    assert (document["alarm_id"], document["site"], document["asset_id"]) == (1, "north", f"P-{tag}")
    assert (document["transition"], document["opened_at"]) == ("raised", "2024-06-10T06:13:20+00:00")
    assert json.loads(plant.payload)["asset_id"] == f"line/{tag}"
    assert (notifier.failed, notifier.pending) == (0, 0)
