"""Data that do not fit the model, and windows that do not fit the data: ``evaluate`` of a bundle on a dataset
of other asset types, channels, cameras or fault types, without telemetry, without the split's assets or
period; ``train`` with explicit window settings that leave no training window. Each is refused with one line
naming what does not fit (and what the bundle was trained on, or which setting to change) before any window
is scored, and leaves the bundle, the dataset and the output folder as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from omnimaint.data import CameraInfo, ChannelInfo, Dataset, Manifest, write_dataset
from omnimaint.data.splits import splits_from_json
from omnimaint.inference import Bundle
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli
from tests.unit.data.sensor import train_sensor_bundle, write_sensor_dataset
from tests.unit.data.tiny import png_bytes

START = pd.Timestamp("2024-02-01T00:00:00Z")


def _plant_like(folder: Path, bundle: Path, **change: object) -> Path:
    """Five days of hourly data on the bundle's test assets, in the bundle's own names (asset types,
    channels, camera, event codes, fault types), one failure each; ``change`` swaps one of those names."""
    loaded = Bundle.load(bundle)
    vocab = loaded.preprocessor.vocab
    assets = sorted(splits_from_json(loaded.metrics["data"]["splits"])["test"].asset_ids or ())
    assets = list(change.get("assets", assets))  # type: ignore[call-overload]
    asset_type = str(change.get("asset_type", vocab.asset_types[0]))
    channels = list(change.get("channels", vocab.telemetry_channels))  # type: ignore[call-overload]
    camera = str(change.get("camera", vocab.cameras[0]))
    fault = str(change.get("fault_type", vocab.fault_types[0]))
    stamps = pd.date_range(START, periods=5 * 24, freq="h")
    telemetry = pd.DataFrame(
        [(a, t, c, 1.0) for a in assets for t in stamps for c in channels],
        columns=["asset_id", "ts", "channel", "value"],
    )
    frame_stamps = stamps[::12]
    frames = pd.DataFrame(
        [(a, t, camera, f"frames/{a}/{i:03d}.png") for a in assets for i, t in enumerate(frame_stamps)],
        columns=["asset_id", "ts", "camera", "path"],
    )
    events = pd.DataFrame(
        [(a, t, vocab.event_codes[0], "info", "started") for a in assets for t in stamps[::24]],
        columns=["asset_id", "ts", "code", "severity", "message"],
    )
    tables = {
        "assets": pd.DataFrame({"asset_id": assets, "asset_type": asset_type}),
        "frames": frames,
        "events": events,
        "failures": pd.DataFrame(
            {
                "asset_id": assets,
                "ts": START + pd.Timedelta(days=4),
                "component": vocab.components[0],
                "fault_type": fault,
            }
        ),
    }
    if change.get("telemetry", True):
        tables["telemetry"] = telemetry
    manifest = Manifest(
        schema_version=1,
        name="plant-like",
        channels=tuple(ChannelInfo(name=c, kind="telemetry", sampling_rate_hz=1 / 3600) for c in channels),
        cameras=(CameraInfo(name=camera),),
        components={asset_type: tuple(vocab.components)},
        fault_types=(fault,),
    )
    blobs = {path: png_bytes(100) for path in frames["path"]}
    return write_dataset(folder, manifest, tables, blobs=blobs).path


def _azure_like(folder: Path, _: Path) -> Path:
    """The case of the issue: Azure PdM's machines, sensors and failure labels under a simulated-plant bundle."""
    stamps = pd.date_range(START, periods=5 * 24, freq="h")
    channels = ("volt", "rotate", "pressure", "vibration")
    tables = {
        "assets": pd.DataFrame({"asset_id": ["1", "2"], "asset_type": "model3"}),
        "telemetry": pd.DataFrame(
            [(a, t, c, 100.0) for a in ("1", "2") for t in stamps for c in channels],
            columns=["asset_id", "ts", "channel", "value"],
        ),
        "failures": pd.DataFrame(
            {"asset_id": ["1", "2"], "ts": START + pd.Timedelta(days=3), "component": "comp1", "fault_type": "comp1"}
        ),
    }
    manifest = Manifest(
        schema_version=1,
        channels=tuple(ChannelInfo(name=c, kind="telemetry") for c in channels),
        components={"model3": ("comp1",)},
        fault_types=("comp1",),
    )
    return write_dataset(folder, manifest, tables).path


Build = Callable[[Path, Path], Path]


def _changed(**change: object) -> Build:
    return lambda folder, bundle: _plant_like(folder, bundle, **change)


