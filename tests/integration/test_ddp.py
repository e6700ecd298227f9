"""Data-parallel training on CPU (`--devices 2 --strategy ddp`, gloo) reproduces single-process training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from omnimaint.inference import Bundle
from tests.unit.training.tiny import TINY

pytestmark = pytest.mark.slow


def _nested(flat: dict[str, object]) -> dict[str, object]:
    tree: dict[str, object] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = value
    return tree


def _run(command: str, plant: Path, out: Path, config: Path, *options: str) -> Path:
    args = [sys.executable, "-m", "omnimaint", command, str(plant), "--out", str(out), "--config", str(config)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [*args, "--no-progress", *options]
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "bundle"


def _train(plant: Path, out: Path, config: Path, devices: int, seed: int = 0, *options: str) -> Path:
    strategy = "ddp" if devices > 1 else "auto"
    return _run(
        "train", plant, out, config, "--devices", str(devices), "--strategy", strategy, "--seed", str(seed), *options
    )


def _config(tmp_path: Path, **overrides: object) -> Path:
    flat = {
        **TINY,
        "model.dropout": 0.0,
        "model.fusion.modality_dropout": 0.0,
        "optim.batch_size": 16,
        "optim.limit_train_batches": 3,
        "optim.patience": 0,
        **overrides,
    }
    flat = {k: v for k, v in flat.items() if k != "progress"}
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(_nested(flat)))
    return config


def _distance(a: Bundle, b: Bundle) -> float:
    return max(float((a.state_dict[k] - b.state_dict[k]).abs().max()) for k in a.state_dict if "anomaly" not in k)


def test_two_process_ddp_matches_one_process(small_plant: Path, tmp_path: Path) -> None:
    config = _config(tmp_path)
    single = Bundle.load(_train(small_plant, tmp_path / "one", config, devices=1))
    parallel = Bundle.load(_train(small_plant, tmp_path / "two", config, devices=2))
    other_seed = Bundle.load(_train(small_plant, tmp_path / "seed", config, devices=1, seed=1))
    ddp_gap, seed_gap = _distance(single, parallel), _distance(single, other_seed)
    assert ddp_gap < 1e-3, f"DDP weights differ from single-process weights by up to {ddp_gap:.2e}"
    assert ddp_gap < seed_gap / 100, "the comparison must be sharper than what a different seed changes"


def test_frozen_encoder_warm_up_under_ddp_matches_one_process(small_plant: Path, tmp_path: Path) -> None:
    # Fine-tuning from pretraining with the encoders frozen for the first of two epochs: their gradients are
    # dropped after the data-parallel reduction, which must leave the two processes in step.
    config = _config(tmp_path, **{"optim.max_epochs": 2, "optim.pretrained_frozen_epochs": 1})
    _run("pretrain", small_plant, tmp_path / "pre", config)
    init = ("--init-from", str(tmp_path / "pre"))
    single = Bundle.load(_train(small_plant, tmp_path / "one", config, 1, 0, *init))
    parallel = Bundle.load(_train(small_plant, tmp_path / "two", config, 2, 0, *init))
    assert _distance(single, parallel) < 1e-3
