"""The canonical multimodal data model: schema and validation, dataset read/write, windows, splits.

Owns: the on-disk layout (DESIGN.md §2), the sample contract (§3). Must not import torch or any
model, training or service code: everything downstream builds on this package, not the reverse.
"""

from omnimaint.data.dataset import Dataset, DatasetWriter, describe_provenance, validate_dataset, write_dataset
from omnimaint.data.manifest import CameraInfo, ChannelInfo, Manifest, TableInfo
from omnimaint.data.schema import SCHEMA_VERSION, TABLES, TableSpec

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "CameraInfo",
    "ChannelInfo",
    "Dataset",
    "DatasetWriter",
    "Manifest",
    "TableInfo",
    "TableSpec",
    "describe_provenance",
    "validate_dataset",
    "write_dataset",
]
