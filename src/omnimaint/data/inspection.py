"""What a dataset holds, at a glance: assets, time range, per-modality counts, label counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.schema import MODALITY_TABLES, TABLES


@dataclass(frozen=True)
class AssetSummary:
    """Counts for one asset."""

    asset_id: str
    asset_type: str
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    rows: dict[str, int]
    failures: int


@dataclass(frozen=True)
class DatasetSummary:
    """Counts for a whole dataset.

    Attributes:
        name: Dataset name from the manifest.
        assets: One summary per asset, in asset-id order.
        rows: Rows per table.
        asset_types: Number of assets per type.
        failures_by_fault: Failure (or labelled-state) rows per fault type.
        failures_by_component: Failure rows per component.
        maintenance_by_kind: Work orders per kind.
        channels: Telemetry channel names present.
    """

    name: str
    assets: tuple[AssetSummary, ...]
    rows: dict[str, int]
    asset_types: dict[str, int]
    failures_by_fault: dict[str, int]
    failures_by_component: dict[str, int]
    maintenance_by_kind: dict[str, int]
    channels: tuple[str, ...]

    @property
    def first(self) -> pd.Timestamp | None:
        stamps = [a.first for a in self.assets if a.first is not None]
        return min(stamps) if stamps else None

    @property
    def last(self) -> pd.Timestamp | None:
        stamps = [a.last for a in self.assets if a.last is not None]
        return max(stamps) if stamps else None


def summarize(dataset: Dataset) -> DatasetSummary:
    """Count what ``dataset`` holds, without loading waveform samples."""
    assets = dataset.table("assets")
    per_asset_rows: dict[str, Counter[str]] = {a: Counter() for a in assets["asset_id"]}
    first: dict[str, pd.Timestamp] = {}
    last: dict[str, pd.Timestamp] = {}
    rows: dict[str, int] = {"assets": len(assets)}
    for name in (*MODALITY_TABLES, "failures"):
        spec = TABLES[name]
        assert spec.time_column is not None
        keys = dataset.arrow(name, columns=["asset_id", spec.time_column]).to_pandas()
        rows[name] = len(keys)
        if keys.empty:
            continue
        grouped = keys.groupby("asset_id")[spec.time_column]
        for asset_id, count in grouped.size().items():
            per_asset_rows[str(asset_id)][name] = int(count)
        if name in MODALITY_TABLES:
            for asset_id, stamp in grouped.min().items():
                first[str(asset_id)] = min(first.get(str(asset_id), stamp), stamp)
            for asset_id, stamp in grouped.max().items():
                last[str(asset_id)] = max(last.get(str(asset_id), stamp), stamp)
    failures = dataset.table("failures")
    maintenance = dataset.arrow("maintenance", columns=["asset_id", "ts_open", "kind"]).to_pandas()
    telemetry_channels = dataset.arrow("telemetry", columns=["channel"]).column("channel").unique().to_pylist()
    summaries = tuple(
        AssetSummary(
            asset_id=str(row.asset_id),
            asset_type=str(row.asset_type),
            first=first.get(str(row.asset_id)),
            last=last.get(str(row.asset_id)),
            rows={name: per_asset_rows[str(row.asset_id)].get(name, 0) for name in MODALITY_TABLES},
            failures=per_asset_rows[str(row.asset_id)].get("failures", 0),
        )
        for row in assets.itertuples()
    )
    return DatasetSummary(
        name=dataset.manifest.name,
        assets=summaries,
        rows=rows,
        asset_types=dict(Counter(str(t) for t in assets["asset_type"])),
        failures_by_fault=dict(Counter(str(f) for f in failures["fault_type"])),
        failures_by_component=dict(Counter(str(c) for c in failures["component"])),
        maintenance_by_kind=dict(Counter(str(k) for k in maintenance["kind"])),
        channels=tuple(sorted(str(c) for c in telemetry_channels)),
    )
