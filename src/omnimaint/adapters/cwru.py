"""Case Western Reserve University bearing data (MATLAB v5 ``.mat`` files) → canonical dataset.

Every ``.mat`` file under the source folder (symbolic links followed, see
:mod:`omnimaint.adapters.source_tree`) is one recording of the test rig, named after its class (``Normal_0``,
``IR007_1``, ``B014_2``, ``OR021@6_3``). It becomes one asset with one waveform row per accelerometer
present (``DE``, ``FE``, ``BA``) holding the whole recording, and one labelled-state row in ``failures``
(component ``bearing``, fault type ``normal`` or the class without the load). Faults seeded in the fan-end
bearing (files under a ``…_FE`` folder) are another fault than the same class in the drive-end bearing (a
smaller bearing, other defect frequencies), so their fault types carry the end: ``FE-IR007``. See
``docs/adapters.md`` for the sampling-rate, bearing-end and record-number rules.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.io
from scipy.io.matlab import MatReadError

from omnimaint.adapters.clock import SYNTHETIC_EPOCH
from omnimaint.adapters.source_tree import walk_source
from omnimaint.data import ChannelInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION, TIMESTAMP_TYPE
from omnimaint.errors import ConfigError, DatasetError
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)

ASSET_TYPE: Final = "bearing_rig"
COMPONENT: Final = "bearing"
CHANNELS: Final = ("DE", "FE", "BA")
FAN_END_PREFIX: Final = "FE-"
"""Prefix of the fault types of faults seeded in the fan-end bearing (``FE-IR007``)."""
NORMAL_RATE_HZ: Final = 48_000.0
"""CWRU's normal-baseline recordings were sampled at 48 kHz (CWRU Bearing Data Center, 'Normal Baseline Data')."""

_CLASS = re.compile(
    r"^(?:(?P<normal>Normal)|(?P<location>IR|B|OR)(?P<diameter>\d{3})(?P<position>@(?:3|6|12))?)_(?P<load>[0-3])$"
)
_VARIABLE = re.compile(r"^X(?P<record>\d+)(?:_(?P<channel>DE|FE|BA)_time|RPM)$")
_RATE_FOLDER = re.compile(r"^(?P<khz>\d+)k(?:_|$)", re.IGNORECASE)
_END_FOLDER = re.compile(r"_(?P<end>DE|FE)$", re.IGNORECASE)
# What scipy raises on a damaged, truncated, v7.3 (HDF5) or non-MATLAB file.
_UNREADABLE: Final = (MatReadError, ValueError, OSError, TypeError, IndexError, NotImplementedError)
_DESCRIPTIONS: Final = {
    "DE": "drive-end accelerometer",
    "FE": "fan-end accelerometer",
    "BA": "base-plate accelerometer",
}


@dataclass(frozen=True)
class BearingClass:
    """The class of a recording, parsed from its file name.

    Attributes:
        location: ``IR``, ``B``, ``OR`` or ``normal``.
        diameter_mils: Fault diameter in thousandths of an inch (``None`` for normal).
        position: Outer-race fault position ``@3``/``@6``/``@12`` (``None`` otherwise).
        load_hp: Motor load in horsepower (0-3).
    """

    location: str
    diameter_mils: int | None
    position: str | None
    load_hp: int

    @property
    def fault_type(self) -> str:
        """``normal``, or the class code without the load: ``IR007``, ``B014``, ``OR021@6``."""
        if self.location == "normal":
            return "normal"
        return f"{self.location}{self.diameter_mils:03d}{self.position or ''}"


def parse_class(path: Path) -> BearingClass:
    """Parse the class from a CWRU file name (``IR007_0.mat``).

    Raises:
        DatasetError: if the name is not a CWRU class name.
    """
    match = _CLASS.match(path.stem)
    if match is None:
        raise DatasetError(
            f"{path}: file name {path.stem!r} is not a CWRU class name; expected Normal_<load>, IR007_<load>, "
            "B014_<load> or OR021@6_<load> (load 0-3; outer-race position @3, @6 or @12). Rename the file after "
            "its class as listed in CWRU's tables"
        )
    load = int(match["load"])
    if match["normal"]:
        return BearingClass("normal", None, None, load)
    if (match["location"] == "OR") != (match["position"] is not None):
        raise DatasetError(f"{path}: file name {path.stem!r}: an outer-race (OR) class needs a position @3/@6/@12")
    return BearingClass(match["location"], int(match["diameter"]), match["position"], load)


