"""Alarm notifications: each alarm change that asks for attention, published to MQTT and POSTed to signed webhooks.

The scorer calls :meth:`Notifier.submit` with the alarm rows of a round once the transaction that stored them has
committed; submitting never blocks it. Each target (the MQTT broker, every webhook URL) has a queue and a thread of
its own, so a dead webhook delays or drops nothing of another target.

- **Message.** One JSON object per alarm change: ``event_id``, ``event_time``, ``alarm_id``, ``site``, ``asset_id``,
  ``component``, ``fault``, ``state``, ``priority``, ``peak``, ``threshold``, ``horizon_hours``, ``transition``
  (``raised``, ``peak``, ``returned``; ``cleared`` if a caller sends one) and ``opened_at`` (ISO 8601, UTC; data
  time of the window that raised it; ``event_time`` is the wall clock of the submission). ``event_id`` is
  ``"{alarm id}.{transition}.{event µs}"``: unique per change, the same in every retry and on every target, so a
  receiver de-duplicates on it.
- **At least once, in order per alarm.** A message is retried until its target acknowledges it (a 2xx answer, an
  MQTT PUBACK), so a receiver may see one twice. A target delivers the changes of one alarm in the order they were
  submitted: a later change waits while an earlier one is being retried; other alarms' changes go ahead.
- **Retries.** On a connection error, a timeout, HTTP 5xx or 429 (its ``Retry-After`` honoured) or a lost broker:
  exponential back-off from ``backoff_base`` (0.5 s) doubling to ``backoff_max`` (60 s), each delay drawn in
  ``[d/2, d]`` (jitter); the target as a whole pauses the same way, so an outage costs one attempt per back-off, not
  one per message. A message not delivered within ``max_age`` (1 h) of its submission counts in ``failed`` and is
  logged. Any other HTTP status (4xx, 3xx: redirects are not followed) fails the message at once, unretried.
- **Bounded.** Each target holds at most ``queue_size`` messages; beyond that a notification is dropped, counted
  in ``dropped`` and logged (the alarm itself is stored in the database; only its notification is lost).
- **MQTT** (paho-mqtt's synchronous client, its network loop in paho's own thread via ``loop_start``): QoS 1, not
  retained, to ``omnimaint/{site}/{asset_id}/alarms``; ``site`` is the row's ``site`` if it has one, else
  :attr:`NotifySettings.site`. In topic segments ``%``, ``/``, ``+`` and ``#`` are percent-encoded (``line/7`` →
  ``line%2F7``), so a subscription to ``omnimaint/+/+/alarms`` sees every asset.
- **Webhooks**: ``POST`` of the JSON body with ``Content-Type: application/json``, ``X-Omnimaint-Event``
  (``alarm.{transition}``), ``X-Omnimaint-Event-Id`` (the ``event_id``), ``X-Omnimaint-Timestamp`` (unix seconds
  of this attempt) and ``X-Omnimaint-Signature: sha256=HEX``, the HMAC-SHA256 with the shared secret of
  ``f"{timestamp}.".encode() + body``. Each attempt is signed afresh, so a retry an hour later is not refused as
  stale. Receivers check it with :func:`verify_signature`. Logs name the webhook without its query string or
  credentials, and never the secret.
"""

from __future__ import annotations

import enum
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx
from paho.mqtt import client as mqtt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from omnimaint import __version__
from omnimaint.service.clock import iso_us

logger = logging.getLogger(__name__)

__all__ = ["Notifier", "NotifySettings", "verify_signature"]


