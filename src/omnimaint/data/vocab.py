"""Vocabularies: the categorical preprocessing fitted on training data and stored with a model.

They fix the order of channels, cameras, components, fault types and event codes, so that a model
trained on one dataset reads another (a later month, the live store) the same way. Unknown event
codes map to a reserved index instead of failing, because plants add codes over time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from omnimaint.data.dataset import Dataset
from omnimaint.data.regimes import operating_settings
from omnimaint.data.windows import WindowSpec
from omnimaint.errors import ConfigError

PAD_INDEX = 0
UNKNOWN_INDEX = 1


class Vocabulary(BaseModel):
    """Category orders fitted on a dataset.

    Attributes:
        asset_types: Asset types, in index order.
        telemetry_channels: Telemetry channels read into the telemetry array, in column order.
        waveform_channels: Waveform channels, in order.
        cameras: Cameras, in order.
        components: Components (per-component labels and maintenance features use this order).
        fault_types: Fault types; the fault-type label is ``0`` for none and ``1 + index`` otherwise.
        event_codes: Event codes; an event's index is ``2 + position`` (0 is padding, 1 unknown).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_types: tuple[str, ...]
    telemetry_channels: tuple[str, ...] = ()
    waveform_channels: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    fault_types: tuple[str, ...] = ()
    event_codes: tuple[str, ...] = ()

    @property
    def fault_classes(self) -> tuple[str, ...]:
        """Classes of the fault-type label: ``none`` then every fault type."""
        return ("none", *self.fault_types)

    @property
    def n_event_codes(self) -> int:
        """Size of the event-code embedding table (padding and unknown included)."""
        return len(self.event_codes) + 2

    @classmethod
    def fit(cls, dataset: Dataset, spec: WindowSpec) -> Vocabulary:
        """Fit on a dataset: take orders from the spec where it fixes them, else from the manifest/data.

        Raises:
            ConfigError: if the spec names a channel or camera the dataset does not have.
        """
        manifest = dataset.manifest
        assets = dataset.table("assets")
        telemetry: tuple[str, ...] = ()
        if spec.telemetry is not None:
            present = _distinct(dataset, "telemetry", "channel")
            declared = [c for c in manifest.channel_names("telemetry") if c in present]
            telemetry = _pick(spec.telemetry.channels, declared + sorted(present - set(declared)), "telemetry channel")
            if spec.telemetry.regimes:
                telemetry += tuple(c for c in _regime_settings(dataset, present) if c not in telemetry)
        waveforms: tuple[str, ...] = ()
        if spec.waveforms is not None:
            present = _distinct(dataset, "waveforms", "channel")
            declared = [c for c in manifest.channel_names("waveform") if c in present]
            waveforms = _pick(spec.waveforms.channels, declared + sorted(present - set(declared)), "waveform channel")
        cameras: tuple[str, ...] = ()
        if spec.frames is not None:
            present = _distinct(dataset, "frames", "camera")
            declared = [c.name for c in manifest.cameras if c.name in present]
            cameras = _pick(spec.frames.cameras, declared + sorted(present - set(declared)), "camera")
        failures = dataset.table("failures")
        maintenance = dataset.arrow("maintenance", columns=["component"]).to_pandas()
        components = list(manifest.all_components())
        seen = set(failures["component"].dropna()) | set(maintenance["component"].dropna())
        components += sorted(str(c) for c in seen - set(components))
        faults = list(manifest.fault_types)
        faults += sorted(str(f) for f in set(failures["fault_type"]) - set(faults))
        codes = sorted(_distinct(dataset, "events", "code")) if spec.events is not None else []
        return cls(
            asset_types=tuple(sorted(str(t) for t in set(assets["asset_type"]))),
            telemetry_channels=telemetry,
            waveform_channels=waveforms,
            cameras=cameras,
            components=tuple(components),
            fault_types=tuple(faults),
            event_codes=tuple(codes),
        )

    def index_of(self, values: pd.Series | np.ndarray, categories: tuple[str, ...], *, missing: int = -1) -> np.ndarray:
        """Positions of ``values`` in ``categories`` (``missing`` where absent or null)."""
        codes = pd.Index(list(categories), dtype=object).get_indexer(pd.Index(np.asarray(values, dtype=object)))
        return np.where(codes < 0, missing, codes).astype(np.int64)

    def event_code_index(self, codes: pd.Series | np.ndarray) -> np.ndarray:
        """Embedding indices of event codes (``UNKNOWN_INDEX`` for codes not seen in training)."""
        positions = self.index_of(codes, self.event_codes)
        return np.where(positions < 0, UNKNOWN_INDEX, positions + 2)


def _regime_settings(dataset: Dataset, present: set[str]) -> tuple[str, ...]:
    """The operating-setting channels the manifest declares that hold readings (what ``telemetry.regimes`` reads).

    Raises:
        ConfigError: if there are none.
    """
    settings = tuple(c for c in operating_settings(dataset.manifest) if c in present)
    if not settings:
        raise ConfigError(
            f"{dataset.path}: telemetry.regimes needs operating-setting channels, and dataset "
            f"'{dataset.manifest.name}' declares none with readings (manifest channels with role 'operating_setting')"
        )
    return settings


def _distinct(dataset: Dataset, table: str, column: str) -> set[str]:
    values = dataset.arrow(table, columns=[column]).column(column).unique().to_pylist()
    return {str(v) for v in values if v is not None}


def _pick(requested: tuple[str, ...] | None, available: list[str], what: str) -> tuple[str, ...]:
    if requested is None:
        return tuple(available)
    missing = [name for name in requested if name not in available]
    if missing:
        raise ConfigError(f"the window spec asks for {what} {missing[0]!r}, which the dataset does not have")
    return requested
