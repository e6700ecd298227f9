"""`omnimaint simulate`: writes a valid dataset, one-line errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimaint.cli import app
from omnimaint.data import validate_dataset

runner = CliRunner()


def test_simulate_writes_a_valid_dataset(tmp_path: Path) -> None:
    out = tmp_path / "plant"
    args = ["simulate", "--out", str(out), "--assets", "3", "--days", "2", "--workers", "1", "--lang", "zh"]
    result = runner.invoke(app, [*args, "--frame-size", "32", "--frame-period", "7200", "--telemetry-period", "300"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    dataset = validate_dataset(out)
    config = dataset.manifest.provenance["config"]
    assert (config["n_assets"], config["lang"], config["frame_size"], config["telemetry_period_s"]) == (
        3,
        "zh",
        32,
        300,
    )
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already exists" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--assets", "0"], "n_assets must be >= 1"),
        (["--days", "-3"], "days must be > 0"),
        (["--lang", "fr"], "--lang must be 'en' or 'zh'"),
        (["--frame-size", "4"], "frame_size"),
    ],
)
def test_bad_values_exit_1_with_a_one_line_reason(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 1
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--out", "--assets", "--days", "--seed", "--lang", "--waveform-period", "--workers", "--overwrite"):
        assert option in result.output
