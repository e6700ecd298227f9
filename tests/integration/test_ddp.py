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


def _train(plant: Path, out: Path, config: Path, devices: int, seed: int = 0) -> Path:
    command = [
        sys.executable, "-m", "omnimaint", "train", str(plant), "--out", str(out), "--config", str(config),
        "--devices", str(devices), "--strategy", "ddp" if devices > 1 else "auto", "--no-progress",
        "--seed", str(seed),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "bundle"


def test_two_process_ddp_matches_one_process(small_plant: Path, tmp_path: Path) -> None:
    flat = {
        **TINY,
        "model.dropout": 0.0,
        "model.fusion.modality_dropout": 0.0,
        "optim.batch_size": 16,
        "optim.limit_train_batches": 3,
        "optim.patience": 0,
    }
    flat = {k: v for k, v in flat.items() if k != "progress"}
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(_nested(flat)))
    single = Bundle.load(_train(small_plant, tmp_path / "one", config, devices=1))
    parallel = Bundle.load(_train(small_plant, tmp_path / "two", config, devices=2))
    other_seed = Bundle.load(_train(small_plant, tmp_path / "seed", config, devices=1, seed=1))

    def distance(a: Bundle, b: Bundle) -> float:
        return max(float((a.state_dict[k] - b.state_dict[k]).abs().max()) for k in a.state_dict if "anomaly" not in k)

    ddp_gap, seed_gap = distance(single, parallel), distance(single, other_seed)
    assert ddp_gap < 1e-3, f"DDP weights differ from single-process weights by up to {ddp_gap:.2e}"
    assert ddp_gap < seed_gap / 100, "the comparison must be sharper than what a different seed changes"
