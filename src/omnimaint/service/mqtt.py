"""MQTT ingestion: the plant floor's protocol, with acknowledgement only once a message is stored.

Topic scheme: ``omnimaint/{site}/{asset}/{kind}`` where ``kind`` is ``telemetry``, ``events``,
``work_orders``, ``waveforms`` or ``frames`` (one frame per message). A payload is a JSON object
``{"key": "…", "rows": [...]}``, a JSON list of rows, or one row; rows are those of the REST batch of the
same kind (``frames`` rows carry ``ts``, ``camera`` and the image as base64 in ``image``) and take their
asset from the topic. The optional ``key`` makes a resent message idempotent, as on REST.

Delivery: the service subscribes with QoS 1 in a persistent session (a fixed client id, clean session off)
and acknowledges a message (PUBACK) only after its rows are stored — or after it was refused for good, when
it is published on ``omnimaint/{site}/{asset}/dead-letter`` with the reason and the status REST would have
answered. A message the service cannot take yet (429, the store is busy) is retried, unacknowledged: the
broker's in-flight window then holds the senders back (flow control), and a crash before the
acknowledgement makes the broker deliver the message again. Nothing is dropped silently.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.service.ingest import Accepted, IngestBatch, IngestRejected

logger = logging.getLogger(__name__)

KINDS = ("telemetry", "events", "work_orders", "waveforms", "frames")
DEAD_LETTER = "dead-letter"
MAX_DEAD_LETTER_PAYLOAD = 2000
"""Characters of a refused payload repeated on the dead-letter topic."""


@dataclass(frozen=True)
class Broker:
    """A broker address from an ``mqtt://host[:port]`` URL."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> Broker:
        parsed = urlparse(url)
        if parsed.scheme != "mqtt" or not parsed.hostname:
            raise ConfigError(f"{url!r}: give the broker as mqtt://host[:port]")
        return cls(parsed.hostname, parsed.port or 1883)


def topic_of(site: str, asset_id: str, kind: str) -> str:
    """The topic of ``kind`` rows of an asset (``kind`` is one of :data:`KINDS` or ``dead-letter``)."""
    return f"omnimaint/{site}/{asset_id}/{kind}"


def parse_message(topic: str, payload: bytes) -> tuple[str, str, str, str | None, list[dict[str, Any]]]:
    """Site, asset, kind, idempotency key and rows (with ``asset_id`` set) of a message.

    Raises:
        IngestRejected: 422 for a topic outside the scheme, a payload that is not JSON, or rows that are
            not objects or name another asset.
    """
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "omnimaint" or parts[3] not in KINDS:
        raise IngestRejected(422, f"topic {topic!r}: expected omnimaint/{{site}}/{{asset}}/{{{'|'.join(KINDS)}}}")
    _, site, asset_id, kind = parts
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IngestRejected(422, f"payload is not JSON ({exc})") from exc
    key = None
    if isinstance(body, dict) and "rows" in body:
        key = body.get("key")
        rows = body["rows"]
    else:
        rows = body if isinstance(body, list) else [body]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise IngestRejected(422, "rows must be JSON objects")
    if key is not None and not isinstance(key, str):
        raise IngestRejected(422, "key must be a string")
    for i, row in enumerate(rows):
        if row.setdefault("asset_id", asset_id) != asset_id:
            raise IngestRejected(422, f"row {i}: asset_id {row['asset_id']!r} differs from the topic's {asset_id!r}")
    return site, asset_id, kind, key, rows


