"""Waveform options for machines whose load changes: the spectral CNN's ``level: relative`` (a burst's spectra
without their level) and training bursts at a random gain and speed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from omnimaint.models import create_encoder
from omnimaint.models.config import WaveformEncoderConfig
from omnimaint.models.examples import example_config, example_inputs
from omnimaint.training.waveform_views import random_waveform_views

RATE = 12_000.0


def _tone(hz: float, samples: int = 2048, bursts: int = 8) -> torch.Tensor:
    t = torch.arange(samples, dtype=torch.float64) / RATE
    return torch.sin(2 * np.pi * hz * t).to(torch.float32).repeat(bursts, 1, 1, 1)  # (bursts, 1, 1, S)


def _peak_hz(burst: torch.Tensor) -> float:
    spectrum = np.abs(np.fft.rfft(burst.numpy() * np.hanning(burst.shape[-1])))
    return float(np.fft.rfftfreq(burst.shape[-1], 1 / RATE)[spectrum.argmax()])


def _rms(bursts: torch.Tensor) -> np.ndarray:
    return bursts.pow(2).mean(dim=-1).sqrt().flatten().numpy()


def test_no_gain_and_no_speed_change_nothing() -> None:
    tone = _tone(1000.0)
    torch.testing.assert_close(random_waveform_views(tone, 0.0, 0.0), tone, atol=1e-5, rtol=0)


def test_the_gain_stays_within_its_decibels_and_varies_per_burst() -> None:
    tone = _tone(1000.0, bursts=64)
    ratio = _rms(random_waveform_views(tone, 6.0, 0.0, torch.Generator().manual_seed(0))) / _rms(tone)
    decibels = 20 * np.log10(ratio)
    assert np.all(np.abs(decibels) <= 6.0 + 1e-3)
    assert decibels.min() < -3 and decibels.max() > 3  # drawn over the range, not one gain for all


def test_the_speed_moves_a_tone_within_its_range() -> None:
    tone = _tone(1000.0, bursts=32)
    moved = random_waveform_views(tone, 0.0, 0.1, torch.Generator().manual_seed(1))
    peaks = np.array([_peak_hz(burst[0, 0]) for burst in moved])
    resolution = RATE / 2048
    assert np.all((peaks >= 900 - resolution) & (peaks <= 1100 + resolution))
    assert peaks.min() < 960 and peaks.max() > 1040  # both slower and faster machines are shown
    # The level is the tone's (reads past an end are reflected, not zeros).
    np.testing.assert_allclose(_rms(moved), _rms(tone), rtol=0.05)


def test_absent_bursts_stay_zeros() -> None:
    bursts = _tone(500.0, bursts=4)
    bursts[1] = 0
    moved = random_waveform_views(bursts, 10.0, 0.1, torch.Generator().manual_seed(2))
    assert torch.equal(moved[1], torch.zeros_like(moved[1])) and moved[0].abs().sum() > 0


@pytest.mark.parametrize(("level", "same_at_any_gain"), [("relative", True), ("absolute", False)])
def test_a_relative_level_reads_a_louder_burst_as_the_same(level: str, same_at_any_gain: bool) -> None:
    config = example_config(modalities=("waveforms",))
    config = config.model_copy(update={"waveform": WaveformEncoderConfig(n_fft=64, level=level)})
    encoder = create_encoder("waveforms", "spectral_cnn", config).eval()
    inputs = example_inputs(config, batch_size=2)
    assert inputs.waveforms is not None
    louder = dataclasses.replace(inputs, waveforms=inputs.waveforms * 10)
    present = torch.tensor([True, True])
    with torch.no_grad():
        quiet_tokens, _ = encoder(inputs, present)
        loud_tokens, _ = encoder(louder, present)
    assert torch.allclose(quiet_tokens, loud_tokens, atol=1e-4) == same_at_any_gain


def test_standardising_counts_only_present_bursts_and_keeps_the_training_statistics() -> None:
    from omnimaint.models.encoders.waveform import PresentStandardiser

    standardiser = PresentStandardiser(2, momentum=1.0)  # the running statistics become the last batch's
    x = torch.tensor([[1.0, 10.0], [3.0, 30.0], [-99.0, -99.0]])
    present = torch.tensor([True, True, False])
    out = standardiser.train()(x, present)
    torch.testing.assert_close(out, torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(standardiser.running_mean, torch.tensor([2.0, 20.0]))
    # In evaluation a burst is read with the training statistics, whatever the batch holds.
    alone = standardiser.eval()(torch.tensor([[5.0, 20.0]]), torch.tensor([True]))
    torch.testing.assert_close(alone, torch.tensor([[3.0, 0.0]]), atol=1e-4, rtol=0)


def test_refitting_takes_the_statistics_of_every_present_row_seen_and_refuses_none() -> None:
    from omnimaint.models.encoders.waveform import PresentStandardiser, refitting_standardisers

    standardiser = PresentStandardiser(2).eval()
    rows = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    with refitting_standardisers(standardiser):  # two batches, and a row that is absent
        standardiser(rows[:2], torch.tensor([True, True]))
        standardiser(torch.cat([rows[2:], torch.full((1, 2), -99.0)]), torch.tensor([True, False]))
    torch.testing.assert_close(standardiser.running_mean, rows.mean(dim=0))
    torch.testing.assert_close(standardiser.running_var, rows.var(dim=0, unbiased=False))
    assert standardiser.sums is None  # back to plain evaluation
    kept = standardiser.running_mean.clone()
    with pytest.raises(ValueError, match="no present input reached"), refitting_standardisers(standardiser):
        standardiser(rows, torch.tensor([False, False, False]))
    assert torch.equal(standardiser.running_mean, kept)
    with pytest.raises(ValueError, match="standardises no input"), refitting_standardisers(torch.nn.Linear(2, 2)):
        pass
