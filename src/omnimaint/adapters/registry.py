"""The adapter registry: every source format by name, with the ``omnimaint import <name>`` command it gets.

An :class:`Adapter` says what its converter reads and which of its keyword arguments the command line
offers (:class:`AdapterOption`); the CLI builds one subcommand per registered adapter from that, so a
format registered with :func:`register_adapter` is importable from the command line as it is from Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from omnimaint.adapters.azure import import_azure
from omnimaint.adapters.cmapss import import_cmapss
from omnimaint.adapters.cwru import import_cwru
from omnimaint.adapters.cwru import summarize_import as summarize_cwru
from omnimaint.adapters.generic import import_generic
from omnimaint.adapters.images import import_images
from omnimaint.adapters.images import summarize_import as summarize_images
from omnimaint.adapters.maintnet import import_maintnet
from omnimaint.adapters.video import import_video
from omnimaint.data import Dataset
from omnimaint.errors import ConfigError
from omnimaint.registry import Registry


@dataclass(frozen=True)
class AdapterOption:
    """A keyword argument of an adapter's converter, offered as an option of its ``omnimaint import`` command.

    Its default is the converter's own (a repeatable option's: none given, an empty tuple).

    Attributes:
        keyword: The converter's keyword argument.
        help: One line of help.
        type: Type of the value typed on the command line (``str``, ``float``, ``Path`` ...).
        flag: The option's name (default: ``--`` and the keyword with dashes).
        metavar: How the help names the value (default: from the type).
        repeatable: Given once per value; the converter gets them as a tuple.
        parse: Turns the command-line value into the converter's, when they differ.
    """

    keyword: str
    help: str
    type: type = str
    flag: str | None = None
    metavar: str | None = None
    repeatable: bool = False
    parse: Callable[[Any], Any] | None = None

    @property
    def option(self) -> str:
        """The option as typed: ``--asset-type``."""
        return self.flag or "--" + self.keyword.replace("_", "-")


@dataclass(frozen=True)
class Adapter:
    """A source format, the function that converts it, and its ``omnimaint import`` command.

    Attributes:
        name: Format name used on the command line (``omnimaint import <name> SRC --out DATASET``).
        convert: ``convert(src, out, *, overwrite=False, show_progress=True, **options) -> Dataset``.
        summary: One line on what the format is (``omnimaint import formats``).
        source: What ``SRC`` must be (``omnimaint import formats``).
        help: The command's help: the format and what ``SRC`` is, in one sentence.
        options: The converter's keyword arguments the command offers, in the order its help lists them.
        describe_import: Lines on what an import found, from the dataset's provenance (printed after it).
    """

    name: str
    convert: Callable[..., Dataset]
    summary: str
    source: str
    help: str
    options: tuple[AdapterOption, ...] = ()
    describe_import: Callable[[dict[str, Any]], list[str]] | None = None


ADAPTERS: Final[Registry[Adapter]] = Registry("source format", ConfigError)
"""Every adapter by name, in the order ``omnimaint import`` lists them."""


def register_adapter(adapter: Adapter, *, replace: bool = False) -> Adapter:
    """Add a source format; ``omnimaint import`` gets its subcommand.

    Raises:
        ConfigError: if a format of that name is registered and ``replace`` is false.
    """
    return ADAPTERS.register(adapter.name, adapter, replace=replace)


def list_adapters() -> list[str]:
    """Names of the registered adapters, sorted."""
    return ADAPTERS.names()


def get_adapter(name: str) -> Adapter:
    """The adapter called ``name``.

    Raises:
        ConfigError: if there is none, listing the known names.
    """
    return ADAPTERS.get(name)


def _comma_separated(text: str | None) -> list[str] | None:
    """``"FD001, FD003"`` → ``["FD001", "FD003"]``; nothing given → ``None`` (every one)."""
    return [name.strip() for name in text.split(",") if name.strip()] if text else None


register_adapter(
    Adapter(
        "azure",
        import_azure,
        "Microsoft Azure Predictive Maintenance sample data (telemetry, errors, maintenance, failures)",
        "folder holding PdM_machines/telemetry/errors/maint/failures.csv",
        "Azure Predictive Maintenance sample data: a folder holding PdM_*.csv.",
        (
            AdapterOption("timezone", "IANA zone the files' local datetimes are in (default: they are UTC)."),
            AdapterOption("encoding", "Text encoding of the CSV files (utf-8-sig reads UTF-8 with or without a BOM)."),
        ),
    )
)
register_adapter(
    Adapter(
        "cmapss",
        import_cmapss,
        "NASA C-MAPSS turbofan run-to-failure simulation",
        "folder holding train_/test_/RUL_FD00x.txt (plain or .gz)",
        "NASA C-MAPSS: a folder holding train_/test_/RUL_FD00x.txt (plain or .gz).",
        (
            AdapterOption(
                "subsets", "Comma-separated subsets, e.g. FD001,FD003 (default: all).", parse=_comma_separated
            ),
        ),
    )
)
register_adapter(
    Adapter(
        "cwru",
        import_cwru,
        "Case Western Reserve University bearing vibration recordings",
        "folder searched recursively for .mat files named after their class (IR007_0.mat)",
        "CWRU bearing data: a folder (or a rate folder such as 12k_DE) searched for class-named .mat files.",
        (AdapterOption("rate", "Sampling rate in Hz for every file (default: from folders).", float),),
        lambda provenance: [summarize_cwru(provenance)],
    )
)
register_adapter(
    Adapter(
        "images",
        import_images,
        "labelled image folders (NEU-DET by file name, MVTec-AD, or class folders)",
        "image folder",
        "Labelled image folders: NEU-DET (class from file name), MVTec-AD, or class folders; masks paired.",
        (
            AdapterOption("layout", "auto, by_name (NEU), by_folder or mvtec."),
            AdapterOption("asset", "Asset id (by_name/by_folder; default: folder name)."),
        ),
        summarize_images,
    )
)
register_adapter(
    Adapter(
        "video",
        import_video,
        "a video file sampled into PNG frames at a fixed rate (PyAV)",
        "video file (mp4, avi, mkv ...)",
        "A video file sampled into PNG frames (needs the `video` extra).",
        (
            AdapterOption("fps", "Frames per second to keep.", float),
            AdapterOption("start", "ISO time with offset of the first frame (default: creation_time tag)."),
            AdapterOption("asset", "Asset id (default: file stem)."),
            AdapterOption("asset_type", "Asset type."),
            AdapterOption("camera", "Camera name."),
        ),
    )
)
register_adapter(
    Adapter(
        "maintnet",
        import_maintnet,
        "MaintNet aviation maintenance logbook (problem/action work orders)",
        "folder holding problems_actions.csv (and optionally annotated_problems.csv)",
        "MaintNet logbook: a folder holding problems_actions.csv (and optionally annotated_problems.csv).",
        (
            AdapterOption(
                "encoding", "Text encoding of both CSV files (default: UTF-8, else latin-1; annotations latin-1)."
            ),
        ),
    )
)
register_adapter(
    Adapter(
        "generic",
        import_generic,
        "customer CSV/Parquet files described by a YAML mapping",
        "YAML mapping file (the files it lists are relative to its folder)",
        "Customer CSV/Parquet files: SRC is a YAML mapping file (see docs/adapters.md).",
        (
            AdapterOption(
                "allow_roots",
                "A folder besides the mapping's own that its files may come from (repeatable); others are refused.",
                Path,
                flag="--allow-root",
                metavar="DIR",
                repeatable=True,
            ),
            AdapterOption("encoding", "Text encoding of every CSV source (overrides each source's csv.encoding)."),
        ),
    )
)
