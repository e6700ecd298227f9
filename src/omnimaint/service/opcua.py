"""OPC UA ingestion: subscribe to a plant's OPC UA server and hand its values to the service as telemetry batches.

A YAML mapping file (:func:`load_map`) names the server and, per node, the asset and channel its values are
stored under. :class:`OpcuaIngester` keeps a data-change subscription on every mapped node, turns each
notification into a :class:`~omnimaint.service.ingest.TelemetryIn` and delivers them in batches through the
same ``ingest`` function as REST ingestion, each with an idempotency key derived from its content, so a batch
retried after a failure is never stored twice.

What is not ingested is counted and logged once per node and reason, never silently lost: non-numeric or
non-finite values, values of a bad status, a value repeating an instant of its node already delivered, and a
value older than what its asset already delivered (the store keeps an asset's rows in time order and would
refuse the whole batch for it). A batch refused with 429, a server error or an exception of the ingest path
(the store, the link to it) is kept and retried with back-off; any other refusal cannot succeed on a retry,
so that batch alone is dropped and logged with its reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeNotif
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from omnimaint.errors import ConfigError, describe_validation_error
from omnimaint.service.ingest import MAX_ROWS, Accepted, IngestBatch, IngestRejected, Name, TelemetryIn
from omnimaint.yamlfile import read_yaml

logger = logging.getLogger(__name__)

FIRST_BACKOFF = 0.25
"""Seconds before the first retry of a batch or a connection; doubled on every failure up to ``max_backoff``."""
_DISCONNECT_TIMEOUT = 2.0
_OPC_EPOCH = datetime(1601, 1, 2, tzinfo=UTC)  # a timestamp at OPC UA's epoch (encoded 0) means "not given"


def parse_node_id(text: str) -> ua.NodeId:
    """An OPC UA node id from its string form (``ns=2;s=Line1.Pump3.Temperature``, ``ns=2;i=1042``, ``nsu=URI;…``).

    Raises:
        ValueError: ``text`` is not a node id.
    """
    try:
        return ua.NodeId.from_string(text)
    except (ua.UaStringParsingError, ValueError, IndexError) as exc:
        raise ValueError(
            f"{text!r} is not an OPC UA node id (e.g. 'ns=2;s=Line1.Pump3.Temperature', 'ns=2;i=1042')"
        ) from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeTarget(_Strict):
    """One mapped node: where its values are stored.

    Attributes:
        node: The node id (``ns=2;s=…``, ``ns=2;i=…``; ``nsu=URI;s=…`` survives a server renumbering its
            namespaces).
        asset: The asset the values belong to (registered with the service).
        channel: The telemetry channel they are stored as (one the bundle reads).
        unit: The unit the server reports in; documentation only, values are stored as they arrive.
    """

    node: str
    asset: Name
    channel: Name
    unit: str | None = None

    @field_validator("node")
    @classmethod
    def _node_id(cls, value: str) -> str:
        parse_node_id(value)
        return value


class OpcuaMap(_Strict):
    """An OPC UA mapping file: the server to subscribe to and where each node's values go.

    Attributes:
        endpoint: The server's endpoint URL (``opc.tcp://host:4840/path``).
        publishing_interval_ms: How often the server sends the changes it has collected.
        sampling_interval_ms: How often the server samples each node (0: as fast as it can; it revises it).
        queue_size: Changes the server keeps per node between two publications (older ones are discarded
            when it overflows, so it should hold a publishing interval's worth).
        nodes: The mapped nodes; each node, and each (asset, channel), at most once.
    """

    endpoint: Annotated[str, Field(pattern=r"^opc\.tcp://[^\s/]+")]
    publishing_interval_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 500.0
    sampling_interval_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    queue_size: Annotated[int, Field(ge=1, le=100_000)] = 100
    nodes: list[NodeTarget]

    @field_validator("nodes")
    @classmethod
    def _unique(cls, nodes: list[NodeTarget]) -> list[NodeTarget]:
        if not nodes:
            raise ValueError("no nodes to subscribe to; map at least one (node, asset, channel)")
        seen_nodes: dict[str, int] = {}
        seen_targets: dict[tuple[str, str], int] = {}
        for i, target in enumerate(nodes):
            canonical = parse_node_id(target.node).to_string()
            if canonical in seen_nodes:
                raise ValueError(f"entries {seen_nodes[canonical]} and {i} both map node {target.node!r}")
            seen_nodes[canonical] = i
            where = (target.asset, target.channel)
            if where in seen_targets:
                raise ValueError(
                    f"entries {seen_targets[where]} and {i} both feed asset {target.asset!r} channel "
                    f"{target.channel!r}; their readings would conflict in the store"
                )
            seen_targets[where] = i
        return nodes


def load_map(path: Path | str) -> OpcuaMap:
    """Read and check an OPC UA mapping file (YAML).

    Raises:
        ConfigError: In one line naming the file (and the line or field): the file is missing or unreadable,
            not YAML, not a mapping, has unknown keys, an invalid node id, a node or an (asset, channel)
            mapped twice, or no nodes.
    """
    path = Path(path)
    loaded = read_yaml(path, "the OPC UA map")
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the OPC UA map must be a mapping with 'endpoint' and 'nodes'")
    try:
        return OpcuaMap.model_validate(loaded)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from exc


@dataclass(frozen=True)
class _Reading:
    """One value received, on its way to a batch."""

    node: str
    asset: str
    channel: str
    ts: datetime  # UTC-aware
    value: float


@dataclass(frozen=True)
class _Batch:
    readings: list[_Reading]
    payload: IngestBatch


def _batch_key(readings: Iterable[_Reading]) -> str:
    """The idempotency key of a batch: a hash of its content, whatever the order of its readings."""
    rows = sorted((r.node, r.asset, r.channel, r.ts.isoformat(), repr(r.value)) for r in readings)
    return "opcua-" + hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _timestamp(value: ua.DataValue) -> datetime:
    """When a value was taken: its source timestamp, else the server's, else now; always UTC-aware."""
    for stamp in (value.SourceTimestamp, value.ServerTimestamp):
        if stamp is None:
            continue
        aware = stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
        if aware > _OPC_EPOCH:
            return aware.astimezone(UTC)
    return datetime.now(UTC)


def _number(value: Any) -> float | None:
    """The value as a float when it is a number (booleans as 0 and 1); ``None`` for anything else."""
    if isinstance(value, bool | int | float):
        return float(value)
    return None


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; whether it is set."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


async def _wait_any(events: list[asyncio.Event], timeout: float | None = None) -> None:
    """Wait until one of ``events`` is set, or ``timeout`` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()


class _Handler:
    """The subscription's callbacks: hands each data change of a monitored item to the ingester."""

    def __init__(self, ingester: OpcuaIngester, targets: dict[int, NodeTarget]) -> None:
        self._ingester = ingester
        self._targets = targets

    def datachange_notification(self, _node: Any, _value: Any, data: DataChangeNotif) -> None:
        target = self._targets.get(data.monitored_item.ClientHandle)
        if target is not None:
            self._ingester._receive(target, data.monitored_item.Value)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        logger.info("OPC UA subscription status: %s", status.Status.name)


class OpcuaIngester:
    """Subscribes to the mapped nodes of an OPC UA server and delivers their values in telemetry batches.

    Counters (points; ``received`` = ``ingested`` + ``rejected`` + ``skipped`` + :attr:`backlog`):

    Attributes:
        received: Values notified by the server.
        ingested: Values delivered (``ingest`` returned; rows already stored count too).
        rejected: Values of batches refused for good (a 4xx other than 429) and dropped.
        skipped: Values never batched: non-numeric, non-finite, of a bad status, repeating an instant already
            delivered for their node, or older than what their asset already delivered.
        connected: Whether a subscription is live now.
    """

    def __init__(
        self,
        mapping: OpcuaMap,
        ingest: Callable[[IngestBatch], Accepted],
        *,
        flush_interval: float = 0.5,
        max_points: int = 5000,
        max_backoff: float = 30.0,
    ) -> None:
        """Store the arguments; nothing connects before :meth:`run`.

        Args:
            mapping: The server and the mapped nodes.
            ingest: Checks and stores one batch (synchronous; run in a worker thread). Raises
                :class:`~omnimaint.service.ingest.IngestRejected` to refuse it.
            flush_interval: Seconds between deliveries of what was received.
            max_points: Values per batch at most; a delivery starts early once this many wait.
            max_backoff: Longest wait, in seconds, between retries of a batch or of a connection.

        Raises:
            ValueError: ``flush_interval`` or ``max_backoff`` is not positive, or ``max_points`` is not between 1
                and the rows a batch may hold.
        """
        if not flush_interval > 0 or not max_backoff > 0:
            raise ValueError(f"flush_interval ({flush_interval}) and max_backoff ({max_backoff}) must be positive")
        if not 1 <= max_points <= MAX_ROWS:
            raise ValueError(f"max_points is {max_points}; give 1 to {MAX_ROWS:,}")
        self.mapping = mapping
        self.ingest = ingest
        self.flush_interval = flush_interval
        self.max_points = max_points
        self.max_backoff = max_backoff
        self.received = 0
        self.ingested = 0
        self.rejected = 0
        self.skipped = 0
        self.connected = False
        self._buffer: deque[_Reading] = deque()
        self._pending: _Batch | None = None
        self._full = asyncio.Event()
        self._asset_newest: dict[str, datetime] = {}
        self._node_newest: dict[str, datetime] = {}
        self._warned: set[tuple[str, str]] = set()

    @property
    def backlog(self) -> int:
        """Values received and not yet delivered, dropped or skipped."""
        return len(self._buffer) + (len(self._pending.readings) if self._pending is not None else 0)

    async def run(self, stop: asyncio.Event) -> None:
        """Subscribe and deliver until ``stop`` is set, reconnecting with back-off whenever the server goes away.

        Once ``stop`` is set, what was received is delivered in one last attempt; what that attempt cannot
        deliver is logged as lost.
        """
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._keep_subscribed(stop))
            tasks.create_task(self._keep_delivering(stop))

    # --- the OPC UA side ------------------------------------------------------------------------------------

    async def _keep_subscribed(self, stop: asyncio.Event) -> None:
        endpoint = self.mapping.endpoint
        delay = FIRST_BACKOFF
        while not stop.is_set():
            lost = asyncio.Event()

            async def on_lost(exc: Exception, lost: asyncio.Event = lost) -> None:
                logger.warning(
                    "OPC UA server %s went away (%s); reconnecting", endpoint, str(exc) or type(exc).__name__
                )
                lost.set()

            client = Client(endpoint)
            client.connection_lost_callback = on_lost
            try:
                await self._open(client)
            except Exception as exc:  # any failure to connect or subscribe is retried: the server may come back
                logger.warning(
                    "OPC UA server %s: cannot subscribe (%s); retrying in %.2g s",
                    endpoint,
                    str(exc) or type(exc).__name__,
                    delay,
                )
                if await _wait(stop, delay):
                    return
                delay = min(2 * delay, self.max_backoff)
                continue
            self.connected = True
            delay = FIRST_BACKOFF
            logger.info("OPC UA server %s: subscribed", endpoint)
            try:
                await _wait_any([stop, lost])
            finally:
                self.connected = False
                await self._disconnect(client)
            if await _wait(stop, delay):
                return

    async def _open(self, client: Client) -> None:
        """Connect and subscribe; a client that fails either is left closed."""
        await client.connect()  # closes what it opened when it fails
        try:
            await self._subscribe(client)
        except BaseException:
            await self._disconnect(client)
            raise

    async def _subscribe(self, client: Client) -> None:
        """One data-change subscription over every mapped node; a node the server refuses is logged, not fatal."""
        namespaces: list[str] | None = None
        targets: dict[int, NodeTarget] = {}
        requests = []
        for handle, target in enumerate(self.mapping.nodes, start=1):
            node_id = parse_node_id(target.node)
            if isinstance(node_id, ua.ExpandedNodeId) and node_id.NamespaceUri:
                namespaces = namespaces if namespaces is not None else await client.get_namespace_array()
                if node_id.NamespaceUri not in namespaces:
                    self._warn_once(target, "namespace", "the server has no namespace %r", node_id.NamespaceUri)
                    continue
                node_id = ua.NodeId(
                    node_id.Identifier, ua.Int16(namespaces.index(node_id.NamespaceUri)), node_id.NodeIdType
                )
            targets[handle] = target
            requests.append(self._monitor_request(node_id, handle))
        subscription = await client.create_subscription(self.mapping.publishing_interval_ms, _Handler(self, targets))
        results = await subscription.create_monitored_items(requests)
        refused = 0
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, ua.StatusCode):
                refused += 1
                target = targets.pop(request.RequestedParameters.ClientHandle)
                self._warn_once(target, "monitor", "the server refuses to monitor it (%s)", result.name)
        if refused == len(self.mapping.nodes):
            raise ConnectionError("the server monitors none of the mapped nodes")

    def _monitor_request(self, node_id: ua.NodeId, handle: int) -> ua.MonitoredItemCreateRequest:
        # A change of timestamp alone is a new reading too (a steady value sampled again), hence the trigger.
        parameters = ua.MonitoringParameters(
            ClientHandle=handle,
            SamplingInterval=self.mapping.sampling_interval_ms,
            QueueSize=self.mapping.queue_size,
            DiscardOldest=True,
            Filter=ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp),
        )
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.Value),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=parameters,
        )

    async def _disconnect(self, client: Client) -> None:
        try:
            await asyncio.wait_for(client.disconnect(), _DISCONNECT_TIMEOUT)
        except Exception:  # the server is usually gone already; nothing to do about a failed goodbye
            logger.debug("OPC UA disconnect from %s failed", self.mapping.endpoint, exc_info=True)

    def _receive(self, target: NodeTarget, value: ua.DataValue) -> None:
        """Buffer one notified value, or count and skip it."""
        self.received += 1
        if value.StatusCode is not None and not value.StatusCode.is_good():
            self._skip(target, "status", "a value of status %s (not Good)", value.StatusCode.name)
            return
        raw = value.Value.Value if value.Value is not None else None
        number = _number(raw)
        if number is None:
            self._skip(target, "non-numeric", "a non-numeric value (%s)", type(raw).__name__)
            return
        if not math.isfinite(number):
            self._skip(target, "non-finite", "a non-finite value (%s)", number)
            return
        self._buffer.append(_Reading(target.node, target.asset, target.channel, _timestamp(value), number))
        if len(self._buffer) >= self.max_points:
            self._full.set()

    def _skip(self, source: NodeTarget | _Reading, reason: str, message: str, *args: object) -> None:
        self.skipped += 1
        self._warn_once(source, reason, message + "; skipped (logged once per node)", *args)

    def _warn_once(self, source: NodeTarget | _Reading, reason: str, message: str, *args: object) -> None:
        if (source.node, reason) not in self._warned:
            self._warned.add((source.node, reason))
            logger.warning(
                "OPC UA node %s (asset %s, channel %s): " + message, source.node, source.asset, source.channel, *args
            )

    # --- the delivery side ----------------------------------------------------------------------------------

    async def _keep_delivering(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await _wait_any([stop, self._full], self.flush_interval)
                self._full.clear()
                await self._deliver(stop)
            await self._deliver(None)
        finally:
            if self.backlog:
                logger.error("OPC UA ingestion stopped with %d values not delivered; they are lost", self.backlog)

    async def _deliver(self, stop: asyncio.Event | None) -> None:
        """Deliver every waiting batch; a batch that fails for now is retried with back-off until ``stop`` (once
        when ``stop`` is ``None``)."""
        delay = FIRST_BACKOFF
        while True:
            if self._pending is None:
                self._pending = self._next_batch()
                if self._pending is None:
                    return
            if await self._send(self._pending):
                self._pending = None
                delay = FIRST_BACKOFF
                continue
            if stop is None or await _wait(stop, delay):
                return
            delay = min(2 * delay, self.max_backoff)

    def _next_batch(self) -> _Batch | None:
        """The next batch from the buffer, without what the store would refuse for being older than what it has
        (it keeps an asset's rows in time order, and would refuse the whole batch for one late row)."""
        while self._buffer:
            taken = [self._buffer.popleft() for _ in range(min(self.max_points, len(self._buffer)))]
            fresh: dict[tuple[str, datetime], _Reading] = {}
            for reading in taken:
                node_newest = self._node_newest.get(reading.node, _OPC_EPOCH)
                if reading.ts == node_newest:
                    # The server resends each node's current value on every (re)subscription.
                    self.skipped += 1
                    logger.debug("OPC UA node %s: value at %s already delivered", reading.node, reading.ts)
                elif reading.ts < max(node_newest, self._asset_newest.get(reading.asset, _OPC_EPOCH)):
                    self._skip(
                        reading,
                        "late",
                        "a value at %s, older than one its asset already delivered (are the clocks in step?)",
                        reading.ts.isoformat(),
                    )
                else:
                    if (reading.node, reading.ts) in fresh:
                        self._skip(fresh[reading.node, reading.ts], "same instant", "two values at one instant")
                    fresh[reading.node, reading.ts] = reading  # the later one stands
            if fresh:
                readings = sorted(fresh.values(), key=lambda r: (r.ts, r.asset, r.channel))
                telemetry = [TelemetryIn(asset_id=r.asset, ts=r.ts, channel=r.channel, value=r.value) for r in readings]
                return _Batch(readings, IngestBatch(key=_batch_key(readings), telemetry=telemetry))
        return None

    async def _send(self, batch: _Batch) -> bool:
        """Hand one batch to ``ingest``; whether it is settled (delivered, or refused for good and dropped)."""
        points = len(batch.readings)
        try:
            await asyncio.to_thread(self.ingest, batch.payload)
        except IngestRejected as exc:
            if exc.status == 429 or exc.status >= 500:
                logger.warning("OPC UA batch of %d values refused for now (%d: %s); retrying", points, exc.status, exc)
                return False
            self.rejected += points
            nodes = sorted({r.node for r in batch.readings})
            assets = sorted({r.asset for r in batch.readings})
            logger.error(
                "OPC UA batch of %d values refused (%d: %s); dropped. Nodes %s%s, assets %s%s",
                points,
                exc.status,
                exc,
                nodes[:5],
                " …" if len(nodes) > 5 else "",
                assets[:5],
                " …" if len(assets) > 5 else "",
            )
            return True
        except Exception as exc:  # the store or the way to it failed; the batch's key makes a retry safe
            logger.warning(
                "OPC UA batch of %d values not delivered (%s); retrying", points, str(exc) or type(exc).__name__
            )
            return False
        self.ingested += points
        for reading in batch.readings:
            self._node_newest[reading.node] = max(reading.ts, self._node_newest.get(reading.node, reading.ts))
            self._asset_newest[reading.asset] = max(reading.ts, self._asset_newest.get(reading.asset, reading.ts))
        return True