def folders_of(src: Path, relative: Path) -> tuple[str, ...]:
    """The folder names that can tell a file's rate and bearing end, nearest first: the folders between the
    source folder and the file, then the source folder's own name (as given, then resolved through links),
    so that ``12k_DE`` itself can be the source."""
    names = [*reversed(relative.parts[:-1]), src.absolute().name, src.resolve().name]
    return tuple(dict.fromkeys(name for name in names if name))


def folder_rate(folders: Sequence[str], bearing: BearingClass) -> float | None:
    """Sampling rate from the nearest folder named ``<n>k…`` (``12k_DE`` → 12000); 48 kHz for normal files
    outside one."""
    for name in folders:
        match = _RATE_FOLDER.match(name)
        if match:
            return float(match["khz"]) * 1000.0
    return NORMAL_RATE_HZ if bearing.location == "normal" else None


def fault_end(folders: Sequence[str], bearing: BearingClass) -> str | None:
    """The bearing a fault was seeded in, from the nearest folder ending ``_DE``/``_FE``; ``None`` for normal
    recordings and for faults outside such a folder."""
    if bearing.location == "normal":
        return None
    for name in folders:
        match = _END_FOLDER.search(name)
        if match:
            return match["end"].upper()
    return None


def _choose_record(path: Path, records: dict[str, set[str]], bearing: BearingClass) -> str:
    """The record number whose variables belong to the file (some files also hold another record's)."""
    if len(records) == 1:
        return next(iter(records))
    if bearing.location == "normal":
        # CWRU numbers the normal baselines 97-100 for loads 0-3.
        for record in records:
            if int(record) == 97 + bearing.load_hp:
                return record
    # Otherwise the most complete record (it carries RPM and the most channels), the highest number on ties.
    chosen = max(records, key=lambda r: ("RPM" in records[r], len(records[r]), int(r)))
    logger.warning("%s: holds records %s; taking X%s", path, sorted(records), chosen)
    return chosen


def _read_variables(path: Path, names: list[str] | None = None) -> dict[str, Any]:
    try:
        return scipy.io.loadmat(path, variable_names=names)
    except _UNREADABLE as exc:
        raise DatasetError(f"{path}: not a readable MATLAB v5 file ({exc})") from exc


@dataclass(frozen=True)
class Recording:
    """One CWRU file: where it is, its class and rate, and which record's variables it contributes."""

    path: Path
    relative: Path
    bearing: BearingClass
    rate_hz: float
    record: str
    channels: tuple[str, ...]
    rpm: int | None
    end: str | None = None
    """Bearing the fault was seeded in (``DE``, ``FE``), ``None`` for normal recordings or when unknown."""

    @property
    def asset_id(self) -> str:
        return cwru_asset_id(self.relative)

    @property
    def fault_type(self) -> str:
        """The class code (``IR007``), with ``FE-`` in front for a fault in the fan-end bearing."""
        code = self.bearing.fault_type
        return f"{FAN_END_PREFIX}{code}" if self.end == "FE" else code

    def metadata(self) -> str:
        return json.dumps(
            {
                "load_hp": self.bearing.load_hp,
                "rate_hz": int(self.rate_hz) if float(self.rate_hz).is_integer() else self.rate_hz,
                "location": self.bearing.location,
                "diameter_mils": self.bearing.diameter_mils,
                "position": self.bearing.position,
                "end": self.end,
                "rpm": self.rpm,
                "source_file": self.relative.as_posix(),
                "record": f"X{self.record}",
            }
        )


def survey_recording(
    path: Path, relative: Path, bearing: BearingClass, rate_hz: float, end: str | None = None
) -> Recording:
    """List a file's variables (without reading the samples), choose its record and read its RPM."""
    try:
        variables = [name for name, _, _ in scipy.io.whosmat(path)]
    except _UNREADABLE as exc:
        raise DatasetError(f"{path}: not a readable MATLAB v5 file ({exc})") from exc
    records: dict[str, set[str]] = defaultdict(set)
    for name in variables:
        match = _VARIABLE.match(name)
        if match:
            records[match["record"]].add(match["channel"] or "RPM")
    records = {record: found for record, found in records.items() if found & set(CHANNELS)}
    if not records:
        raise DatasetError(
            f"{path}: no accelerometer variable X<record>_DE_time/_FE_time/_BA_time (found {sorted(variables)})"
        )
    record = _choose_record(path, records, bearing)
    rpm: int | None = None
    if "RPM" in records[record]:
        value = np.asarray(_read_variables(path, [f"X{record}RPM"])[f"X{record}RPM"]).reshape(-1)
        rpm = int(value[0]) if value.size else None
    channels = tuple(c for c in CHANNELS if c in records[record])
    return Recording(path, relative, bearing, rate_hz, record, channels, rpm, end)


