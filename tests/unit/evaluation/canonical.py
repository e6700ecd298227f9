"""Small canonical datasets in the public-dataset conventions, written with ``write_dataset``.

They mimic what the adapters produce (C-MAPSS, CWRU, Azure PdM, NEU/MVTec images, MaintNet) at a few
hundred rows, with planted, learnable signals, so protocol tests don't depend on the adapters.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from omnimaint.data import ChannelInfo, Dataset, Manifest, write_dataset
from omnimaint.data.schema import SCHEMA_VERSION

EPOCH = pd.Timestamp("2000-01-01", tz="UTC")


def _manifest(name: str) -> Manifest:
    return Manifest(schema_version=SCHEMA_VERSION, name=name)


CMAPSS_SENSORS = ("s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17", "s20", "s21")
"""The sensors the C-MAPSS configs read (those that track wear on FD001)."""


def cmapss_dataset(
    path: Path, n_train: int = 10, n_test: int = 6, seed: int = 0, *, wear_sensors: bool = False
) -> Dataset:
    """Turbofan engines whose ``s2`` drifts up as the end of life nears; ``s1`` is constant (dropped). With
    ``wear_sensors``, also the other sensors of :data:`CMAPSS_SENSORS` (that the packaged configs read), drifting
    up, down or not at all."""
    rng = np.random.default_rng(seed)
    assets, telemetry, failures = [], [], []
    for split, count in (("train", n_train), ("test", n_test)):
        for unit in range(1, count + 1):
            asset = f"FD001-{split}-{unit:03d}"
            life = int(rng.integers(60, 120))
            cycles = life if split == "train" else int(rng.integers(20, life - 5))
            assets.append(
                {
                    "asset_id": asset,
                    "asset_type": "turbofan",
                    "metadata": json.dumps({"subset": "FD001", "split": split, "unit": unit}),
                }
            )
            k = np.arange(1, cycles + 1)
            wear = np.exp((k - life) / 20.0)
            ts = EPOCH + pd.to_timedelta(k, unit="h")
            sensors = [
                (name, 100 + i + (i % 3 - 1) * 5 * wear + rng.normal(0, 0.05, cycles))
                for i, name in enumerate(CMAPSS_SENSORS)
                if name != "s2" and wear_sensors
            ]
            for channel, values in (
                ("s1", np.full(cycles, 518.67)),
                ("s2", 640 + 5 * wear + rng.normal(0, 0.05, cycles)),
                ("setting1", rng.normal(0, 0.001, cycles)),
                *sensors,
            ):
                telemetry.append(pd.DataFrame({"asset_id": asset, "ts": ts, "channel": channel, "value": values}))
            failures.append(
                {
                    "asset_id": asset,
                    "ts": EPOCH + pd.Timedelta(hours=life),
                    "component": "engine",
                    "fault_type": "degradation",
                }
            )
    return write_dataset(
        path,
        _manifest("cmapss-tiny"),
        {"assets": pd.DataFrame(assets), "telemetry": pd.concat(telemetry), "failures": pd.DataFrame(failures)},
    )


def cmapss_regime_dataset(path: Path, *, wear_sensors: bool = False) -> Dataset:
    """``cmapss_dataset`` whose cycles each run at one of three set points of ``setting1`` (declared an operating
    setting), with ``s2`` raised by 30 per set point: far more than the wear trend of at most 5. With
    ``wear_sensors``, also the other sensors that the packaged configs read (see :func:`cmapss_dataset`)."""
    base = cmapss_dataset(path.parent / f"{path.name}-base", wear_sensors=wear_sensors)
    telemetry = base.table("telemetry")
    cycles = telemetry.loc[telemetry["channel"] == "setting1", ["asset_id", "ts"]]
    regime = cycles.assign(regime=np.random.default_rng(7).integers(3, size=len(cycles)))
    telemetry = telemetry.merge(regime, on=["asset_id", "ts"])
    is_setting, is_s2 = telemetry["channel"] == "setting1", telemetry["channel"] == "s2"
    telemetry.loc[is_setting, "value"] += 20.0 * telemetry.loc[is_setting, "regime"]
    telemetry.loc[is_s2, "value"] += 30.0 * telemetry.loc[is_s2, "regime"]
    channels = tuple(
        ChannelInfo(name=c, kind="telemetry", role="operating_setting" if c == "setting1" else "reading")
        for c in ("s1", "s2", *(CMAPSS_SENSORS[1:] if wear_sensors else ()), "setting1")
    )
    manifest = Manifest(schema_version=SCHEMA_VERSION, name="cmapss-regimes", channels=channels)
    tables = {"assets": base.table("assets"), "failures": base.table("failures")}
    return write_dataset(path, manifest, {**tables, "telemetry": telemetry.drop(columns="regime")})


CWRU_FREQUENCIES = {
    "normal": 0.0,
    "IR007": 0.05,
    "IR014": 0.07,
    "IR021": 0.09,
    "B007": 0.11,
    "B014": 0.13,
    "B021": 0.15,
    "OR007@6": 0.17,
    "OR014@6": 0.19,
    "OR021@6": 0.21,
}
"""Normalised frequency (cycles per sample at 12 kHz) of each class's tone; normal is noise only."""


