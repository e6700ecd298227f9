"""The linear probe of the encoders (``omnimaint probe``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from omnimaint.cli import app
from omnimaint.errors import ConfigError
from omnimaint.training import probe
from omnimaint.training.probe import linear_probe
from tests.unit.training.tiny import tiny_config


def test_probe_reads_the_encoders_of_the_given_run(small_plant: Path, trained_bundle: Path, tmp_path: Path) -> None:
    trained = tiny_config(small_plant, tmp_path, init_from=str(trained_bundle))
    result = linear_probe(trained, fraction=0.5, draws=3)
    assert result.draws == 3 and result.fraction == 0.5  # every half of the blocks holds both classes here
    assert result.few_labels_sd > 0  # the draws label different windows
    assert list(result.modalities) == ["telemetry", "waveforms", "frames", "events", "maintenance"]
    assert linear_probe(trained, fraction=0.5, draws=3) == result  # frozen encoders, seeded draws
    fresh = linear_probe(tiny_config(small_plant, tmp_path, seed=1), fraction=0.5, draws=3)
    assert fresh.modalities != result.modalities  # other weights, other features
    with pytest.raises(ConfigError, match="validation split, which has no windows"):
        linear_probe(tiny_config(small_plant, tmp_path, **{"data.fractions": [1.0, 0.0, 0.0]}))


def _label_in_telemetry(shuffle: bool) -> object:
    """A stand-in for the encoders' features: noise, except that the telemetry features are shifted by the
    window's label. With ``shuffle``, the labels handed to the probe are permuted, so the features predict none."""
    extract = probe._features
    rng = np.random.default_rng(0)

    def features(*args: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pooled, labels, known = extract(*args)  # type: ignore[arg-type]
        features = rng.normal(size=pooled.shape).astype(np.float32)  # (N, M, D)
        features[:, 0, :] += labels[:, None]  # modality 0 is telemetry
        return features, (rng.permutation(labels) if shuffle else labels), known

    return features


def test_probe_finds_the_label_where_the_features_hold_it(
    small_plant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probe, "_features", _label_in_telemetry(shuffle=False))
    result = linear_probe(tiny_config(small_plant, tmp_path), fraction=0.5, draws=3)
    assert result.all_labels > 0.95 and result.few_labels > 0.95, result
    assert result.modalities["telemetry"] > 0.95, result
    others = {name: score for name, score in result.modalities.items() if name != "telemetry"}
    assert all(abs(score - 0.5) < 0.2 for score in others.values()), others


def test_probe_is_near_chance_on_shuffled_labels(
    small_plant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probe, "_features", _label_in_telemetry(shuffle=True))
    result = linear_probe(tiny_config(small_plant, tmp_path), fraction=0.5, draws=3)
    assert abs(result.all_labels - 0.5) < 0.2 and abs(result.few_labels - 0.5) < 0.2, result
    assert abs(result.modalities["telemetry"] - 0.5) < 0.2, result


def test_probe_command_writes_its_figures(small_plant: Path, trained_bundle: Path, tmp_path: Path) -> None:
    args = ["probe", str(small_plant), "--out", str(tmp_path), "--init-from", str(trained_bundle), "--draws", "2"]
    outcome = CliRunner().invoke(app, [*args, "--no-progress"])
    assert outcome.exit_code == 0, outcome.output
    written = json.loads((tmp_path / "probe.json").read_text())
    assert set(written) == {"all_labels", "fraction", "few_labels", "few_labels_sd", "draws", "modalities"}
    assert "all training labels" in outcome.output