class NotifySettings(BaseModel):
    """Where alarm notifications go.

    Attributes:
        mqtt: Broker to publish to, ``mqtt://host:port`` (``mqtts://`` for TLS, ``user:password@`` if it asks for
            them), or ``None``.
        webhooks: http(s) URLs each message is POSTed to, signed with ``secret``.
        secret: Shared secret of the webhook signatures; required when there are webhooks.
        site: Topic site segment of the alarms whose row names no site.
        max_age: How long after its submission a message is still tried; then it counts as failed.
        queue_size: Messages waiting per target at most; more are dropped (counted, logged).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt: str | None = None
    webhooks: list[str] = Field(default_factory=list)
    secret: SecretStr | None = None
    site: str = Field(default="plant", min_length=1)
    max_age: timedelta = timedelta(hours=1)
    queue_size: int = Field(default=10_000, gt=0)

    @field_validator("mqtt")
    @classmethod
    def _broker_url(cls, url: str | None) -> str | None:
        if url is not None:
            _broker(url)
        return url

    @field_validator("webhooks")
    @classmethod
    def _webhook_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"webhook {_redact(url)!r} is not an http(s) URL with a host (https://host/path)")
        return urls

    @field_validator("max_age")
    @classmethod
    def _positive_age(cls, age: timedelta) -> timedelta:
        if age <= timedelta(0):
            raise ValueError(f"max_age must be positive, got {age}")
        return age

    @model_validator(mode="after")
    def _signed_webhooks(self) -> NotifySettings:
        if self.webhooks and (self.secret is None or not self.secret.get_secret_value()):
            raise ValueError(
                f"{len(self.webhooks)} webhook(s) configured without a secret: unsigned webhooks are not allowed; "
                "set `secret` to a shared secret that the receivers check with "
                "omnimaint.service.notify.verify_signature"
            )
        return self


def verify_signature(
    secret: bytes, timestamp: str, body: bytes, header: str, *, tolerance_s: float = 300.0, now: float | None = None
) -> bool:
    """Check a webhook's signature: what a receiver does before trusting a notification.

    A receiver reads the raw body bytes (before parsing the JSON), calls this with the headers
    ``X-Omnimaint-Timestamp`` and ``X-Omnimaint-Signature`` and answers 401 when it returns ``False``. It then
    de-duplicates on the body's ``event_id`` (delivery is at least once) and answers 2xx promptly: 5xx, 429 and
    timeouts are retried, other statuses fail the message for good.

    Args:
        secret: The shared secret (:attr:`NotifySettings.secret`).
        timestamp: The ``X-Omnimaint-Timestamp`` header: unix seconds of the attempt, part of the signed bytes.
        body: The request body, exactly as received.
        header: The ``X-Omnimaint-Signature`` header, ``sha256=<hex>``.
        tolerance_s: How far the timestamp may lie from ``now``, either way; older ones are refused as replays.
        now: The receiver's clock, unix seconds; ``None``: ``time.time()``.

    Returns:
        Whether ``header`` is the HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` with ``secret`` and the
        timestamp is within ``tolerance_s`` (compared in constant time).
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(_sign(secret, timestamp, body).encode(), header.strip().encode("utf-8", "replace"))


def _sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _broker(url: str) -> tuple[str, int, bool]:
    """Host, port and TLS of an ``mqtt://`` or ``mqtts://`` URL (``ValueError`` for anything else)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"MQTT broker {_redact(url)!r} is not mqtt://host:port (or mqtts://host:port for TLS)")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"MQTT broker {_redact(url)!r}: {exc}") from exc
    tls = parts.scheme == "mqtts"
    return parts.hostname, port or (8883 if tls else 1883), tls


def _redact(url: str) -> str:
    """``url`` without credentials, query or fragment: fit for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


_TOPIC_ESCAPES = str.maketrans({"%": "%25", "/": "%2F", "+": "%2B", "#": "%23"})


@dataclass(frozen=True)
class _Message:
    """One alarm change, ready to send: the same bytes to every target."""

    seq: int  # submission order
    alarm_id: int
    event_id: str
    event: str  # alarm.{transition}
    topic: str
    body: bytes


def _message(row: Mapping[str, Any], default_site: str, event_us: int, seq: int) -> _Message:
    alarm_id, transition = int(row["id"]), str(row["transition"])
    site, asset_id = str(row.get("site") or default_site), str(row["asset_id"])
    event_id = f"{alarm_id}.{transition}.{event_us}"
    document = {
        "event_id": event_id,
        "event_time": iso_us(event_us),
        "alarm_id": alarm_id,
        "site": site,
        "asset_id": asset_id,
        "component": str(row["component"]),
        "fault": str(row["fault"]),
        "state": str(row["state"]),
        "priority": str(row["priority"]),
        "peak": float(row["peak"]),
        "threshold": float(row["threshold"]),
        "horizon_hours": float(row["horizon_hours"]),
        "transition": transition,
        "opened_at": iso_us(int(row["opened_at_us"])),
    }
    return _Message(
        seq=seq,
        alarm_id=alarm_id,
        event_id=event_id,
        event=f"alarm.{transition}",
        topic=f"omnimaint/{site.translate(_TOPIC_ESCAPES)}/{asset_id.translate(_TOPIC_ESCAPES)}/alarms",
        body=json.dumps(document, separators=(",", ":")).encode(),
    )


class _Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # the target failed for now
    REJECTED = "rejected"  # the target refused the message for good


@dataclass(frozen=True)
class _Attempt:
    outcome: _Outcome
    reason: str = ""
    retry_after: float = 0.0  # the target asked to wait at least this long (seconds)


_DELIVERED = _Attempt(_Outcome.DELIVERED)


@dataclass
class _Delivery:
    """A message on its way to one target."""

    message: _Message
    deadline: float  # time.monotonic() after which it is given up
    attempts: int = 0
    last_error: str = "never tried"  # why the last attempt failed (named when the delivery is given up)
    handle: Any = None  # the target's in-flight state (MQTT: the publish awaiting its PUBACK)


class _Target(Protocol):
    name: str

    def open(self) -> None: ...

    def deliver(self, delivery: _Delivery) -> _Attempt: ...

    def close(self) -> None: ...


class _Webhook:
    def __init__(self, url: str, secret: bytes, timeout: float) -> None:
        self.name = f"webhook {_redact(url)}"
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._client: httpx.Client | None = None

    def open(self) -> None:
        self._client = httpx.Client(timeout=self._timeout, headers={"User-Agent": f"omnimaint/{__version__}"})

    def deliver(self, delivery: _Delivery) -> _Attempt:
        assert self._client is not None, "deliver before open"
        message = delivery.message
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Omnimaint-Event": message.event,
            "X-Omnimaint-Event-Id": message.event_id,
            "X-Omnimaint-Timestamp": timestamp,
            "X-Omnimaint-Signature": _sign(self._secret, timestamp, message.body),
        }
        try:
            response = self._client.post(self._url, content=message.body, headers=headers)
        except httpx.HTTPError as exc:
            return _Attempt(_Outcome.RETRY, f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return _DELIVERED
        if status == 429 or status >= 500:
            wait = response.headers.get("Retry-After", "")
            return _Attempt(_Outcome.RETRY, f"HTTP {status}", float(wait) if wait.isdigit() else 0.0)
        return _Attempt(_Outcome.REJECTED, f"HTTP {status}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _Mqtt:
    def __init__(self, url: str, timeout: float) -> None:
        host, port, tls = _broker(url)
        parts = urlsplit(url)
        self.name = f"MQTT broker {parts.scheme}://{host}:{port}"
        self._address = (host, port)
        self._timeout = timeout
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"omnimaint-notify-{secrets.token_hex(6)}"
        )
        if parts.username:
            self._client.username_pw_set(unquote(parts.username), unquote(parts.password or "") or None)
        if tls:
            self._client.tls_set()
        self._client.reconnect_delay_set(min_delay=1, max_delay=60)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect

    def _on_connect(self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        log = logger.warning if reason.is_failure else logger.info
        log("%s: connect: %s", self.name, reason)

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        logger.warning("%s: disconnected (%s); reconnecting", self.name, reason)

    def open(self) -> None:
        self._client.connect_async(*self._address, keepalive=60)
        self._client.loop_start()  # paho's network thread; it retries the first connection too

    def deliver(self, delivery: _Delivery) -> _Attempt:
        info: mqtt.MQTTMessageInfo | None = delivery.handle
        if info is None:
            if not self._client.is_connected():
                return _Attempt(_Outcome.RETRY, "not connected")
            message = delivery.message
            info = self._client.publish(message.topic, message.body, qos=1, retain=False)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return _Attempt(_Outcome.RETRY, f"publish failed: {mqtt.error_string(info.rc)}")
            delivery.handle = info
        try:
            info.wait_for_publish(self._timeout)
        except (RuntimeError, ValueError) as exc:
            delivery.handle = None
            return _Attempt(_Outcome.RETRY, str(exc))
        if info.is_published():
            return _DELIVERED
        # paho keeps the message and resends it after a reconnect: the next attempt waits for this same publish.
        return _Attempt(_Outcome.RETRY, f"no PUBACK within {self._timeout:g} s")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@dataclass(frozen=True)
class _Backoff:
    base: float
    cap: float
    rng: random.Random

    def __call__(self, failures: int) -> float:
        """Delay after the ``failures``-th failure in a row: ``base`` doubling up to ``cap``, drawn in [d/2, d]."""
        return min(self.cap, self.base * 2.0 ** min(failures - 1, 64)) * self.rng.uniform(0.5, 1.0)


class _Worker:
    """Delivers one target's messages from a thread of its own: in order per alarm, retried with back-off.

    Each alarm has a lane (its messages, in submission order); only a lane's head is ever tried, and ``_ready``
    holds each waiting head's due time. All state is guarded by ``_cond``; the target is called without it.
    """

    def __init__(self, target: _Target, queue_size: int, max_age_s: float, backoff: _Backoff) -> None:
        self.target = target
        self._queue_size = queue_size
        self._max_age_s = max_age_s
        self._backoff = backoff
        self._cond = threading.Condition()
        self._lanes: dict[int, deque[_Delivery]] = {}
        self._ready: list[tuple[float, int, int]] = []  # (due, seq, alarm id) of the heads not in flight
        self._failures = 0  # the target's retryable failures in a row
        self._paused_until = 0.0  # after a failure the whole target waits (monotonic time)
        self._stop_at: float | None = None
        self.pending = self.sent = self.failed = self.dropped = 0
        self.thread = threading.Thread(target=self._run, name=f"omnimaint-notify {target.name}", daemon=True)

    def offer(self, message: _Message) -> None:
        with self._cond:
            if self._stop_at is not None or self.pending >= self._queue_size:
                self.dropped += 1
                why = "the notifier is stopping" if self._stop_at is not None else f"{self.pending} waiting"
                logger.warning(
                    "%s: alarm %d %s notification dropped (%s): the alarm is stored in the database, only its "
                    "notification is lost",
                    self.target.name,
                    message.alarm_id,
                    message.event,
                    why,
                )
                return
            now = time.monotonic()
            lane = self._lanes.get(message.alarm_id)
            if lane is None:
                lane = self._lanes[message.alarm_id] = deque()
                heapq.heappush(self._ready, (now, message.seq, message.alarm_id))
                self._cond.notify()
            lane.append(_Delivery(message, now + self._max_age_s))
            self.pending += 1

    def stop_at(self, deadline: float) -> None:
        with self._cond:
            self._stop_at = deadline
            self._cond.notify()

    def _run(self) -> None:
        try:
            self.target.open()
            while True:
                with self._cond:
                    delivery = self._next()
                if delivery is None:
                    break
                try:
                    attempt = self.target.deliver(delivery)
                except Exception as exc:  # a bug must not kill the thread: retried like a failure of the target
                    logger.exception("%s: delivery raised", self.target.name)
                    attempt = _Attempt(_Outcome.RETRY, f"{type(exc).__name__}: {exc}")
                with self._cond:
                    self._settle(delivery, attempt)
        finally:
            try:
                self.target.close()
            finally:
                self.abandon()

    def _next(self) -> _Delivery | None:
        """The next head to try, once due; ``None`` when stopping and done (or out of time)."""
        while True:
            now = time.monotonic()
            if self._stop_at is not None and (now >= self._stop_at or self.pending == 0):
                return None
            wake = self._stop_at
            if self._ready:
                start = max(self._ready[0][0], self._paused_until)
                if start <= now:
                    head = self._lanes[heapq.heappop(self._ready)[2]][0]
                    if now <= head.deadline:
                        return head
                    reason = f"not sent within max_age ({head.attempts} attempts; last: {head.last_error})"
                    self._give_up(head, reason, now)
                    continue
                wake = start if wake is None else min(wake, start)
            self._cond.wait(None if wake is None else wake - now)

    def _settle(self, delivery: _Delivery, attempt: _Attempt) -> None:
        now = time.monotonic()
        delivery.attempts += 1
        if attempt.outcome is _Outcome.DELIVERED:
            if self._failures:
                logger.info("%s: delivering again after %d failed attempts", self.target.name, self._failures)
            self._failures = 0
            self.sent += 1
            self._finish(delivery, now)
            return
        if attempt.outcome is _Outcome.REJECTED:
            self._failures = 0
            self._give_up(delivery, f"refused ({attempt.reason}), not retried", now)
            return
        self._failures += 1
        delivery.last_error = attempt.reason
        if self._failures == 1:
            logger.warning("%s: %s; retrying with back-off", self.target.name, attempt.reason)
        self._paused_until = now + max(self._backoff(self._failures), attempt.retry_after)
        due = now + max(self._backoff(delivery.attempts), attempt.retry_after)
        if due > delivery.deadline:
            self._give_up(delivery, f"{attempt.reason} after {delivery.attempts} attempts within max_age", now)
        else:
            heapq.heappush(self._ready, (due, delivery.message.seq, delivery.message.alarm_id))

    def _give_up(self, delivery: _Delivery, reason: str, now: float) -> None:
        message = delivery.message
        self.failed += 1
        logger.warning(
            "%s: alarm %d %s notification (event %s) failed: %s",
            self.target.name,
            message.alarm_id,
            message.event,
            message.event_id,
            reason,
        )
        self._finish(delivery, now)

    def _finish(self, delivery: _Delivery, now: float) -> None:
        lane = self._lanes[delivery.message.alarm_id]
        lane.popleft()
        self.pending -= 1
        if lane:
            heapq.heappush(self._ready, (now, lane[0].message.seq, lane[0].message.alarm_id))
        else:
            del self._lanes[delivery.message.alarm_id]

    def abandon(self) -> None:
        """Count what is still waiting as failed (the worker stopped or never ran)."""
        with self._cond:
            if self.pending:
                logger.warning(
                    "%s: stopped with %d notifications undelivered: their alarms are stored in the database, "
                    "the notifications are lost",
                    self.target.name,
                    self.pending,
                )
            self.failed += self.pending
            self.pending = 0
            self._lanes.clear()
            self._ready.clear()


class Notifier:
    """Sends alarm notifications to the MQTT broker and the webhooks of ``settings`` (module docstring).

    Args:
        settings: The targets and limits.
        backoff_base: First retry delay, seconds (before jitter); it doubles with each failure in a row.
        backoff_max: Longest retry delay, seconds (a ``Retry-After`` may ask for more).
        timeout: Seconds one attempt may take: the HTTP request, or the wait for the broker's PUBACK.
        rng: Source of the jitter; ``None``: a fresh ``random.Random()``.

    Counters (deliveries: one per message per target): ``sent``, ``failed`` (refused, too old, or still waiting
    when stopped), ``pending`` (waiting or being retried) and ``dropped`` (over ``queue_size``, submitted while
    stopping, or a row that is not an alarm row).
    """

    def __init__(
        self,
        settings: NotifySettings,
        *,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        secret = b"" if settings.secret is None else settings.secret.get_secret_value().encode()
        targets: list[_Target] = [] if settings.mqtt is None else [_Mqtt(settings.mqtt, timeout)]
        targets += [_Webhook(url, secret, timeout) for url in settings.webhooks]
        backoff = _Backoff(backoff_base, backoff_max, rng or random.Random())
        max_age_s = settings.max_age.total_seconds()
        self.settings = settings
        self._workers = [_Worker(target, settings.queue_size, max_age_s, backoff) for target in targets]
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._event_us = 0
        self._malformed = 0
        self._started = False

    @property
    def sent(self) -> int:
        return sum(w.sent for w in self._workers)

    @property
    def failed(self) -> int:
        return sum(w.failed for w in self._workers)

    @property
    def pending(self) -> int:
        return sum(w.pending for w in self._workers)

    @property
    def dropped(self) -> int:
        return self._malformed + sum(w.dropped for w in self._workers)

    def start(self) -> None:
        """Start the delivery threads (what was submitted before is sent then).

        Raises:
            RuntimeError: if it was started before.
        """
        with self._lock:
            if self._started:
                raise RuntimeError("the notifier was already started")
            self._started = True
        for worker in self._workers:
            worker.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Deliver what can be delivered within ``timeout`` seconds, then stop; what is left counts as failed.

        Submissions from now on are dropped. An attempt in flight at the deadline may hold its thread up to
        ``timeout`` more (the thread is a daemon; it counts what it leaves when it ends).
        """
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.stop_at(deadline)
        for worker in self._workers:
            if worker.thread.is_alive():
                worker.thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
                if worker.thread.is_alive():
                    logger.warning("%s: an attempt is still in flight after stop()", worker.target.name)
            elif worker.thread.ident is None:  # never started
                worker.abandon()

    def submit(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue a notification of each alarm row whose ``notify`` is true (or absent); never blocks.

        Args:
            rows: Alarm rows as :meth:`~omnimaint.service.alarms.AlarmRecorder.__call__` returns them (the columns
                of ``alarms`` plus ``transition`` and ``notify``), optionally with ``site``.
        """
        if not self._workers:
            return
        with self._lock:  # one submission at a time, so each queue keeps the order of the submit() calls
            for row in rows:
                if not row.get("notify", True):
                    continue
                self._event_us = max(self._event_us + 1, time.time_ns() // 1000)  # unique per notifier
                try:
                    message = _message(row, self.settings.site, self._event_us, next(self._seq))
                except (KeyError, TypeError, ValueError) as exc:
                    self._malformed += 1
                    logger.error("alarm row %r cannot be notified (%r); dropped", row.get("id"), exc)
                    continue
                for worker in self._workers:
                    worker.offer(message)

    def __enter__(self) -> Notifier:
        self.start()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        self.stop()
