"""Bursts kept whole and cut at anchors: the sample arithmetic of ``WaveformWindow(align="anchor")``.

Sample ``i`` of a burst stored at ``ts`` with rate ``r`` (after resampling) was taken at ``ts + i / r``.
At an anchor ``t`` a slot holds the burst's last ``length`` samples taken at or before ``t``: those up to
sample ``floor((t - ts) · r)`` (times in microseconds), or up to the burst's last sample when it ended
earlier. An anchor at the time of a sample rounded *up* to the microsecond therefore ends the slot at that
sample, for any rate below 1 MHz. Everything works on whole arrays of anchors at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from omnimaint.data.item_index import in_any_range, whole_rows
from omnimaint.data.labels import MICROS_PER_HOUR

MICROS_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class WholeBursts:
    """Every burst slot of a dataset with its samples kept whole, channels side by side.

    Attributes:
        samples: The samples of every stored row one after the other, float32.
        start: (S, C) where each slot's row of each channel starts in ``samples``.
        count: (S, C) samples of that row (0 where the slot lacks the channel).
        rate: (S, C) its rate in Hz after resampling (1 where the slot lacks the channel).
        ts: (S,) time of each slot's first sample, µs since the epoch.
    """

    samples: np.ndarray
    start: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    ts: np.ndarray

    @classmethod
    def of(
        cls,
        table: pa.Table,
        slot_of_row: np.ndarray,
        channel: np.ndarray,
        slot_ts: np.ndarray,
        n_channels: int,
        sample_rate_hz: float | None,
    ) -> WholeBursts:
        """Keep the rows of a waveform table whole, each in its (slot, channel) place.

        Args:
            table: Waveform rows (columns ``samples`` and ``sample_rate_hz``).
            slot_of_row: (n,) slot of each row.
            channel: (n,) channel index of each row.
            slot_ts: (S,) time of each slot, µs.
            n_channels: Channels per slot.
            sample_rate_hz: Rows at another rate are resampled to this one (``None``: kept as stored).
        """
        samples, offsets, rates = whole_rows(table, sample_rate_hz)
        shape = (len(slot_ts), n_channels)
        start = np.zeros(shape, dtype=np.int64)
        count = np.zeros(shape, dtype=np.int64)
        rate = np.ones(shape, dtype=np.float64)
        start[slot_of_row, channel] = offsets[:-1]
        count[slot_of_row, channel] = np.diff(offsets)
        rate[slot_of_row, channel] = rates
        return cls(samples, start, count, rate, np.asarray(slot_ts, dtype=np.int64))

    def reorder(self, order: np.ndarray) -> WholeBursts:
        """The same bursts with the slots permuted (the samples stay where they are)."""
        return WholeBursts(self.samples, self.start[order], self.count[order], self.rate[order], self.ts[order])

    def last_sample(self, anchors_us: np.ndarray, slots: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(B, K, C) position in its row of the last sample of each slot at its anchor; -1 where the slot is
        empty or lacks the channel.

        Args:
            anchors_us: (B,) anchor times.
            slots: (B, K) slot indices.
            valid: (B, K) which of them are filled.
        """
        elapsed = (anchors_us[:, None] - self.ts[slots]).astype(np.float64)  # (B, K) µs since the burst began
        taken = np.floor(elapsed[..., None] * self.rate[slots] / MICROS_PER_SECOND).astype(np.int64)
        last = np.minimum(taken, self.count[slots] - 1)  # a burst that ended before the anchor: its end
        return np.where(valid[..., None] & (self.count[slots] > 0) & (last >= 0), last, -1)

    def cut(
        self, anchors_us: np.ndarray, slots: np.ndarray, valid: np.ndarray, length: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The slots' samples ending at their anchors.

        Args:
            anchors_us: (B,) anchor times.
            slots: (B, K) slot indices.
            valid: (B, K) which of them are filled.
            length: Samples per slot.

        Returns:
            waveforms (B, K, C, length) float32, zero in front of a burst's first sample; mask (B, K, C);
            age (B, K) float32, hours from each slot's newest sample to its anchor (0 for empty slots).
        """
        last = self.last_sample(anchors_us, slots, valid)  # (B, K, C)
        mask = last >= 0
        positions = last[..., None] - length + 1 + np.arange(length)  # (B, K, C, length) within the row
        inside = mask[..., None] & (positions >= 0)
        waveforms = np.zeros(positions.shape, dtype=np.float32)
        if self.samples.size:
            index = np.minimum(self.start[slots][..., None] + np.maximum(positions, 0), self.samples.size - 1)
            waveforms = np.where(inside, self.samples[index], np.float32(0.0))
        newest = np.where(mask, last * MICROS_PER_SECOND / self.rate[slots], -np.inf).max(axis=-1)  # (B, K) µs
        elapsed = anchors_us[:, None] - self.ts[slots]
        age = np.where(mask.any(axis=-1), (elapsed - newest) / MICROS_PER_HOUR, 0.0)
        return waveforms, mask, age.astype(np.float32)

    def rms(self, anchors_us: np.ndarray, slots: np.ndarray, valid: np.ndarray, length: int) -> np.ndarray:
        """Per channel, the RMS of the samples that some slot of some anchor holds (1 when none)."""
        last = self.last_sample(anchors_us, slots, valid)  # (B, K, C)
        starts = self.start[slots]
        rms = np.ones(self.start.shape[1], dtype=np.float32)
        for c in range(len(rms)):
            held = last[..., c] >= 0
            stop = (starts[..., c] + last[..., c] + 1)[held]
            first = (starts[..., c] + np.maximum(last[..., c] - length + 1, 0))[held]
            values = self.samples[in_any_range(first, stop, self.samples.size)]
            if values.size:
                rms[c] = max(float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))), 1e-6)
        return rms
