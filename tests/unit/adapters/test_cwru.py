"""CWRU: class-named MATLAB v5 files → one asset per recording, waveforms per accelerometer, labelled state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from omnimaint.adapters import SYNTHETIC_EPOCH, import_cwru
from omnimaint.adapters.cwru import parse_class, summarize_import
from omnimaint.data import validate_dataset
from omnimaint.errors import ConfigError, DatasetError


def write_mat(
    path: Path,
    record: str,
    samples: int,
    *,
    channels: tuple[str, ...] = ("DE", "FE", "BA"),
    rpm: int | None = 1797,
    extra: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """A .mat file with CWRU's variable names (column vectors of float64, RPM as a 1×1 uint16)."""
    rng = np.random.default_rng(int(record))
    de = rng.normal(0, 0.1, (samples, 1))
    content: dict[str, np.ndarray] = {
        f"X{record}_{c}_time": de if c == "DE" else rng.normal(0, 0.1, (samples, 1)) for c in channels
    }
    if rpm is not None:
        content[f"X{record}RPM"] = np.array([[rpm]], dtype=np.uint16)
    content.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, content)
    return de.reshape(-1)


@pytest.fixture
def cwru_dir(tmp_path: Path) -> Path:
    src = tmp_path / "cwru"
    write_mat(src / "Normal_0.mat", "097", 480, channels=("DE", "FE"))
    write_mat(src / "12k_DE" / "IR007_0.mat", "105", 120)
    write_mat(src / "12k_DE" / "B028_0.mat", "048", 100, channels=("DE",), rpm=None)
    write_mat(src / "12k_DE" / "OR021@6_0.mat", "234", 110)
    return src


def test_converts_recordings(cwru_dir: Path, tmp_path: Path) -> None:
    import_cwru(cwru_dir, tmp_path / "out")
    dataset = validate_dataset(tmp_path / "out")
    assets = dataset.table("assets").set_index("asset_id")
    assert sorted(assets.index) == ["12k_DE-B028_0", "12k_DE-IR007_0", "12k_DE-OR021@6_0", "Normal_0"]
    assert set(assets["asset_type"]) == {"bearing_rig"}
    assert json.loads(str(assets.loc["12k_DE-OR021@6_0", "metadata"])) == {
        "load_hp": 0,
        "rate_hz": 12000,
        "location": "OR",
        "diameter_mils": 21,
        "position": "@6",
        "end": "DE",
        "rpm": 1797,
        "source_file": "12k_DE/OR021@6_0.mat",
        "record": "X234",
    }
    normal = json.loads(str(assets.loc["Normal_0", "metadata"]))
    assert (normal["location"], normal["rate_hz"], normal["end"], normal["diameter_mils"]) == (
        "normal",
        48000,
        None,
        None,
    )
    assert json.loads(str(assets.loc["12k_DE-B028_0", "metadata"]))["rpm"] is None

    waveforms = dataset.table("waveforms")
    channels = waveforms.groupby("asset_id")["channel"].apply(sorted).to_dict()
    assert channels == {
        "12k_DE-B028_0": ["DE"],
        "12k_DE-IR007_0": ["BA", "DE", "FE"],
        "12k_DE-OR021@6_0": ["BA", "DE", "FE"],
        "Normal_0": ["DE", "FE"],
    }
    assert set(waveforms["ts"]) == {SYNTHETIC_EPOCH}
    rates = waveforms.groupby("asset_id")["sample_rate_hz"].first().to_dict()
    assert rates == {
        "12k_DE-B028_0": 12000.0,
        "12k_DE-IR007_0": 12000.0,
        "12k_DE-OR021@6_0": 12000.0,
        "Normal_0": 48000.0,
    }
    ir_de = waveforms[(waveforms["asset_id"] == "12k_DE-IR007_0") & (waveforms["channel"] == "DE")]["samples"].iloc[0]
    rng = np.random.default_rng(105)
    np.testing.assert_array_equal(ir_de, rng.normal(0, 0.1, 120).astype(np.float32))  # the whole recording, float32

    failures = dataset.table("failures").set_index("asset_id")
    assert failures["fault_type"].to_dict() == {
        "12k_DE-B028_0": "B028",
        "12k_DE-IR007_0": "IR007",
        "12k_DE-OR021@6_0": "OR021@6",
        "Normal_0": "normal",
    }
    assert set(failures["component"]) == {"bearing"}
    assert set(failures["ts"]) == {SYNTHETIC_EPOCH}
    assert dataset.manifest.fault_types == ("normal", "B028", "IR007", "OR021@6")


