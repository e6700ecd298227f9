"""Train/validation/test splits by asset and by time, built so that nothing leaks between them.

- By asset: every asset is in exactly one split (stratified by asset type).
- By time: anchors of a split lie in its own period; consecutive periods are separated by a gap of
  the longest signal lookback, so that no window's inputs reach into the previous period, and the
  labels of a split are censored at the end of its period, so that failures of a later period never
  decide an earlier split's labels.
- By asset and time: both at once (held-out assets, evaluated on a later period).

Work-order history is deliberately exempt from the gap: a test window may read work orders closed
during the training period, as a live system reads the plant's past.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from omnimaint.data.dataset import Dataset
from omnimaint.data.schema import MODALITY_TABLES, TABLES
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import ConfigError

SPLIT_NAMES = ("train", "val", "test")
SplitStrategy = Literal["asset", "time", "asset_time"]


@dataclass(frozen=True)
class Split:
    """Which anchors belong to a split, and where its labels are censored.

    Attributes:
        name: ``train``, ``val`` or ``test``.
        asset_ids: Assets of the split; ``None`` means every asset.
        start: Earliest anchor (inclusive); ``None`` means no bound.
        end: Latest anchor (inclusive); labels are censored here. ``None`` means no bound.
    """

    name: str
    asset_ids: frozenset[str] | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def overlaps(self, other: Split, spec: WindowSpec) -> bool:
        """Whether some asset-period is in both splits (inputs or label reach included)."""
        if self.asset_ids is not None and other.asset_ids is not None and not (self.asset_ids & other.asset_ids):
            return False
        first, second = (self, other) if _start(self) <= _start(other) else (other, self)
        if first.end is None:
            return True
        # ``second``'s first window reads (start - lookback, start]: it must not reach into first's period.
        return _start(second) - pd.Timedelta(spec.signal_lookback) < first.end


def _start(split: Split) -> pd.Timestamp:
    return split.start if split.start is not None else pd.Timestamp.min.tz_localize("UTC")


def _check_fractions(fractions: tuple[float, float, float]) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1.0):
        raise ConfigError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")


def assign_assets(assets: pd.DataFrame, fractions: tuple[float, float, float], seed: int) -> dict[str, frozenset[str]]:
    """Assign assets to train/val/test, stratified by ``asset_type``.

    Within each type, assets are shuffled with ``seed`` and cut by the fractions (largest-remainder
    rounding), so each split gets its share of every machine type.
    """
    _check_fractions(fractions)
    rng = np.random.default_rng(seed)
    out: dict[str, set[str]] = {name: set() for name in SPLIT_NAMES}
    for _, group in sorted(assets.groupby("asset_type"), key=lambda item: str(item[0])):
        ids = sorted(str(a) for a in group["asset_id"])
        rng.shuffle(ids)
        exact = np.array(fractions) * len(ids)
        counts = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - counts), kind="stable")[: len(ids) - counts.sum()]:
            counts[i] += 1
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for name, lo, hi in zip(SPLIT_NAMES, bounds[:-1], bounds[1:], strict=True):
            out[name].update(ids[lo:hi])
    # Small fleets: rounding per type can leave a split with a positive share empty; give it one asset
    # from the largest split (the choice is seeded like the rest).
    for name, share in zip(SPLIT_NAMES, fractions, strict=True):
        if share > 0 and not out[name]:
            donor = max(SPLIT_NAMES, key=lambda n: len(out[n]))
            if len(out[donor]) > 1:
                moved = sorted(out[donor])[int(rng.integers(len(out[donor])))]
                out[donor].remove(moved)
                out[name].add(moved)
    return {name: frozenset(ids) for name, ids in out.items()}


def time_range(dataset: Dataset) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last timestamp of any modality in the dataset."""
    stamps: list[pd.Timestamp] = []
    for name in MODALITY_TABLES:
        column = TABLES[name].time_column
        assert column is not None
        values = dataset.arrow(name, columns=[column]).column(column)
        if len(values):
            bounds = pc.min_max(values)
            stamps += [pd.Timestamp(bounds["min"].as_py()), pd.Timestamp(bounds["max"].as_py())]
    if not stamps:
        raise ConfigError(f"{dataset.path}: the dataset has no time-stamped rows to split")
    return min(stamps), max(stamps)


def make_splits(
    dataset: Dataset,
    spec: WindowSpec,
    strategy: SplitStrategy = "asset",
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> dict[str, Split]:
    """Split a dataset into train/val/test.

    Args:
        dataset: The dataset.
        spec: The window spec (its signal lookback sets the gap of time splits).
        strategy: ``asset``, ``time`` or ``asset_time``.
        fractions: Shares of train, val, test (of assets, of time, or both).
        seed: Seed of the asset shuffle.

    Returns:
        ``{"train": Split, "val": Split, "test": Split}``, checked not to overlap.
    """
    _check_fractions(fractions)
    by_asset: dict[str, frozenset[str] | None] = dict.fromkeys(SPLIT_NAMES)
    if strategy in ("asset", "asset_time"):
        by_asset = dict(assign_assets(dataset.table("assets"), fractions, seed))
    periods: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = dict.fromkeys(SPLIT_NAMES, (None, None))
    if strategy in ("time", "asset_time"):
        first, last = time_range(dataset)
        gap = pd.Timedelta(spec.signal_lookback)
        cuts = [first + (last - first) * float(f) for f in np.cumsum(fractions)[:-1]]
        periods = {
            "train": (None, cuts[0]),
            "val": (cuts[0] + gap, cuts[1]),
            "test": (cuts[1] + gap, None),
        }
    elif strategy != "asset":
        raise ConfigError(f"unknown split strategy {strategy!r}; use 'asset', 'time' or 'asset_time'")
    splits = {
        name: Split(name=name, asset_ids=by_asset[name], start=periods[name][0], end=periods[name][1])
        for name in SPLIT_NAMES
    }
    check_disjoint(splits.values(), spec)
    return splits


def check_disjoint(splits: Iterable[Split], spec: WindowSpec) -> None:
    """Raise :class:`ConfigError` if two splits share an asset-period.

    Args:
        splits: The splits.
        spec: The window spec whose signal lookback extends each split's inputs backwards.
    """
    for a, b in itertools.combinations(list(splits), 2):
        if a.overlaps(b, spec):
            raise ConfigError(f"splits '{a.name}' and '{b.name}' share an asset-period; they would leak")


def splits_to_json(splits: dict[str, Split]) -> dict[str, dict[str, object]]:
    """The splits as JSON (a bundle records the splits it was trained on, so that evaluation finds the same
    held-out assets and periods on any dataset): per split, its sorted assets (``None``: all) and bounds."""
    return {
        name: {
            "assets": sorted(split.asset_ids) if split.asset_ids is not None else None,
            "start": split.start.isoformat() if split.start is not None else None,
            "end": split.end.isoformat() if split.end is not None else None,
        }
        for name, split in splits.items()
    }


def splits_from_json(record: dict[str, dict[str, object]]) -> dict[str, Split]:
    """Splits back from :func:`splits_to_json`."""

    def stamp(value: object) -> pd.Timestamp | None:
        return pd.Timestamp(str(value)) if value is not None else None

    splits = {}
    for name, item in record.items():
        assets = item.get("assets")
        splits[name] = Split(
            name=name,
            asset_ids=frozenset(str(a) for a in assets) if isinstance(assets, list) else None,
            start=stamp(item.get("start")),
            end=stamp(item.get("end")),
        )
    return splits
