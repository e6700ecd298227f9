"""Camera frames: cue regions, fault cues that grow with severity, people in the safety zone, PNG encoding."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omnimaint.data import Dataset
from omnimaint.errors import ConfigError
from omnimaint.sim import ASSET_TYPES, AssetHistory, cue_region
from omnimaint.sim.frames import STATUS_RUN, FrameConditions, render_frames
from omnimaint.sim.png import encode_pngs
from omnimaint.sim.scene import build_scene
from tests.unit.sim.conftest import FAULTY, rows_of, seconds


def _conditions(n: int, **overrides: np.ndarray) -> FrameConditions:
    values: dict[str, np.ndarray] = {
        "light": np.full(n, 0.95),
        "noise": np.full(n, 0.012),
        "leak": np.zeros(n),
        "heat": np.zeros(n),
        "belt": np.zeros(n),
        "status": np.full(n, STATUS_RUN),
        "person": np.zeros(n, dtype=bool),
        "foreign_object": np.zeros(n, dtype=bool),
        "blur": np.zeros(n, dtype=bool),
        "occlusion": np.zeros(n, dtype=bool),
    }
    values.update(overrides)
    return FrameConditions(**values)


def _render(asset_type: str, size: int = 64, **overrides: np.ndarray) -> np.ndarray:
    n = len(next(iter(overrides.values()))) if overrides else 4
    scene = build_scene(asset_type, size, np.random.default_rng(0))
    return render_frames(scene, _conditions(n, **overrides), np.random.default_rng(1)).astype(np.float64)


def _hi_vis(frames: np.ndarray) -> np.ndarray:
    """Pixels of an orange hi-vis vest, per frame: (n, H, W)."""
    r, g, b = frames[..., 0], frames[..., 1], frames[..., 2]
    return (r > 90) & (r > 1.8 * g) & (g > 1.5 * b)


@pytest.mark.parametrize("asset_type", ASSET_TYPES)
@pytest.mark.parametrize("size", [32, 64, 96])
def test_cue_regions_are_masks_inside_the_frame(asset_type: str, size: int) -> None:
    for cue in ("housing", "smoke", "safety_zone", "status_light"):
        mask = cue_region(asset_type, cue, size)
        assert mask.shape == (size, size) and mask.dtype == bool
        assert 0 < mask.sum() < size * size / 2 or cue == "safety_zone"
    zone = cue_region(asset_type, "safety_zone", size)
    assert zone.sum() > size * size / 3


def test_type_specific_cues_exist_only_for_their_type() -> None:
    puddle = cue_region("centrifugal_pump", "puddle", 64)
    assert puddle.any() and not (puddle & cue_region("centrifugal_pump", "housing", 64)).any()
    assert (puddle & cue_region("centrifugal_pump", "safety_zone", 64)).sum() == puddle.sum()
    assert cue_region("conveyor_drive", "belt", 64).any()
    with pytest.raises(ConfigError, match="puddle"):
        cue_region("cnc_spindle", "puddle", 64)
    with pytest.raises(ConfigError, match="belt"):
        cue_region("centrifugal_pump", "belt", 64)


def test_puddle_grows_with_seal_leak_and_stays_in_its_region() -> None:
    leak = np.array([0.0, 0.1, 0.4, 0.9])
    frames = _render("centrifugal_pump", leak=leak)
    healthy = frames[0].mean(axis=-1)
    cue = cue_region("centrifugal_pump", "puddle", 64)
    darkened = (frames.mean(axis=-1) < healthy[None] - 40).sum(axis=(1, 2))
    outside = (frames.mean(axis=-1) < healthy[None] - 40) & ~cue[None]
    assert darkened[0] == 0 and darkened[1] > 0
    assert np.all(np.diff(darkened) > 0)
    assert not outside.any()


def test_overheating_tints_the_housing_red_then_adds_haze() -> None:
    heat = np.repeat([0.0, 0.6, 0.95], 8)
    frames = _render("conveyor_drive", heat=heat).reshape(3, 8, 64, 64, 3).mean(axis=1)  # average out the noise
    housing = cue_region("conveyor_drive", "housing", 64)
    redness = frames[:, housing, 0].mean(axis=1) - frames[:, housing, 2].mean(axis=1)
    assert redness[0] < redness[1] - 10 < redness[2] - 20
    smoke = cue_region("conveyor_drive", "smoke", 64) & ~housing
    change = np.abs(frames[:, smoke] - frames[0, smoke]).mean(axis=(1, 2))
    assert change[1] < 2.0
    assert change[2] > 10.0


def test_belt_wear_moves_and_frays_the_belt() -> None:
    frames = _render("conveyor_drive", belt=np.array([0.0, 0.0, 0.9]))
    region = cue_region("conveyor_drive", "belt", 64)
    assert np.abs(frames[1] - frames[0])[~region].mean() < 6  # only noise between healthy frames
    assert np.abs(frames[2] - frames[0])[region].mean() > 3 * np.abs(frames[1] - frames[0])[region].mean()
    assert np.abs(frames[2] - frames[0])[~region].mean() < 6


def test_person_in_the_safety_zone_is_drawn_there() -> None:
    frames = _render("cnc_spindle", person=np.array([False, True]))
    vest = _hi_vis(frames)
    zone = cue_region("cnc_spindle", "safety_zone", 64)
    assert not vest[0].any()
    assert vest[1].sum() > 10 and (vest[1] & ~zone).sum() == 0


def test_night_frames_are_darker_and_noisier() -> None:
    frames = _render("centrifugal_pump", light=np.array([0.95, 0.45]), noise=np.array([0.012, 0.03]))
    assert frames[1].mean() < 0.6 * frames[0].mean()


def test_png_encoding_round_trips_through_pillow() -> None:
    frames = np.random.default_rng(0).integers(0, 256, size=(4, 17, 23, 3), dtype=np.uint8)
    for frame, data in zip(frames, encode_pngs(frames), strict=True):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), frame)
    with pytest.raises(ValueError, match="uint8"):
        encode_pngs(frames.astype(np.float32))


def _frame_pixels(dataset: Dataset, paths: pd.Series) -> np.ndarray:
    return np.stack([np.asarray(Image.open(dataset.frame_file(p)), dtype=np.float64) for p in paths])


def test_puddle_cue_darkens_frames_before_a_seal_leak_failure(
    faulty_plant: Dataset, faulty_truth: dict[str, AssetHistory]
) -> None:
    cue = cue_region("centrifugal_pump", "puddle", FAULTY.frame_size)
    checked = 0
    for asset_id, history in faulty_truth.items():
        if not any(e.mode == "seal_leak" and e.outcome == "failure" and e.end_s > 0 for e in history.episodes):
            continue
        frames = rows_of(faulty_plant, "frames", asset_id)
        severity = history.severity("seal_leak", seconds(frames["ts"], FAULTY))
        leaking, healthy = frames[severity > 0.5], frames[severity == 0]
        assert len(leaking) >= 5 and len(healthy) >= 20
        # Brightness of the cue region relative to the whole frame: robust to day/night lighting.
        ratio = {
            name: (pixels[:, cue].mean(axis=(1, 2)) / pixels.mean(axis=(1, 2, 3)))
            for name, pixels in (
                ("leaking", _frame_pixels(faulty_plant, leaking["path"])),
                ("healthy", _frame_pixels(faulty_plant, healthy["path"].iloc[::4])),
            )
        }
        assert np.median(ratio["leaking"]) < 0.75 * np.median(ratio["healthy"]), asset_id
        checked += 1
    assert checked > 0, "the faulty plant should contain a seal-leak failure"


def test_intrusion_events_match_a_person_in_the_next_frame(plant: Dataset) -> None:
    events = plant.table("events")
    intrusions = events[events["code"] == "SF-ZONE-INTRUSION"]
    frames = plant.table("frames")
    seen = 0
    for event in intrusions.itertuples():
        own = frames[(frames["asset_id"] == event.asset_id) & (frames["ts"] > event.ts)]
        nearby = own[own["ts"] <= event.ts + pd.Timedelta(seconds=60)]
        if nearby.empty:
            continue  # an intruder between frames: logged, not pictured
        seen += 1
        vest = _hi_vis(_frame_pixels(plant, nearby["path"].iloc[:1]))[0]
        asset_type = plant.table("assets").set_index("asset_id").loc[event.asset_id, "asset_type"]
        assert vest.sum() > 3 and (vest & ~cue_region(asset_type, "safety_zone", 64)).sum() == 0
    assert seen > 0
