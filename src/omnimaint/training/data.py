"""From windows to training batches: labels as tensors, a DDP-aware batch order, the data module.

The batch order is a seeded permutation of all anchors per epoch, cut into *global* batches; with
``W`` processes each takes every ``W``-th sample of each global batch. One process with batch ``B``
and two with ``B/2`` therefore see the same global batches, which is what makes data-parallel
training reproduce single-process training.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler

from omnimaint.data.sample_builder import WindowedDataset
from omnimaint.data.windows import Labels
from omnimaint.models.inputs import ModelInputs
from omnimaint.models.preprocessing import Preprocessor


@dataclass
class LabelTensors:
    """Labels of a batch as tensors (see :class:`omnimaint.data.windows.Labels`)."""

    failure_within: torch.Tensor  # (B, H)
    failure_within_known: torch.Tensor
    component_failure_within: torch.Tensor  # (B, H, P)
    component_failure_within_known: torch.Tensor
    rul_fraction: torch.Tensor  # (B,) RUL / cap
    rul_known: torch.Tensor
    fault_type: torch.Tensor  # (B,) long, -1 unknown
    health_state: torch.Tensor  # (B,) long, -1 unknown

    @classmethod
    def from_labels(cls, labels: Labels, rul_cap_hours: float, keep: np.ndarray | None = None) -> LabelTensors:
        """Convert; ``keep`` (B,) bool marks samples whose labels are used (others become unknown)."""
        use = np.ones(len(labels.rul_hours), dtype=bool) if keep is None else keep
        known = use.astype(np.float32)
        return cls(
            failure_within=torch.from_numpy(labels.failure_within),
            failure_within_known=torch.from_numpy(labels.failure_within_known * known[:, None]),
            component_failure_within=torch.from_numpy(labels.component_failure_within),
            component_failure_within_known=torch.from_numpy(
                labels.component_failure_within_known * known[:, None, None]
            ),
            rul_fraction=torch.from_numpy((labels.rul_hours / rul_cap_hours).astype(np.float32)),
            rul_known=torch.from_numpy(labels.rul_known * known),
            fault_type=torch.from_numpy(np.where(use, labels.fault_type, -1)),
            health_state=torch.from_numpy(np.where(use, labels.health_state, -1)),
        )

    def to(self, device: torch.device) -> LabelTensors:
        return LabelTensors(**{k: v.to(device) for k, v in self.__dict__.items()})


@dataclass
class TrainingBatch:
    """Inputs and labels of one batch."""

    inputs: ModelInputs
    labels: LabelTensors
    groups: torch.Tensor | None = None
    """(B,) long: which asset each window comes from (a number per asset of the split), if known."""

    def to(self, device: torch.device) -> TrainingBatch:
        groups = self.groups.to(device) if self.groups is not None else None
        return TrainingBatch(self.inputs.to(device), self.labels.to(device), groups)


def labelled_mask(windows: WindowedDataset, fraction: float, seed: int) -> np.ndarray:
    """Which anchors keep their labels when only ``fraction`` of them may be used.

    Whole (asset, day) blocks are kept or dropped together, by a seeded hash, so that the labelled
    subset is not a sprinkle of neighbours of unlabelled windows.
    """
    if fraction >= 1.0:
        return np.ones(len(windows), dtype=bool)
    anchors = windows.anchors
    days = anchors["ts"].dt.floor("D").astype(str)
    keys = (anchors["asset_id"].astype(str) + "|" + days + f"|{seed}").to_numpy()
    scores = np.array([zlib.crc32(k.encode()) / 2**32 for k in keys])
    return scores < fraction


class Indices(Dataset[int]):
    """Sample indices as a dataset (``0 .. size-1``, or the given ``rows``): a batch sampler picks positions
    and a collate function builds the batch from the indices there."""

    def __init__(self, size: int, rows: np.ndarray | None = None) -> None:
        self.size = size if rows is None else len(rows)
        self.rows = rows

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> int:
        return index if self.rows is None else int(self.rows[index])


class EpochCounter:
    """Holds the epoch; Lightning calls ``set_epoch`` on a batch sampler's ``sampler`` attribute."""

    def __init__(self) -> None:
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class GlobalBatchSampler(Sampler[list[int]]):
    """Seeded global batches, each split across data-parallel ranks (see module docstring).

    Args:
        size: Number of anchors.
        global_batch: Samples per global batch (over all ranks).
        shuffle: Permute per epoch (seeded by ``seed`` and the epoch Lightning passes to ``set_epoch``).
        seed: Seed of the permutation.
        limit: Cap on global batches per epoch.
        groups: With ``group_size``: a group (asset) per index; shuffled batches are then made of runs of
            ``group_size`` indices of one group (drawn at random within it), so that a window's batch holds
            others of its group.
        group_size: Indices of one group that follow each other (the last run of a group may be shorter).
    """

    def __init__(
        self,
        size: int,
        global_batch: int,
        *,
        shuffle: bool,
        seed: int,
        limit: int | None = None,
        groups: np.ndarray | None = None,
        group_size: int | None = None,
    ) -> None:
        if (groups is None) != (group_size is None) or (groups is not None and len(groups) != size):
            raise ValueError("groups (one per index) and group_size go together")
        self.size = size
        self.global_batch = global_batch
        self.shuffle = shuffle
        self.seed = seed
        self.limit = limit
        self.groups = groups
        self.group_size = group_size
        self.sampler = EpochCounter()

    @staticmethod
    def _rank_world() -> tuple[int, int]:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _order(self) -> np.ndarray:
        order = np.arange(self.size)
        if not self.shuffle:
            return order
        rng = np.random.default_rng([self.seed, self.sampler.epoch])
        if self.groups is None or self.group_size is None:
            rng.shuffle(order)
            return order
        runs = []
        for group in np.unique(self.groups):
            members = rng.permutation(np.flatnonzero(self.groups == group))
            runs += [members[i : i + self.group_size] for i in range(0, len(members), self.group_size)]
        return np.concatenate([runs[i] for i in rng.permutation(len(runs))])

    def _batches(self) -> list[np.ndarray]:
        order = self._order()
        batches = [order[i : i + self.global_batch] for i in range(0, self.size, self.global_batch)]
        return batches[: self.limit] if self.limit is not None else batches

    def __iter__(self) -> Iterator[list[int]]:
        rank, world = self._rank_world()
        for batch in self._batches():
            part = batch[rank::world]
            if len(part):
                yield [int(i) for i in part]

    def __len__(self) -> int:
        return len(self._batches())


