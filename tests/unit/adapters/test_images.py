"""Image folders: NEU style (class from file name) and MVTec style (class from folder) → frames + labelled states."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from omnimaint.adapters import SYNTHETIC_EPOCH, import_images
from omnimaint.adapters.images import detect_layout, summarize_import
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


def write_mask(path: Path, size: tuple[int, int] = (8, 8), defect: bool = True) -> None:
    """A binary mask (0 background, 255 defect), single-channel PNG."""
    pixels = np.zeros(size[::-1], dtype=np.uint8)
    if defect:
        pixels[2:5, 3:6] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode="L").save(path)


def sidecar_of(out: Path) -> dict[str, dict[str, object]]:
    return {note["frame"]: note for note in json.loads((out / "annotations" / "images.json").read_text())}


@pytest.fixture
def tile_dir(tmp_path: Path) -> Path:
    """The magnetic-tile layout: <class>/Imgs/<name>.jpg with its binary mask <name>.png beside it, plus strays."""
    src = tmp_path / "tiles"
    for label, names in (("MT_Blowhole", ("exp1_num_4", "exp1_num_12")), ("MT_Free", ("exp2_num_7",))):
        for n, name in enumerate(names):
            write_image(src / label / "Imgs" / f"{name}.jpg", 40 + 10 * n)
            write_mask(src / label / "Imgs" / f"{name}.png", defect=label != "MT_Free")
    (src / "README.md").write_text("# magnetic tiles\n")
    write_image(src / "overview.jpg", 200)  # a preview at the top level
    (src / ".DS_Store").write_bytes(b"\x00\x01")
    (src / "MT_Free" / "Imgs" / "._exp2_num_7.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS fork
    return src


def test_masks_beside_jpegs_are_paired_not_counted_as_images(tile_dir: Path, tmp_path: Path) -> None:
    assert detect_layout(tile_dir) == "by_folder"
    dataset = validate_dataset(import_images(tile_dir, tmp_path / "out").path)
    frames = dataset.table("frames")
    assert sorted(Path(p).name for p in frames["path"]) == ["exp1_num_12.jpg", "exp1_num_4.jpg", "exp2_num_7.jpg"]
    faults = dataset.table("failures").set_index("ts")["fault_type"]
    assert sorted(faults) == ["MT_Blowhole", "MT_Blowhole", "MT_Free"]  # the class folder, not the 'Imgs' container
    notes = sidecar_of(tmp_path / "out")
    note = notes["frames/tiles/cam0/MT_Blowhole/Imgs/exp1_num_4.jpg"]
    assert note["mask_source_file"] == "MT_Blowhole/Imgs/exp1_num_4.png"
    assert note["mask"] == "annotations/masks/tiles/MT_Blowhole/Imgs/exp1_num_4_mask.png"
    mask = (tmp_path / "out" / str(note["mask"])).read_bytes()
    assert mask == (tile_dir / "MT_Blowhole" / "Imgs" / "exp1_num_4.png").read_bytes()
    assert all("mask" in n for n in notes.values())
    provenance = dataset.manifest.provenance
    assert (provenance["layout"], provenance["classes"], provenance["images"], provenance["masks"]) == (
        "by_folder",
        2,
        3,
        3,
    )
    assert summarize_import(provenance) == [
        "layout: by_folder (2 classes, 3 images, 3 masks: <name>.png beside <name>.jpg)",
        "set aside: 1 images outside the layout (overview.jpg)",
        "ignored: 1 files that are not images (README.md)",
    ]


@pytest.mark.parametrize(
    ("image", "mask", "convention"),
    [
        ("scratch/7.png", "scratch/7_mask.png", "<name>_mask.png"),
        ("scratch/7.bmp", "scratch/7_GT.bmp", "<name>_gt.bmp"),
        ("Class1/Train/0007.PNG", "Class1/Train/Label/0007_label.PNG", "label/ folder"),  # DAGM
        ("train/images/7.jpg", "train/masks/7.png", "masks/ folder"),
    ],
)
def test_mask_conventions(tmp_path: Path, image: str, mask: str, convention: str) -> None:
    src = tmp_path / "src"
    write_image(src / image, 90)
    write_mask(src / mask)
    write_image(src / "other" / "x_1.png", 30)  # a second image folder (by_folder layout)
    import_images(src, tmp_path / "out")
    notes = [n for n in sidecar_of(tmp_path / "out").values() if n["source_file"] == image]
    assert len(notes) == 1 and notes[0]["mask_source_file"] == mask
    dataset = validate_dataset(tmp_path / "out")
    assert len(dataset.table("frames")) == 2
    assert dataset.manifest.provenance["mask_conventions"] == [convention]


def test_a_grey_png_beside_a_jpeg_that_is_not_two_valued_stays_an_image(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "src"
    write_image(src / "crazing_1.jpg", 10)
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(grey, mode="L").save(src / "crazing_1.png")
    dataset = import_images(src, tmp_path / "out")
    assert len(dataset.table("frames")) == 2
    assert "not a two-valued mask" in caplog.text


def test_mvtec_strays_and_mask_names(mvtec_dir: Path, tmp_path: Path) -> None:
    (mvtec_dir / "license.txt").write_text("CC BY-NC-SA 4.0\n")
    write_image(mvtec_dir / "bottle" / "preview.png", 5)
    dataset = import_images(mvtec_dir, tmp_path / "out")
    provenance = dataset.manifest.provenance
    assert (provenance["categories"], provenance["images"], provenance["masks"]) == (1, 6, 1)
    assert provenance["stray_examples"] == ["bottle/preview.png"]
    assert provenance["ignored_examples"] == ["license.txt"]
    assert summarize_import(provenance)[0] == (
        "layout: mvtec (1 categories, 2 classes, 6 images, 1 masks: ground_truth/<class>/<name>_mask.png)"
    )
    note = sidecar_of(tmp_path / "out")["frames/bottle-test/cam0/broken_large/000.png"]
    assert note["mask"] == "annotations/masks/bottle-test/broken_large/000_mask.png"
    assert note["mask_source_file"] == "bottle/ground_truth/broken_large/000_mask.png"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a/x_1.png": "image", "a/y_1_mask.png": "mask"}, r"y_1_mask\.png: a mask without an image"),
        ({"a/x_1.png": "image", "a/x_1_mask.png": "mask16"}, r"x_1_mask\.png: a mask of 16×16 pixels"),
        (
            {"a/x_1.jpg": "image", "a/x_1_mask.png": "mask", "a/masks/x_1.png": "mask"},
            r"x_1\.jpg: two masks",
        ),
        (
            {"s/images/x_1.jpg": "image", "s/photos/x_1.jpg": "image", "s/masks/x_1.png": "mask"},
            r"masks/x_1\.png: a mask that fits 2 images",
        ),
        ({"a/x_1.png": "image", "a/x_1_mask.png": "garbage"}, r"x_1_mask\.png: not a readable image"),
        ({"bottle/test/cut/000.png": "image", "bottle/ground_truth/cut/001_mask.png": "mask"}, "001_mask.png: a mask"),
    ],
)
def test_mask_errors_name_the_files(tmp_path: Path, files: dict[str, str], message: str) -> None:
    src = tmp_path / "src"
    for name, kind in files.items():
        if kind == "image":
            write_image(src / name, 50)
        elif kind == "garbage":
            (src / name).write_bytes(b"\x89PNG\r\n\x1a\n broken")
        else:
            write_mask(src / name, (16, 16) if kind == "mask16" else (8, 8))
    with pytest.raises(DatasetError, match=message):
        import_images(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_symlinked_class_folder_is_followed(neu_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "linked"
    src.mkdir()
    (src / "IMAGES").symlink_to(neu_dir / "IMAGES", target_is_directory=True)
    (src / "again").symlink_to(neu_dir / "IMAGES", target_is_directory=True)  # the same folder twice: read once
    dataset = import_images(src, tmp_path / "out")
    assert len(dataset.table("frames")) == 6
    assert dataset.manifest.provenance["followed_links"] == {"IMAGES": str((neu_dir / "IMAGES").resolve())}
