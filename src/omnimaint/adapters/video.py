"""A video file (mp4, avi, mkv ...) → canonical dataset of PNG frames sampled at a fixed rate.

The video is decoded with PyAV (the optional ``video`` extra) and sampled at ``fps``: the first frame,
then the first frame at or after each multiple of ``1/fps`` seconds. A sampled frame's timestamp is the
start time plus its presentation time (pts) since the stream's first frame; the start time is
``start`` or, failing that, the container's ``creation_time`` tag. Frames are written as PNG under
``frames/<asset>/<camera>/``. See ``docs/adapters.md``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import pandas as pd

from omnimaint.adapters.sources import path_segment, require_file
from omnimaint.data import CameraInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.errors import ConfigError, DatasetError
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)

DEFAULT_CAMERA: Final = "cam0"
DEFAULT_ASSET_TYPE: Final = "machine"


def _import_av() -> Any:
    try:
        return importlib.import_module("av")  # optional dependency: imported only when a video is read
    except ImportError as exc:
        raise ConfigError("reading video needs PyAV: pip install 'omnimaint[video]'") from exc


def parse_start(text: str, what: str) -> pd.Timestamp:
    """An ISO 8601 time with an offset (``2024-03-01T12:00:00Z``) as a UTC timestamp.

    Raises:
        ConfigError: if it does not parse or carries no offset (a local time would be ambiguous).
    """
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"{what} {text!r} is not an ISO 8601 time (e.g. 2024-03-01T12:00:00Z)") from exc
    if stamp.tzinfo is None:
        raise ConfigError(f"{what} {text!r} has no time zone; give UTC ('Z') or an offset ('+01:00')")
    return stamp.tz_convert("UTC")


def sample_times(times: Iterator[tuple[Fraction, Any]], fps: float) -> Iterator[tuple[Fraction, Any]]:
    """Keep the first item, then the first at or after each multiple of ``1/fps`` (times relative to the first)."""
    step = Fraction(fps).limit_denominator(1_000_000) ** -1
    due: Fraction | None = None
    for time, item in times:
        if due is None:
            due = time
        if time >= due:
            yield time, item
            while due <= time:
                due += step


def _decoded(container: Any, stream: Any, path: Path) -> Iterator[tuple[Fraction, Any]]:
    """(seconds since the stream's first frame, frame) for every decodable frame, with exact rational times."""
    origin: int | None = None
    av = _import_av()
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            origin = frame.pts if origin is None else origin
            yield Fraction(frame.pts - origin) * Fraction(stream.time_base), frame
    except av.error.FFmpegError as exc:
        raise DatasetError(f"{path}: cannot decode the video stream ({exc}); the file may be truncated") from exc


def import_video(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    fps: float = 1.0,
    start: str | None = None,
    asset: str | None = None,
    asset_type: str = DEFAULT_ASSET_TYPE,
    camera: str = DEFAULT_CAMERA,
    show_progress: bool = True,
) -> Dataset:
    """Sample a video file into PNG frames of one asset's camera.

    Args:
        src: The video file.
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        fps: Frames per second to keep.
        start: ISO 8601 time, with an offset, of the video's first frame; default: the container's
            ``creation_time`` tag.
        asset: Asset id (default: the file's stem).
        asset_type: Asset type recorded for the asset.
        camera: Camera name.
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if the file is missing, not a video, or cannot be decoded.
        ConfigError: if ``fps`` is not positive, PyAV is missing, or no start time is known.
    """
    if fps <= 0:
        raise ConfigError(f"--fps must be positive, got {fps}")
    require_file(src, "a video file")
    av = _import_av()
    asset_id = asset or src.stem
    try:
        container = av.open(str(src))
    except av.error.FFmpegError as exc:
        raise DatasetError(f"{src}: not a readable video file ({exc})") from exc
    with container:
        if not container.streams.video:
            raise DatasetError(f"{src}: has no video stream")
        stream = container.streams.video[0]
        created = container.metadata.get("creation_time")
        if start is not None:
            origin = parse_start(start, "--start")
        elif created:
            origin = parse_start(created, f"{src}: creation_time tag")
        else:
            raise ConfigError(
                f"{src}: the container has no creation_time tag; give the first frame's time with --start"
            )
        duration = float(stream.duration * stream.time_base) if stream.duration else None
        manifest = Manifest(
            schema_version=SCHEMA_VERSION,
            name=asset_id,
            cameras=(
                CameraInfo(
                    name=camera, width=stream.width or None, height=stream.height or None, asset_types=(asset_type,)
                ),
            ),
            provenance=describe_provenance(
                source=f"video file {src.name}",
                adapter="video",
                source_path=str(src),
                fps=fps,
                start=origin.isoformat(),
                start_from="--start" if start is not None else "creation_time",
            ),
        )
        rows: list[dict[str, object]] = []
        with (
            DatasetWriter(out, manifest, overwrite=overwrite) as writer,
            progress_bar("video frames", round(duration * fps) if duration else None, enabled=show_progress) as advance,
        ):
            writer.append("assets", pd.DataFrame({"asset_id": [asset_id], "asset_type": [asset_type]}))
            for index, (seconds, frame) in enumerate(sample_times(_decoded(container, stream, src), fps)):
                relative = f"frames/{path_segment(asset_id)}/{path_segment(camera)}/{index:06d}.png"
                frame.to_image().save(writer.blob_path(relative), format="PNG")
                offset = pd.Timedelta(microseconds=round(seconds * 1_000_000))
                rows.append({"asset_id": asset_id, "ts": origin + offset, "camera": camera, "path": relative})
                advance(1)
            if not rows:
                raise DatasetError(f"{src}: no decodable video frames")
            writer.append("frames", pd.DataFrame(rows))
            dataset = writer.commit()
    logger.info("sampled %d frames at %s fps from %s", len(rows), fps, src)
    return dataset
