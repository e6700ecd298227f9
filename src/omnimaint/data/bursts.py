"""Bursts kept whole and cut at anchors: the sample arithmetic of ``WaveformWindow(align="anchor")``.

Sample ``i`` of a burst stored at ``ts`` with rate ``r`` (after resampling) was taken at ``ts + i / r``.
At an anchor ``t`` a slot holds the burst's last ``length`` samples taken at or before ``t``: those up to
sample ``floor((t - ts) · r)`` (times in microseconds), or up to the burst's last sample when it ended
earlier. An anchor at the time of a sample rounded *up* to the microsecond therefore ends the slot at that
sample, for any rate below 1 MHz. A slot read at another speed (``WaveformWindow.order_rpm``) steps through its
row's last ``round(length · step)`` samples up to that one, resampled to ``length`` through the Fourier
transform (an ideal low-pass: nothing above the slot's Nyquist frequency folds back). Everything works on whole
arrays of anchors at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
        step: (S,) samples of the row per sample of the slot (1: read as stored; see :meth:`at_speeds`).
    """

    samples: np.ndarray
    start: np.ndarray
    count: np.ndarray
    rate: np.ndarray
    ts: np.ndarray
    step: np.ndarray

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
        return cls(samples, start, count, rate, np.asarray(slot_ts, dtype=np.int64), np.ones(len(slot_ts)))

    def reorder(self, order: np.ndarray) -> WholeBursts:
        """The same bursts with the slots permuted (the samples stay where they are)."""
        return replace(
            self,
            start=self.start[order],
            count=self.count[order],
            rate=self.rate[order],
            ts=self.ts[order],
            step=self.step[order],
        )

    def at_speeds(self, speed_rpm: np.ndarray, order_rpm: float) -> WholeBursts:
        """The same bursts read as if each slot's machine ran at ``order_rpm`` instead of its ``speed_rpm`` (S,)
        (NaN: read as stored): a slot steps ``order_rpm / speed`` samples of its row per sample."""
        return replace(self, step=np.where(np.isfinite(speed_rpm), order_rpm / speed_rpm, 1.0))

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
        span = self.span(slots, length)  # (B, K) row samples each slot reads
        longest = int(span.max(initial=length))
        positions = last[..., None] - longest + 1 + np.arange(longest)  # (B, K, C, longest) within the row
        inside = mask[..., None] & (positions >= 0)
        read = np.zeros(positions.shape, dtype=np.float32)
        if self.samples.size:
            index = np.minimum(self.start[slots][..., None] + np.maximum(positions, 0), self.samples.size - 1)
            read = np.where(inside, self.samples[index], np.float32(0.0))
        waveforms = read
        if (span != length).any():
            waveforms = np.empty((*read.shape[:-1], length), dtype=np.float32)
            for n in np.unique(span):
                at = span == n
                waveforms[at] = fourier_resampled(read[at][..., longest - n :], length)
        newest = np.where(mask, last * MICROS_PER_SECOND / self.rate[slots], -np.inf).max(axis=-1)  # (B, K) µs
        elapsed = anchors_us[:, None] - self.ts[slots]
        age = np.where(mask.any(axis=-1), (elapsed - newest) / MICROS_PER_HOUR, 0.0)
        return waveforms, mask, age.astype(np.float32)

    def span(self, slots: np.ndarray, length: int) -> np.ndarray:
        """How many samples of its row each of ``slots`` reads to fill ``length`` samples (``length`` at step 1)."""
        return np.rint(length * self.step[slots]).astype(np.int64)

    def rms(self, anchors_us: np.ndarray, slots: np.ndarray, valid: np.ndarray, length: int) -> np.ndarray:
        """Per channel, the RMS of the samples that some slot of some anchor holds (1 when none)."""
        last = self.last_sample(anchors_us, slots, valid)  # (B, K, C)
        starts = self.start[slots]
        reach = self.span(slots, length) - 1  # (B, K) row samples read before the last
        rms = np.ones(self.start.shape[1], dtype=np.float32)
        for c in range(len(rms)):
            held = last[..., c] >= 0
            stop = (starts[..., c] + last[..., c] + 1)[held]
            first = (starts[..., c] + np.maximum(last[..., c] - reach, 0))[held]
            values = self.samples[in_any_range(first, stop, self.samples.size)]
            if values.size:
                rms[c] = max(float(np.sqrt(np.mean(np.square(values, dtype=np.float64)))), 1e-6)
        return rms


def fourier_resampled(signals: np.ndarray, length: int) -> np.ndarray:
    """``signals`` (..., n) resampled to ``length`` samples over the same stretch of time: the spectrum cut (or
    padded with zeros) at the new Nyquist frequency, scaled to keep the amplitudes."""
    n = signals.shape[-1]
    if n == length:
        return signals
    spectrum = np.fft.rfft(signals.astype(np.float64), axis=-1)
    bins = length // 2 + 1
    kept = (
        spectrum[..., :bins]
        if spectrum.shape[-1] >= bins
        else np.pad(spectrum, [(0, 0)] * (signals.ndim - 1) + [(0, bins - spectrum.shape[-1])])
    )
    return (np.fft.irfft(kept, n=length, axis=-1) * (length / n)).astype(np.float32)