@pytest.mark.parametrize(
    ("build", "flags", "fragments"),
    [
        (_azure_like, [], ("does not fit the bundle", "none of its asset types (model3)", "rotate", "comp1")),
        (_changed(asset_type="boiler"), [], ("none of its asset types (boiler) is one the bundle was trained on",)),
        (_changed(channels=("volt", "rotate")), [], ("telemetry channels", "its telemetry channels are rotate, volt")),
        (_changed(telemetry=False), [], ("it has no telemetry, and the bundle reads",)),
        (_changed(camera="top"), [], ("none of the bundle's 1 cameras", "its cameras are top")),
        (
            _changed(fault_type="overheat"),
            [],
            ("none of its failures' fault types (overheat) is one the bundle predicts",),
        ),
        (_changed(assets=("X1", "X2")), [], ("holds none of the", "of the bundle's 'test' split", "--split all")),
        (_changed(assets=("X1", "X2")), ["--split", "val"], ("holds none of the", "of the bundle's 'val' split")),
    ],
    ids=[
        "azure-like",
        "asset-types",
        "channels",
        "no-telemetry",
        "cameras",
        "fault-types",
        "no-test-assets",
        "no-val-assets",
    ],
)
def test_evaluate_refuses_a_dataset_that_does_not_fit_the_bundle(
    trained_bundle: Path, tmp_path: Path, build: Build, flags: list[str], fragments: tuple[str, ...]
) -> None:
    dataset = build(tmp_path / "data", trained_bundle)
    out = tmp_path / "evaluation"
    before = Snapshot.of(trained_bundle, dataset, out)
    result = run_cli("evaluate", trained_bundle, dataset, "--out", out, "--no-progress", *flags)
    assert_refused(result, before, *fragments)


def test_a_dataset_that_fits_is_evaluated(trained_bundle: Path, tmp_path: Path) -> None:
    # The builder of the cases above makes data that fit: each case fails for its one change only.
    dataset = _plant_like(tmp_path / "data", trained_bundle)
    result = run_cli("evaluate", trained_bundle, dataset, "--out", tmp_path / "evaluation", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "evaluation" / "metrics.json").is_file()


@pytest.fixture(scope="module")
def time_split_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained on one machine's four days: its window is proposed, its split is by time."""
    root = tmp_path_factory.mktemp("one-machine")
    dataset = write_sensor_dataset(root / "csv", assets=1, days=4, failures_at_hours=(36, 72)).path
    return train_sensor_bundle(dataset, root / "run")


def test_evaluate_refuses_a_dataset_that_ends_before_the_split_period(time_split_bundle: Path, tmp_path: Path) -> None:
    # The same machine, but only its first two days: the held-out period (the last fifth) is not in it.
    early = write_sensor_dataset(tmp_path / "early", assets=1, days=2, failures_at_hours=(36,)).path
    out = tmp_path / "evaluation"
    before = Snapshot.of(time_split_bundle, early, out)
    result = run_cli("evaluate", time_split_bundle, early, "--out", out, "--no-progress")
    assert_refused(result, before, "no window of the bundle's window spec to evaluate", "split 'test'", "--split all")


@pytest.mark.parametrize(
    ("sets", "fragments"),
    [
        (["data.window.telemetry.lookback=P30D"], ("no training windows", "data.window.telemetry.lookback, 30 d")),
        (["data.window.stride=P30D"], ("no training windows", "data.window.stride, 30 d")),
        (["data.fractions=[0,0.5,0.5]"], ("no training windows", "split 'train' holds no asset", "data.fractions")),
        (
            ["data.split=time", "data.window.telemetry.lookback=P3D"],
            ("no training windows", "split 'train'", "data.window.telemetry.lookback"),
        ),
    ],
    ids=["lookback-beyond-history", "stride-beyond-history", "no-training-assets", "lookback-beyond-training-period"],
)
def test_train_refuses_explicit_windows_that_leave_no_training_window(
    tmp_path: Path, sets: list[str], fragments: tuple[str, ...]
) -> None:
    dataset = write_sensor_dataset(tmp_path / "csv", assets=3, days=4, failures_at_hours=(36,)).path
    before = Snapshot.of(dataset)
    flags = [item for s in sets for item in ("--set", s)]
    result = run_cli("train", dataset, "--out", tmp_path / "run", "--no-progress", *flags)
    assert_refused(result, before, *fragments)
    assert not (tmp_path / "run" / "bundle").exists() and not (tmp_path / "run" / "checkpoints").exists()


def test_evaluate_on_another_dataset_with_split_all_works(time_split_bundle: Path, tmp_path: Path) -> None:
    # Another labelled CSV of the same kind of machine: no split of the training run applies, --split all does.
    other = write_sensor_dataset(tmp_path / "other", assets=2, days=3, failures_at_hours=(30,), seed=5).path
    result = run_cli(
        "evaluate", time_split_bundle, other, "--out", tmp_path / "evaluation", "--split", "all", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    assert Dataset(other).table("failures").shape[0] == 2
