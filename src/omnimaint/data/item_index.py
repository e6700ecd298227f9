"""Index arithmetic of the window builder: items (bursts, frames, events, work orders) sorted per asset,
the range of them inside each window, and vectorised gathers with fill values.

Every function works on whole arrays of anchors at once; nothing here knows about tables or labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.signal import resample_poly

from omnimaint.data.labels import MICROS_PER_HOUR


def codes(column: pa.ChunkedArray | pa.Array, categories: list[str] | tuple[str, ...]) -> np.ndarray:
    """Positions of a string column's values in ``categories`` (-1 where absent or null)."""
    index = pc.index_in(column, value_set=pa.array(list(categories), type=pa.string()))
    return np.asarray(pc.fill_null(index, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def micros_of(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(column.cast(pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass
class ItemIndex:
    """Time-ordered items of one kind for all assets, with each asset's slice ``[start, stop)``."""

    ts: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    @classmethod
    def group(cls, asset: np.ndarray, ts: np.ndarray, n_assets: int) -> tuple[ItemIndex, np.ndarray]:
        """Sort rows by (asset, ts); returns the index and the permutation to apply to other columns."""
        order = np.lexsort((ts, asset))
        asset_sorted = asset[order]
        start = np.searchsorted(asset_sorted, np.arange(n_assets), side="left")
        stop = np.searchsorted(asset_sorted, np.arange(n_assets), side="right")
        return cls(ts=ts[order], start=start, stop=stop), order

    def window(self, asset: np.ndarray, anchors: np.ndarray, lookback_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Per anchor, the global index range ``[lo, hi)`` of items in ``(t - lookback, t]``."""
        lo = np.empty_like(anchors)
        hi = np.empty_like(anchors)
        for a in np.unique(asset):
            rows = asset == a
            part = self.ts[self.start[a] : self.stop[a]]
            hi[rows] = self.start[a] + np.searchsorted(part, anchors[rows], side="right")
            lo[rows] = self.start[a] + np.searchsorted(part, anchors[rows] - lookback_us, side="right")
        return lo, hi


def last_slots(lo: np.ndarray, hi: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``k`` indices of each range, oldest first, and which of them are inside the range."""
    idx = hi[:, None] - k + np.arange(k)[None, :]
    valid = idx >= lo[:, None]
    return np.where(valid, idx, 0), valid


def in_any_range(lo: np.ndarray, hi: np.ndarray, size: int) -> np.ndarray:
    """Which of ``size`` items lie in at least one half-open range ``[lo, hi)``."""
    counts = np.zeros(size + 1, dtype=np.int64)
    keep = hi > lo
    np.add.at(counts, lo[keep], 1)
    np.add.at(counts, hi[keep], -1)
    return np.cumsum(counts[:-1]) > 0


def take(values: np.ndarray, slots: np.ndarray, valid: np.ndarray, fill: object) -> np.ndarray:
    """``values[slots]`` with ``fill`` wherever a slot is not valid (also when ``values`` is empty)."""
    fill_value = np.asarray(fill, dtype=values.dtype)
    if values.shape[0] == 0:
        return np.full(slots.shape + values.shape[1:], fill_value, dtype=values.dtype)
    taken = values[slots]
    return np.where(valid.reshape(valid.shape + (1,) * (taken.ndim - valid.ndim)), taken, fill_value)


def age_hours(anchors: np.ndarray, stamps: np.ndarray, slots: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Hours between each slot's item and its sample's anchor (0 for empty slots)."""
    if stamps.size == 0:
        return np.zeros(slots.shape, dtype=np.float32)
    return np.where(valid, (anchors[:, None] - stamps[slots]) / MICROS_PER_HOUR, 0.0).astype(np.float32)


def fixed_length(table: pa.Table, length: int, target_rate: float | None) -> np.ndarray:
    """Waveform rows as an (n, length) float32 array: resampled to ``target_rate``, cropped or zero-padded."""
    samples = table.column("samples").combine_chunks()
    rates = table.column("sample_rate_hz").to_numpy()
    offsets = samples.offsets.to_numpy()
    flat = samples.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    lengths = np.diff(offsets)
    out = np.zeros((len(lengths), length), dtype=np.float32)
    needs_resampling = np.zeros(len(lengths), dtype=bool) if target_rate is None else ~np.isclose(rates, target_rate)
    plain = np.flatnonzero(~needs_resampling)
    if plain.size:
        positions = np.arange(length)[None, :]
        take = offsets[plain][:, None] + positions
        valid = positions < lengths[plain][:, None]
        out[plain] = np.where(valid, flat[np.minimum(take, max(flat.size - 1, 0))], 0.0)
    for row in np.flatnonzero(needs_resampling):
        assert target_rate is not None
        signal = resampled(flat[offsets[row] : offsets[row + 1]], float(rates[row]), target_rate)[:length]
        out[row, : signal.size] = signal
    return out


def whole_rows(table: pa.Table, target_rate: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Waveform rows kept whole, those at another rate resampled to ``target_rate``.

    Returns:
        The samples of every row one after the other (float32), the ``(n + 1,)`` offsets of the rows in them,
        and each row's ``(n,)`` rate after resampling.
    """
    samples = table.column("samples").combine_chunks()
    rates = np.asarray(table.column("sample_rate_hz").to_numpy(), dtype=np.float64)
    offsets = samples.offsets.to_numpy().astype(np.int64)
    offsets -= offsets[0]
    flat = samples.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if target_rate is None:
        return flat, offsets, rates
    needs_resampling = ~np.isclose(rates, target_rate)
    if needs_resampling.any():
        rows = [
            resampled(flat[start:stop], float(rate), target_rate) if needed else flat[start:stop]
            for start, stop, rate, needed in zip(offsets[:-1], offsets[1:], rates, needs_resampling, strict=True)
        ]
        flat = np.concatenate(rows) if rows else flat
        offsets = np.concatenate([[0], np.cumsum([row.size for row in rows])]).astype(np.int64)
    return flat, offsets, np.full(rates.shape, target_rate, dtype=np.float64)


def resampled(signal: np.ndarray, source_rate: float, target_rate: float) -> np.ndarray:
    """A signal sampled at ``source_rate`` resampled to ``target_rate`` (polyphase filtering in float64), float32."""
    up, down = _ratio(target_rate, source_rate)
    return resample_poly(np.asarray(signal, dtype=np.float64), up, down).astype(np.float32)


def _ratio(target: float, source: float) -> tuple[int, int]:
    fraction = Fraction(target / source).limit_denominator(1000)
    return fraction.numerator, fraction.denominator
