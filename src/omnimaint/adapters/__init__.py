"""Adapters: public and customer source formats → canonical datasets (DESIGN.md §1, §2).

Owns: reading each publisher's own files (Azure PdM CSVs, C-MAPSS text, CWRU ``.mat``, image folders,
video, MaintNet CSV, mapped CSV/Parquet), mapping them onto the canonical tables, and writing them with
:class:`omnimaint.data.DatasetWriter` (atomic, validated). Every adapter is
``import_<format>(src, out, *, overwrite=False, ...) -> Dataset`` and is registered in :data:`ADAPTERS`
(:func:`register_adapter`), which gives it its ``omnimaint import`` command.
Errors in source files name the file, line and column. Must not import model, training or service code.
"""

from omnimaint.adapters.azure import import_azure
from omnimaint.adapters.clock import SYNTHETIC_EPOCH
from omnimaint.adapters.cmapss import import_cmapss
from omnimaint.adapters.cwru import import_cwru
from omnimaint.adapters.generic import import_generic
from omnimaint.adapters.images import import_images
from omnimaint.adapters.maintnet import import_maintnet
from omnimaint.adapters.mapping import Mapping, load_mapping
from omnimaint.adapters.registry import ADAPTERS, Adapter, AdapterOption, get_adapter, list_adapters, register_adapter
from omnimaint.adapters.video import import_video

__all__ = [
    "ADAPTERS",
    "SYNTHETIC_EPOCH",
    "Adapter",
    "AdapterOption",
    "Mapping",
    "get_adapter",
    "import_azure",
    "import_cmapss",
    "import_cwru",
    "import_generic",
    "import_images",
    "import_maintnet",
    "import_video",
    "list_adapters",
    "load_mapping",
    "register_adapter",
]
