"""Cutting a dataset into windows: :class:`WindowedDataset`.

Construction does the heavy work once: telemetry is binned onto each asset's regular grid, bursts,
frames, events and work orders are sorted per asset, and for every anchor the index range of each
modality and its labels are computed with vectorised ``searchsorted``. Building a batch is then
pure fancy indexing (plus decoding frames), fast enough to feed a training loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import fields
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from omnimaint.data.bursts import WholeBursts
from omnimaint.data.dataset import Dataset
from omnimaint.data.frame_store import FrameStore
from omnimaint.data.item_index import (
    ItemIndex,
    age_hours,
    codes,
    fixed_length,
    in_any_range,
    last_slots,
    micros_of,
    take,
)
from omnimaint.data.labels import MICROS_PER_HOUR, compute_labels, state_labels
from omnimaint.data.regimes import (
    OperatingRegimes,
    fit_window_regimes,
    operating_settings,
    regime_indicators,
    regime_normalised,
)
from omnimaint.data.schema import MAINTENANCE_KINDS, MODALITY_TABLES, SEVERITIES, TABLES
from omnimaint.data.splits import Split
from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import (
    MODALITIES,
    Batch,
    Labels,
    Sample,
    TelemetryWindow,
    WindowSpec,
    micros,
    timestamps_us,
)
from omnimaint.errors import ConfigError, DatasetError
from omnimaint.progress import progress_bar

logger = logging.getLogger(__name__)


def anchor_grid(
    spec: WindowSpec,
    first_us: int,
    last_us: int,
    *,
    min_history: timedelta | None = None,
    start_us: int | None = None,
) -> np.ndarray:
    """The stride grid of one asset's anchors (µs): whole multiples of ``spec.stride`` since the epoch, from
    ``min_history`` after the asset's first observation (default: the telemetry lookback, else zero) and not
    before ``start_us``, up to ``last_us`` included. The live service scores the same grid as it fills."""
    if min_history is None:
        min_history = spec.telemetry.lookback if spec.telemetry is not None else timedelta(0)
    stride = micros(spec.stride)
    lo = max(first_us + micros(min_history), 0 if start_us is None else start_us, 0)
    start = -(-lo // stride) * stride
    return np.arange(start, last_us + 1, stride, dtype=np.int64)


class WindowedDataset:
    """Samples of a dataset under a :class:`WindowSpec`, restricted to a :class:`Split`.

    Args:
        dataset: The dataset.
        spec: What each window looks at and which labels it carries.
        vocab: Category orders (fitted on training data); fitted on ``dataset`` when ``None``.
        split: Restrict assets and anchor period, and censor labels at the split's end.
        anchors: Explicit anchors (columns ``asset_id``, ``ts``) instead of the stride grid.
        min_history: Anchors start this long after an asset's first observation (default: the
            telemetry lookback, else zero).
        frame_cache_bytes: Decoded frames kept in memory.
        regimes: With the telemetry option ``regimes``, the operating regimes fitted on training data; fitted
            on the grid steps these windows read when ``None`` (so pass them for any but the training windows).
        seed: Seed of the regimes' k-means when they are fitted here.

    Raises:
        ConfigError: if the spec or split leave no anchors, or name unknown assets.
    """

    def __init__(
        self,
        dataset: Dataset,
        spec: WindowSpec,
        *,
        vocab: Vocabulary | None = None,
        split: Split | None = None,
        anchors: pd.DataFrame | None = None,
        min_history: timedelta | None = None,
        frame_cache_bytes: int = 1 << 30,
        regimes: OperatingRegimes | None = None,
        seed: int = 0,
    ) -> None:
        self.dataset = dataset
        self.spec = spec
        self.vocab = vocab if vocab is not None else Vocabulary.fit(dataset, spec)
        self.regimes = regimes
        """The operating regimes the telemetry is normalised with (``None`` without the option)."""
        self._seed = seed
        self.split = split
        assets = dataset.table("assets")
        if split is not None and split.asset_ids is not None:
            unknown = sorted(split.asset_ids - set(assets["asset_id"]))
            if unknown:
                raise ConfigError(f"split '{split.name}' names assets the dataset lacks: {unknown[:5]}")
            assets = assets[assets["asset_id"].isin(split.asset_ids)]
        self.asset_list: tuple[str, ...] = tuple(str(a) for a in assets["asset_id"])
        self._asset_type = self.vocab.index_of(assets["asset_type"].to_numpy(), self.vocab.asset_types)
        # NaT becomes the smallest int64, which means "unknown install date" below.
        self._install_us = timestamps_us(assets["install_date"])
        self._texts: list[str] = []
        self._text_ids: dict[str, int] = {}
        # Reading and indexing a large plant takes tens of seconds: one bar step per table.
        what = f"windows of the {split.name} split" if split is not None else "windows"
        with progress_bar(what, 7) as advance:
            first, last = self._spans()
            self._anchor_asset, self._anchor_us = self._make_anchors(first, last, anchors, min_history)
            if self._anchor_us.size == 0:
                where = f" in split '{split.name}'" if split is not None else ""
                raise ConfigError(f"{dataset.path}: the window spec leaves no anchors{where} (too little history?)")
            self._frame_store = (
                FrameStore(dataset.path, spec.frames.size, frame_cache_bytes) if spec.frames is not None else None
            )
            for table, prepare in (
                ("telemetry", self._prepare_telemetry),
                ("waveforms", self._prepare_waveforms),
                ("frames", self._prepare_frames),
                ("events", self._prepare_events),
                ("maintenance", self._prepare_maintenance),
            ):
                advance(1, description=f"{what}: {table}")
                prepare()
            advance(1, description=f"{what}: labels")
            self.labels = self._prepare_labels(last)
            advance(1)
        logger.info("windowed %s: %d anchors over %d assets", dataset.path, len(self), len(self.asset_list))

    # -- sizes and access -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._anchor_us.size)

    def __getitem__(self, index: int) -> Sample:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        batch = self.batch(np.array([index % len(self)]))
        return Sample(**{f.name: getattr(batch, f.name) for f in fields(batch)})

    @property
    def anchors(self) -> pd.DataFrame:
        """Every anchor: ``asset_id`` and ``ts`` (UTC)."""
        return pd.DataFrame(
            {
                "asset_id": np.asarray(self.asset_list, dtype=object)[self._anchor_asset],
                "ts": pd.to_datetime(self._anchor_us, unit="us", utc=True),
            }
        )

    def iter_batches(
        self, batch_size: int, *, shuffle: bool = False, rng: np.random.Generator | None = None
    ) -> Iterator[Batch]:
        """Batches covering every anchor once (shuffled with ``rng`` when ``shuffle``)."""
        order = np.arange(len(self))
        if shuffle:
            (rng if rng is not None else np.random.default_rng()).shuffle(order)
        for start in range(0, len(order), batch_size):
            yield self.batch(order[start : start + batch_size])

    # -- what the windows see (for fitting preprocessors on exactly the training windows' data) ---------

    def telemetry_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Per channel, the median and a robust scale (IQR / 1.349, at least 1e-3) of the observed grid
        values that some window reads. Channels never observed, and the regime indicators, get (0, 1)."""
        if not self._tel:
            return np.zeros(0, dtype=np.float32), np.ones(0, dtype=np.float32)
        assert self.spec.telemetry is not None
        tel, length = self._tel, self.spec.telemetry.length
        covered = _covered_rows(
            tel["offset"], tel["k0"], tel["n_bins"], tel["last_bin"], self._anchor_asset, length, len(tel["values"])
        )
        center = np.zeros(tel["values"].shape[1], dtype=np.float32)
        scale = np.ones(tel["values"].shape[1], dtype=np.float32)
        indicators = self._indicator_columns()
        for c in range(len(center)):
            if c in indicators:
                continue  # indicators enter as 0/1: a robust scale of a mostly-0 column would blow the 1s up
            values = tel["values"][covered & tel["mask"][:, c], c]
            if values.size:
                q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
                center[c] = q50
                scale[c] = max((q75 - q25) / 1.349, float(np.std(values)) * 0.1, 1e-3)
        return center, scale

    def _indicator_columns(self) -> range:
        """Columns of the telemetry array that hold the regime indicators (after the readings and their drift)."""
        if self.regimes is None or self.spec.telemetry is None:
            return range(0)
        start = len(self.regimes.readings) * (2 if self.spec.telemetry.drift_steps else 1)
        return range(start, start + regime_indicators(self.regimes))

    def waveform_rms(self) -> np.ndarray:
        """Per waveform channel, the RMS of the bursts (with ``align="anchor"``: of the samples) that some window
        reads (1 when none)."""
        if not self._wf:
            return np.ones(0, dtype=np.float32)
        if self._whole is not None:
            assert self.spec.waveforms is not None
            slots, valid = last_slots(self._wf["lo"], self._wf["hi"], self.spec.waveforms.max_bursts)
            return self._whole.rms(self._anchor_us, slots, valid, self.spec.waveforms.length)
        covered = in_any_range(self._wf["lo"], self._wf["hi"], len(self._wf["data"]))
        rms = np.ones(self._wf["data"].shape[1], dtype=np.float32)
        for c in range(len(rms)):
            bursts = self._wf["data"][covered & self._wf["mask"][:, c], c]
            if bursts.size:
                rms[c] = max(float(np.sqrt(np.mean(np.square(bursts, dtype=np.float64)))), 1e-6)
        return rms

    def frame_statistics(self, limit: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Per RGB channel mean and std (0–1 scale) over up to ``limit`` frames that windows read."""
        if not self._fr or self._frame_store is None:
            return np.full(3, 0.5, dtype=np.float32), np.full(3, 0.25, dtype=np.float32)
        covered = np.flatnonzero(in_any_range(self._fr["lo"], self._fr["hi"], len(self._fr["paths"])))
        paths = [p for p in self._fr["paths"][covered].ravel() if p is not None]
        if not paths:
            return np.full(3, 0.5, dtype=np.float32), np.full(3, 0.25, dtype=np.float32)
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(paths), size=min(limit, len(paths)), replace=False)
        pixels = np.stack([self._frame_store.load(paths[i]) for i in chosen]).reshape(-1, 3) / 255.0
        return pixels.mean(axis=0).astype(np.float32), np.maximum(pixels.std(axis=0), 1e-3).astype(np.float32)

    def visible_texts(self) -> list[str]:
        """Every event message and work-order text that some window reads."""
        ids: list[np.ndarray] = []
        for store in (self._ev, self._mt):
            if store and store["ts"].size:
                covered = in_any_range(store["lo"], store["hi"], len(store["ts"]))
                ids.append(store["text"][covered])
        if not ids:
            return []
        used = np.unique(np.concatenate(ids))
        return [self._texts[i] for i in used if i >= 0]

    # -- preparation ------------------------------------------------------------------------------------

    def _assetcodes(self, column: pa.ChunkedArray) -> np.ndarray:
        return codes(column, self.asset_list)

    def _spans(self) -> tuple[np.ndarray, np.ndarray]:
        """First and last observation (µs) of each asset over every modality table."""
        n = len(self.asset_list)
        first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        for name in MODALITY_TABLES:
            column = TABLES[name].time_column
            assert column is not None
            table = self.dataset.arrow(name, columns=["asset_id", column])
            asset = self._assetcodes(table.column("asset_id"))
            keep = asset >= 0
            ts = micros_of(table.column(column))[keep]
            np.minimum.at(first, asset[keep], ts)
            np.maximum.at(last, asset[keep], ts)
        return first, last

    def _make_anchors(
        self,
        first: np.ndarray,
        last: np.ndarray,
        explicit: pd.DataFrame | None,
        min_history: timedelta | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if explicit is not None:
            missing = sorted(set(explicit["asset_id"]) - set(self.asset_list))
            if missing:
                raise ConfigError(f"anchors name assets outside the dataset or split: {missing[:5]}")
            asset = self.vocab.index_of(explicit["asset_id"].to_numpy(), self.asset_list)
            return asset, timestamps_us(explicit["ts"])
        split = self.split
        assets: list[np.ndarray] = []
        stamps_out: list[np.ndarray] = []
        for a in range(len(self.asset_list)):
            if first[a] > last[a]:
                continue
            lo = None if split is None or split.start is None else split.start.value // 1000
            hi = last[a] if split is None or split.end is None else min(last[a], split.end.value // 1000)
            grid = anchor_grid(self.spec, int(first[a]), int(hi), min_history=min_history, start_us=lo)
            assets.append(np.full(grid.size, a, dtype=np.int64))
            stamps_out.append(grid)
        if not assets:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(assets), np.concatenate(stamps_out)

    def _prepare_telemetry(self) -> None:
        window = self.spec.telemetry
        self._tel: dict[str, np.ndarray] = {}
        if window is None:
            return
        channels = self.vocab.telemetry_channels
        table = self.dataset.arrow("telemetry")
        asset = self._assetcodes(table.column("asset_id"))
        channel = codes(table.column("channel"), channels)
        keep = (asset >= 0) & (channel >= 0)
        asset, channel = asset[keep], channel[keep]
        ts = micros_of(table.column("ts"))[keep]
        values = np.asarray(table.column("value").to_numpy(), dtype=np.float64)[keep]
        step = micros(window.step)
        bins = -(-ts // step)  # ceil: bin k holds (k·step - step, k·step]
        n_assets, n_channels = len(self.asset_list), len(channels)
        k0 = np.zeros(n_assets, dtype=np.int64)
        n_bins = np.zeros(n_assets, dtype=np.int64)
        if bins.size:
            k0_all = np.full(n_assets, np.iinfo(np.int64).max, dtype=np.int64)
            k1_all = np.full(n_assets, np.iinfo(np.int64).min, dtype=np.int64)
            np.minimum.at(k0_all, asset, bins)
            np.maximum.at(k1_all, asset, bins)
            seen = k0_all <= k1_all
            k0 = np.where(seen, k0_all, 0)
            n_bins = np.where(seen, k1_all - k0_all + 1, 0)
        offset = 1 + np.concatenate([[0], np.cumsum(n_bins)[:-1]])  # row 0 is a dummy for empty assets
        total = 1 + int(n_bins.sum())
        sums = np.zeros((total, n_channels), dtype=np.float64)
        counts = np.zeros((total, n_channels), dtype=np.int32)
        rows = offset[asset] + bins - k0[asset]
        np.add.at(sums, (rows, channel), values)
        np.add.at(counts, (rows, channel), 1)
        observed = counts > 0
        values = np.where(observed, sums / np.maximum(counts, 1), 0.0)
        last_bin = self._anchor_us // step
        indicators = None
        if window.regimes:
            if self.regimes is None:
                covered = _covered_rows(offset, k0, n_bins, last_bin, self._anchor_asset, window.length, total)
                settings = tuple(c for c in operating_settings(self.dataset.manifest) if c in channels)
                self.regimes = fit_window_regimes(
                    values, observed, covered, channels, settings, window.n_regimes, self._seed
                )
            values, observed, indicators = regime_normalised(values, observed, channels, self.regimes)
        elif self.regimes is not None:
            raise ConfigError("operating regimes were given for a window spec whose telemetry has no 'regimes' option")
        values, observed = _derived_channels(values, observed, offset, n_bins, window, indicators)
        self._tel = {
            "values": values.astype(np.float32),
            "mask": observed,
            "offset": offset,
            "k0": k0,
            "n_bins": n_bins,
            "last_bin": last_bin,
        }

    def _prepare_waveforms(self) -> None:
        window = self.spec.waveforms
        self._wf: dict[str, np.ndarray] = {}
        self._whole: WholeBursts | None = None  # the bursts kept whole, with align="anchor"
        if window is None:
            return
        channels = self.vocab.waveform_channels
        table = self.dataset.arrow("waveforms")
        asset = self._assetcodes(table.column("asset_id"))
        channel = codes(table.column("channel"), channels)
        keep = np.flatnonzero((asset >= 0) & (channel >= 0))
        table = table.take(pa.array(keep))
        asset, channel = asset[keep], channel[keep]
        ts = micros_of(table.column("ts"))
        # One slot per (asset, ts); channels recorded at the same instant share it.
        slot_key = pd.MultiIndex.from_arrays([asset, ts])
        slot_of_row, slot_keys = pd.factorize(slot_key, sort=True)
        slot_asset = np.asarray(slot_keys.get_level_values(0), dtype=np.int64)
        slot_ts = np.asarray(slot_keys.get_level_values(1), dtype=np.int64)
        index, order = ItemIndex.group(slot_asset, slot_ts, len(self.asset_list))
        lo, hi = index.window(self._anchor_asset, self._anchor_us, micros(window.lookback))
        self._wf = {"ts": index.ts, "lo": lo, "hi": hi}
        if window.align == "anchor":
            whole = WholeBursts.of(table, slot_of_row, channel, slot_ts, len(channels), window.sample_rate_hz)
            if window.order_rpm is not None:
                whole = whole.at_speeds(_speeds_rpm(self.dataset, self.asset_list)[slot_asset], window.order_rpm)
            self._whole = whole.reorder(order)
            return
        signals = fixed_length(table, window.length, window.sample_rate_hz)
        data = np.zeros((len(slot_keys), len(channels), window.length), dtype=np.float32)
        mask = np.zeros((len(slot_keys), len(channels)), dtype=bool)
        data[slot_of_row, channel] = signals
        mask[slot_of_row, channel] = True
        self._wf |= {"data": data[order], "mask": mask[order]}

    def _prepare_frames(self) -> None:
        window = self.spec.frames
        self._fr: dict[str, np.ndarray] = {}
        if window is None:
            return
        cameras = self.vocab.cameras
        table = self.dataset.arrow("frames")
        asset = self._assetcodes(table.column("asset_id"))
        camera = codes(table.column("camera"), cameras)
        keep = (asset >= 0) & (camera >= 0)
        ts = micros_of(table.column("ts"))[keep]
        paths = np.asarray(table.column("path").to_pylist(), dtype=object)[keep]
        asset, camera = asset[keep], camera[keep]
        slot_of_row, slot_keys = pd.factorize(pd.MultiIndex.from_arrays([asset, ts]), sort=True)
        slot_paths = np.full((len(slot_keys), len(cameras)), None, dtype=object)
        slot_paths[slot_of_row, camera] = paths
        index, order = ItemIndex.group(
            np.asarray(slot_keys.get_level_values(0), dtype=np.int64),
            np.asarray(slot_keys.get_level_values(1), dtype=np.int64),
            len(self.asset_list),
        )
        lo, hi = index.window(self._anchor_asset, self._anchor_us, micros(window.lookback))
        self._fr = {"paths": slot_paths[order], "ts": index.ts, "lo": lo, "hi": hi}

    def _text_index(self, texts: pd.Series) -> np.ndarray:
        out = np.full(len(texts), -1, dtype=np.int64)
        for i, text in enumerate(texts.to_numpy(dtype=object)):
            if isinstance(text, str) and text:
                out[i] = self._text_ids.setdefault(text, len(self._text_ids))
                if out[i] == len(self._texts):
                    self._texts.append(text)
        return out

    def _prepare_events(self) -> None:
        window = self.spec.events
        self._ev: dict[str, np.ndarray] = {}
        if window is None:
            return
        table = self.dataset.arrow("events")
        asset = self._assetcodes(table.column("asset_id"))
        keep = np.flatnonzero(asset >= 0)
        table = table.take(pa.array(keep))
        index, order = ItemIndex.group(asset[keep], micros_of(table.column("ts")), len(self.asset_list))
        lo, hi = index.window(self._anchor_asset, self._anchor_us, micros(window.lookback))
        frame = table.select(["code", "severity", "message"]).to_pandas().iloc[order]
        self._ev = {
            "code": self.vocab.event_code_index(frame["code"].to_numpy()),
            "severity": 1 + self.vocab.index_of(frame["severity"].to_numpy(), SEVERITIES, missing=-1),
            "text": self._text_index(frame["message"]),
            "ts": index.ts,
            "lo": lo,
            "hi": hi,
        }

    def _prepare_maintenance(self) -> None:
        window = self.spec.maintenance
        self._mt: dict[str, np.ndarray] = {}
        if window is None:
            return
        frame = self.dataset.table("maintenance")
        asset = self.vocab.index_of(frame["asset_id"].to_numpy(), self.asset_list)
        frame, asset = frame[asset >= 0], asset[asset >= 0]
        # A work order is known once it is closed (its cause and action are written then).
        known_at = frame["ts_close"].fillna(frame["ts_open"])
        ts = timestamps_us(known_at)
        index, order = ItemIndex.group(asset, ts, len(self.asset_list))
        frame = frame.iloc[order]
        component = self.vocab.index_of(frame["component"].to_numpy(), self.vocab.components)
        text = frame[["problem", "cause", "action"]].apply(
            lambda row: " / ".join(str(v) for v in row if isinstance(v, str) and v.strip()), axis=1
        )
        lo, hi = index.window(self._anchor_asset, self._anchor_us, micros(window.lookback))
        self._mt = {
            "text": self._text_index(text if len(text) else pd.Series([], dtype=object)),
            "component": component + 1,
            "kind": 1 + self.vocab.index_of(frame["kind"].to_numpy(), MAINTENANCE_KINDS),
            "ts": index.ts,
            "lo": lo,
            "hi": hi,
        }
        self._mt.update(self._since_maintenance(index, np.asarray(component), micros(window.since_cap)))

    def _since_maintenance(self, index: ItemIndex, component: np.ndarray, cap_us: int) -> dict[str, np.ndarray]:
        """Per anchor and component: hours since the last work order (or since install), capped."""
        n_components = len(self.vocab.components)
        since = np.zeros((len(self), n_components), dtype=np.float32)
        known = np.zeros((len(self), n_components), dtype=bool)
        for a in np.unique(self._anchor_asset):
            rows = np.flatnonzero(self._anchor_asset == a)
            anchors = self._anchor_us[rows]
            ts, comp = index.ts[index.start[a] : index.stop[a]], component[index.start[a] : index.stop[a]]
            for c in range(n_components):
                stamps = ts[comp == c]
                last = np.searchsorted(stamps, anchors, side="right") - 1
                previous = np.where(last >= 0, stamps[np.maximum(last, 0)] if stamps.size else 0, self._install_us[a])
                has = previous > np.iinfo(np.int64).min
                since[rows, c] = np.where(has, np.minimum(anchors - previous, cap_us) / MICROS_PER_HOUR, 0.0)
                known[rows, c] = has
        return {"since": since, "since_known": known}

    def _prepare_labels(self, last: np.ndarray) -> Labels:
        failures = self.dataset.table("failures")
        asset = self.vocab.index_of(failures["asset_id"].to_numpy(), self.asset_list)
        fail_ts = timestamps_us(failures["ts"])
        component = self.vocab.index_of(failures["component"].to_numpy(), self.vocab.components)
        fault = self.vocab.index_of(failures["fault_type"].to_numpy(), self.vocab.fault_types)
        censor = self.split.end.value // 1000 if self.split is not None and self.split.end is not None else None
        parts: list[tuple[np.ndarray, Labels]] = []
        for a in np.unique(self._anchor_asset):
            rows = np.flatnonzero(self._anchor_asset == a)
            mine = asset == a
            if self.spec.labels == "states":
                states = state_labels(
                    self._anchor_us[rows], fail_ts[mine], fault[mine], self.spec, len(self.vocab.components)
                )
                parts.append((rows, states))
                continue
            observed = max(int(last[a]), int(fail_ts[mine].max()) if mine.any() else int(last[a]))
            if censor is not None:
                observed = min(observed, censor)
            labels = compute_labels(
                self._anchor_us[rows],
                fail_ts[mine],
                component[mine],
                fault[mine],
                observed,
                self.spec,
                len(self.vocab.components),
            )
            parts.append((rows, labels))
        merged: dict[str, np.ndarray] = {}
        for f in fields(Labels):
            first = getattr(parts[0][1], f.name)
            out = np.zeros((len(self), *first.shape[1:]), dtype=first.dtype)
            for rows, labels in parts:
                out[rows] = getattr(labels, f.name)
            merged[f.name] = out
        return Labels(**merged)

    # -- batches ----------------------------------------------------------------------------------------

    def batch(self, indices: np.ndarray) -> Batch:
        """The windows at ``indices`` as one :class:`Batch`."""
        idx = np.asarray(indices, dtype=np.int64)
        asset = self._anchor_asset[idx]
        anchors = self._anchor_us[idx]
        parts: dict[str, np.ndarray | None] = {}
        presence = np.zeros((idx.size, len(MODALITIES)), dtype=bool)
        if self._tel:
            parts.update(self._gather_telemetry(idx, asset))
            presence[:, 0] = parts["telemetry_mask"].any(axis=(1, 2))  # type: ignore[union-attr]
        if self._wf:
            parts.update(self._gather_waveforms(idx, anchors))
            presence[:, 1] = parts["waveform_mask"].any(axis=(1, 2))  # type: ignore[union-attr]
        if self._fr:
            parts.update(self._gather_frames(idx, anchors))
            presence[:, 2] = parts["frame_mask"].any(axis=(1, 2))  # type: ignore[union-attr]
        text_ids: list[np.ndarray] = []
        if self._ev:
            parts.update(self._gather_events(idx, anchors))
            presence[:, 3] = parts["event_mask"].any(axis=1)  # type: ignore[union-attr]
            text_ids.append(parts["event_text"])  # type: ignore[arg-type]
        if self._mt:
            parts.update(self._gather_maintenance(idx, anchors))
            presence[:, 4] = parts["maintenance_mask"].any(axis=1) | parts["since_maintenance_known"].any(axis=1)  # type: ignore[union-attr]
            text_ids.append(parts["maintenance_text"])  # type: ignore[arg-type]
        texts = self._localise_texts(parts, text_ids)
        return Batch(
            asset_ids=np.asarray(self.asset_list, dtype=object)[asset],
            anchors=anchors.astype("datetime64[us]"),
            asset_type=self._asset_type[asset],
            presence=presence,
            labels=self.labels.take(idx),
            texts=texts,
            **parts,
        )

    def _gather_telemetry(self, idx: np.ndarray, asset: np.ndarray) -> dict[str, np.ndarray]:
        tel = self._tel
        assert self.spec.telemetry is not None
        length = self.spec.telemetry.length
        local = (tel["last_bin"][idx] - tel["k0"][asset])[:, None] - length + 1 + np.arange(length)[None, :]
        n_bins = tel["n_bins"][asset][:, None]
        if self.spec.telemetry.before_start == "first":
            local = np.maximum(local, 0)  # the asset's first step repeated
        valid = (local >= 0) & (local < n_bins)
        rows = np.where(valid, tel["offset"][asset][:, None] + np.clip(local, 0, None), 0)
        return {
            "telemetry": tel["values"][rows] * valid[..., None],
            "telemetry_mask": tel["mask"][rows] & valid[..., None],
        }

    def _gather_waveforms(self, idx: np.ndarray, anchors: np.ndarray) -> dict[str, np.ndarray]:
        wf = self._wf
        assert self.spec.waveforms is not None
        slots, valid = last_slots(wf["lo"][idx], wf["hi"][idx], self.spec.waveforms.max_bursts)
        if self._whole is not None:
            waveforms, mask, age = self._whole.cut(anchors, slots, valid, self.spec.waveforms.length)
            return {"waveforms": waveforms, "waveform_mask": mask, "waveform_age_hours": age}
        return {
            "waveforms": take(wf["data"], slots, valid, 0.0),
            "waveform_mask": take(wf["mask"], slots, valid, False),
            "waveform_age_hours": age_hours(anchors, wf["ts"], slots, valid),
        }

    def _gather_frames(self, idx: np.ndarray, anchors: np.ndarray) -> dict[str, np.ndarray]:
        fr = self._fr
        assert self.spec.frames is not None and self._frame_store is not None
        slots, valid = last_slots(fr["lo"][idx], fr["hi"][idx], self.spec.frames.max_frames)
        paths = take(fr["paths"], slots, valid, None)  # (B, K, Cam)
        mask = paths != None  # noqa: E711 (element-wise comparison with None)
        size = self.spec.frames.size
        pixels = np.zeros((*paths.shape, size, size, 3), dtype=np.uint8)
        for b, k, c in zip(*np.nonzero(mask), strict=True):
            pixels[b, k, c] = self._frame_store.load(paths[b, k, c])
        return {"frames": pixels, "frame_mask": mask, "frame_age_hours": age_hours(anchors, fr["ts"], slots, valid)}

    def _gather_events(self, idx: np.ndarray, anchors: np.ndarray) -> dict[str, np.ndarray]:
        ev = self._ev
        assert self.spec.events is not None
        slots, valid = last_slots(ev["lo"][idx], ev["hi"][idx], self.spec.events.max_events)
        return {
            "event_codes": take(ev["code"], slots, valid, 0),
            "event_severity": take(ev["severity"], slots, valid, 0),
            "event_age_hours": age_hours(anchors, ev["ts"], slots, valid),
            "event_text": take(ev["text"], slots, valid, -1),
            "event_mask": valid & (ev["ts"].size > 0),
        }

    def _gather_maintenance(self, idx: np.ndarray, anchors: np.ndarray) -> dict[str, np.ndarray]:
        mt = self._mt
        assert self.spec.maintenance is not None
        slots, valid = last_slots(mt["lo"][idx], mt["hi"][idx], self.spec.maintenance.max_orders)
        return {
            "maintenance_text": take(mt["text"], slots, valid, -1),
            "maintenance_component": take(mt["component"], slots, valid, 0),
            "maintenance_kind": take(mt["kind"], slots, valid, 0),
            "maintenance_age_hours": age_hours(anchors, mt["ts"], slots, valid),
            "maintenance_mask": valid & (mt["ts"].size > 0),
            "since_maintenance_hours": mt["since"][idx],
            "since_maintenance_known": mt["since_known"][idx],
        }

    def _localise_texts(self, parts: dict[str, np.ndarray | None], text_ids: list[np.ndarray]) -> tuple[str, ...]:
        """Re-index text ids to the batch's own de-duplicated list of strings."""
        if not text_ids:
            return ()
        used = np.unique(np.concatenate([ids.ravel() for ids in text_ids]))
        used = used[used >= 0]
        lookup = np.full(len(self._texts) + 1, -1, dtype=np.int64)
        lookup[used] = np.arange(used.size)
        for key in ("event_text", "maintenance_text"):
            ids = parts.get(key)
            if ids is not None:
                parts[key] = np.where(ids >= 0, lookup[ids], -1)
        return tuple(self._texts[i] for i in used)


def _derived_channels(
    values: np.ndarray,
    observed: np.ndarray,
    offset: np.ndarray,
    n_bins: np.ndarray,
    window: TelemetryWindow,
    indicators: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The telemetry grid with the drift, regime and age channels ``window`` asks for appended (column order of
    :meth:`TelemetryWindow.input_channels`).

    Args:
        values: Grid values ``(rows, readings)``; row 0 is the dummy row, asset ``a`` holds rows
            ``offset[a] … offset[a] + n_bins[a] - 1``.
        observed: Which values are observed, same shape.
        offset: First row of each asset.
        n_bins: Grid steps of each asset.
        window: The telemetry window.
        indicators: The regime indicators ``(rows, regimes)`` and where they are known, with ``regimes``.

    Returns:
        Values and observed masks with the derived columns. A drift is observed where its reading is and the
        asset's start holds a reading of that channel so far; the age is known on every step of the asset.
    """
    columns, masks = [values], [observed]
    steps = window.drift_steps
    if steps:
        baseline = np.zeros_like(values)
        known = np.zeros_like(observed)
        for start, n in zip(offset.tolist(), n_bins.tolist(), strict=True):
            head = slice(start, start + min(n, steps))
            sums = np.cumsum(values[head] * observed[head], axis=0)
            counts = np.cumsum(observed[head], axis=0)
            mean = sums / np.maximum(counts, 1)  # mean of the start's readings up to each step
            baseline[start : start + n] = np.concatenate([mean, np.repeat(mean[-1:], n - len(mean), axis=0)])
            seen = counts > 0
            known[start : start + n] = np.concatenate([seen, np.repeat(seen[-1:], n - len(seen), axis=0)])
        drift_known = observed & known
        columns.append(np.where(drift_known, values - baseline, 0.0))
        masks.append(drift_known)
    if indicators is not None:
        columns.append(indicators[0])
        masks.append(indicators[1])
    if window.age:
        age = np.zeros((len(values), 1))
        defined = np.zeros((len(values), 1), dtype=bool)
        hours = window.step / timedelta(hours=1)
        for start, n in zip(offset.tolist(), n_bins.tolist(), strict=True):
            age[start : start + n, 0] = np.arange(n) * hours
            defined[start : start + n, 0] = True
        columns.append(age)
        masks.append(defined)
    return np.concatenate(columns, axis=1), np.concatenate(masks, axis=1)


def _speeds_rpm(dataset: Dataset, asset_ids: tuple[str, ...]) -> np.ndarray:
    """(assets,) the ``rpm`` of each asset's metadata, NaN where it has none.

    Raises:
        DatasetError: naming the asset whose metadata is not a JSON object or whose rpm is not a positive number.
    """
    assets = dataset.table("assets").set_index("asset_id")["metadata"]
    speeds = np.full(len(asset_ids), np.nan)
    for i, asset in enumerate(asset_ids):
        raw = assets.get(asset)
        if not isinstance(raw, str) or not raw:
            continue
        try:
            metadata = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{dataset.path}: asset {asset}: metadata is not JSON ({exc})") from exc
        rpm = metadata.get("rpm") if isinstance(metadata, dict) else None
        if rpm is None:
            continue
        if isinstance(rpm, bool) or not isinstance(rpm, int | float) or not rpm > 0:
            raise DatasetError(f"{dataset.path}: asset {asset}: metadata rpm must be a positive number, not {rpm!r}")
        speeds[i] = float(rpm)
    return speeds


def _covered_rows(
    offset: np.ndarray,
    k0: np.ndarray,
    n_bins: np.ndarray,
    last_bin: np.ndarray,
    anchor_asset: np.ndarray,
    length: int,
    total: int,
) -> np.ndarray:
    """(rows,) bool: the grid rows inside the lookback of some anchor (the rows the windows read)."""
    last = offset[anchor_asset] + last_bin - k0[anchor_asset]
    first = np.maximum(last - length + 1, offset[anchor_asset])
    last = np.minimum(last, offset[anchor_asset] + n_bins[anchor_asset] - 1)
    return in_any_range(first, last + 1, total)
