"""The linear probe of the encoders (``omnimaint probe``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimaint.cli import app
from omnimaint.errors import ConfigError
from omnimaint.training.probe import linear_probe
from tests.unit.training.tiny import tiny_config


def test_probe_reads_the_encoders_of_the_given_run(small_plant: Path, trained_bundle: Path, tmp_path: Path) -> None:
    trained = tiny_config(small_plant, tmp_path, init_from=str(trained_bundle))
    result = linear_probe(trained, fraction=0.5, draws=3)
    assert 0.0 <= result.all_labels <= 1.0 and 0.0 <= result.few_labels <= 1.0
    assert 1 <= result.draws <= 3 and result.fraction == 0.5
    assert list(result.modalities) == ["telemetry", "waveforms", "frames", "events", "maintenance"]
    assert linear_probe(trained, fraction=0.5, draws=3) == result  # frozen encoders, seeded draws
    fresh = linear_probe(tiny_config(small_plant, tmp_path, seed=1), fraction=0.5, draws=3)
    assert fresh.modalities != result.modalities  # other weights, other features
    with pytest.raises(ConfigError, match="validation split, which has no windows"):
        linear_probe(tiny_config(small_plant, tmp_path, **{"data.fractions": [1.0, 0.0, 0.0]}))


def test_probe_command_writes_its_figures(small_plant: Path, trained_bundle: Path, tmp_path: Path) -> None:
    args = ["probe", str(small_plant), "--out", str(tmp_path), "--init-from", str(trained_bundle), "--draws", "2"]
    outcome = CliRunner().invoke(app, [*args, "--no-progress"])
    assert outcome.exit_code == 0, outcome.output
    written = json.loads((tmp_path / "probe.json").read_text())
    assert set(written) == {"all_labels", "fraction", "few_labels", "few_labels_sd", "draws", "modalities"}
    assert "all training labels" in outcome.output
