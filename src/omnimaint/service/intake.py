"""Intake: a checked batch or frame into the store, the same for every way data arrive (REST, MQTT, OPC UA).

A batch is checked (:func:`~omnimaint.service.ingest.check_tables`) and stored whole or not at all; when more
than ``max_pending_batches`` wait for the store the next one is refused with 429 (the sender retries: REST's
``Retry-After``, MQTT's unacknowledged message), never dropped. A frame is type- and size-checked before it
is decoded, written under the service's data folder at a name derived by hashing, then recorded.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import micros
from omnimaint.service.clock import now_us, optional_us
from omnimaint.service.ingest import Accepted, IngestBatch, IngestRejected, batch_tables, check_tables
from omnimaint.service.metrics import ServiceMetrics
from omnimaint.service.settings import ServiceSettings
from omnimaint.service.store import LiveStore

IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg"}


class Intake:
    """Stores what senders deliver.

    Args:
        store: The live store.
        vocab: The bundle's vocabulary (the channels and cameras it reads).
        settings: Limits (clock skew, pending batches, image size) and the data folder.
        metrics: Counters to update.
        on_stored: Called after new rows are stored, with (asset, kind, newest µs) of each asset and table
            (wakes the scorer, or announces the rows on the bus).
    """

    def __init__(
        self,
        store: LiveStore,
        vocab: Vocabulary,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        on_stored: Callable[[list[tuple[str, str, int]]], None] | None = None,
    ) -> None:
        self.store = store
        self.vocab = vocab
        self.settings = settings
        self.metrics = metrics
        self.on_stored = on_stored
        self._slots = threading.BoundedSemaphore(settings.max_pending_batches)
        self._skew_us = micros(settings.clock_skew)

    def batch(self, batch: IngestBatch, key: str | Sequence[str] | None = None) -> Accepted:
        """Check and store ``batch`` (idempotency key ``key``, else the batch's own; several keys for deliveries
        stored together, see :meth:`LiveStore.store_batch`).

        Raises:
            IngestRejected: with the status that says why (nothing stored).
        """
        if not self._slots.acquire(blocking=False):
            self.metrics.refused.inc()
            raise IngestRejected(429, "the service is saturated; retry after a second")
        try:
            tables = check_tables(
                batch_tables(batch),
                known_assets=frozenset(self.store.asset_types),
                vocab=self.vocab,
                now_us=now_us(),
                clock_skew_us=self._skew_us,
            )
            accepted = self.store.store_batch(key or batch.key, tables)
        finally:
            self._slots.release()
        self._stored(accepted, [(a, name, t) for name, table in tables.items() for a, t in _newest(name, table)])
        return accepted

    def frame(self, asset_id: str, ts: datetime, camera: str, data: bytes) -> Accepted:
        """Check and store one camera frame (PNG or JPEG).

        Raises:
            IngestRejected: 404 unknown asset; 422 unknown camera, naive or future time, undecodable image;
                413 too many pixels; 415 another image type.
        """
        if asset_id not in self.store.asset_types:
            raise IngestRejected(404, f"unknown asset {asset_id!r}; register it with PUT /api/assets first")
        if camera not in self.vocab.cameras:
            raise IngestRejected(422, f"camera {camera!r} is not one the bundle reads ({list(self.vocab.cameras)})")
        ts_us = optional_us(ts)
        if ts.tzinfo is None or ts_us is None:
            raise IngestRejected(422, "ts: give a time zone offset (e.g. 2026-01-01T00:00:00Z)")
        if ts_us > now_us() + self._skew_us:
            raise IngestRejected(422, "ts: ahead of the service's clock (check the sender's clock)")
        suffix = check_image(data, self.settings.max_image_pixels)
        relative = frame_path(asset_id, camera, ts_us, suffix)
        write_new(self.settings.data_dir / relative, data)
        accepted = self.store.add_frame(asset_id, ts_us, camera, relative)
        self._stored(accepted, [(asset_id, "frames", ts_us)])
        return accepted

    def _stored(self, accepted: Accepted, newest: list[tuple[str, str, int]]) -> None:
        self.metrics.ingested(accepted)
        if self.on_stored is not None and not accepted.resent and any(accepted.stored.values()):
            self.on_stored(newest)


def _newest(name: str, table: pa.Table) -> list[tuple[str, int]]:
    """Each asset of a checked table with its newest time (µs)."""
    column = "ts_open" if name == "maintenance" else "ts"
    grouped = (
        table.select(["asset_id", column])
        .cast(pa.schema([("asset_id", pa.string()), (column, pa.int64())]))
        .group_by("asset_id")
        .aggregate([(column, "max")])
    )
    return list(zip(grouped.column("asset_id").to_pylist(), grouped.column(f"{column}_max").to_pylist(), strict=True))


def check_image(data: bytes, max_pixels: int) -> str:
    """The file suffix of a PNG or JPEG image; refuses other types, oversized and undecodable images."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            if fmt not in IMAGE_FORMATS:
                raise IngestRejected(415, f"image: {fmt or 'unknown'} is not PNG or JPEG")
            width, height = image.size
            if width * height > max_pixels:
                raise IngestRejected(413, f"image: {width}×{height} pixels, more than {max_pixels:,}")
            image.load()  # decodes: a truncated or corrupted image fails here
    except IngestRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise IngestRejected(413, f"image: more pixels than {max_pixels:,} (a decompression bomb?)") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise IngestRejected(422, f"image: not a readable PNG or JPEG ({type(exc).__name__})") from exc
    return IMAGE_FORMATS[fmt]


def frame_path(asset_id: str, camera: str, ts_us: int, suffix: str) -> str:
    """Where a frame is kept under the data folder; names are hashed so no id can steer the path."""
    asset = hashlib.sha256(asset_id.encode()).hexdigest()[:16]
    cam = hashlib.sha256(camera.encode()).hexdigest()[:8]
    return f"frames/{asset}/{cam}/{ts_us}.{suffix}"


def write_new(target: Path, data: bytes) -> None:
    """Write a frame file atomically (a temporary name, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)
