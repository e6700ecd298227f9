"""Bad inputs to the public-format importers (``import images``, ``import cwru``) and to ``bench``.

Each case builds a source folder (or dataset) that omnimaint meets in real use, breaks one thing, and checks
that the CLI refuses it with one ``error:`` line naming what and where, exit 1, and nothing changed on disk
(no dataset, no partial folder, the user's files untouched).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from tests.unit.adapters.test_cwru import write_mat
from tests.unit.adapters.test_images import VOC, write_image, write_mask
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli
from tests.unit.evaluation.canonical import cwru_dataset
from tests.unit.evaluation.test_cmapss import two_subset_dataset

Build = Callable[[Path], Path]
"""Writes a source under the given folder and returns the SRC to pass."""


def _neu(src: Path) -> Path:
    for n in (1, 2):
        write_image(src / "IMAGES" / f"crazing_{n}.jpg", 10 * n)
    return src


def _mvtec(src: Path) -> Path:
    write_image(src / "bottle" / "train" / "good" / "000.png", 100)
    write_image(src / "bottle" / "test" / "cut" / "000.png", 120)
    return src


def _empty(src: Path) -> Path:
    src.mkdir(parents=True)
    return src


def _only_documents(src: Path) -> Path:
    src.mkdir(parents=True)
    (src / "README.md").write_text("images to follow\n")
    (src / "labels.csv").write_text("file,class\n")
    return src


def _undecodable_image(src: Path) -> Path:
    _neu(src)
    (src / "IMAGES" / "crazing_3.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated JPEG")
    return src


def _orphan_mask(src: Path) -> Path:
    _neu(src)
    write_mask(src / "IMAGES" / "crazing_9_mask.png")
    return src


def _mask_of_another_size(src: Path) -> Path:
    _neu(src)
    write_mask(src / "IMAGES" / "crazing_1_mask.png", (16, 16))
    return src


def _two_masks(src: Path) -> Path:
    _neu(src)
    write_mask(src / "IMAGES" / "crazing_1_mask.png")
    write_mask(src / "IMAGES" / "crazing_1.png")
    return src


def _mask_fits_two_images(src: Path) -> Path:
    for folder in ("images", "photos"):
        write_image(src / folder / "scratch_1.jpg", 40)
    write_mask(src / "masks" / "scratch_1.png")
    return src


def _undecodable_mask(src: Path) -> Path:
    _neu(src)
    (src / "IMAGES" / "crazing_1_mask.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    return src


def _mvtec_orphan_mask(src: Path) -> Path:
    _mvtec(src)
    write_mask(src / "bottle" / "ground_truth" / "cut" / "007_mask.png")
    return src


def _no_class_in_name(src: Path) -> Path:
    write_image(src / "IMG0001.jpg", 10)
    return src


def _malformed_voc(src: Path) -> Path:
    _neu(src)
    (src / "ANNOTATIONS").mkdir()
    (src / "ANNOTATIONS" / "crazing_1.xml").write_text(VOC.format(name="crazing_1.jpg", label="crazing")[:90])
    return src


def _dangling_folder_link(src: Path) -> Path:
    _neu(src)
    (src / "more").symlink_to(src.parent / "unmounted-share", target_is_directory=True)
    return src


def _a_file(src: Path) -> Path:
    write_image(src.parent / "crazing_1.jpg", 10)
    return src.parent / "crazing_1.jpg"


def _missing(src: Path) -> Path:
    return src


def _same_name_twice(src: Path) -> Path:
    write_image(src / "day1" / "crazing_1.jpg", 10)
    write_image(src / "day2" / "crazing_1.jpg", 20)
    return src


IMAGE_CASES: list[tuple[str, Build, tuple[str, ...], tuple[str, ...]]] = [
    ("empty folder", _empty, (), ("src: no images",)),
    ("only documents", _only_documents, (), ("src: no images",)),
    ("undecodable image", _undecodable_image, (), ("crazing_3.jpg: not a readable image",)),
    ("mask without image", _orphan_mask, (), ("crazing_9_mask.png: a mask without an image", "crazing_9.*")),
    ("mask of another size", _mask_of_another_size, (), ("crazing_1_mask.png: a mask of 16×16 pixels", "8×8")),
    ("two masks for one image", _two_masks, (), ("crazing_1.jpg: two masks", "crazing_1_mask.png")),
    ("mask fits two images", _mask_fits_two_images, (), ("masks/scratch_1.png: a mask that fits 2 images",)),
    ("undecodable mask", _undecodable_mask, (), ("crazing_1_mask.png: not a readable image",)),
    ("MVTec mask without image", _mvtec_orphan_mask, (), ("007_mask.png: a mask without an image", "cut/007.*")),
    ("no class in the name", _no_class_in_name, (), ("IMG0001.jpg: cannot take a class from the file name",)),
    ("malformed VOC annotation", _malformed_voc, (), ("crazing_1.xml: line", "malformed XML")),
    ("dangling folder link", _dangling_folder_link, (), ("more: a symbolic link to", "which does not exist")),
    ("SRC is a file", _a_file, (), ("crazing_1.jpg: not a folder of images",)),
    ("SRC missing", _missing, (), ("src: not a folder of images",)),
    ("unknown layout", _neu, ("--layout", "sideways"), ("unknown image layout 'sideways'", "by_folder")),
    ("asset for MVTec", _mvtec, ("--asset", "line3"), ("--asset applies to the by_name and by_folder layouts",)),
    (
        "flat folder as by_folder",
        _neu,
        ("--layout", "by_folder"),
        ("crazing_1.jpg: no class folder above it", "'IMAGES' names a container"),
    ),
    ("same name twice in by_name", _same_name_twice, ("--layout", "by_name"), ("another image has the same name",)),
]


@pytest.mark.parametrize(
    ("build", "options", "fragments"), [c[1:] for c in IMAGE_CASES], ids=[c[0] for c in IMAGE_CASES]
)
def test_import_images_refuses(
    tmp_path: Path, build: Build, options: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    src = build(tmp_path / "src")
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "images", src, "--out", tmp_path / "out", *options)
    assert_refused(result, before, *fragments)


def _cwru(src: Path) -> Path:
    write_mat(src / "Normal_0.mat", "097", 200, channels=("DE", "FE"))
    write_mat(src / "12k_DE" / "IR007_0.mat", "105", 120)
    return src


def _corrupt_mat(src: Path) -> Path:
    _cwru(src)
    (src / "12k_DE" / "B007_0.mat").write_bytes(b"<html>404 Not Found</html>")  # a failed download saved as .mat
    return src


def _truncated_mat(src: Path) -> Path:
    _cwru(src)
    data = (src / "12k_DE" / "IR007_0.mat").read_bytes()
    (src / "12k_DE" / "IR007_0.mat").write_bytes(data[: len(data) // 2])  # an interrupted copy
    return src


def _record_number_name(src: Path) -> Path:
    _cwru(src)
    write_mat(src / "12k_DE" / "118.mat", "118", 50)
    return src


def _outer_race_without_position(src: Path) -> Path:
    _cwru(src)
    write_mat(src / "12k_DE" / "OR007_0.mat", "130", 50)
    return src


def _no_accelerometer(src: Path) -> Path:
    _cwru(src)
    scipy.io.savemat(src / "12k_DE" / "B014_0.mat", {"X185RPM": np.array([[1797]], dtype=np.uint16)})
    return src


def _nan_samples(src: Path) -> Path:
    _cwru(src)
    values = np.zeros((20, 1))
    values[4] = np.inf
    scipy.io.savemat(src / "12k_DE" / "B021_0.mat", {"X222_DE_time": values})
    return src


def _fault_outside_rate_folder(src: Path) -> Path:
    _cwru(src)
    write_mat(src / "faults" / "IR014_2.mat", "171", 64)
    return src


def _dangling_file_link(src: Path) -> Path:
    _cwru(src)
    (src / "12k_DE" / "IR021_0.mat").symlink_to(src.parent / "nas" / "IR021_0.mat")
    return src


def _mat_file_as_src(src: Path) -> Path:
    _cwru(src)
    return src / "Normal_0.mat"


CWRU_CASES: list[tuple[str, Build, tuple[str, ...], tuple[str, ...]]] = [
    ("empty folder", _empty, (), ("src: no .mat files",)),
    ("only other files", _only_documents, (), ("src: no .mat files", "found 2 other files")),
    ("corrupt .mat", _corrupt_mat, (), ("B007_0.mat: not a readable MATLAB v5 file",)),
    ("truncated .mat", _truncated_mat, (), ("IR007_0.mat", "MATLAB")),
    ("record-number file name", _record_number_name, (), ("118.mat: file name '118' is not a CWRU class name",)),
    ("outer race without position", _outer_race_without_position, (), ("OR007_0.mat", "needs a position @3/@6/@12")),
    ("no accelerometer", _no_accelerometer, (), ("B014_0.mat: no accelerometer variable",)),
    ("infinite sample", _nan_samples, (), ("B021_0.mat: variable X222_DE_time: sample 4 is NaN or infinite",)),
    ("unknown rate", _fault_outside_rate_folder, (), ("IR014_2.mat: cannot tell the sampling rate", "--rate")),
    ("zero rate", _cwru, ("--rate", "0"), ("--rate must be a positive, finite number of Hz, got 0",)),
    ("NaN rate", _cwru, ("--rate", "nan"), ("--rate must be a positive, finite number of Hz, got nan",)),
    ("dangling file link", _dangling_file_link, (), ("IR021_0.mat: a symbolic link to", "which does not exist")),
    ("SRC is a .mat file", _mat_file_as_src, (), ("Normal_0.mat: not a folder",)),
    ("SRC missing", _missing, (), ("src: not a folder",)),
]


@pytest.mark.parametrize(("build", "options", "fragments"), [c[1:] for c in CWRU_CASES], ids=[c[0] for c in CWRU_CASES])
def test_import_cwru_refuses(
    tmp_path: Path, build: Build, options: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    src = build(tmp_path / "src")
    before = Snapshot.of(tmp_path)
    result = run_cli("import", "cwru", src, "--out", tmp_path / "out", *options)
    assert_refused(result, before, *fragments)


@pytest.fixture(scope="module")
def cmapss_two(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_subset_dataset(tmp_path_factory.mktemp("bench") / "cmapss").path


@pytest.fixture(scope="module")
def cwru_one_load(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cwru_dataset(tmp_path_factory.mktemp("bench") / "cwru", n_samples=4096).path


BENCH_CASES = [
    (
        "unknown subset",
        "cmapss",
        "cmapss",
        ("--method", "gbdt", "--subset", "FD004"),
        ("no subset 'FD004'", "FD001, FD002"),
    ),
    (
        "subset of a protocol without",
        "cwru",
        "cwru",
        ("--method", "spectral", "--subset", "FD001"),
        ("protocol 'cwru' has no subsets",),
    ),
    (
        "unknown protocol",
        "cmapss",
        "cmapss-short",
        ("--method", "gbdt"),
        ("unknown protocol 'cmapss-short'", "cmapss-long"),
    ),
    ("unknown method", "cmapss", "cmapss", ("--method", "lstm"), ("protocol 'cmapss' has no method 'lstm'", "gbdt")),
    ("one load for cross-load", "cwru", "cwru-cross-load", ("--method", "spectral"), ("not enough loads", "only 0 HP")),
    ("dataset missing", "missing", "cwru", ("--method", "spectral"), ("nowhere",)),
]


@pytest.mark.parametrize(
    ("which", "protocol", "options", "fragments"), [c[1:] for c in BENCH_CASES], ids=[c[0] for c in BENCH_CASES]
)
def test_bench_refuses(
    tmp_path: Path,
    cmapss_two: Path,
    cwru_one_load: Path,
    which: str,
    protocol: str,
    options: tuple[str, ...],
    fragments: tuple[str, ...],
) -> None:
    dataset = {"cmapss": cmapss_two, "cwru": cwru_one_load, "missing": tmp_path / "nowhere"}[which]
    before = Snapshot.of(tmp_path, dataset)
    result = run_cli("bench", protocol, "--dataset", dataset, "--out", tmp_path / "results", *options)
    assert_refused(result, before, *fragments)