def cwru_signal(label: str, n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Noise plus the class's tone (same physical frequency at any rate)."""
    t = np.arange(n) / rate
    tone = np.sin(2 * np.pi * CWRU_FREQUENCIES[label] * 12_000 * t) if CWRU_FREQUENCIES[label] else 0.0
    return (tone + rng.normal(0, 0.3, n)).astype(np.float32)


def cwru_dataset(
    path: Path, loads: tuple[int, ...] = (0,), n_samples: int = 16_384, normal_rate: float = 12_000, seed: int = 0
) -> Dataset:
    """One recording per class and load (DE and FE channels); the normal one at ``normal_rate``."""
    rng = np.random.default_rng(seed)
    assets, waveforms, failures = [], [], []
    for load in loads:
        for label in CWRU_FREQUENCIES:
            asset = f"Normal_{load}" if label == "normal" else f"12k_DE-{label}_{load}"
            rate = normal_rate if label == "normal" else 12_000.0
            length = int(n_samples * rate / 12_000)
            assets.append(
                {
                    "asset_id": asset,
                    "asset_type": "bearing_rig",
                    "metadata": json.dumps({"load_hp": load, "rate_hz": rate}),
                }
            )
            for channel in ("DE", "FE"):
                samples = cwru_signal(label, length, rate, rng)
                waveforms.append(
                    {"asset_id": asset, "ts": EPOCH, "channel": channel, "sample_rate_hz": rate, "samples": samples}
                )
            failures.append({"asset_id": asset, "ts": EPOCH, "component": "bearing", "fault_type": label})
    return write_dataset(
        path,
        _manifest("cwru-tiny"),
        {"assets": pd.DataFrame(assets), "waveforms": pd.DataFrame(waveforms), "failures": pd.DataFrame(failures)},
    )


def azure_dataset(path: Path, n_machines: int = 4, days: int = 60, seed: int = 0) -> Dataset:
    """Hourly ``volt``/``vibration`` telemetry; ``vibration`` rises in the 24 h before each planted failure."""
    rng = np.random.default_rng(seed)
    hours = pd.date_range(EPOCH, periods=days * 24, freq="h")
    assets, telemetry, failures, events, maintenance = [], [], [], [], []
    for m in range(1, n_machines + 1):
        asset = f"M{m:03d}"
        assets.append(
            {
                "asset_id": asset,
                "asset_type": "machine",
                "model": f"model{m % 2 + 1}",
                "metadata": json.dumps({"age_years": m}),
            }
        )
        vibration = rng.normal(40, 2, len(hours))
        for component_index, component in enumerate(("comp1", "comp2")):
            # Two failures per component and machine, spread over the whole span (train, validation and test).
            for day in (10 + 7 * m + 3 * component_index, 35 + 5 * m + 3 * component_index):
                at = hours[0] + pd.Timedelta(days=day, hours=6)
                before = (hours > at - pd.Timedelta(hours=24)) & (hours <= at)
                vibration[before] += 15 + 10 * component_index
                failures.append(
                    {"asset_id": asset, "ts": at, "component": component, "fault_type": f"{component}_failure"}
                )
                maintenance.append(
                    {
                        "work_order_id": f"{asset}-{day}-{component}",
                        "asset_id": asset,
                        "ts_open": at,
                        "component": component,
                        "kind": "corrective",
                    }
                )
                events.append(
                    {"asset_id": asset, "ts": at - pd.Timedelta(hours=3), "code": "error1", "severity": "alarm"}
                )
        for channel, values in (("volt", rng.normal(170, 5, len(hours))), ("vibration", vibration)):
            telemetry.append(pd.DataFrame({"asset_id": asset, "ts": hours, "channel": channel, "value": values}))
    return write_dataset(
        path,
        _manifest("azure-tiny"),
        {
            "assets": pd.DataFrame(assets),
            "telemetry": pd.concat(telemetry),
            "events": pd.DataFrame(events),
            "maintenance": pd.DataFrame(maintenance),
            "failures": pd.DataFrame(failures),
        },
    )


def texture(label: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A grey image whose texture identifies its class (stripes, checks, noise ...)."""
    y, x = np.mgrid[0:size, 0:size]
    base = {
        "normal": np.full((size, size), 0.5),
        "horizontal": 0.5 + 0.4 * np.sin(y * 1.2),
        "vertical": 0.5 + 0.4 * np.sin(x * 1.2),
        "checks": 0.5 + 0.4 * np.sign(np.sin(x * 0.8) * np.sin(y * 0.8)),
    }[label]
    return np.clip(base + rng.normal(0, 0.05, (size, size)), 0, 1)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray((pixels * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def image_dataset(
    path: Path, classes: tuple[str, ...], per_class: int = 10, mvtec: bool = False, seed: int = 0
) -> Dataset:
    """NEU style (one asset ``neu_det``) or MVTec style (``tex-train`` normal only, ``tex-test`` all classes)."""
    rng = np.random.default_rng(seed)
    frames, failures, blobs = [], [], {}
    layout = (
        [("tex-train", "normal", per_class)] + [("tex-test", c, per_class // 2) for c in classes]
        if mvtec
        else [("neu_det", c, per_class) for c in classes]
    )
    counter: dict[str, int] = {}
    for asset, label, count in layout:
        for index in range(count):
            second = counter.get(asset, 0)
            counter[asset] = second + 1
            ts = EPOCH + pd.Timedelta(seconds=second)
            relative = f"frames/{asset}/cam0/{label}_{index}.png"
            blobs[relative] = _png(texture(label, rng))
            frames.append({"asset_id": asset, "ts": ts, "camera": "cam0", "path": relative})
            failures.append({"asset_id": asset, "ts": ts, "component": "surface", "fault_type": label})
    assets = pd.DataFrame({"asset_id": sorted(counter), "asset_type": "surface_camera"})
    return write_dataset(
        path,
        _manifest("images-tiny"),
        {"assets": assets, "frames": pd.DataFrame(frames), "failures": pd.DataFrame(failures)},
        blobs=blobs,
    )


MAINTENANCE_CASES = (
    ("engine idle override killed engine", "adjusted idle speed"),
    ("left magneto drop excessive on run up", "replaced left magneto"),
    ("oil leak at rocker cover gasket", "removed & replaced rocker cover gasket"),
    ("cracked exhaust stack found on inspection", "stop drilled crack"),
    ("fuel cap seal worn and leaking", "replaced fuel cap seal"),
    ("发动机 振动 过大 轴承 异响", "更换 轴承"),
)


def maintenance_dataset(path: Path, copies: int = 8) -> Dataset:
    """Work orders of asset ``aircraft``: each case repeated with slight rewording (so queries have answers)."""
    rows = []
    for case, (problem, action) in enumerate(MAINTENANCE_CASES):
        for copy in range(copies):
            rows.append(
                {
                    "work_order_id": f"{100000 + case * 100 + copy}",
                    "asset_id": "aircraft",
                    "ts_open": EPOCH + pd.Timedelta(days=case * copies + copy),
                    "kind": "corrective",
                    "problem": f"{problem} #{copy}" if copy % 2 else problem.upper(),
                    "action": action.upper() + ("." if copy % 3 == 0 else ""),
                }
            )
    assets = pd.DataFrame({"asset_id": ["aircraft"], "asset_type": ["aircraft"]})
    return write_dataset(path, _manifest("maintnet-tiny"), {"assets": assets, "maintenance": pd.DataFrame(rows)})
