"""Image folders: NEU style (class from file name) and MVTec style (class from folder) → frames + labelled states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omnimaint.adapters import SYNTHETIC_EPOCH, import_images
from omnimaint.adapters.images import detect_layout
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError

VOC = """<annotation>
	<filename>{name}</filename>
	<size><width>8</width><height>8</height><depth>1</depth></size>
	<object><name>{label}</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object>
</annotation>
"""


def write_image(path: Path, value: int, size: tuple[int, int] = (8, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, dtype=np.uint8), mode="L").save(path)


@pytest.fixture
def neu_dir(tmp_path: Path) -> Path:
    src = tmp_path / "neu_det"
    for label in ("crazing", "rolled-in_scale"):
        for n in (1, 2, 10):
            write_image(src / "IMAGES" / f"{label}_{n}.jpg", n * 10)
    (src / "ANNOTATIONS").mkdir()
    (src / "ANNOTATIONS" / "crazing_2.xml").write_text(VOC.format(name="crazing_2.jpg", label="crazing"))
    return src


def test_neu_layout(neu_dir: Path, tmp_path: Path) -> None:
    assert detect_layout(neu_dir) == "by_name"
    import_images(neu_dir, tmp_path / "out")
    dataset = validate_dataset(tmp_path / "out")
    assert dataset.table("assets")[["asset_id", "asset_type"]].to_dict("records") == [
        {"asset_id": "neu_det", "asset_type": "surface_inspection"}
    ]
    frames = dataset.table("frames")
    assert len(frames) == 6
    assert set(frames["camera"]) == {"cam0"}
    # natural order of the source paths: crazing_1, crazing_2, crazing_10, rolled-in_scale_1 ...
    assert list(frames["path"][:3]) == [f"frames/neu_det/cam0/crazing_{n}.jpg" for n in (1, 2, 10)]
    assert list(frames["ts"]) == [SYNTHETIC_EPOCH + pd.Timedelta(seconds=i) for i in range(6)]
    original = (neu_dir / "IMAGES" / "crazing_10.jpg").read_bytes()
    assert dataset.frame_file(frames["path"].iloc[2]).read_bytes() == original  # copied byte for byte

    failures = dataset.table("failures")
    assert list(failures["ts"]) == list(frames["ts"])
    assert set(failures["component"]) == {"surface"}
    assert failures["fault_type"].value_counts().to_dict() == {"crazing": 3, "rolled-in_scale": 3}
    assert dataset.manifest.fault_types == ("crazing", "rolled-in_scale")
    assert dataset.manifest.cameras[0].width == 8

    sidecar = {
        note["frame"]: note for note in json.loads((tmp_path / "out" / "annotations" / "images.json").read_text())
    }
    boxed = sidecar["frames/neu_det/cam0/crazing_2.jpg"]
    assert boxed["boxes"] == [{"label": "crazing", "xmin": 1, "ymin": 2, "xmax": 5, "ymax": 6}]
    assert boxed["boxes_image_size"] == [8, 8]
    assert boxed["source_file"] == "IMAGES/crazing_2.jpg"
    assert "boxes" not in sidecar["frames/neu_det/cam0/crazing_1.jpg"]


@pytest.fixture
def mvtec_dir(tmp_path: Path) -> Path:
    src = tmp_path / "mvtec"
    for split, label, n in (("train", "good", 3), ("test", "good", 1), ("test", "broken_large", 2)):
        for i in range(n):
            write_image(src / "bottle" / split / label / f"{i:03d}.png", 100 + i)
    write_image(src / "bottle" / "ground_truth" / "broken_large" / "000_mask.png", 255)
    return src


def test_mvtec_layout(mvtec_dir: Path, tmp_path: Path) -> None:
    assert detect_layout(mvtec_dir) == "mvtec"
    dataset = validate_dataset(import_images(mvtec_dir, tmp_path / "out").path)
    assets = dataset.table("assets").set_index("asset_id")
    assert list(assets.index) == ["bottle-test", "bottle-train"]
    assert json.loads(str(assets.loc["bottle-test", "metadata"])) == {
        "layout": "mvtec",
        "images": 3,
        "category": "bottle",
        "split": "test",
    }
    failures = dataset.table("failures")
    counts = failures.groupby(["asset_id", "fault_type"]).size().to_dict()
    assert counts == {("bottle-test", "broken_large"): 2, ("bottle-test", "normal"): 1, ("bottle-train", "normal"): 3}
    frames = dataset.table("frames")
    assert "frames/bottle-test/cam0/broken_large/000.png" in set(frames["path"])
    train_ts = frames[frames["asset_id"] == "bottle-train"]["ts"]
    assert list(train_ts) == [SYNTHETIC_EPOCH + pd.Timedelta(seconds=i) for i in range(3)]
    notes = json.loads((tmp_path / "out" / "annotations" / "images.json").read_text())
    masked = [n for n in notes if "mask" in n]
    assert [n["frame"] for n in masked] == ["frames/bottle-test/cam0/broken_large/000.png"]
    assert (tmp_path / "out" / masked[0]["mask"]).is_file()
    assert dataset.manifest.fault_types == ("normal", "broken_large")


def test_single_mvtec_category_and_class_folders(mvtec_dir: Path, tmp_path: Path) -> None:
    assert import_images(mvtec_dir / "bottle", tmp_path / "one").asset_ids == {"bottle-train", "bottle-test"}
    folders = tmp_path / "folders"
    write_image(folders / "ok" / "a.png", 1)
    write_image(folders / "scratch" / "a.png", 2)
    dataset = import_images(folders, tmp_path / "two", asset="line3-cam")
    assert dataset.asset_ids == {"line3-cam"}
    assert sorted(dataset.table("failures")["fault_type"]) == ["normal", "scratch"]


def test_errors(tmp_path: Path, mvtec_dir: Path) -> None:
    bad = tmp_path / "bad"
    write_image(bad / "nounderscore.png", 1)
    with pytest.raises(DatasetError, match=r"nounderscore\.png: cannot take a class from the file name"):
        import_images(bad, tmp_path / "out")
    broken = tmp_path / "broken"
    write_image(broken / "crazing_1.png", 1)
    (broken / "crazing_2.png").write_bytes(b"\x89PNG truncated")
    with pytest.raises(DatasetError, match=r"crazing_2\.png: not a readable image"):
        import_images(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="no images"):
        import_images(empty, tmp_path / "out")
    with pytest.raises(ConfigError, match="--asset applies to"):
        import_images(mvtec_dir, tmp_path / "out", asset="x")
    with pytest.raises(ConfigError, match="unknown image layout"):
        import_images(mvtec_dir, tmp_path / "out", layout="sideways")  # type: ignore[arg-type]


def test_malformed_annotation_names_line_and_column(neu_dir: Path, tmp_path: Path) -> None:
    (neu_dir / "ANNOTATIONS" / "crazing_1.xml").write_text("<annotation>\n  <object>\n</annotation>\n")
    with pytest.raises(DatasetError, match=r"crazing_1\.xml: line 3, column \d+: malformed XML"):
        import_images(neu_dir, tmp_path / "out")
