"""NASA C-MAPSS turbofan run-to-failure data (``train/test/RUL_FD00x.txt[.gz]``) → canonical dataset.

Each ``train_FD00x`` engine runs to failure; each ``test_FD00x`` engine stops early and ``RUL_FD00x``
gives, line by line in unit order, the cycles it had left. Cycle ``k`` is placed at
``2000-01-01T00:00Z + k hours`` (1 cycle ↦ 1 hour), so that the remaining-useful-life labels come out of
the generic label code: a train engine fails at its last cycle, a test engine ``RUL`` cycles after its
last one. See ``docs/adapters.md``.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from omnimaint.adapters.clock import synthetic_times
from omnimaint.adapters.sources import require_file
from omnimaint.data import ChannelInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.errors import ConfigError, DatasetError
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)

ASSET_TYPE: Final = "turbofan"
COMPONENT: Final = "engine"
FAULT_TYPE: Final = "degradation"
CHANNELS: Final = ("setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22)))
COLUMNS: Final = ("unit", "cycle", *CHANNELS)
_CYCLE_HZ: Final = 1.0 / 3600.0
_SUBSET = re.compile(r"^(?:train|test|RUL)_(FD\d{3})\.txt(?:\.gz)?$")

# Saxena et al. (2008), table 2: (symbol, description, unit) of each sensor; settings after the data files.
_DESCRIPTIONS: Final = {
    "setting1": ("altitude", "kft"),
    "setting2": ("Mach number", ""),
    "setting3": ("throttle resolver angle (TRA)", "%"),
    "s1": ("T2: total temperature at fan inlet", "degR"),
    "s2": ("T24: total temperature at LPC outlet", "degR"),
    "s3": ("T30: total temperature at HPC outlet", "degR"),
    "s4": ("T50: total temperature at LPT outlet", "degR"),
    "s5": ("P2: pressure at fan inlet", "psia"),
    "s6": ("P15: total pressure in bypass-duct", "psia"),
    "s7": ("P30: total pressure at HPC outlet", "psia"),
    "s8": ("Nf: physical fan speed", "rpm"),
    "s9": ("Nc: physical core speed", "rpm"),
    "s10": ("epr: engine pressure ratio (P50/P2)", ""),
    "s11": ("Ps30: static pressure at HPC outlet", "psia"),
    "s12": ("phi: ratio of fuel flow to Ps30", "pps/psi"),
    "s13": ("NRf: corrected fan speed", "rpm"),
    "s14": ("NRc: corrected core speed", "rpm"),
    "s15": ("BPR: bypass ratio", ""),
    "s16": ("farB: burner fuel-air ratio", ""),
    "s17": ("htBleed: bleed enthalpy", ""),
    "s18": ("Nf_dmd: demanded fan speed", "rpm"),
    "s19": ("PCNfR_dmd: demanded corrected fan speed", "rpm"),
    "s20": ("W31: HPT coolant bleed", "lbm/s"),
    "s21": ("W32: LPT coolant bleed", "lbm/s"),
}


@dataclass(frozen=True)
class EngineRecords:
    """The parsed records of one C-MAPSS file: values (records, 26) and each record's line number."""

    path: Path
    values: np.ndarray
    lines: np.ndarray

    def units(self) -> np.ndarray:
        return np.unique(self.values[:, 0].astype(np.int64))


def cmapss_asset_id(subset: str, split: str, unit: int) -> str:
    """Asset id of an engine: ``FD001-train-001``."""
    return f"{subset}-{split}-{unit:03d}"


def _find(src: Path, stem: str) -> Path:
    for candidate in (src / f"{stem}.txt", src / f"{stem}.txt.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{src / stem}.txt: not found (nor {stem}.txt.gz); a C-MAPSS subset needs train, test and RUL")


