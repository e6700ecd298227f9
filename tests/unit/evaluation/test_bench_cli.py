"""``omnimaint bench`` end to end on tiny datasets: table, JSON record, results.md row, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omnimaint import __version__
from omnimaint.cli import app
from omnimaint.data import write_dataset
from omnimaint.evaluation.protocols import get_protocol, list_protocols, register_method
from tests.unit.evaluation.canonical import cwru_dataset, maintenance_dataset
from tests.unit.evaluation.test_cmapss import two_subset_dataset

runner = CliRunner()


def test_bench_writes_json_and_appends_results(tmp_path: Path) -> None:
    dataset = maintenance_dataset(tmp_path / "maintnet")
    out = tmp_path / "out"
    args = ["bench", "maintenance-text", "--dataset", str(dataset.path), "--method", "bm25", "--out", str(out)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "recall_at_5" in first.output
    record = json.loads((out / "maintenance-text__bm25__maintnet__seed0.json").read_text())
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
    # each seed keeps its own record: the second run leaves the first one's file as it was
    assert sorted(p.name for p in out.glob("maintenance-text__*.json")) == [
        "maintenance-text__bm25__maintnet__seed0.json",
        "maintenance-text__bm25__maintnet__seed3.json",
    ]
    assert json.loads((out / "maintenance-text__bm25__maintnet__seed0.json").read_text()) == record
    assert json.loads((out / "maintenance-text__bm25__maintnet__seed3.json").read_text())["seed"] == 3


def test_bench_errors_are_one_line_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = maintenance_dataset(tmp_path / "maintnet")
    monkeypatch.chdir(tmp_path)  # the default --out, bench-output, is never created by a refused command
    unknown = runner.invoke(app, ["bench", "maintenance-text", "--dataset", str(dataset.path), "--method", "nope"])
    assert unknown.exit_code == 1
    assert "has no method 'nope'" in unknown.output and "bm25" in unknown.output
    wrong = runner.invoke(app, ["bench", "nope", "--dataset", str(dataset.path), "--method", "bm25"])
    assert wrong.exit_code == 1 and "unknown protocol" in wrong.output
    assert not (tmp_path / "bench-output").exists()


def test_cross_load_on_one_load_reports_not_enough_loads(tmp_path: Path) -> None:
    dataset = cwru_dataset(tmp_path / "cwru", n_samples=4096)
    result = runner.invoke(
        app,
        [
            "bench",
            "cwru-cross-load",
            "--dataset",
            str(dataset.path),
            "--method",
            "spectral",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 1
    assert "not enough loads" in result.output


class _MeanRul:
    """Predicts the mean training target (fast, deterministic)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _MeanRul:
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.mean_)


@pytest.fixture
def mean_rul() -> Iterator[str]:
    """A method ``mean-rul`` registered for ``cmapss`` for the duration of a test."""
    register_method("cmapss", "mean-rul", lambda seed: _MeanRul(), "mean of the training targets")
    yield "mean-rul"
    get_protocol("cmapss").methods.pop("mean-rul")


def test_bench_subset_is_chosen_named_and_recorded(tmp_path: Path, mean_rul: str) -> None:
    dataset = two_subset_dataset(tmp_path / "cmapss")
    out = tmp_path / "out"
    base = ["bench", "cmapss", "--dataset", str(dataset.path), "--method", mean_rul, "--out", str(out)]
    default = runner.invoke(app, base, env={"COLUMNS": "300"})
    assert default.exit_code == 0, default.output
    assert "subset FD001" in default.output
    note = "the dataset holds C-MAPSS subsets FD001, FD002; evaluated FD001 only (choose another with --subset)"
    assert f"note: {note}" in default.output
    first = json.loads((out / "cmapss__mean-rul__cmapss__FD001__seed0.json").read_text())
    assert (first["subset"], first["notes"], first["details"]["n_test_engines"]) == ("FD001", [note], 6)
    assert first["command"].endswith("--seed 0 --subset FD001")

    chosen = runner.invoke(app, [*base, "--subset", "FD002"], env={"COLUMNS": "300"})
    assert chosen.exit_code == 0, chosen.output
    assert "note:" not in chosen.output
    second = json.loads((out / "cmapss__mean-rul__cmapss__FD002__seed0.json").read_text())
    assert (second["subset"], second["notes"], second["details"]["n_test_engines"]) == ("FD002", [], 4)
    assert first["metrics"]["rmse"] != second["metrics"]["rmse"]


