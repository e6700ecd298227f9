"""Checkpoint selection on the early-warning score: the score itself, across ranks, and in a training run."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from omnimaint.errors import ConfigError
from omnimaint.evaluation.metrics import auroc, macro_f1
from omnimaint.inference import Bundle
from omnimaint.training.data import LabelTensors
from omnimaint.training.run import prepare, train
from omnimaint.training.selection import EarlyWarningScore, check_scorable, failure_auroc
from tests.unit.training.tiny import tiny_config


def _batch(seed: int, size: int = 24) -> tuple[object, LabelTensors]:
    """Random head outputs and labels of one batch: 2 horizons, 1 component, 4 fault classes."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((size, 2)) < 0.3).astype(np.float32)
    fault = np.where(truth[:, 1] > 0, rng.integers(1, 4, size), rng.integers(-1, 1, size))
    labels = LabelTensors(
        failure_within=torch.from_numpy(truth),
        failure_within_known=torch.from_numpy((rng.random((size, 2)) < 0.9).astype(np.float32)),
        component_failure_within=torch.zeros(size, 2, 1),
        component_failure_within_known=torch.zeros(size, 2, 1),
        rul_fraction=torch.zeros(size),
        rul_known=torch.zeros(size),
        fault_type=torch.from_numpy(fault.astype(np.int64)),
        health_state=torch.zeros(size, dtype=torch.long),
    )

    class Outputs:
        failure_logits = (
            torch.from_numpy(rng.normal(size=(size, 2, 2)).astype(np.float32)) + 2 * labels.failure_within[:, :, None]
        )
        fault_logits = torch.from_numpy(rng.normal(size=(size, 4)).astype(np.float32))

    return Outputs(), labels


def _reference(batches: list[tuple[object, LabelTensors]]) -> float:
    """The score computed directly from the evaluation metrics, in one piece."""
    score = torch.cat([o.failure_logits[:, :, 0] for o, _ in batches]).numpy()  # type: ignore[attr-defined]
    truth = torch.cat([b.failure_within for _, b in batches]).numpy()
    known = torch.cat([b.failure_within_known for _, b in batches]).numpy() > 0
    per_horizon = [auroc(truth[known[:, h], h], score[known[:, h], h]) for h in range(2)]
    fault = torch.cat([b.fault_type for _, b in batches]).numpy()
    likely = 1 + torch.cat([o.fault_logits for o, _ in batches])[:, 1:].argmax(1).numpy()  # type: ignore[attr-defined]
    before = fault > 0
    return float(np.mean([np.mean(per_horizon), macro_f1(fault[before], likely[before])]))


def test_the_score_is_the_mean_of_failure_auroc_and_diagnosis_f1() -> None:
    batches = [_batch(seed) for seed in range(3)]
    score = EarlyWarningScore()
    for outputs, labels in batches:
        score.update(outputs, labels)  # type: ignore[arg-type]
    assert score.compute() == pytest.approx(_reference(batches), abs=1e-12)
    score.reset()
    assert np.isnan(score.compute())


def test_failure_auroc_skips_horizons_with_one_class() -> None:
    truth = np.array([[1, 0], [0, 0], [1, 0], [0, 0]], dtype=np.float32)
    known = np.ones_like(truth)
    score = np.array([[0.9, 0.1], [0.2, 0.3], [0.4, 0.5], [0.5, 0.0]])
    assert failure_auroc(truth, known, score) == pytest.approx(auroc(truth[:, 0], score[:, 0]))
    assert failure_auroc(truth, np.zeros_like(truth), score) is None


def _gathering_worker(rank: int, store: str, world: int, result: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    score = EarlyWarningScore()
    for seed in range(rank, 4, world):  # each rank sees every other batch, as in data-parallel validation
        score.update(*_batch(seed))  # type: ignore[arg-type]
    value = score.compute()
    if rank == 0:
        Path(result).write_text(repr(value))
    dist.destroy_process_group()


def test_every_rank_scores_the_whole_validation_epoch(tmp_path: Path) -> None:
    result = tmp_path / "score.txt"
    mp.spawn(_gathering_worker, args=(str(tmp_path / "store"), 2, str(result)), nprocs=2, join=True)
    assert float(result.read_text()) == pytest.approx(_reference([_batch(seed) for seed in range(4)]), abs=1e-12)


def test_a_validation_split_without_failures_is_refused_for_score_selection(small_plant: Path, tmp_path: Path) -> None:
    labels = prepare(tiny_config(small_plant, tmp_path)).val
    assert labels is not None
    healthy = labels.labels
    healthy.failure_within[:] = 0
    healthy.fault_type[:] = np.minimum(healthy.fault_type, 0)
    with pytest.raises(ConfigError, match="select_on=score"):
        check_scorable(healthy)


def _logged_scores(out: Path) -> dict[int, float]:
    scores = {}
    for path in (out / "logs").rglob("metrics.csv"):
        with path.open() as f:
            for row in csv.DictReader(f):
                if row.get("val_score"):
                    scores[int(row["epoch"])] = float(row["val_score"])
    return scores


def test_score_selection_keeps_the_epoch_with_the_best_validation_score(small_plant: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    overrides = {"optim.select_on": "score", "optim.max_epochs": 4, "optim.patience": 0, "optim.lr": 0.01}
    bundle = train(tiny_config(small_plant, out, **overrides))
    assert bundle is not None
    scores = _logged_scores(out)
    assert sorted(scores) == [0, 1, 2, 3]
    kept = list((out / "checkpoints").glob("epoch=*.ckpt"))
    assert len(kept) == 1
    epoch = int(re.match(r"epoch=(\d+)", kept[0].name).group(1))  # type: ignore[union-attr]
    assert scores[epoch] == max(scores.values())
    state = torch.load(kept[0], map_location="cpu", weights_only=True)["state_dict"]
    weights = Bundle.load(bundle).state_dict
    model = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.") and "anomaly" not in k}
    assert all(torch.equal(weights[k], v) for k, v in model.items())
    assert len(set(scores.values())) > 1, "the run must give the selection a choice"


def test_batches_without_failure_or_fault_labels_are_not_scored() -> None:
    outputs, labels = _batch(0)
    labels.failure_within_known.zero_()
    labels.fault_type.fill_(-1)
    outputs.fault_logits = outputs.fault_logits[:, :1]  # type: ignore[attr-defined]  # an RUL-only model
    score = EarlyWarningScore()
    score.update(outputs, labels)  # type: ignore[arg-type]
    assert np.isnan(score.compute())
