"""Splits by asset and by time: disjoint, stratified, gapped, and censored."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset, write_dataset
from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.splits import Split, assign_assets, check_disjoint, make_splits
from omnimaint.data.windows import TelemetryWindow, WindowSpec
from omnimaint.errors import ConfigError
from tests.unit.data.tiny import hours, tiny_manifest

SPEC = WindowSpec(
    telemetry=TelemetryWindow(lookback=timedelta(hours=12), step=timedelta(hours=1)),
    waveforms=None,
    frames=None,
    events=None,
    maintenance=None,
    stride=timedelta(hours=3),
)


def _fleet(tmp_path: Path, n: int = 12) -> Dataset:
    ids = [f"{t}{i:02d}" for i in range(n) for t in ("P", "S")]
    assets = pd.DataFrame({"asset_id": ids, "asset_type": ["pump" if a[0] == "P" else "spindle" for a in ids]})
    stamps = [hours(h) for h in range(0, 300, 1)]
    telemetry = pd.DataFrame(
        {
            "asset_id": np.repeat(ids, len(stamps)),
            "ts": stamps * len(ids),
            "channel": "temp",
            "value": np.tile(np.arange(len(stamps), dtype=float), len(ids)),
        }
    )
    failures = pd.DataFrame(
        {
            "asset_id": ids[:6],
            "ts": [hours(100 + 30 * i) for i in range(6)],
            "component": "bearing",
            "fault_type": "bearing_wear",
        }
    )
    manifest = tiny_manifest().model_copy(update={"components": {"pump": ("bearing",), "spindle": ("bearing",)}})
    return write_dataset(tmp_path / "fleet", manifest, {"assets": assets, "telemetry": telemetry, "failures": failures})


def test_asset_split_is_a_stratified_partition(tmp_path: Path) -> None:
    dataset = _fleet(tmp_path)
    splits = make_splits(dataset, SPEC, "asset", (0.5, 0.25, 0.25), seed=1)
    groups = [s.asset_ids for s in splits.values()]
    assert all(g is not None for g in groups)
    union = set().union(*groups)  # type: ignore[arg-type]
    assert union == dataset.asset_ids
    assert sum(len(g) for g in groups) == len(union)  # type: ignore[arg-type]
    for ids in groups:
        assert {a[0] for a in ids} == {"P", "S"}  # type: ignore[union-attr]
    windows = {name: WindowedDataset(dataset, SPEC, split=split) for name, split in splits.items()}
    anchor_assets = [set(w.anchors["asset_id"]) for w in windows.values()]
    assert not (anchor_assets[0] & anchor_assets[1]) and not (anchor_assets[0] & anchor_assets[2])


def test_asset_split_depends_on_seed_only() -> None:
    assets = pd.DataFrame({"asset_id": [f"A{i}" for i in range(20)], "asset_type": "pump"})
    assert assign_assets(assets, (0.6, 0.2, 0.2), 3) == assign_assets(assets.iloc[::-1], (0.6, 0.2, 0.2), 3)
    assert assign_assets(assets, (0.6, 0.2, 0.2), 3) != assign_assets(assets, (0.6, 0.2, 0.2), 4)


def test_time_split_leaves_a_gap_and_censors_labels(tmp_path: Path) -> None:
    dataset = _fleet(tmp_path)
    splits = make_splits(dataset, SPEC, "time", (0.5, 0.25, 0.25))
    windows = {name: WindowedDataset(dataset, SPEC, split=split) for name, split in splits.items()}
    train_end = windows["train"].anchors["ts"].max()
    val_start = windows["val"].anchors["ts"].min()
    # No input of a validation window reaches back into the training period.
    assert val_start - pd.Timedelta(SPEC.signal_lookback) > train_end
    assert windows["val"].anchors["ts"].max() < windows["test"].anchors["ts"].min() - pd.Timedelta(hours=12)
    # Training labels are decided only by failures up to the end of the training period.
    train = windows["train"]
    cut = splits["train"].end
    assert cut is not None
    reach = pd.to_timedelta(SPEC.horizons[-1])
    late = (train.anchors["ts"] + reach > cut).to_numpy()
    known = train.labels.failure_within_known[:, -1] > 0
    positive = train.labels.failure_within[:, -1] > 0
    assert not (late & known & ~positive).any()  # a late anchor can only be known through a failure before cut


def test_time_split_labels_do_not_change_with_future_failures(tmp_path: Path) -> None:
    """Adding failures after the training cut must not change any training label."""
    dataset = _fleet(tmp_path)
    splits = make_splits(dataset, SPEC, "time", (0.5, 0.25, 0.25))
    before = WindowedDataset(dataset, SPEC, split=splits["train"]).labels
    failures = dataset.table("failures")
    cut = splits["train"].end
    assert cut is not None
    extra = pd.DataFrame(
        {
            "asset_id": ["P07", "S08"],
            "ts": [cut + pd.Timedelta(hours=5), cut + pd.Timedelta(hours=20)],
            "component": "bearing",
            "fault_type": "bearing_wear",
        }
    )
    tables = {name: dataset.table(name) for name in ("assets", "telemetry")}
    tables["failures"] = pd.concat([failures, extra], ignore_index=True)
    changed = write_dataset(tmp_path / "changed", dataset.manifest, tables)
    after = WindowedDataset(changed, SPEC, split=make_splits(changed, SPEC, "time", (0.5, 0.25, 0.25))["train"]).labels
    np.testing.assert_array_equal(before.failure_within, after.failure_within)
    np.testing.assert_array_equal(before.failure_within_known, after.failure_within_known)
    np.testing.assert_array_equal(before.rul_hours, after.rul_hours)


def test_asset_time_split_is_disjoint_in_both(tmp_path: Path) -> None:
    dataset = _fleet(tmp_path)
    splits = make_splits(dataset, SPEC, "asset_time", (0.5, 0.25, 0.25), seed=2)
    assert splits["train"].asset_ids is not None and splits["test"].asset_ids is not None
    assert not splits["train"].asset_ids & splits["test"].asset_ids
    assert splits["test"].start is not None and splits["train"].end is not None
    assert splits["test"].start > splits["train"].end


def test_overlapping_splits_are_refused() -> None:
    a = Split("train", frozenset({"A", "B"}), end=pd.Timestamp("2024-01-10", tz="UTC"))
    b = Split("test", frozenset({"B"}), start=pd.Timestamp("2024-01-10 06:00", tz="UTC"))
    with pytest.raises(ConfigError, match="share an asset-period"):
        check_disjoint([a, b], SPEC)  # 6 h apart, but the test windows look back 12 h
    c = Split("test", frozenset({"B"}), start=pd.Timestamp("2024-01-10 13:00", tz="UTC"))
    check_disjoint([a, c], SPEC)
    d = Split("test", frozenset({"C"}), start=pd.Timestamp("2024-01-01", tz="UTC"))
    check_disjoint([a, d], SPEC)


def test_bad_fractions() -> None:
    with pytest.raises(ConfigError, match="fractions"):
        assign_assets(pd.DataFrame({"asset_id": ["A"], "asset_type": ["p"]}), (0.5, 0.5, 0.5), 0)
