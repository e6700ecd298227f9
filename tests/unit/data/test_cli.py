"""`omnimaint validate` and `omnimaint inspect`: exit codes, one-line reasons, tables."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from omnimaint.cli import app
from omnimaint.data import Dataset
from tests.unit.data.tiny import write_tiny

runner = CliRunner()


def test_validate_ok_names_the_folder_and_counts_every_table(tiny_dataset: Dataset) -> None:
    result = runner.invoke(app, ["validate", str(tiny_dataset.path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    # tests/unit/data/tiny.py: telemetry is 240 temp + 120 pres readings of A and 240 temp readings of B.
    counts = "assets: 2, telemetry: 600, waveforms: 40, frames: 20, events: 4, maintenance: 2, failures: 1"
    assert result.output == f"ok {tiny_dataset.path} ({counts})\n"


def test_validate_missing_frame_exits_nonzero_naming_file_row_and_blob(tiny_dataset: Dataset) -> None:
    (tiny_dataset.path / "frames" / "A" / "003.png").unlink()
    result = runner.invoke(app, ["validate", str(tiny_dataset.path)])
    assert result.exit_code == 1
    assert "frames.parquet: column 'path', row 3: missing blob file 'frames/A/003.png'" in result.output
    assert "Traceback" not in result.output


def test_validate_corrupted_table(tiny_dataset: Dataset) -> None:
    (tiny_dataset.path / "telemetry.parquet").write_bytes(b"\x00" * 64)
    result = runner.invoke(app, ["validate", str(tiny_dataset.path), "--no-checksums"])
    assert result.exit_code == 1
    assert "telemetry.parquet: not a readable Parquet file" in result.output


def test_inspect_lists_assets_counts_and_labels(tiny_dataset: Dataset) -> None:
    result = runner.invoke(app, ["inspect", str(tiny_dataset.path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "2 assets" in result.output
    assert "bearing_wear" in result.output
    assert "preventive" in result.output and "corrective" in result.output
    assert "│ A" in result.output and "│ 360" in result.output  # 240 temp + 120 pres readings of A


def test_validate_prints_a_folder_name_as_it_is(tmp_path: Path) -> None:
    name = "line [/x] [bold]3 :x:"
    write_tiny(tmp_path / name)
    result = runner.invoke(app, ["validate", str(tmp_path / name)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"ok {tmp_path / name} (assets: 2" in result.output
