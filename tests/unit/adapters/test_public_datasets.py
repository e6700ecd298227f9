"""The adapters on the real public files in ../shared/datasets (skipped when they are absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from omnimaint.adapters import import_azure, import_cmapss, import_cwru, import_images, import_maintnet
from omnimaint.data import validate_dataset

pytestmark = pytest.mark.data


@pytest.mark.parametrize("public_dataset", ["azure_pdm"], indirect=True)
def test_azure_pdm(public_dataset: Path, tmp_path: Path) -> None:
    import_azure(public_dataset, tmp_path / "out")
    dataset = validate_dataset(tmp_path / "out")
    rows = {name: info.rows for name, info in dataset.manifest.tables.items()}
    assert rows == {"assets": 20, "telemetry": 43_200 * 4, "events": 211, "maintenance": 208, "failures": 42}
    maintenance = dataset.table("maintenance")
    # 39 replacements coincide with a failure of the same component on the same machine (checked in the CSVs).
    assert maintenance["kind"].value_counts().to_dict() == {"preventive": 169, "corrective": 39}
    telemetry = dataset.table("telemetry")
    assert telemetry["ts"].min() == pd.Timestamp("2015-01-01T06:00Z")
    assert set(dataset.table("failures")["fault_type"]) <= {f"comp{i}_failure" for i in range(1, 5)}


@pytest.mark.parametrize("public_dataset", ["cmapss"], indirect=True)
def test_cmapss_fd001(public_dataset: Path, tmp_path: Path) -> None:
    dataset = validate_dataset(import_cmapss(public_dataset, tmp_path / "out", subsets=["FD001"]).path)
    assets = dataset.table("assets")
    splits = assets["metadata"].map(lambda text: json.loads(text)["split"]).value_counts().to_dict()
    assert splits == {"train": 100, "test": 100}
    assert dataset.manifest.tables["telemetry"].rows == (20_631 + 13_096) * 24
    failures = dataset.table("failures").set_index("asset_id")
    assert len(failures) == 200
    telemetry_end = dataset.table("telemetry").groupby("asset_id")["ts"].max()
    # test engine 1: 31 cycles, true RUL 112 (first line of RUL_FD001) → fails 112 cycles (hours) after its last one
    assert failures.loc["FD001-test-001", "ts"] - telemetry_end["FD001-test-001"] == pd.Timedelta(hours=112)
    train = [a for a in failures.index if "-train-" in a]
    assert (failures.loc[train, "ts"] == telemetry_end[train]).all()


@pytest.mark.parametrize("public_dataset", ["cwru"], indirect=True)
def test_cwru(public_dataset: Path, tmp_path: Path) -> None:
    dataset = validate_dataset(import_cwru(public_dataset, tmp_path / "out").path)
    recordings = sorted(public_dataset.rglob("*.mat"))  # one asset per recording (file); 43 with loads 0-3 HP
    assert len(dataset.asset_ids) == len(recordings)
    failures = dataset.table("failures")
    per_class = failures["fault_type"].value_counts().to_dict()
    expected = pd.Series([p.stem.rsplit("_", 1)[0] for p in recordings]).value_counts().to_dict()
    assert per_class == {("normal" if name == "Normal" else name): count for name, count in expected.items()}
    assert "normal" in set(failures["fault_type"])
    assert {"IR007", "B014", "OR021@6"} <= set(failures["fault_type"])
    waveforms = dataset.arrow("waveforms", columns=["asset_id", "channel", "sample_rate_hz"]).to_pandas()
    rates = waveforms.groupby("asset_id")["sample_rate_hz"].first()
    assert rates["Normal_0"] == 48_000.0
    assert (rates.drop("Normal_0") == 12_000.0).all()
    assert (waveforms["channel"] == "DE").sum() == len(recordings)


@pytest.mark.parametrize("public_dataset", ["neu_det"], indirect=True)
def test_neu_det(public_dataset: Path, tmp_path: Path) -> None:
    dataset = validate_dataset(import_images(public_dataset, tmp_path / "out").path)
    failures = dataset.table("failures")
    assert len(dataset.table("frames")) == 1_800
    assert failures["fault_type"].value_counts().to_dict() == dict.fromkeys(
        ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"), 300
    )
    notes = json.loads((tmp_path / "out" / "annotations" / "images.json").read_text())
    assert sum("boxes" in note for note in notes) == 1_800


@pytest.mark.parametrize("public_dataset", ["maintnet"], indirect=True)
def test_maintnet(public_dataset: Path, tmp_path: Path) -> None:
    dataset = validate_dataset(import_maintnet(public_dataset, tmp_path / "out").path)
    orders = dataset.table("maintenance")
    assert len(orders) == 6_169
    assert orders["work_order_id"].is_unique
    assert orders["component"].notna().sum() > 0
