"""Scale-out on NATS JetStream: the API announces stored data on a durable stream, scorer workers consume it.

With ``--bus nats://…`` the API still checks and stores each batch itself (so that a sender gets its precise
4xx at once, and an acknowledged batch is in PostgreSQL), then publishes one message per (asset, kind) of
the batch on ``omnimaint.data.{site}.{asset}.{kind}`` in the ``omnimaint`` stream (file storage: durable,
replayable; a week of messages kept). Workers (``omnimaint worker``) pull from one durable consumer, so each
message reaches one worker; a worker scores only the assets it holds a lease on (:mod:`omnimaint.service.
leases`), so no asset is scored by two workers at once. The store stays the truth: a worker also sweeps
every asset with pending anchors on a cadence, so a message lost between the store and the stream delays a
score, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from omnimaint.errors import OmnimaintError

logger = logging.getLogger(__name__)

STREAM = "omnimaint"
"""Default stream name; its subjects are ``{stream}.data.{site}.{asset}.{kind}``."""
CONSUMER = "scorers"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
T = TypeVar("T")


class BusError(OmnimaintError):
    """The message bus cannot be reached or refused a message."""


def subject_token(name: str) -> str:
    """``name`` as one NATS subject token: itself when it is plain, else a stable hash (the message names it)."""
    return name if _TOKEN.match(name) else "h" + hashlib.sha256(name.encode()).hexdigest()[:20]


def subject(stream: str, site: str, asset_id: str, kind: str) -> str:
    return f"{stream}.data.{subject_token(site)}.{subject_token(asset_id)}.{kind}"


class Bus:
    """A NATS JetStream connection driven from synchronous code (its own event-loop thread).

    Args:
        url: ``nats://host:port``.
        stream: The stream (and subject prefix); several plants or test runs on one server use different ones.
        timeout: Seconds to wait for the server on each call.
    """

    def __init__(self, url: str, *, stream: str = STREAM, timeout: float = 5.0) -> None:
        if not _TOKEN.match(stream):
            raise BusError(f"stream {stream!r}: use letters, digits, '-' and '_'")
        self.url = url
        self.stream = stream
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="omnimaint-nats", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._pull: Any = None
        self._call(self._connect())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout * 3)
        except Exception as exc:
            raise BusError(f"{self.url}: {type(exc).__name__} {exc}".strip()) from exc

    async def _connect(self) -> None:
        import nats
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig

        self._nc = await nats.connect(self.url, connect_timeout=self.timeout, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.stream}.data.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=7 * 24 * 3600,
        )
        try:
            await self._js.add_stream(config)
        except Exception:  # exists with other limits (an operator's choice): use it as it is
            await self._js.stream_info(self.stream)

    def publish(self, site: str, asset_id: str, kind: str, body: dict[str, Any]) -> None:
        """Publish one announcement and wait for the stream's acknowledgement."""
        payload = json.dumps({"asset_id": asset_id, "kind": kind, **body}).encode()
        self._call(self._js.publish(subject(self.stream, site, asset_id, kind), payload, timeout=self.timeout))

    def fetch(self, limit: int = 256, timeout: float = 1.0) -> list[str]:
        """Asset ids announced since the last fetch (each message acknowledged once read: the store, not the
        message, says what is pending). Empty after ``timeout`` seconds without a message."""
        return self._call(self._fetch(limit, timeout))

    async def _fetch(self, limit: int, timeout: float) -> list[str]:
        if self._pull is None:
            self._pull = await self._js.pull_subscribe(f"{self.stream}.data.>", durable=CONSUMER, stream=self.stream)
        try:
            messages = await self._pull.fetch(limit, timeout=timeout)
        except TimeoutError:  # nats.errors.TimeoutError, or (nats-py 2.16, a slow client) the builtin one
            return []
        assets = []
        for message in messages:
            try:
                assets.append(str(json.loads(message.data)["asset_id"]))
            except (ValueError, KeyError):
                logger.warning("ignoring a malformed message on %s", message.subject)
            await message.ack()
        return assets

    def close(self) -> None:
        """Close the connection and stop the bus's thread. Nothing is in flight: every publish waited for the
        stream's acknowledgement (a drain would only wait on the pull subscription's expiring request)."""
        if self._nc is not None:
            with contextlib.suppress(BusError):
                self._call(self._nc.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def announce(bus: Bus, site: str, stored: Iterable[tuple[str, str, int]]) -> None:
    """Announce stored rows: one message per (asset, kind, newest µs); a failure is logged, not raised (the
    workers' sweep finds the rows in the store)."""
    for asset_id, kind, newest_us in stored:
        try:
            bus.publish(site, asset_id, kind, {"newest_us": newest_us})
        except BusError as exc:
            logger.warning(
                "could not announce %s rows of %s on the bus (%s); the workers' sweep will", kind, asset_id, exc
            )
