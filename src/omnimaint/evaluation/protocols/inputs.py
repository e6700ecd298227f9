"""Reading what the protocols need from a canonical dataset: asset metadata, labels, wide telemetry."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.evaluation.protocols.base import ProtocolError


def asset_metadata(dataset: Dataset) -> dict[str, dict[str, Any]]:
    """The parsed ``metadata`` JSON of each asset (empty dict when absent).

    Raises:
        ProtocolError: if an asset's metadata is not a JSON object.
    """
    assets = dataset.table("assets")
    parsed: dict[str, dict[str, Any]] = {}
    for asset_id, raw in zip(assets["asset_id"], assets["metadata"], strict=True):
        if raw is None or (isinstance(raw, float) and pd.isna(raw)) or raw == "":
            parsed[str(asset_id)] = {}
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"{dataset.path}: asset {asset_id}: metadata is not JSON ({exc})") from exc
        if not isinstance(value, dict):
            raise ProtocolError(f"{dataset.path}: asset {asset_id}: metadata is not a JSON object")
        parsed[str(asset_id)] = value
    return parsed


def assets_of_type(dataset: Dataset, asset_type: str) -> list[str]:
    """Ids of the assets of one type, sorted."""
    assets = dataset.table("assets")
    return sorted(assets.loc[assets["asset_type"] == asset_type, "asset_id"].astype(str))


def has_asset_type(dataset: Dataset, asset_type: str) -> bool:
    """Whether the dataset holds at least one asset of a type."""
    return bool(assets_of_type(dataset, asset_type))


def require_table(dataset: Dataset, name: str, protocol: str) -> pd.DataFrame:
    """A table the protocol cannot run without.

    Raises:
        ProtocolError: naming the protocol and the table, if the table is absent or empty.
    """
    table = dataset.table(name)
    if table.empty:
        raise ProtocolError(f"{dataset.path}: protocol {protocol!r} needs a non-empty '{name}' table")
    return table


def wide_telemetry(dataset: Dataset, asset_ids: list[str] | None = None) -> pd.DataFrame:
    """Telemetry pivoted to one row per (asset_id, ts) and one column per channel, sorted by asset and time.

    Missing readings stay NaN (never filled with zeros).
    """
    long = dataset.table("telemetry")
    if asset_ids is not None:
        long = long[long["asset_id"].isin(asset_ids)]
    wide = long.pivot_table(index=["asset_id", "ts"], columns="channel", values="value", aggfunc="mean", sort=True)
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()