def read_samples(recording: Recording) -> dict[str, np.ndarray]:
    """The recording's samples per channel, as float32 (raises naming a variable that is empty or non-finite)."""
    names = {channel: f"X{recording.record}_{channel}_time" for channel in recording.channels}
    content = _read_variables(recording.path, list(names.values()))
    channels: dict[str, np.ndarray] = {}
    for channel, variable in names.items():
        samples = np.asarray(content[variable], dtype=np.float64).reshape(-1)
        if samples.size == 0:
            raise DatasetError(f"{recording.path}: variable {variable} is empty")
        bad = ~np.isfinite(samples)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DatasetError(f"{recording.path}: variable {variable}: sample {first} is NaN or infinite")
        channels[channel] = samples.astype(np.float32)
    return channels


def cwru_asset_id(relative: Path) -> str:
    """Asset id of a recording: its path relative to the source without suffix, ``/`` → ``-``."""
    return "-".join(relative.with_suffix("").parts)


def _waveform_rows(asset_id: str, channels: dict[str, np.ndarray], rate: float) -> pa.Table:
    names = list(channels)
    lengths = np.array([len(channels[name]) for name in names], dtype=np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), type=pa.int32())
    samples = pa.ListArray.from_arrays(offsets, pa.array(np.concatenate([channels[n] for n in names])))
    return pa.table(
        {
            "asset_id": pa.array([asset_id] * len(names), type=pa.string()),
            "ts": pa.array([SYNTHETIC_EPOCH] * len(names), type=TIMESTAMP_TYPE),
            "channel": pa.array(names, type=pa.string()),
            "sample_rate_hz": pa.array([rate] * len(names), type=pa.float64()),
            "samples": samples,
        }
    )


def _manifest(src: Path, recordings: list[Recording], rate: float | None, links: dict[str, str]) -> Manifest:
    rates = {r.rate_hz for r in recordings}
    common_rate = next(iter(rates)) if len(rates) == 1 else None
    faults = {r.fault_type for r in recordings}
    ends = Counter("normal" if r.bearing.location == "normal" else (r.end or "unknown") for r in recordings)
    return Manifest(
        schema_version=SCHEMA_VERSION,
        name="cwru",
        channels=tuple(
            ChannelInfo(
                name=name,
                kind="waveform",
                sampling_rate_hz=common_rate,
                asset_types=(ASSET_TYPE,),
                description=f"{_DESCRIPTIONS[name]} (acceleration as published by CWRU)",
            )
            for name in CHANNELS
        ),
        components={ASSET_TYPE: (COMPONENT,)},
        fault_types=(("normal",) if "normal" in faults else ()) + tuple(sorted(faults - {"normal"})),
        provenance=describe_provenance(
            source="Case Western Reserve University Bearing Data Center (Smith & Randall, MSSP 2015)",
            adapter="cwru",
            source_path=str(src),
            rate_override_hz=rate,
            recordings=len(recordings),
            recordings_by_end={
                "DE": ends["DE"],
                "FE": ends["FE"],
                "unknown": ends["unknown"],
                "normal": ends["normal"],
            },
            loads_hp=sorted({r.bearing.load_hp for r in recordings}),
            rates_hz=sorted(rates),
            followed_links=links,
        ),
    )


def summarize_import(provenance: dict[str, Any]) -> str:
    """One line saying what a CWRU import found, from its dataset's provenance (the CLI prints it).

    Example: ``recordings: 43 (42 drive-end faults, 1 normal); loads 0, 1, 2, 3 HP; rates 12, 48 kHz``.
    """
    ends = provenance.get("recordings_by_end", {})
    kinds = [
        f"{ends[key]} {label}"
        for key, label in (
            ("DE", "drive-end faults"),
            ("FE", "fan-end faults (FE-…)"),
            ("unknown", "faults of unknown end, taken as drive-end"),
            ("normal", "normal"),
        )
        if ends.get(key)
    ]
    loads = ", ".join(str(load) for load in provenance.get("loads_hp", []))
    rates = ", ".join(f"{rate / 1000:g}" for rate in provenance.get("rates_hz", []))
    line = f"recordings: {provenance.get('recordings', 0)} ({', '.join(kinds)}); loads {loads} HP; rates {rates} kHz"
    if provenance.get("followed_links"):
        count = len(provenance["followed_links"])
        line += f"; followed {count} link{'s' if count != 1 else ''} out of the source folder"
    return line