def _open_bytes(path: Path) -> gzip.GzipFile | io.BufferedReader:
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line; a byte that is not ASCII is an error naming its real line."""
    require_file(path, "a C-MAPSS text file")
    number = 0
    try:
        with _open_bytes(path) as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield number, raw.decode("ascii")
                except UnicodeDecodeError as exc:
                    raise DatasetError(
                        f"{path}: line {number}, character {exc.start + 1}: byte {raw[exc.start]:#04x} is not ASCII "
                        "(C-MAPSS files hold space-separated numbers only)"
                    ) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DatasetError(f"{path}: damaged or truncated gzip file after line {number} ({exc})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror})") from exc


def read_engine_file(path: Path) -> EngineRecords:
    """Parse a ``train_``/``test_`` file: 26 space-separated numbers per line (trailing spaces allowed).

    Raises:
        DatasetError: naming the file, line and column of the first malformed field, a line with the
            wrong number of fields, or records of a unit out of order.
    """
    rows: list[list[float]] = []
    numbers: list[int] = []
    for number, line in _lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(COLUMNS):
            raise DatasetError(
                f"{path}: line {number}: expected {len(COLUMNS)} space-separated fields "
                f"(unit, cycle, setting1-3, s1-s21), found {len(fields)} (truncated or damaged line?)"
            )
        try:
            rows.append([float(field) for field in fields])
        except ValueError:
            column = next(i for i, field in enumerate(fields) if not _is_number(field))
            raise DatasetError(
                f"{path}: line {number}, column {column + 1} ('{COLUMNS[column]}'): not a number: {fields[column]!r}"
            ) from None
        numbers.append(number)
    if not rows:
        raise DatasetError(f"{path}: no records")
    values = np.asarray(rows, dtype=np.float64)  # (records, 26)
    lines = np.asarray(numbers, dtype=np.int64)
    _check_order(path, values, lines)
    return EngineRecords(path, values, lines)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _check_order(path: Path, values: np.ndarray, lines: np.ndarray) -> None:
    for index, name in ((0, "unit"), (1, "cycle")):
        column = values[:, index]
        bad = (column != np.round(column)) | (column < 1) | ~np.isfinite(column)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"{path}: line {lines[first]}, column {index + 1} ('{name}'): expected a positive integer, "
                f"found {column[first]!r}"
            )
    unit, cycle = values[:, 0], values[:, 1]
    backwards = np.flatnonzero((unit[1:] == unit[:-1]) & (cycle[1:] <= cycle[:-1])) + 1
    if backwards.size:
        raise DatasetError(
            f"{path}: line {lines[backwards[0]]}: cycle does not increase within unit {int(unit[backwards[0]])} "
            "(repeated or out-of-order record)"
        )
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])  # first record of each run of one unit
    _, first_run = np.unique(unit[starts], return_index=True)
    repeated_runs = np.setdiff1d(np.arange(len(starts)), first_run)
    if repeated_runs.size:
        again = starts[repeated_runs.min()]
        raise DatasetError(
            f"{path}: line {lines[again]}: unit {int(unit[again])} appears again after other units "
            "(records of one unit must be consecutive)"
        )


def read_rul_file(path: Path) -> np.ndarray:
    """Parse ``RUL_FD00x``: one non-negative integer per line, in test-unit order."""
    values: list[int] = []
    for number, line in _lines(path):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 or not fields[0].isdigit():
            raise DatasetError(
                f"{path}: line {number}: expected one non-negative integer (cycles left), found {line.strip()!r}"
            )
        values.append(int(fields[0]))
    return np.asarray(values, dtype=np.int64)


def _telemetry(records: EngineRecords, subset: str, split: str) -> pd.DataFrame:
    values = records.values
    assets = np.array([cmapss_asset_id(subset, split, int(u)) for u in values[:, 0]], dtype=object)
    times = synthetic_times(values[:, 1], "h")
    per_record = len(CHANNELS)
    return pd.DataFrame(
        {
            "asset_id": np.repeat(assets, per_record),
            "ts": times.repeat(per_record),
            "channel": np.tile(np.array(CHANNELS, dtype=object), len(values)),
            "value": values[:, 2:].reshape(-1),  # (records × 24,)
        }
    )


def _last_cycles(records: EngineRecords) -> pd.Series:
    return pd.Series(records.values[:, 1], index=records.values[:, 0].astype(np.int64)).groupby(level=0).max()


@dataclass(frozen=True)
class _Subset:
    name: str
    train: EngineRecords
    test: EngineRecords
    rul: np.ndarray

    def assets(self) -> pd.DataFrame:
        rows = [
            {
                "asset_id": cmapss_asset_id(self.name, split, int(unit)),
                "asset_type": ASSET_TYPE,
                "metadata": json.dumps({"subset": self.name, "split": split, "unit": int(unit)}),
            }
            for split, records in (("train", self.train), ("test", self.test))
            for unit in records.units()
        ]
        return pd.DataFrame(rows)

    def failures(self) -> pd.DataFrame:
        train_last = _last_cycles(self.train)
        test_last = _last_cycles(self.test)
        ids = [cmapss_asset_id(self.name, "train", int(u)) for u in train_last.index]
        ids += [cmapss_asset_id(self.name, "test", int(u)) for u in test_last.index]
        cycles = np.concatenate([train_last.to_numpy(), test_last.to_numpy() + self.rul[test_last.index - 1]])
        return pd.DataFrame(
            {"asset_id": ids, "ts": synthetic_times(cycles, "h"), "component": COMPONENT, "fault_type": FAULT_TYPE}
        )


def _load_subset(src: Path, name: str) -> _Subset:
    train = read_engine_file(_find(src, f"train_{name}"))
    test = read_engine_file(_find(src, f"test_{name}"))
    rul_path = _find(src, f"RUL_{name}")
    rul = read_rul_file(rul_path)
    units = test.units()
    if len(rul) != len(units):
        raise DatasetError(
            f"{rul_path}: holds {len(rul)} RUL values but {test.path} has {len(units)} engines "
            "(one value per test engine, in unit order)"
        )
    if not np.array_equal(units, np.arange(1, len(units) + 1)):
        missing = sorted(set(range(1, len(units) + 1)) - set(units.tolist()))
        raise DatasetError(f"{test.path}: test units are not numbered 1..{len(units)} (missing {missing[:5]})")
    return _Subset(name, train, test, rul)


def find_subsets(src: Path) -> tuple[str, ...]:
    """Names of the subsets (``FD001`` ...) that have files in ``src``, sorted."""
    if not src.is_dir():
        raise DatasetError(f"{src}: not a folder (expected the folder holding train_/test_/RUL_FD00x.txt)")
    found = {match.group(1) for path in src.iterdir() if (match := _SUBSET.match(path.name))}
    if not found:
        raise DatasetError(f"{src}: no C-MAPSS files (train_FD00x.txt, test_FD00x.txt, RUL_FD00x.txt, or .gz)")
    return tuple(sorted(found))


def _manifest(src: Path, subsets: Sequence[str]) -> Manifest:
    return Manifest(
        schema_version=SCHEMA_VERSION,
        name="cmapss",
        channels=tuple(
            ChannelInfo(
                name=name,
                kind="telemetry",
                unit=_DESCRIPTIONS[name][1],
                sampling_rate_hz=_CYCLE_HZ,
                asset_types=(ASSET_TYPE,),
                description=f"{_DESCRIPTIONS[name][0]} (one reading per cycle; 1 cycle is placed as 1 hour)",
                role="operating_setting" if name.startswith("setting") else "reading",
            )
            for name in CHANNELS
        ),
        components={ASSET_TYPE: (COMPONENT,)},
        fault_types=(FAULT_TYPE,),
        provenance=describe_provenance(
            source="NASA C-MAPSS turbofan engine degradation simulation (Saxena et al., PHM 2008)",
            adapter="cmapss",
            source_path=str(src),
            subsets=list(subsets),
            time_convention="cycle k at 2000-01-01T00:00Z + k hours",
        ),
    )


def import_cmapss(
    src: Path,
    out: Path,
    *,
    overwrite: bool = False,
    subsets: Sequence[str] | None = None,
    show_progress: bool = True,
) -> Dataset:
    """Convert C-MAPSS subsets in ``src`` into a canonical dataset at ``out``.

    Args:
        src: Folder holding ``train_FD00x.txt``, ``test_FD00x.txt`` and ``RUL_FD00x.txt`` (plain or ``.gz``).
        out: Where the dataset appears (atomically).
        overwrite: Replace an existing dataset at ``out``.
        subsets: Subsets to convert (``["FD001", "FD003"]``); ``None`` converts every subset found.
        show_progress: Show a progress bar on a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if a file is missing or malformed (naming file, line and column), or an RUL file's
            length differs from the number of test engines.
        ConfigError: if a requested subset name is malformed.
    """
    available = find_subsets(src)
    wanted = tuple(subsets) if subsets else available
    for name in wanted:
        if not re.fullmatch(r"FD\d{3}", name):
            raise ConfigError(f"unknown C-MAPSS subset {name!r}; subsets are named like 'FD001' (found {available})")
    loaded: list[_Subset] = []
    with progress_bar("C-MAPSS subsets", len(wanted) * 2, enabled=show_progress) as advance:
        for name in wanted:
            loaded.append(_load_subset(src, name))
            advance(1)
        with DatasetWriter(out, _manifest(src, wanted), overwrite=overwrite) as writer:
            writer.append("assets", pd.concat([subset.assets() for subset in loaded], ignore_index=True))
            for subset in loaded:
                writer.append("telemetry", _telemetry(subset.train, subset.name, "train"))
                writer.append("telemetry", _telemetry(subset.test, subset.name, "test"))
                writer.append("failures", subset.failures())
                advance(1)
            dataset = writer.commit()
    logger.info("converted C-MAPSS %s from %s", ", ".join(wanted), src)
    return dataset
