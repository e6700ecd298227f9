"""`omnimaint simulate`: writes a valid dataset, one-line errors for bad values, announces large runs, and
Ctrl-C ends it with one line, exit code 130, no dataset and no worker left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimaint.cli import app
from omnimaint.data import validate_dataset

runner = CliRunner()
OMNIMAINT = Path(sys.executable).with_name("omnimaint")
INTERRUPTIBLE = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); os.execv(sys.argv[1], sys.argv[1:])"
)
"""Runs a command (the arguments) with Ctrl-C as a shell's foreground job has it: default action, not blocked.
A child inherits ignored and blocked signals from the test runner, whose own state is no part of what is tested:
in the whole suite the simulation once ran to its end, untouched by the signal."""


def test_simulate_writes_a_valid_dataset(tmp_path: Path) -> None:
    out = tmp_path / "plant"
    args = ["simulate", "--out", str(out), "--assets", "3", "--days", "2", "--workers", "1", "--lang", "zh"]
    result = runner.invoke(app, [*args, "--frame-size", "32", "--frame-period", "7200", "--telemetry-period", "300"])
    assert result.exit_code == 0, result.output
    dataset = validate_dataset(out)
    printed = re.fullmatch(r"ok (.+) \((.+)\) in \d+\.\d s\n", result.output)
    assert printed is not None, result.output
    assert printed[1] == str(out)
    counts = {name: len(dataset.table(name)) for name in dataset.manifest.tables}
    assert printed[2] == ", ".join(f"{name}: {rows:,}" for name, rows in counts.items())
    assert (counts["assets"], counts["frames"]) == (3, 3 * 2 * 24 // 2)  # a frame every 2 h for 2 days
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
    options = ("--out", "--assets", "--days", "--seed", "--lang", "--waveform-period", "--workers", "--overwrite")
    for option in (*options, "--no-progress"):
        assert option in result.output


def test_a_large_run_is_announced_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("omnimaint.sim.estimate.LARGE_BYTES", 1.0)  # every run counts as large
    args = ["--assets", "3", "--days", "1", "--workers", "1", "--frame-size", "32", "--no-progress"]
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "plant"), *args])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("simulating 3 machines × 1 days: ~") and " on 1 worker" in lines[0], lines[0]
    assert lines[1].startswith("ok ")


def test_a_small_run_is_not_announced(tmp_path: Path) -> None:
    args = ["--assets", "2", "--days", "1", "--workers", "1", "--frame-size", "32"]
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "plant"), *args])
    assert result.exit_code == 0, result.output
    assert [line[:3] for line in result.output.splitlines()] == ["ok "]


@pytest.mark.parametrize("reaches", ["terminal", "parent only"])
def test_ctrl_c_leaves_one_line_no_dataset_and_no_worker(tmp_path: Path, reaches: str) -> None:
    """A terminal's Ctrl-C signals the whole foreground process group (the parent and its workers); ``kill
    -INT`` the parent alone. Either way: one line, exit code 130, nothing left on disk or running."""
    args = ["simulate", "--out", tmp_path / "plant", "--assets", "8", "--days", "20", "--workers", "2"]
    process = subprocess.Popen(
        [str(a) for a in [sys.executable, "-c", INTERRUPTIBLE, OMNIMAINT, *args]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    deadline = time.monotonic() + 300
    # The workers write frames into the hidden partial folder while they generate machines.
    while not any(tmp_path.glob(".plant.partial-*/frames/*/*/*.png")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the simulation did not start"
        time.sleep(0.05)
    if reaches == "terminal":
        os.killpg(process.pid, signal.SIGINT)
    else:
        os.kill(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    runner = f"the test runner's SIGINT: {signal.getsignal(signal.SIGINT)}, blocked: {signal.pthread_sigmask(0, [])}"
    assert process.returncode == 130, f"{stderr} ({runner})"
    assert stdout == ""
    assert [line for line in stderr.splitlines() if line.strip()] == ["interrupted"], stderr
    assert list(tmp_path.iterdir()) == []
    assert _group_ends(process.pid, within_s=15), "a worker outlived the interrupted simulation"


def _group_ends(group: int, within_s: float) -> bool:
    """Whether every process of a group is gone (ended workers linger as zombies until init reaps them)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