_Planned = tuple[Path, Path, BearingClass, float, str | None]
"""A file to convert: path, path relative to the source, class, sampling rate, bearing end."""


def _plan(src: Path, rate: float | None) -> tuple[list[_Planned], dict[str, str]]:
    tree = walk_source(src)
    files = [path for path in tree.files if path.suffix.lower() == ".mat"]
    if not files:
        others = [tree.relative(p).as_posix() for p in tree.files[:3]]
        found = f" (found {len(tree.files)} other files: {', '.join(others)}{' …' if len(tree.files) > 3 else ''})"
        raise DatasetError(f"{src}: no .mat files{found if tree.files else ''}; CWRU recordings are MATLAB .mat files")
    plan: list[_Planned] = []
    for path in files:
        relative = tree.relative(path)
        bearing = parse_class(path)
        folders = folders_of(src, relative)
        file_rate = float(rate) if rate is not None else folder_rate(folders, bearing)
        if file_rate is None:
            raise DatasetError(
                f"{path}: cannot tell the sampling rate (no folder named like '12k_DE' or '48k_DE' holds it); "
                "put it in such a folder or pass --rate"
            )
        plan.append((path, relative, bearing, file_rate, fault_end(folders, bearing)))
    ends = {end for _, _, bearing, _, end in plan if bearing.location != "normal"}
    if "FE" in ends:
        fan = sum(end == "FE" for *_, end in plan)
        logger.warning(
            "%d fan-end fault recordings are labelled FE-<class> (FE-IR007 ...), apart from the drive-end classes",
            fan,
        )
        if None in ends:
            logger.warning("fault files outside a '_DE'/'_FE' folder are taken as drive-end faults")
    return plan, tree.external_links


def import_cwru(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    rate: float | None = None,
    show_progress: bool = True,
) -> Dataset:
    """Convert every CWRU ``.mat`` file under ``src`` into a canonical dataset at ``out``.

    Args:
        src: Folder searched recursively (symbolic links followed) for ``.mat`` files named after their class;
            may be a rate folder such as ``12k_DE`` itself.
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        rate: Sampling rate in Hz for every file, overriding the folder-name rule
            (``12k_*`` → 12 kHz, ``48k_*`` → 48 kHz, normal files outside such a folder → 48 kHz).
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if a file name is not a CWRU class, a file is unreadable or lacks accelerometer data,
            a link is dangling, or a fault file's rate cannot be told from its folder (pass ``rate``).
        ConfigError: if ``rate`` is not positive.
    """
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"--rate must be a positive, finite number of Hz, got {rate}")
    if not src.is_dir():
        raise DatasetError(f"{src}: not a folder (expected the folder holding the CWRU .mat files)")
    plan, links = _plan(src, rate)
    recordings: list[Recording] = []
    with progress_bar("CWRU recordings", 2 * len(plan), enabled=show_progress) as advance:
        for path, relative, bearing, file_rate, end in plan:
            recordings.append(survey_recording(path, relative, bearing, file_rate, end))
            advance(1)
        manifest = _manifest(src, recordings, rate, links)
        with DatasetWriter(out, manifest, overwrite=overwrite) as writer:
            writer.append(
                "assets",
                pd.DataFrame(
                    {
                        "asset_id": [r.asset_id for r in recordings],
                        "asset_type": ASSET_TYPE,
                        "metadata": [r.metadata() for r in recordings],
                    }
                ),
            )
            for recording in recordings:  # one file's samples in memory at a time
                writer.append(
                    "waveforms", _waveform_rows(recording.asset_id, read_samples(recording), recording.rate_hz)
                )
                advance(1)
            writer.append(
                "failures",
                pd.DataFrame(
                    {
                        "asset_id": [r.asset_id for r in recordings],
                        "ts": SYNTHETIC_EPOCH,
                        "component": COMPONENT,
                        "fault_type": [r.fault_type for r in recordings],
                    }
                ),
            )
            dataset = writer.commit()
    logger.info("converted %d CWRU recordings from %s", len(recordings), src)
    return dataset
