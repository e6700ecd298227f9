"""Video: a clip the test encodes itself with PyAV, sampled at --fps into PNG frames with pts-based timestamps."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omnimaint.adapters import import_video
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError

av = pytest.importorskip("av")


def encode_clip(path: Path, *, seconds: int = 3, rate: int = 10, creation_time: str | None = None) -> None:
    """``seconds`` × ``rate`` frames of 64×48; frame i is uniformly grey level 8·i (so frames can be told apart)."""
    with av.open(str(path), "w") as container:
        if creation_time is not None:
            container.metadata["creation_time"] = creation_time
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(seconds * rate):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = tmp_path / "press_07.mp4"
    encode_clip(path, creation_time="2024-03-01T12:00:00.000000Z")
    return path


@pytest.mark.parametrize(("fps", "expected"), [(1.0, [0.0, 1.0, 2.0]), (2.0, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5])])
def test_samples_frames_at_fps(clip: Path, tmp_path: Path, fps: float, expected: list[float]) -> None:
    import_video(clip, tmp_path / "out", fps=fps, start="2024-05-01T08:00:00+02:00")
    dataset = validate_dataset(tmp_path / "out")
    assert dataset.table("assets")[["asset_id", "asset_type"]].to_dict("records") == [
        {"asset_id": "press_07", "asset_type": "machine"}
    ]
    frames = dataset.table("frames")
    start = pd.Timestamp("2024-05-01T06:00:00Z")
    assert list(frames["ts"]) == [start + pd.Timedelta(seconds=s) for s in expected]
    assert set(frames["camera"]) == {"cam0"}
    assert list(frames["path"]) == [f"frames/press_07/cam0/{i:06d}.png" for i in range(len(expected))]
    with Image.open(dataset.frame_file(frames["path"].iloc[1])) as image:
        assert image.format == "PNG"
        assert image.size == (64, 48)
        level = np.asarray(image.convert("L"), dtype=np.float64).mean()
    assert abs(level - 8 * 10 * expected[1]) < 12  # the frame at that time (grey level 8·i), not another
    assert dataset.manifest.cameras[0].width == 64


def test_start_from_creation_time_and_options(clip: Path, tmp_path: Path) -> None:
    dataset = import_video(clip, tmp_path / "out", fps=1.0, asset="P7", asset_type="press", camera="top")
    frames = dataset.table("frames")
    assert frames["ts"].iloc[0] == pd.Timestamp("2024-03-01T12:00:00Z")
    assert set(frames["asset_id"]) == {"P7"}
    assert frames["path"].iloc[0] == "frames/P7/top/000000.png"
    assert dataset.table("assets")["asset_type"].iloc[0] == "press"
    assert dataset.manifest.provenance["start_from"] == "creation_time"


def test_missing_start_and_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    encode_clip(path, seconds=1)
    with pytest.raises(ConfigError, match="no creation_time tag; give the first frame's time with --start"):
        import_video(path, tmp_path / "out")
    with pytest.raises(ConfigError, match="has no time zone"):
        import_video(path, tmp_path / "out", start="2024-01-01T00:00:00")
    with pytest.raises(ConfigError, match="--fps must be positive"):
        import_video(path, tmp_path / "out", fps=0)


def test_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"definitely not a video")
    with pytest.raises(DatasetError, match=r"clip\.mp4: not a readable video file"):
        import_video(path, tmp_path / "out", start="2024-01-01T00:00:00Z")
    with pytest.raises(DatasetError, match="not found"):
        import_video(tmp_path / "missing.mp4", tmp_path / "out")