def test_bench_cross_load_notes_the_class_it_leaves_out(tmp_path: Path) -> None:
    full = cwru_dataset(tmp_path / "full", loads=(0, 1), n_samples=4096)
    tables = {
        n: full.table(n).query("asset_id != 'Normal_1'").reset_index(drop=True)
        for n in ("assets", "waveforms", "failures")
    }
    dataset = write_dataset(tmp_path / "cwru", full.manifest.model_copy(update={"tables": {}}), tables)
    register_method("cwru-cross-load", "majority", lambda seed: _Majority(), "the most common training class")
    try:
        args = [
            "bench",
            "cwru-cross-load",
            "--dataset",
            str(dataset.path),
            "--method",
            "majority",
            "--out",
            str(tmp_path / "o"),
        ]
        result = runner.invoke(app, args, env={"COLUMNS": "300"})
    finally:
        get_protocol("cwru-cross-load").methods.pop("majority")
    assert result.exit_code == 0, result.output
    assert "note: class 'normal' is left out of every split: it has recordings at 0 HP only" in result.output
    record = json.loads((tmp_path / "o" / "cwru-cross-load__majority__cwru__seed0.json").read_text())
    assert record["subset"] is None
    assert record["notes"][0].startswith("class 'normal' is left out of every split")
    assert record["details"]["left_out_classes"] == {"0HP": ["normal"], "1HP": ["normal"]}


class _Majority:
    def fit(self, X: np.ndarray, y: np.ndarray) -> _Majority:
        values, counts = np.unique(y, return_counts=True)
        self.label_ = values[np.argmax(counts)]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), self.label_)


def test_bench_help_lists_every_registered_protocol() -> None:
    result = runner.invoke(app, ["bench", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for name in list_protocols():
        assert name in result.output
    assert "cmapss-long" in result.output
    assert "for cmapss, cmapss-long, cmapss-regimes" in result.output  # --subset says which protocols take it


@pytest.fixture
def tiny_bundle() -> Iterator[str]:
    """A small bundle-training method ``tiny-bundle`` registered for ``cmapss-long`` for the duration of a test."""
    from omnimaint.training.methods import ProtocolTrainer

    small = {"model.d_model": 16, "model.heads": 2, "model.ensemble": 1, "optim.max_epochs": 1, "progress": False}
    factory = lambda seed: ProtocolTrainer("cmapss-long", seed, overrides=small)  # noqa: E731
    register_method("cmapss-long", "tiny-bundle", factory, "one small model", trains_bundle=True)
    yield "tiny-bundle"
    get_protocol("cmapss-long").methods.pop("tiny-bundle")


def test_bench_of_a_bundle_method_keeps_the_run_in_a_new_results_folder(tmp_path: Path, tiny_bundle: str) -> None:
    """The results folder is claimed before the bundle trains in its runs/, so a new --out ends with a record."""
    dataset = two_subset_dataset(tmp_path / "cmapss", wear_sensors=True)
    out = tmp_path / "new" / "out"
    args = ["bench", "cmapss-long", "--dataset", str(dataset.path), "--method", tiny_bundle, "--out", str(out)]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    record = json.loads((out / "cmapss-long__tiny-bundle__cmapss__FD001__seed0.json").read_text())
    assert {"rmse", "rmse_onnx", "rmse_onnx_int8", "nasa_score"} <= set(record["metrics"])
    run = out / "runs" / "cmapss-long__tiny-bundle__cmapss__seed0"
    assert record["details"]["bundle"] == str(run / "bundle") and (run / "bundle" / "bundle.json").is_file()
    assert "evaluated FD001 only" in " ".join(record["notes"])
