"""``omnimaint bench`` end to end on tiny datasets: table, JSON record, results.md row, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimaint import __version__
from omnimaint.cli import app
from tests.unit.evaluation.canonical import cwru_dataset, maintenance_dataset

runner = CliRunner()


def test_bench_writes_json_and_appends_results(tmp_path: Path) -> None:
    dataset = maintenance_dataset(tmp_path / "maintnet")
    out = tmp_path / "out"
    args = ["bench", "maintenance-text", "--dataset", str(dataset.path), "--method", "bm25", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "recall_at_5" in first.output
    record = json.loads((out / "maintenance-text__bm25__maintnet.json").read_text())
    assert record["protocol"] == "maintenance-text" and record["method"] == "bm25"
    assert record["dataset_name"] == "maintnet-tiny" and record["seed"] == 0
    assert record["omnimaint_version"] == __version__
    assert record["wall_time_s"] >= 0
    assert record["metrics"]["recall_at_1"] == pytest.approx(1.0)
    assert record["command"] == f"omnimaint bench maintenance-text --dataset {dataset.path} --method bm25 --seed 0"

    assert runner.invoke(app, [*args, "--seed", "3"]).exit_code == 0
    rows = [line for line in (out / "results.md").read_text().splitlines() if line.startswith("| 20")]
    assert len(rows) == 2
    assert "recall_at_5=1" in rows[0] and "--seed 3" in rows[1]


def test_bench_errors_are_one_line_reasons(tmp_path: Path) -> None:
    dataset = maintenance_dataset(tmp_path / "maintnet")
    unknown = runner.invoke(app, ["bench", "maintenance-text", "--dataset", str(dataset.path), "--method", "nope"])
    assert unknown.exit_code == 1
    assert "has no method 'nope'" in unknown.output and "bm25" in unknown.output
    wrong = runner.invoke(app, ["bench", "nope", "--dataset", str(dataset.path), "--method", "bm25"])
    assert wrong.exit_code == 1 and "unknown protocol" in wrong.output


def test_cross_load_on_one_load_reports_not_enough_loads(tmp_path: Path) -> None:
    dataset = cwru_dataset(tmp_path / "cwru", n_samples=4096)
    result = runner.invoke(
        app,
        ["bench", "cwru-cross-load", "--dataset", str(dataset.path), "--method", "spectral", "--out", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "not enough loads" in result.output
