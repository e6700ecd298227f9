"""Does a dataset fit a bundle? Checked before any window is cut or scored.

A bundle reads data by name: asset types (one embedding per type), telemetry and waveform channels and
cameras (columns of its input arrays), event codes (one embedding per code); and it predicts components
and fault types by name. Data that uses none of those names comes from another plant or another import
mapping, and scoring it yields figures that look like results and mean nothing: a simulated-plant bundle
once scored Azure PdM data for seven minutes and printed fault-type macro-F1 1.000, because every Azure
channel was read as missing and every Azure failure as "no fault".

What is refused (:class:`IncompatibleDataError`, one line naming what does not fit):

- none of the checked assets has an asset type the bundle was trained on;
- the data hold telemetry, waveforms or frames, but under none of the bundle's channel or camera names;
- the bundle reads telemetry and the checked assets have none at all. Telemetry is the one input that is
  continuous: every training window held it, while bursts, frames, events and work orders are
  intermittent by nature and absent from many training windows. A bundle scoring without telemetry
  runs in a regime it never met;
- the data hold none of the inputs the bundle reads;
- the data's failures use none of the bundle's fault types (their windows could not be labelled).

What is scored with a warning (one log line each), because the model was built for it (presence masks,
modality dropout in training, a reserved index for unknown event codes):

- some assets have an asset type the bundle does not know (they get the embedding of its first type);
- some of the bundle's channels or cameras are missing (read as unobserved), or the data hold channels
  the bundle does not read (ignored);
- some assets have no telemetry; waveforms, frames, events or work orders are absent altogether;
- event codes the bundle never saw (read as the reserved "unknown code");
- failures of fault types or components the bundle does not know (their fault-type label is unknown,
  and per-component labels leave them out);
- telemetry much coarser than the bundle's grid (most steps of a window are empty).

The check works on a :class:`DataProfile` (what the data hold, by name), so that the live service can
build one from its store and use the same rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc

from omnimaint.data.dataset import Dataset
from omnimaint.data.item_index import micros_of
from omnimaint.data.window_proposal import format_duration, typical_period
from omnimaint.errors import OmnimaintError
from omnimaint.inference.bundle import Bundle

logger = logging.getLogger(__name__)


class IncompatibleDataError(OmnimaintError):
    """A dataset does not fit a bundle: it uses none of the names the bundle reads or predicts."""


@dataclass(frozen=True)
class DataProfile:
    """What a body of data holds, by name, for the assets being checked.

    Attributes:
        source: Where the data are (a dataset folder, a live store), for messages.
        asset_types: Asset type of each checked asset.
        telemetry_channels: Telemetry channels with readings.
        waveform_channels: Waveform channels with bursts.
        cameras: Cameras with frames.
        event_codes: Event codes logged.
        work_orders: Number of work orders.
        failure_fault_types: Fault types of the failures, with their counts.
        failure_components: Components of the failures, with their counts.
        assets_without_telemetry: Checked assets that have no telemetry reading.
        telemetry_period: Typical time between two readings of one channel of one asset (``None``: unknown).
    """

    source: str
    asset_types: dict[str, str]
    telemetry_channels: frozenset[str] = frozenset()
    waveform_channels: frozenset[str] = frozenset()
    cameras: frozenset[str] = frozenset()
    event_codes: frozenset[str] = frozenset()
    work_orders: int = 0
    failure_fault_types: dict[str, int] | None = None
    failure_components: dict[str, int] | None = None
    assets_without_telemetry: tuple[str, ...] = ()
    telemetry_period: timedelta | None = None

    @classmethod
    def of_dataset(cls, dataset: Dataset, assets: Iterable[str] | None = None) -> DataProfile:
        """Profile a dataset, or only some of its assets."""
        table = dataset.table("assets")
        if assets is not None:
            table = table[table["asset_id"].isin(set(assets))]
        ids = [str(a) for a in table["asset_id"]]
        wanted = pa.array(ids, type=pa.string())

        def rows(name: str, columns: list[str]) -> pa.Table:
            read = dataset.arrow(name, columns=["asset_id", *columns])
            return read.filter(pc.is_in(read.column("asset_id"), value_set=wanted))

        telemetry = rows("telemetry", ["ts", "channel"])
        failures = rows("failures", ["fault_type", "component"]).to_pandas()
        with_telemetry = {str(a) for a in pc.unique(telemetry.column("asset_id")).to_pylist()}
        return cls(
            source=str(dataset.path),
            asset_types={str(a): str(t) for a, t in zip(table["asset_id"], table["asset_type"], strict=True)},
            telemetry_channels=_distinct(telemetry, "channel"),
            waveform_channels=_distinct(rows("waveforms", ["channel"]), "channel"),
            cameras=_distinct(rows("frames", ["camera"]), "camera"),
            event_codes=_distinct(rows("events", ["code"]), "code"),
            work_orders=rows("maintenance", []).num_rows,
            failure_fault_types={str(k): int(v) for k, v in failures["fault_type"].value_counts().items()},
            failure_components={str(k): int(v) for k, v in failures["component"].value_counts().items()},
            assets_without_telemetry=tuple(a for a in ids if a not in with_telemetry),
            telemetry_period=_typical_period(telemetry),
        )


def _distinct(table: pa.Table, column: str) -> frozenset[str]:
    return frozenset(str(v) for v in pc.unique(table.column(column)).to_pylist() if v is not None)


def _typical_period(telemetry: pa.Table) -> timedelta | None:
    """Median time between consecutive readings of one channel of one asset."""
    if telemetry.num_rows < 2:
        return None
    series = telemetry.select(["asset_id", "channel"]).to_pandas()
    key = series.groupby(["asset_id", "channel"], sort=False, observed=True).ngroup().to_numpy()
    return typical_period(key, micros_of(telemetry.column("ts")))


@dataclass(frozen=True)
class DatasetFit:
    """The outcome of :func:`check_fit`.

    Attributes:
        problems: What does not fit (any one makes the data unusable with the bundle).
        warnings: Partial fits the bundle handles, each worth telling the user.
    """

    problems: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return not self.problems


def _names(values: Iterable[str], limit: int = 4) -> str:
    """``a, b, c, d, … (12)``: a short list for a one-line message."""
    items = sorted(values)
    shown = ", ".join(items[:limit])
    return f"{shown}, … ({len(items)})" if len(items) > limit else shown


_SIGNALS = (
    ("telemetry", "telemetry_channels", "telemetry channels"),
    ("waveforms", "waveform_channels", "waveform channels"),
    ("frames", "cameras", "cameras"),
)


def check_fit(bundle: Bundle, profile: DataProfile) -> DatasetFit:
    """Compare what the data hold with what the bundle reads and predicts (rules in the module docstring)."""
    vocab = bundle.preprocessor.vocab
    reads = set(bundle.model_config.modalities)
    problems: list[str] = []
    warnings: list[str] = []
    types = set(profile.asset_types.values())
    if not profile.asset_types:
        problems.append("it holds no asset to check")
    elif not types & set(vocab.asset_types):
        problems.append(
            f"none of its asset types ({_names(types)}) is one the bundle was trained on ({_names(vocab.asset_types)})"
        )
    elif types - set(vocab.asset_types):
        unknown = sorted(a for a, t in profile.asset_types.items() if t not in vocab.asset_types)
        warnings.append(
            f"assets {_names(unknown)} have asset types the bundle does not know "
            f"({_names(types - set(vocab.asset_types))}); they are scored as type {vocab.asset_types[0]!r}"
        )
    present: list[str] = []
    for modality, field, what in _SIGNALS:
        expected: tuple[str, ...] = getattr(vocab, field)
        found: frozenset[str] = getattr(profile, field)
        if modality not in reads or not expected:
            continue
        if found and not found & set(expected):
            known = f"the bundle's {len(expected)} {what} ({_names(expected)})"
            problems.append(f"it has none of {known}; its {what} are {_names(found)}")
            continue
        if found:
            present.append(modality)
        missing = [name for name in expected if name not in found]
        if not found and modality == "telemetry":
            problems.append(f"it has no telemetry, and the bundle reads {len(expected)} channels ({_names(expected)})")
        elif not found:
            warnings.append(f"it has no {modality}; the bundle reads them as absent, as when a sensor drops out")
        elif missing:
            warnings.append(f"the bundle's {what} {_names(missing)} are missing; they are read as unobserved")
        if found - set(expected):
            warnings.append(f"{what} {_names(found - set(expected))} are not read by the bundle and are ignored")
    if "telemetry" in present and profile.assets_without_telemetry:
        warnings.append(f"assets {_names(profile.assets_without_telemetry)} have no telemetry")
    if "telemetry" in present and bundle.window.telemetry is not None and profile.telemetry_period is not None:
        step = bundle.window.telemetry.step
        if profile.telemetry_period > 2 * step:
            warnings.append(
                f"its telemetry comes every {format_duration(profile.telemetry_period)}, coarser than the bundle's "
                f"{format_duration(step)} grid: most steps of each window are empty"
            )
    if "events" in reads:
        if profile.event_codes:
            present.append("events")
            unknown_codes = profile.event_codes - set(vocab.event_codes)
            if vocab.event_codes and unknown_codes == profile.event_codes:
                warnings.append(
                    f"none of its {len(unknown_codes)} event codes is one the bundle knows "
                    f"({_names(vocab.event_codes)}); events are read by severity and message only"
                )
            elif unknown_codes:
                warnings.append(f"event codes {_names(unknown_codes)} are new to the bundle (read as unknown codes)")
        else:
            warnings.append("it has no events; the bundle reads them as absent")
    if "maintenance" in reads:
        if profile.work_orders:
            present.append("maintenance")
        else:
            warnings.append("it has no work orders; the bundle reads them as absent")
    if not present and not problems:
        problems.append(f"it holds none of the inputs the bundle reads ({', '.join(sorted(reads))})")
    problems += _label_problems(bundle, profile, warnings)
    return DatasetFit(tuple(problems), tuple(warnings))


def _label_problems(bundle: Bundle, profile: DataProfile, warnings: list[str]) -> list[str]:
    """Fault types and components of the failures against the bundle's (appends partial fits to ``warnings``)."""
    vocab = bundle.preprocessor.vocab
    faults = profile.failure_fault_types or {}
    components = profile.failure_components or {}
    problems: list[str] = []
    unknown_faults = {f: n for f, n in faults.items() if f not in vocab.fault_types}
    if faults and not vocab.fault_types:
        warnings.append("the bundle knows no fault type (it was trained without failures): fault types are not scored")
    elif unknown_faults and len(unknown_faults) == len(faults):
        predicted = _names(vocab.fault_types)
        problems.append(
            f"none of its failures' fault types ({_names(faults)}) is one the bundle predicts ({predicted})"
        )
    elif unknown_faults:
        warnings.append(
            f"{sum(unknown_faults.values())} failures have fault types the bundle does not know "
            f"({_names(unknown_faults)}); the fault type of the windows before them is unknown"
        )
    unknown_components = {c: n for c, n in components.items() if c not in vocab.components}
    if unknown_components:
        warnings.append(
            f"{sum(unknown_components.values())} failures are of components the bundle does not know "
            f"({_names(unknown_components)}); per-component labels leave them out"
        )
    return problems


def ensure_fit(
    bundle: Bundle, dataset: Dataset, *, assets: Iterable[str] | None = None, warn: bool = True
) -> DatasetFit:
    """Check that ``dataset`` (or some of its assets) fits ``bundle``; log each partial fit as a warning
    (unless ``warn`` is false: the caller tells them once its own checks have passed).

    Raises:
        IncompatibleDataError: naming, in one line, everything that does not fit and what the bundle was
            trained on.
    """
    fit = check_fit(bundle, DataProfile.of_dataset(dataset, assets))
    if not fit.fits:
        data = bundle.metrics.get("data")
        trained_on = data.get("dataset") if isinstance(data, dict) else None
        origin = f"; the bundle was trained on {trained_on}" if trained_on else ""
        raise IncompatibleDataError(
            f"dataset {dataset.path} does not fit the bundle {bundle.path}: {'; '.join(fit.problems)}{origin}"
        )
    for warning in fit.warnings if warn else ():
        logger.warning("dataset %s: %s", dataset.path, warning)
    return fit
