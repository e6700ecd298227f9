"""Training: seeded determinism, pretrain → fine-tune, resume, label fraction, data-parallel batch order, configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from omnimaint.errors import ConfigError
from omnimaint.inference import Bundle
from omnimaint.training.config import load_config
from omnimaint.training.data import GlobalBatchSampler, labelled_mask
from omnimaint.training.run import prepare, pretrain, train
from tests.unit.training.tiny import tiny_config


def _weights(bundle: Path) -> dict[str, torch.Tensor]:
    return Bundle.load(bundle).state_dict


def test_same_seed_same_weights(small_plant: Path, tmp_path: Path) -> None:
    first = train(tiny_config(small_plant, tmp_path / "a", **{"optim.limit_train_batches": 2}))
    second = train(tiny_config(small_plant, tmp_path / "b", **{"optim.limit_train_batches": 2}))
    assert first is not None and second is not None
    a, b = _weights(first), _weights(second)
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train(tiny_config(small_plant, tmp_path / "c", **{"optim.limit_train_batches": 2, "seed": 1}))
    assert other is not None
    c = _weights(other)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_fine_tuning_starts_from_pretrained_weights(small_plant: Path, tmp_path: Path) -> None:
    pretrained = pretrain(tiny_config(small_plant, tmp_path / "pre", **{"optim.limit_train_batches": 2}))
    assert pretrained is not None
    bundle = Bundle.load(pretrained)
    assert bundle.kind == "pretrained"
    prepared = prepare(tiny_config(small_plant, tmp_path / "fine", init_from=str(tmp_path / "pre")))
    for name, tensor in prepared.model.state_dict().items():
        assert torch.equal(tensor, bundle.state_dict[name]), name
    assert prepared.preprocessor.state == bundle.preprocessor


def test_resume_continues_from_a_checkpoint(small_plant: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert train(tiny_config(small_plant, out, **{"optim.limit_train_batches": 2})) is not None
    last = out / "checkpoints" / "last.ckpt"
    assert last.is_file()
    resumed = train(
        tiny_config(small_plant, out, **{"optim.limit_train_batches": 2, "optim.max_epochs": 2, "resume": str(last)})
    )
    assert resumed is not None
    metrics = (out / "logs").rglob("metrics.csv")
    assert any("epoch" in path.read_text() for path in metrics)


def test_label_fraction_keeps_whole_asset_days(small_plant: Path, tmp_path: Path) -> None:
    prepared = prepare(tiny_config(small_plant, tmp_path))
    keep = labelled_mask(prepared.train, 0.1, seed=0)
    assert 0.0 < keep.mean() < 0.35
    anchors = prepared.train.anchors
    days = anchors["asset_id"] + anchors["ts"].dt.floor("D").astype(str)
    per_day = keep.astype(int)
    for day in set(days):
        values = per_day[(days == day).to_numpy()]
        assert values.min() == values.max()  # a whole asset-day is labelled or not
    assert not np.array_equal(keep, labelled_mask(prepared.train, 0.1, seed=1))


def test_global_batches_split_across_ranks_reproduce_single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    single = list(GlobalBatchSampler(50, 8, shuffle=True, seed=3))
    parts = []
    for rank in range(2):
        monkeypatch.setattr(GlobalBatchSampler, "_rank_world", staticmethod(lambda rank=rank: (rank, 2)))
        parts.append(list(GlobalBatchSampler(50, 8, shuffle=True, seed=3)))
    for whole, a, b in zip(single, parts[0], parts[1], strict=True):
        assert sorted(whole) == sorted(a + b)
    sampler = GlobalBatchSampler(50, 8, shuffle=True, seed=3)
    sampler.sampler.set_epoch(1)
    assert list(sampler) != single


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("data:\n  dataset: x\noptim:\n  lr: -1\n")
    with pytest.raises(ConfigError, match=r"train\.yaml: field 'optim\.lr'"):
        load_config(config)
    with pytest.raises(ConfigError, match=r"field 'data\.window': .*whole multiples of telemetry\.step"):
        load_config(None, {"data.dataset": "x", "data.window": {"telemetry": {"step": "PT7M", "lookback": "PT1H"}}})
    loaded = load_config(None, {"data.dataset": "x", "optim.lr": 0.01, "model.fusion.name": "late"})
    assert loaded.optim.lr == 0.01 and loaded.model.fusion.name == "late"
