"""What a benchmark protocol hands a method: a dataset and the anchors at which to predict, not arrays.

A protocol decides *which* samples a method trains, is validated and is tested on; the method cuts their
windows itself through the one window path (:class:`~omnimaint.data.sample_builder.WindowedDataset` under
the bundle's :class:`~omnimaint.data.windows.WindowSpec`). So a benchmark figure of the multimodal model
measures the same windows, preprocessors and bundle that ``omnimaint train`` gives a user.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.data.splits import Split


@dataclass(frozen=True)
class ProtocolInputs:
    """Samples of one part of a protocol's split.

    A method may read anything in ``dataset`` at or before each anchor's ``ts`` (never after); labels it
    derives from the dataset must not use what happened after ``labels_until``.

    Attributes:
        dataset: The canonical dataset.
        anchors: Columns ``asset_id`` and ``ts`` (UTC), one row per sample.
        split: Which part of the protocol's split these are: ``train``, ``val`` or ``test``.
        labels_until: The last moment whose outcomes may label these samples (the end of the part's label
            period); ``None``: everything the dataset holds.
        targets: What a method's output columns stand for, in order (the components of a per-component
            failure protocol); empty when the output is not per-column.
    """

    dataset: Dataset
    anchors: pd.DataFrame
    split: str
    labels_until: pd.Timestamp | None = None
    targets: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.anchors)

    def as_split(self) -> Split:
        """The :class:`Split` that restricts windows to these samples' assets and censors labels at
        ``labels_until``."""
        assets = frozenset(str(a) for a in self.anchors["asset_id"].unique())
        return Split(self.split, asset_ids=assets, end=self.labels_until)