class MqttIngester:
    """Subscribes to a broker and hands each message to the service's intake.

    Args:
        url: ``mqtt://host[:port]``.
        site: The topic's site segment to subscribe to (``+``: every site).
        ingest: Stores a batch (the service's ``Intake.batch``).
        ingest_frame: Stores a frame (``Intake.frame``).
        client_id: The persistent session's id (one per service instance).
        retry_s: Wait before retrying a message the service could not take yet.
        group: Messages waiting in line stored in one transaction at most (each keeps its idempotency key:
            its own, else a hash of its payload).
    """

    def __init__(
        self,
        url: str,
        site: str,
        ingest: Callable[[IngestBatch, Any], Accepted],
        ingest_frame: Callable[[str, datetime, str, bytes], Accepted],
        *,
        client_id: str = "omnimaint-service",
        retry_s: float = 0.5,
        group: int = 64,
    ) -> None:
        import paho.mqtt.client as mqtt

        self.broker = Broker.parse(url)
        self.site = site
        self.ingest = ingest
        self.ingest_frame = ingest_frame
        self.retry_s = retry_s
        self.group = group
        self.stored = 0
        self.dead_letters = 0
        self._messages: queue.Queue[Any] = queue.Queue(maxsize=1000)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="omnimaint-mqtt", daemon=True)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 30)

    def start(self) -> None:
        """Connect (retrying in the background while the broker is away) and start taking messages."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._worker.join(30)

    def _on_connect(self, client: Any, _userdata: object, _flags: object, reason: Any, _props: object) -> None:
        if getattr(reason, "is_failure", False):
            logger.warning("MQTT broker %s:%d refused the connection: %s", self.broker.host, self.broker.port, reason)
            return
        client.subscribe(topic_of(self.site, "+", "+"), qos=1)
        logger.info("subscribed to %s on %s:%d", topic_of(self.site, "+", "+"), self.broker.host, self.broker.port)

    def _on_message(self, _client: Any, _userdata: object, message: Any) -> None:
        if message.topic.endswith(f"/{DEAD_LETTER}"):
            self.client.ack(message.mid, message.qos)
            return
        self._messages.put(message)  # blocks the network loop when the worker is behind: the broker waits

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                messages = [self._messages.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(messages) < self.group:
                try:
                    messages.append(self._messages.get_nowait())
                except queue.Empty:
                    break
            if len(messages) > 1 and self._store_group(messages):
                continue
            for message in messages:
                self._store_one(message)

    def _store_group(self, messages: list[Any]) -> bool:
        """Store the rows of several messages in one transaction (one commit for many small messages); ``False``
        when any of them is a frame or is refused, to be stored one by one (the refused one dead-lettered)."""
        try:
            parsed = [parse_message(m.topic, m.payload) for m in messages]
            if any(p[2] == "frames" for p in parsed):
                return False
            batches = [IngestBatch.model_validate({"key": p[3], p[2]: p[4]}) for p in parsed]
            merged = IngestBatch(
                telemetry=[r for b in batches for r in b.telemetry],
                events=[r for b in batches for r in b.events],
                work_orders=[r for b in batches for r in b.work_orders],
                waveforms=[r for b in batches for r in b.waveforms],
            )
            keys = [
                p[3] or f"mqtt-{hashlib.sha256(m.payload).hexdigest()[:32]}"
                for p, m in zip(parsed, messages, strict=True)
            ]
            self.ingest(merged, keys)
        except (IngestRejected, ValidationError):
            return False
        except Exception:  # a store failure: the messages are stored (and retried) one by one
            logger.exception("storing %d MQTT messages together failed; storing them one by one", len(messages))
            return False
        for message in messages:
            self.client.ack(message.mid, message.qos)
        self.stored += len(messages)
        return True

    def _store_one(self, message: Any) -> None:
        while not self._stop.is_set():
            try:
                self._handle(message.topic, message.payload)
            except IngestRejected as exc:
                if exc.status == 429:
                    time.sleep(self.retry_s)
                    continue  # not acknowledged yet: retried
                self._dead_letter(message.topic, message.payload, exc.status, str(exc))
            except Exception:  # a store failure: keep the message, retry it
                logger.exception("storing MQTT message from %s failed; retrying", message.topic)
                time.sleep(self.retry_s)
                continue
            self.client.ack(message.mid, message.qos)
            break

    def _handle(self, topic: str, payload: bytes) -> None:
        _, asset_id, kind, key, rows = parse_message(topic, payload)
        if kind == "frames":
            if len(rows) != 1:
                raise IngestRejected(422, f"a frames message carries one frame, not {len(rows)}")
            for i, row in enumerate(rows):
                try:
                    ts = datetime.fromisoformat(str(row["ts"]).replace("Z", "+00:00"))
                    data = base64.b64decode(str(row["image"]), validate=True)
                    camera = str(row["camera"])
                except (KeyError, ValueError, binascii.Error) as exc:
                    raise IngestRejected(422, f"frames row {i}: needs ts, camera and a base64 image ({exc})") from exc
                self.ingest_frame(asset_id, ts, camera, data)
        else:
            try:
                batch = IngestBatch.model_validate({"key": key, kind: rows})
            except ValidationError as exc:
                raise IngestRejected(422, describe_validation_error(exc)) from exc
            self.ingest(batch, None)
        self.stored += 1

    def _dead_letter(self, topic: str, payload: bytes, status: int, reason: str) -> None:
        parts = topic.split("/")
        site, asset = (parts[1], parts[2]) if len(parts) == 4 else (self.site.replace("+", "unknown"), "unknown")
        text = payload.decode("utf-8", errors="replace")
        letter = {"topic": topic, "status": status, "reason": reason, "payload": text[:MAX_DEAD_LETTER_PAYLOAD]}
        self.client.publish(topic_of(site, asset, DEAD_LETTER), json.dumps(letter), qos=1)
        self.dead_letters += 1
        logger.warning("MQTT message on %s refused (%d): %s", topic, status, reason)
