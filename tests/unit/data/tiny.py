"""A small hand-built dataset whose every window and label can be worked out by hand."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from omnimaint.data import CameraInfo, ChannelInfo, Dataset, Manifest, write_dataset

START = pd.Timestamp("2024-01-01T00:00:00Z")
HOURS = 240  # ten days of hourly telemetry on asset A


def hours(n: float) -> pd.Timestamp:
    return START + pd.Timedelta(hours=n)


def png_bytes(level: int, size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), level, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_manifest() -> Manifest:
    return Manifest(
        schema_version=1,
        name="tiny",
        channels=(
            ChannelInfo(name="temp", kind="telemetry", unit="degC", sampling_rate_hz=1 / 3600),
            ChannelInfo(name="pres", kind="telemetry", unit="bar", sampling_rate_hz=1 / 7200),
            ChannelInfo(name="accel", kind="waveform", unit="g", sampling_rate_hz=1000),
        ),
        cameras=(CameraInfo(name="cam0", width=8, height=8),),
        components={"pump": ("bearing", "seal")},
        fault_types=("bearing_wear", "seal_leak"),
    )


def tiny_tables() -> tuple[dict[str, pd.DataFrame], dict[str, bytes]]:
    """Asset A: temp = hour index every hour, pres = -hour every 2 h, a burst every 6 h (constant = burst
    number), a frame every 12 h (grey level = frame number), events at known hours, one work order,
    one bearing failure at hour 156. Asset B: temp only, no failure."""
    temp_a = pd.DataFrame({"asset_id": "A", "ts": [hours(h) for h in range(HOURS)], "channel": "temp"})
    temp_a["value"] = np.arange(HOURS, dtype=float)
    pres_a = pd.DataFrame({"asset_id": "A", "ts": [hours(h) for h in range(0, HOURS, 2)], "channel": "pres"})
    pres_a["value"] = -np.arange(0, HOURS, 2, dtype=float)
    temp_b = pd.DataFrame({"asset_id": "B", "ts": [hours(h) for h in range(HOURS)], "channel": "temp"})
    temp_b["value"] = 1000.0 + np.arange(HOURS)
    bursts = list(range(0, HOURS, 6))
    waveforms = pd.DataFrame(
        {
            "asset_id": "A",
            "ts": [hours(h) for h in bursts],
            "channel": "accel",
            "sample_rate_hz": 1000.0,
            "samples": [np.full(100, i, dtype=np.float32) for i in range(len(bursts))],
        }
    )
    frame_hours = list(range(0, HOURS, 12))
    frames = pd.DataFrame(
        {
            "asset_id": "A",
            "ts": [hours(h) for h in frame_hours],
            "camera": "cam0",
            "path": [f"frames/A/{i:03d}.png" for i in range(len(frame_hours))],
        }
    )
    blobs = {path: png_bytes(10 * i % 256) for i, path in enumerate(frames["path"])}
    events = pd.DataFrame(
        {
            "asset_id": "A",
            "ts": [hours(100), hours(150), hours(151), hours(155)],
            "code": ["ST-START", "WN-VIB", "WN-VIB", "AL-TRIP"],
            "severity": ["info", "warning", "warning", "alarm"],
            "message": ["started", "vibration high", "vibration high", "trip"],
        }
    )
    maintenance = pd.DataFrame(
        {
            "work_order_id": ["WO-1", "WO-2"],
            "asset_id": ["A", "A"],
            "ts_open": [hours(40), hours(156)],
            "ts_close": [hours(48), hours(160)],
            "component": ["bearing", "bearing"],
            "kind": ["preventive", "corrective"],
            "problem": ["PM", "brg noise"],
            "cause": [None, "worn race"],
            "action": ["greased brg", "repl brg"],
        }
    )
    failures = pd.DataFrame(
        {"asset_id": ["A"], "ts": [hours(156)], "component": ["bearing"], "fault_type": ["bearing_wear"]}
    )
    assets = pd.DataFrame(
        {"asset_id": ["A", "B"], "asset_type": ["pump", "pump"], "install_date": [hours(-24), pd.NaT]}
    )
    tables = {
        "assets": assets,
        "telemetry": pd.concat([temp_a, pres_a, temp_b], ignore_index=True),
        "waveforms": waveforms,
        "frames": frames,
        "events": events,
        "maintenance": maintenance,
        "failures": failures,
    }
    return tables, blobs


def write_tiny(folder: Path) -> Dataset:
    tables, blobs = tiny_tables()
    return write_dataset(folder, tiny_manifest(), tables, blobs=blobs)
