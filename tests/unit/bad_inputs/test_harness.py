"""The harness itself can fail: a changed file, two lines, or a traceback are caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimaint.data import Dataset
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli


def test_a_refusal_passes(tmp_path: Path) -> None:
    before = Snapshot.of(tmp_path)
    result = run_cli("validate", tmp_path / "nowhere")
    assert_refused(result, before, "nowhere")


def test_a_changed_file_is_caught(tiny_dataset: Dataset) -> None:
    before = Snapshot.of(tiny_dataset.path)
    (tiny_dataset.path / "telemetry.parquet").write_bytes(b"x")
    result = run_cli("validate", tiny_dataset.path, "--no-checksums")
    with pytest.raises(AssertionError, match="changed"):
        assert_refused(result, before)


def test_success_is_not_a_refusal(tiny_dataset: Dataset) -> None:
    before = Snapshot.of(tiny_dataset.path)
    with pytest.raises(AssertionError, match="exit code 0"):
        assert_refused(run_cli("validate", tiny_dataset.path), before)
