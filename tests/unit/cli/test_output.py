"""What a user reads: results on stdout, one line per log record or refusal on stderr, nothing else.

The training run goes through a real `omnimaint` process: Lightning attaches its console handler to the
process's own stderr when it is imported, which an in-process runner cannot capture.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from omnimaint.cli.output import configure_logging
from omnimaint.data import write_dataset
from tests.unit.bad_inputs.harness import run_cli
from tests.unit.data.tiny import tiny_manifest, tiny_tables
from tests.unit.training.tiny import TINY

MARKUP = "[/x] :x: [bold]"
OMNIMAINT = Path(sys.executable).with_name("omnimaint")


def _sets(**extra: object) -> list[str]:
    """``--set`` flags for the tiny training configuration (values as JSON, which is YAML)."""
    settings = {**TINY, **extra}
    return [flag for key, value in settings.items() for flag in ("--set", f"{key}={json.dumps(value)}")]


def test_verbose_training_logs_each_line_once_without_advertising(small_plant: Path, tmp_path: Path) -> None:
    command = [
        OMNIMAINT,
        "-v",
        "train",
        small_plant,
        "--out",
        tmp_path / "run",
        *_sets(**{"optim.limit_train_batches": 2}),
    ]
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"trained bundle at {tmp_path / 'run' / 'bundle'}"
    # Each record once: drop the time stamp, then no line may repeat.
    messages = [re.sub(r"^\S+ \S+ ", "", line) for line in done.stderr.splitlines() if line.strip()]
    repeated = sorted({m for m in messages if messages.count(m) > 1})
    assert not repeated, done.stderr
    assert sum("GPU available" in m for m in messages) == 1, done.stderr  # Lightning's INFO does come through
    assert any("model: " in m and "parameters" in m for m in messages), done.stderr
    for noise in ("Tip", "litlogger", "litmodels", "FLOPs", "UserWarning", "onnxruntime", "matplotlib", "v_num"):
        assert noise not in done.stderr, done.stderr


def test_evaluate_and_export_print_their_results_only(trained_bundle: Path, small_plant: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(trained_bundle, bundle)
    exported = run_cli("export", bundle, "--int8")
    assert exported.exit_code == 0, exported.output
    assert exported.output.splitlines() == [exported.output.splitlines()[0]]
    assert exported.output.startswith(f"exported {bundle / 'model.onnx'} (largest difference from PyTorch: ")
    evaluated = run_cli(
        "evaluate", bundle, small_plant, "--out", tmp_path / "eval", "--backend", "onnx-int8", "--no-ablation"
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert evaluated.output.splitlines()[-1].startswith("wrote ")
    for noise in ("quantization", "onnxruntime", "[W:", "matplotlib", "Glyph", "font", "UserWarning", "info:"):
        assert noise not in evaluated.output, evaluated.output


def test_user_data_is_printed_as_it_is(tmp_path: Path) -> None:
    tables, blobs = tiny_tables()
    renamed = {name: _renamed(table, {"A": MARKUP}) for name, table in tables.items()}
    dataset = tmp_path / "plant :x:"
    write_dataset(dataset, tiny_manifest().model_copy(update={"name": MARKUP}), renamed, blobs=blobs)
    result = run_cli("inspect", dataset)
    assert result.exit_code == 0, result.output
    assert f"{MARKUP}: 2 assets" in result.output  # the dataset's name
    assert f"│ {MARKUP} " in result.output  # an asset id in the table
    assert "❌" not in result.output


def _renamed(table: pd.DataFrame, ids: dict[str, str]) -> pd.DataFrame:
    return table.assign(asset_id=table["asset_id"].replace(ids)) if "asset_id" in table else table


def test_ctrl_c_in_any_command_is_one_line_and_exit_code_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("omnimaint.data.inspection.summarize", interrupted)
    tables, blobs = tiny_tables()
    write_dataset(tmp_path / "plant", tiny_manifest(), tables, blobs=blobs)
    result = run_cli("inspect", tmp_path / "plant")
    assert result.exit_code == 130
    assert [line for line in result.output.splitlines() if line.strip()] == ["interrupted"]


def test_a_bug_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("omnimaint.data.inspection.summarize", broken)
    tables, blobs = tiny_tables()
    write_dataset(tmp_path / "plant", tiny_manifest(), tables, blobs=blobs)
    result = run_cli("inspect", tmp_path / "plant")
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError)


def _emit(name: str, message: str, *, pathname: str = __file__) -> None:
    logger = logging.getLogger(name)
    logger.handle(logger.makeRecord(name, logging.WARNING, pathname, 1, message, (), None))


def test_library_chatter_is_kept_to_debug_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime

    quantizer = str(Path(onnxruntime.__file__).parent / "quantization" / "quantize.py")
    for verbosity, shown in ((0, False), (1, False), (2, True)):
        configure_logging(verbosity)
        _emit("onnxruntime.quantization", "Quantization parameters for tensor are not calibrated.")
        _emit("root", "Please consider to run pre-processing before quantization.", pathname=quantizer)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn_explicit("Please use QuantFormat.QDQ for activation type QInt8.", UserWarning, quantizer, 7)
        err = capsys.readouterr().err
        for text in ("not calibrated", "pre-processing", "QuantFormat"):
            assert (text in err) is shown, (verbosity, err)
    configure_logging(0)


def test_our_warnings_and_python_warnings_still_show(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(0)
    logging.getLogger("omnimaint.evaluation.model_eval").warning("no failure in the evaluated windows")
    logging.getLogger("omnimaint.evaluation.model_eval").info("scored 78 windows")
    warnings.warn_explicit("something odd", UserWarning, __file__, 1)
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: no failure in the evaluated windows", "warning: UserWarning: something odd"]


def test_lightning_advertising_is_dropped_even_when_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(1)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    rank_zero.info("💡 Tip: For seamless cloud logging and experiment tracking, try installing litlogger")
    rank_zero.info("GPU available: False, used: False")
    err = capsys.readouterr().err
    assert "GPU available" in err and "Tip" not in err
    configure_logging(0)


def test_a_refusal_is_one_line_whatever_its_message_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from omnimaint.errors import DatasetError

    def refused(*args: object, **kwargs: object) -> None:
        raise DatasetError(f"{MARKUP}: a library's reason\n  spread over\n\nlines")

    monkeypatch.setattr("omnimaint.data.inspection.summarize", refused)
    tables, blobs = tiny_tables()
    write_dataset(tmp_path / "plant", tiny_manifest(), tables, blobs=blobs)
    result = run_cli("inspect", tmp_path / "plant")
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {MARKUP}: a library's reason spread over lines"
