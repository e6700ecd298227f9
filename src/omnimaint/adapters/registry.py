"""The adapter registry: every source format by name, so that the CLI and the tests enumerate them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from omnimaint.adapters.azure import import_azure
from omnimaint.adapters.cmapss import import_cmapss
from omnimaint.adapters.cwru import import_cwru
from omnimaint.adapters.generic import import_generic
from omnimaint.adapters.images import import_images
from omnimaint.adapters.maintnet import import_maintnet
from omnimaint.adapters.video import import_video
from omnimaint.data import Dataset
from omnimaint.errors import ConfigError


@dataclass(frozen=True)
class Adapter:
    """A source format and the function that converts it.

    Attributes:
        name: Format name used on the command line (``omnimaint import <name> SRC --out DATASET``).
        convert: ``convert(src, out, *, overwrite=False, show_progress=True, **options) -> Dataset``.
        summary: One line on what the format is.
        source: What ``SRC`` must be.
    """

    name: str
    convert: Callable[..., Dataset]
    summary: str
    source: str


ADAPTERS: Final[dict[str, Adapter]] = {
    adapter.name: adapter
    for adapter in (
        Adapter(
            "azure",
            import_azure,
            "Microsoft Azure Predictive Maintenance sample data (telemetry, errors, maintenance, failures)",
            "folder holding PdM_machines/telemetry/errors/maint/failures.csv",
        ),
        Adapter(
            "cmapss",
            import_cmapss,
            "NASA C-MAPSS turbofan run-to-failure simulation",
            "folder holding train_/test_/RUL_FD00x.txt (plain or .gz)",
        ),
        Adapter(
            "cwru",
            import_cwru,
            "Case Western Reserve University bearing vibration recordings",
            "folder searched recursively for .mat files named after their class (IR007_0.mat)",
        ),
        Adapter(
            "images",
            import_images,
            "labelled image folders (NEU-DET by file name, MVTec-AD, or class folders)",
            "image folder",
        ),
        Adapter(
            "video",
            import_video,
            "a video file sampled into PNG frames at a fixed rate (PyAV)",
            "video file (mp4, avi, mkv ...)",
        ),
        Adapter(
            "maintnet",
            import_maintnet,
            "MaintNet aviation maintenance logbook (problem/action work orders)",
            "folder holding problems_actions.csv (and optionally annotated_problems.csv)",
        ),
        Adapter(
            "generic",
            import_generic,
            "customer CSV/Parquet files described by a YAML mapping",
            "YAML mapping file (the files it lists are relative to its folder)",
        ),
    )
}
"""Every adapter by name."""


def list_adapters() -> list[str]:
    """Names of the registered adapters, sorted."""
    return sorted(ADAPTERS)


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name``.

    Raises:
        ConfigError: if there is none, listing the known names.
    """
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ConfigError(f"unknown source format {name!r}; formats are {list_adapters()}") from None