def test_takes_the_record_matching_the_file(tmp_path: Path) -> None:
    src = tmp_path / "cwru"
    stray = {"X098_DE_time": np.ones((50, 1)), "X098_FE_time": np.ones((50, 1))}
    own = write_mat(src / "Normal_1.mat", "099", 60, channels=("DE", "FE"), rpm=1772, extra=stray)
    dataset = import_cwru(src, tmp_path / "out")
    meta = json.loads(str(dataset.table("assets")["metadata"].iloc[0]))
    assert meta["record"] == "X098"  # Normal_<load> is record 97 + load
    assert meta["load_hp"] == 1
    samples = dataset.table("waveforms").set_index("channel")["samples"]
    assert len(samples["DE"]) == 50
    assert len(own) == 60


def test_rate_override_and_unknown_rate(tmp_path: Path) -> None:
    src = tmp_path / "cwru"
    write_mat(src / "faults" / "IR014_2.mat", "171", 64)
    with pytest.raises(DatasetError, match=r"IR014_2\.mat: cannot tell the sampling rate .*pass --rate"):
        import_cwru(src, tmp_path / "out")
    dataset = import_cwru(src, tmp_path / "out", rate=48000)
    assert dataset.table("waveforms")["sample_rate_hz"].unique().tolist() == [48000.0]
    assert json.loads(str(dataset.table("assets")["metadata"].iloc[0]))["end"] is None


def test_48k_folder(tmp_path: Path) -> None:
    src = tmp_path / "cwru"
    write_mat(src / "48k_DE" / "B007_3.mat", "125", 64)
    dataset = import_cwru(src, tmp_path / "out")
    assert dataset.table("waveforms")["sample_rate_hz"].unique().tolist() == [48000.0]


@pytest.mark.parametrize("name", ["105.mat", "IR7_0.mat", "OR007_0.mat", "IR007@6_0.mat", "Normal_5.mat"])
def test_unknown_file_name(tmp_path: Path, name: str) -> None:
    src = tmp_path / "cwru" / "12k_DE"
    write_mat(src / name, "105", 10)
    with pytest.raises(DatasetError, match=re.escape(name) + ": file name"):
        import_cwru(tmp_path / "cwru", tmp_path / "out")