class Collate:
    """Indices → :class:`TrainingBatch` (windows cut, preprocessed, labels masked by the label fraction)."""

    def __init__(self, windows: WindowedDataset, preprocessor: Preprocessor, labelled: np.ndarray) -> None:
        self.windows = windows
        self.preprocessor = preprocessor
        self.labelled = labelled
        self.rul_cap_hours = windows.spec.rul_cap.total_seconds() / 3600
        self.groups = asset_groups(windows)

    def __call__(self, indices: list[int]) -> TrainingBatch:
        idx = np.asarray(indices, dtype=np.int64)
        batch = self.windows.batch(idx)
        labels = LabelTensors.from_labels(batch.labels, self.rul_cap_hours, self.labelled[idx])
        return TrainingBatch(self.preprocessor(batch), labels, torch.from_numpy(self.groups[idx]))


def asset_groups(windows: WindowedDataset) -> np.ndarray:
    """A number per window saying which asset it comes from (0 .. assets-1, in order of asset id)."""
    codes, _ = pd.factorize(windows.anchors["asset_id"], sort=True)
    return codes.astype(np.int64)


class WindowDataModule(L.LightningDataModule):
    """Training and validation loaders over prepared windows (built once, before any process forks)."""

    def __init__(
        self,
        train: WindowedDataset,
        val: WindowedDataset | None,
        preprocessor: Preprocessor,
        *,
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        label_fraction: float = 1.0,
        limit_train_batches: int | None = None,
        asset_group: int | None = None,
    ) -> None:
        super().__init__()
        self.train = train
        self.val = val
        self.preprocessor = preprocessor
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.labelled = labelled_mask(train, label_fraction, seed)
        self.limit_train_batches = limit_train_batches
        self.asset_group = asset_group
        """Draw training batches as runs of this many windows of one asset (see :class:`GlobalBatchSampler`)."""

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch.to(device) if isinstance(batch, TrainingBatch) else batch

    def _loader(self, windows: WindowedDataset, labelled: np.ndarray, shuffle: bool, limit: int | None) -> DataLoader:
        # With a label fraction, epochs run over the labelled windows only: fine-tuning losses are supervised,
        # so an unlabelled window would cost a forward and backward pass and contribute nothing.
        rows = None if labelled.all() else np.flatnonzero(labelled)
        indices = Indices(len(windows), rows)
        collate = Collate(windows, self.preprocessor, labelled)
        grouped = shuffle and self.asset_group is not None
        groups = (collate.groups if rows is None else collate.groups[rows]) if grouped else None
        sampler = GlobalBatchSampler(
            len(indices),
            self.batch_size,
            shuffle=shuffle,
            seed=self.seed,
            limit=limit,
            groups=groups,
            group_size=self.asset_group if grouped else None,
        )
        return DataLoader(
            indices,
            batch_sampler=sampler,
            collate_fn=collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, self.labelled, True, self.limit_train_batches)

    def val_dataloader(self) -> DataLoader:
        if self.val is None:
            return []  # type: ignore[return-value]
        return self._loader(self.val, np.ones(len(self.val), dtype=bool), False, None)
