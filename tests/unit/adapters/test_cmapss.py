"""NASA C-MAPSS: train/test/RUL text files → per-engine telemetry and failure times that encode RUL."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omnimaint.adapters import SYNTHETIC_EPOCH, import_cmapss
from omnimaint.adapters.cmapss import CHANNELS
from omnimaint.data import validate_dataset
from omnimaint.data.regimes import operating_settings
from omnimaint.errors import ConfigError, DatasetError

from .source_files import cmapss_line, write_cmapss


def hours(n: int) -> pd.Timestamp:
    return SYNTHETIC_EPOCH + pd.Timedelta(hours=n)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_converts_engines_cycles_and_failures(tmp_path: Path, gz: bool) -> None:
    src = write_cmapss(tmp_path / "src", gz=gz)
    import_cmapss(src, tmp_path / "out")
    dataset = validate_dataset(tmp_path / "out")
    assets = dataset.table("assets")
    assert list(assets["asset_id"]) == ["FD001-test-001", "FD001-test-002", "FD001-train-001", "FD001-train-002"]
    assert set(assets["asset_type"]) == {"turbofan"}
    assert json.loads(str(assets.set_index("asset_id").loc["FD001-train-002", "metadata"])) == {
        "subset": "FD001",
        "split": "train",
        "unit": 2,
    }
    telemetry = dataset.table("telemetry")
    assert len(telemetry) == (5 + 3 + 2 + 4) * 24
    assert dataset.manifest.channel_names("telemetry") == CHANNELS
    assert operating_settings(dataset.manifest) == ("setting1", "setting2", "setting3")  # the regime is set by these
    assert set(telemetry["channel"]) == set(CHANNELS)
    engine = telemetry[telemetry["asset_id"] == "FD001-train-001"]
    assert sorted(engine["ts"].unique()) == [hours(k) for k in range(1, 6)]  # cycle k ↦ k hours after the epoch

    failures = dataset.table("failures").set_index("asset_id")
    assert set(failures["component"]) == {"engine"}
    assert set(failures["fault_type"]) == {"degradation"}
    assert failures.loc["FD001-train-001", "ts"] == hours(5)  # fails at its last cycle
    assert failures.loc["FD001-train-002", "ts"] == hours(3)
    assert failures.loc["FD001-test-001", "ts"] == hours(2 + 10)  # last cycle + RUL
    assert failures.loc["FD001-test-002", "ts"] == hours(4 + 7)


def test_all_subsets_or_a_selection(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src", "FD001")
    write_cmapss(src, "FD003", train_cycles=(2,), test_cycles=(1,), rul=(5,), gz=True)
    both = import_cmapss(src, tmp_path / "both")
    assert both.manifest.provenance["subsets"] == ["FD001", "FD003"]
    assert "FD003-test-001" in both.asset_ids
    one = import_cmapss(src, tmp_path / "one", subsets=["FD003"])
    assert one.asset_ids == {"FD003-train-001", "FD003-test-001"}
    with pytest.raises(DatasetError, match=r"train_FD002\.txt: not found"):
        import_cmapss(src, tmp_path / "two", subsets=["FD002"])
    with pytest.raises(ConfigError, match="unknown C-MAPSS subset 'fd1'"):
        import_cmapss(src, tmp_path / "bad", subsets=["fd1"])


def test_short_row_names_file_and_line(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src")
    path = src / "train_FD001.txt"
    lines = path.read_text().splitlines()
    lines[3] = " ".join(lines[3].split()[:20])  # 20 columns instead of 26
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"train_FD001\.txt: line 4: expected 26 .*found 20"):
        import_cmapss(src, tmp_path / "out")


def test_bad_number_names_line_and_column(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src")
    path = src / "test_FD001.txt"
    lines = path.read_text().splitlines()
    fields = lines[1].split()
    fields[7] = "1.2.3"
    lines[1] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"test_FD001\.txt: line 2, column 8 \('s3'\): not a number: '1\.2\.3'"):
        import_cmapss(src, tmp_path / "out")


def test_truncated_gzip(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src", gz=True)
    path = src / "train_FD001.txt.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DatasetError, match=r"train_FD001\.txt\.gz: damaged or truncated gzip"):
        import_cmapss(src, tmp_path / "out")


def test_rul_length_mismatch_names_both_files(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src", rul=(10, 7, 3))
    with pytest.raises(DatasetError, match=r"RUL_FD001\.txt: holds 3 RUL values but .*test_FD001\.txt has 2 engines"):
        import_cmapss(src, tmp_path / "out")


def test_bad_rul_line_and_missing_rul_file(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src")
    (src / "RUL_FD001.txt").write_text("10\nseven\n")
    with pytest.raises(DatasetError, match=r"RUL_FD001\.txt: line 2: expected one non-negative integer"):
        import_cmapss(src, tmp_path / "out")
    (src / "RUL_FD001.txt").unlink()
    with pytest.raises(DatasetError, match=r"RUL_FD001\.txt: not found"):
        import_cmapss(src, tmp_path / "out")


def test_repeated_cycle_and_split_unit(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    src = write_cmapss(tmp_path / "src")
    (src / "train_FD001.txt").write_text("\n".join(cmapss_line(1, c, rng) for c in (1, 2, 2)) + "\n")
    with pytest.raises(DatasetError, match=r"line 3: cycle does not increase within unit 1"):
        import_cmapss(src, tmp_path / "out")
    lines = [cmapss_line(1, 1, rng), cmapss_line(2, 1, rng), cmapss_line(1, 2, rng)]
    (src / "train_FD001.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"line 3: unit 1 appears again after other units"):
        import_cmapss(src, tmp_path / "out")


def test_no_files(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no C-MAPSS files"):
        import_cmapss(tmp_path / "empty", tmp_path / "out")


def test_gzip_of_plain_text_is_read_like_the_publisher_file(tmp_path: Path) -> None:
    src = write_cmapss(tmp_path / "src")
    for name in ("train_FD001", "test_FD001", "RUL_FD001"):
        text = (src / f"{name}.txt").read_text()
        (src / f"{name}.txt").unlink()
        with gzip.open(src / f"{name}.txt.gz", "wt") as handle:
            handle.write(text)
    assert len(import_cmapss(src, tmp_path / "out").table("failures")) == 4