def test_file_without_accelerometer_or_not_matlab(tmp_path: Path) -> None:
    src = tmp_path / "cwru" / "12k_DE"
    src.mkdir(parents=True)
    scipy.io.savemat(src / "IR007_0.mat", {"something": np.ones(3)})
    with pytest.raises(DatasetError, match=r"IR007_0\.mat: no accelerometer variable"):
        import_cwru(tmp_path / "cwru", tmp_path / "out")
    (src / "IR007_0.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DatasetError, match=r"IR007_0\.mat: not a readable MATLAB v5 file"):
        import_cwru(tmp_path / "cwru", tmp_path / "out")


def test_non_finite_samples_name_the_variable(tmp_path: Path) -> None:
    src = tmp_path / "cwru" / "12k_DE"
    values = np.zeros((20, 1))
    values[7] = np.nan
    write_mat(src / "B014_0.mat", "185", 20, channels=(), extra={"X185_DE_time": values})
    with pytest.raises(DatasetError, match=r"B014_0\.mat: variable X185_DE_time: sample 7 is NaN"):
        import_cwru(tmp_path / "cwru", tmp_path / "out")


def test_parse_class() -> None:
    assert parse_class(Path("OR007@12_3.mat")).fault_type == "OR007@12"
    assert parse_class(Path("B021_1.mat")).load_hp == 1
    assert parse_class(Path("Normal_2.mat")).fault_type == "normal"


def test_the_rate_folder_itself_can_be_the_source(cwru_dir: Path, tmp_path: Path) -> None:
    dataset = validate_dataset(import_cwru(cwru_dir / "12k_DE", tmp_path / "out").path)
    assert sorted(dataset.asset_ids) == ["B028_0", "IR007_0", "OR021@6_0"]
    assert dataset.table("waveforms")["sample_rate_hz"].unique().tolist() == [12000.0]
    metadata = [json.loads(str(m)) for m in dataset.table("assets")["metadata"]]
    assert {m["end"] for m in metadata} == {"DE"}
    assert (
        summarize_import(dataset.manifest.provenance) == "recordings: 3 (3 drive-end faults); loads 0 HP; rates 12 kHz"
    )


def test_the_nearest_rate_folder_wins(tmp_path: Path) -> None:
    write_mat(tmp_path / "48k_archive" / "12k_DE" / "IR007_1.mat", "106", 32)
    dataset = import_cwru(tmp_path / "48k_archive", tmp_path / "out")
    assert dataset.table("waveforms")["sample_rate_hz"].unique().tolist() == [12000.0]


def test_symlinked_folders_are_followed_once(cwru_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "assembled"
    src.mkdir()
    (src / "12k_DE").symlink_to(cwru_dir / "12k_DE", target_is_directory=True)
    (src / "Normal_0.mat").symlink_to(cwru_dir / "Normal_0.mat")
    (src / "loop").symlink_to(tmp_path, target_is_directory=True)  # contains the source folder: not followed
    (src / "copy").symlink_to(src / "12k_DE", target_is_directory=True)  # the same folder again: read once
    dataset = import_cwru(src, tmp_path / "out")
    assert sorted(dataset.asset_ids) == ["12k_DE-B028_0", "12k_DE-IR007_0", "12k_DE-OR021@6_0", "Normal_0"]
    assert set(dataset.manifest.provenance["followed_links"]) == {"12k_DE", "Normal_0.mat"}
    assert "contains the source folder; not followed" in caplog.text
    assert "not read twice" in caplog.text


def test_a_dangling_link_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "cwru"
    src.mkdir()
    (src / "12k_DE").symlink_to(tmp_path / "unmounted" / "12k_DE", target_is_directory=True)
    with pytest.raises(DatasetError, match=r"12k_DE: a symbolic link to .*unmounted/12k_DE, which does not exist"):
        import_cwru(src, tmp_path / "out")


def test_fan_end_faults_keep_their_own_classes(cwru_dir: Path, tmp_path: Path) -> None:
    write_mat(cwru_dir / "12k_FE" / "IR007_0.mat", "278", 90)
    write_mat(cwru_dir / "12k_FE" / "OR007@6_0.mat", "294", 90)
    dataset = validate_dataset(import_cwru(cwru_dir, tmp_path / "out").path)
    faults = dataset.table("failures").set_index("asset_id")["fault_type"].to_dict()
    assert faults["12k_DE-IR007_0"] == "IR007"
    assert faults["12k_FE-IR007_0"] == "FE-IR007"  # a fault in the fan-end bearing, not the drive-end class
    assert faults["12k_FE-OR007@6_0"] == "FE-OR007@6"
    assert faults["Normal_0"] == "normal"
    assert (
        json.loads(str(dataset.table("assets").set_index("asset_id").loc["12k_FE-IR007_0", "metadata"]))["end"] == "FE"
    )
    assert dataset.manifest.fault_types == ("normal", "B028", "FE-IR007", "FE-OR007@6", "IR007", "OR021@6")
    assert summarize_import(dataset.manifest.provenance) == (
        "recordings: 6 (3 drive-end faults, 2 fan-end faults (FE-…), 1 normal); loads 0 HP; rates 12, 48 kHz"
    )


@pytest.mark.parametrize("rate", [0.0, -12000.0, float("nan"), float("inf")])
def test_rate_must_be_positive_and_finite(cwru_dir: Path, tmp_path: Path, rate: float) -> None:
    with pytest.raises(ConfigError, match="--rate must be a positive, finite number"):
        import_cwru(cwru_dir, tmp_path / "out", rate=rate)


def test_a_folder_without_mat_files_names_what_it_holds(tmp_path: Path) -> None:
    src = tmp_path / "cwru"
    src.mkdir()
    (src / "IR007_0.csv").write_text("1,2\n")
    with pytest.raises(DatasetError, match=r"no \.mat files \(found 1 other files: IR007_0\.csv\)"):
        import_cwru(src, tmp_path / "out")
