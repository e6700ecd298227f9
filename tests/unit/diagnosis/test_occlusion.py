"""Each kind of evidence finds what a known score depends on: channel and hours, frame patch, log lines, bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimaint.data.vocab import Vocabulary
from omnimaint.data.windows import Batch
from omnimaint.diagnosis.frames import FrameOcclusion
from omnimaint.diagnosis.logs import LogOcclusion
from omnimaint.diagnosis.occlusion import Occlusions
from omnimaint.diagnosis.spectrum import BurstFeatures, Machine, spectrum_evidence
from omnimaint.diagnosis.telemetry import TelemetryOcclusion
from omnimaint.sim.bearings import BEARINGS
from tests.unit.diagnosis.stub import StubPredictor, window

CHANNELS = ("motor_current", "bearing_temp", "load")


def _hot_bearing() -> Batch:
    """A window whose bearing_temp (channel 1) reads 6 over steps 6-8, its other readings noise."""
    diagnosed = window()
    assert diagnosed.telemetry is not None
    diagnosed.telemetry[0, 6:9, 1] = 6.0
    return diagnosed


def _reads_hot_bearing(batch: Batch) -> np.ndarray:
    assert batch.telemetry is not None and batch.telemetry_mask is not None
    readings = batch.telemetry[:, 6:9, 1] * batch.telemetry_mask[:, 6:9, 1]
    return np.asarray(0.2 + 0.1 * readings.mean(axis=1))


@pytest.mark.parametrize("mode", ["baseline", "mask"])
def test_telemetry_occlusion_finds_the_channel_and_the_hours(mode: str) -> None:
    diagnosed, baseline = _hot_bearing(), window(8, rng=np.random.default_rng(1))
    occlusion = TelemetryOcclusion(
        diagnosed,
        baseline,
        CHANNELS,
        pd.Timedelta(minutes=30),
        n_segments=4,
        occlusion=mode,  # type: ignore[arg-type]
    )
    occlusions = Occlusions(diagnosed)
    occlusion.register(occlusions)
    occlusion.register_ranges(occlusions, ["bearing_temp"])
    stub = StubPredictor(_reads_hot_bearing)
    scores, rows = occlusions.score(stub.as_predictor(), horizon=0)
    evidence = occlusion.evidence(scores, rows, {"bearing_temp": "degC"})

    assert stub.calls == 1  # every occluded copy in one predict call
    top = evidence.channels[0]
    assert top.channel == "bearing_temp" and top.unit == "degC"
    assert top.contribution == pytest.approx(0.1 * 6.0, abs=0.1)  # falls to about the baseline level
    assert all(abs(c.contribution) < 1e-6 for c in evidence.channels[1:])
    assert all(c.segment_contributions == () and c.highlighted is None for c in evidence.channels[1:])
    # Steps 6-8 of twelve 30-min steps are the third of four segments: (anchor - 3 h, anchor - 1.5 h].
    anchor = pd.Timestamp(diagnosed.anchors[0], tz="UTC")
    assert top.highlighted is not None
    assert pd.Timestamp(top.highlighted.start) == anchor - pd.Timedelta(hours=3)
    assert pd.Timestamp(top.highlighted.end) == anchor - pd.Timedelta(hours=1.5)
    assert int(np.argmax(evidence.segment_contributions)) == 2
    assert top.z_score is not None and top.z_score > 3  # 6 against a standard normal baseline
    assert evidence.ranked_by_deviation()[0] == "bearing_temp"
    assert len(top.values) == 12 and top.values[7] == pytest.approx(6.0)
    assert evidence.occlusion == mode


def test_without_a_baseline_telemetry_is_masked_and_has_no_z_score() -> None:
    diagnosed = _hot_bearing()
    occlusion = TelemetryOcclusion(diagnosed, None, CHANNELS, pd.Timedelta(minutes=30), n_segments=4)
    occlusions = Occlusions(diagnosed)
    occlusion.register(occlusions)
    scores, rows = occlusions.score(StubPredictor(_reads_hot_bearing).as_predictor(), horizon=0)
    evidence = occlusion.evidence(scores, rows, {})
    assert evidence.occlusion == "mask"
    assert evidence.channels[0].channel == "bearing_temp"
    assert evidence.channels[0].contribution == pytest.approx(0.6, abs=1e-5)
    assert evidence.channels[0].z_score is None and evidence.ranked_by_deviation() == ()


def test_frame_heat_map_lights_the_patch_the_score_reads() -> None:
    diagnosed, baseline = window(), window(3)
    assert diagnosed.frames is not None
    diagnosed.frames[0, 0, 0, 8:12, 4:8, 0] = 255  # a red square in patch (row 2, column 1) of a 4x4 grid

    def reads_the_square(batch: Batch) -> np.ndarray:
        assert batch.frames is not None
        return np.asarray(batch.frames[:, 0, 0, 8:12, 4:8, 0].mean(axis=(1, 2)) / 255.0)

    occlusion = FrameOcclusion(diagnosed, baseline, camera=0, grid=4)
    occlusions = Occlusions(diagnosed)
    occlusion.register(occlusions)
    scores, rows = occlusions.score(StubPredictor(reads_the_square).as_predictor(), horizon=0)
    evidence = occlusion.evidence(scores, rows, "cam0", "2024-01-10T11:00:00+00:00")
    heat = np.array(evidence.heat)
    assert evidence.hottest == (2, 1)
    assert heat[2, 1] == pytest.approx(1.0)  # painted with the (black) healthy frame, the square is gone
    assert np.count_nonzero(heat) == 1
    png = evidence.overlay_png
    assert png.startswith(b"\x89PNG")
    from io import BytesIO

    from PIL import Image

    image = np.asarray(Image.open(BytesIO(png)).convert("RGB"))
    assert image.shape == (64, 64, 3)  # 16 px enlarged 4x
    assert image[40, 20, 0] == 255 and image[40, 20, 1] == 0  # the hot patch is red
    assert image[4, 60].tolist() == [0, 0, 0]  # a cold patch keeps the frame's pixels


def test_log_lines_that_raise_the_score_come_first() -> None:
    diagnosed = window()
    vocab = Vocabulary(asset_types=("centrifugal_pump",), event_codes=("AL-A", "AL-B", "AL-C", "AL-D", "AL-E", "AL-F"))

    def counts_code_5(batch: Batch) -> np.ndarray:
        assert batch.event_codes is not None and batch.event_mask is not None
        return np.asarray(0.1 * ((batch.event_codes == 5) & batch.event_mask).sum(axis=1))

    logs = LogOcclusion(diagnosed, vocab)
    occlusions = Occlusions(diagnosed)
    logs.register(occlusions)
    scores, rows = occlusions.score(StubPredictor(counts_code_5).as_predictor(), horizon=0)
    lines = logs.evidence(scores, rows)
    assert [line.label for line in lines[:2]] == ["AL-D", "AL-D"]  # code index 5 is the fourth code (2 + 3)
    assert [line.contribution for line in lines] == pytest.approx([0.1, 0.1, 0.0, 0.0])
    assert {line.text for line in lines[:2]} == {"trip", "trip again"}
    anchor = pd.Timestamp(diagnosed.anchors[0], tz="UTC")
    assert {pd.Timestamp(line.time) for line in lines[:2]} == {
        anchor - pd.Timedelta(hours=30),
        anchor - pd.Timedelta(hours=10),
    }


def test_dropping_a_modality_clears_its_presence_only_in_its_copy() -> None:
    diagnosed = window()
    occlusions = Occlusions(diagnosed)
    occlusions.drop_modality("no frames", "frames")
    stacked = occlusions.stacked()
    assert stacked.presence[0].tolist() == [True, False, True, True, False]
    assert stacked.presence[1].tolist() == [True, False, False, True, False]
    with pytest.raises(ValueError, match="added twice"):
        occlusions.drop_modality("no frames", "frames")


RATE, SHAFT_HZ, SAMPLES = 4096.0, 24.0, 2048


def _burst(rng: np.random.Generator, *, bpfo_impacts: float = 0.0, one_x: float = 0.05) -> np.ndarray:
    """Noise, a 1x sinusoid, and optionally an outer-race defect: impacts at BPFO ringing a 1200 Hz resonance."""
    t = np.arange(SAMPLES) / RATE
    x = rng.normal(0.0, 0.02, SAMPLES) + one_x * np.sin(2 * np.pi * SHAFT_HZ * t)
    if bpfo_impacts:
        bpfo = float(BEARINGS["6205"].bpfo(SHAFT_HZ))
        ring = np.exp(-300 * t[:200]) * np.sin(2 * np.pi * 1200 * t[:200])
        for start in (np.arange(0, t[-1], 1 / bpfo) * RATE).astype(int):
            x[start : start + 200] += bpfo_impacts * ring[: SAMPLES - start]
    return x


@pytest.mark.parametrize(("kind", "expected"), [("bearing", "BPFO"), ("imbalance", "1x")])
def test_spectrum_names_the_deviating_band(kind: str, expected: str) -> None:
    rng = np.random.default_rng(3)
    machine = Machine(bearing=BEARINGS["6205"], resonance_hz=1200.0)
    baseline = [BurstFeatures(_burst(rng), RATE, SHAFT_HZ, machine) for _ in range(8)]
    faulty = _burst(rng, bpfo_impacts=0.5) if kind == "bearing" else _burst(rng, one_x=0.5)
    evidence = spectrum_evidence(
        "accel_de", BurstFeatures(faulty, RATE, SHAFT_HZ, machine), "t", RATE, SHAFT_HZ, machine, baseline
    )
    named = [b for b in evidence.bands if not b.name.startswith("band")]
    assert named[0].name == expected, [(b.name, b.z_score) for b in evidence.bands]
    assert named[0].z_score is not None and named[0].z_score > 3
    assert expected in {b.name for b in evidence.deviating()}
    assert {"1x", "2x", "BPFO", "BPFI", "BSF", "FTF"} <= {b.name for b in evidence.bands}
    assert evidence.bearing == "6205" and len(evidence.frequencies_hz) <= 256


def test_spectrum_without_speed_or_bearing_has_only_plain_bands() -> None:
    rng = np.random.default_rng(4)
    features = BurstFeatures(_burst(rng), RATE, None, Machine())
    evidence = spectrum_evidence("accel_de", features, "t", RATE, None, Machine(), [])
    assert all(b.name.startswith("band") and b.z_score is None for b in evidence.bands)
    assert len(evidence.bands) == 8 and evidence.baseline_amplitude == ()
