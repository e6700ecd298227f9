"""The experiment drivers: which runs they make and how they tabulate them (training itself is tested elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from omnimaint.training import experiments
from omnimaint.training.config import TrainConfig, load_config


def _metrics(auroc: float) -> dict[str, Any]:
    return {
        "failure_within": {"72h": {"auroc": auroc, "average_precision": auroc / 2}},
        "fault_type": {"macro_f1": 0.1, "macro_f1_before_failure": auroc / 3},
        "ablation": {
            m: {"failure_auroc": 0.5, "fault_macro_f1": 0.1, "fault_macro_f1_before_failure": 0.2}
            for m in ("telemetry", "events")
        },
    }


@pytest.fixture
def config(tmp_path: Path) -> TrainConfig:
    window = {"waveforms": None, "frames": None, "maintenance": None}
    return load_config(None, {"data.dataset": str(tmp_path), "data.window": window, "out": str(tmp_path)})


def test_ablation_trains_fused_single_and_leave_one_out(
    config: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[tuple[str, tuple[str, ...]]] = []

    def fake_train(run: TrainConfig) -> Path:
        trained.append((run.out.name, run.data.window.enabled))
        return run.out

    scores = {"fused": 0.9, "only_telemetry": 0.7, "only_events": 0.6, "without_telemetry": 0.6, "without_events": 0.7}
    monkeypatch.setattr(experiments, "train", fake_train)
    monkeypatch.setattr(
        experiments,
        "evaluate_bundle",
        lambda bundle, *a, **k: SimpleNamespace(metrics=_metrics(scores[Path(bundle).name])),
    )
    results = experiments.modality_ablation(config, tmp_path / "ablation")
    assert dict(trained) == {
        "fused": ("telemetry", "events"),
        "only_telemetry": ("telemetry",),
        "only_events": ("events",),
        "without_telemetry": ("events",),
        "without_events": ("telemetry",),
    }
    assert results["runs"]["fused"]["failure_auroc"] == 0.9
    assert results["masked_at_inference"]["events"]["failure_auroc"] == 0.5
    table = (tmp_path / "ablation" / "results.md").read_text()
    assert "| fused | 0.900 | 0.450 | 0.300 |" in table
    assert "| events | 0.500 | 0.700 | 0.200 | 0.233 |" in table

    # A rerun into the same folder resumes: every finished run's scores are reused, nothing is retrained.
    trained.clear()
    assert experiments.modality_ablation(config, tmp_path / "ablation") == results
    assert trained == []


def test_ablation_over_several_asset_splits_reports_mean_and_each_split(
    config: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[tuple[int, str]] = []

    def fake_train(run: TrainConfig) -> Path:
        trained.append((run.data.split_seed, run.out.name))
        return run.out

    def fake_evaluate(bundle: Path, *args: object, **kwargs: object) -> SimpleNamespace:
        split = int(Path(bundle).parent.name.removeprefix("split_"))
        return SimpleNamespace(metrics=_metrics(0.9 if split == 3 else 0.6))

    monkeypatch.setattr(experiments, "train", fake_train)
    monkeypatch.setattr(experiments, "evaluate_bundle", fake_evaluate)
    results = experiments.modality_ablation(config, tmp_path / "ablation", split_seeds=(3, 4))
    assert sorted({seed for seed, _ in trained}) == [3, 4] and len(trained) == 10
    assert (tmp_path / "ablation" / "split_3" / "fused" / experiments.SCORES).is_file()
    assert results["runs"]["fused"]["failure_auroc"] == pytest.approx(0.75)
    assert results["splits"]["3"]["runs"]["fused"]["failure_auroc"] == 0.9
    table = (tmp_path / "ablation" / "results.md").read_text()
    assert "| fused | 0.750 ± 0.150 | 0.375 ± 0.075 | 0.250 ± 0.050 |" in table
    assert "## asset split 4" in table and "| fused | 0.600 | 0.300 | 0.200 |" in table


def test_label_efficiency_compares_pretrained_and_scratch(
    config: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[tuple[str, Path | None, float]] = []
    pretrained: list[str] = []
    monkeypatch.setattr(experiments, "pretrain", lambda run: pretrained.append(run.out.name) or run.out)

    def fake_train(run: TrainConfig) -> Path:
        runs.append((run.out.name, run.init_from, run.data.label_fraction))
        assert run.optim.max_epochs == 7
        return run.out

    monkeypatch.setattr(experiments, "train", fake_train)
    monkeypatch.setattr(
        experiments,
        "evaluate_bundle",
        lambda bundle, *a, **k: SimpleNamespace(metrics=_metrics(0.8 if "pretrained" in Path(bundle).name else 0.6)),
    )
    results = experiments.label_efficiency(config, tmp_path / "le", fraction=0.1, seeds=(0, 1), finetune_epochs=7)
    assert [r[0] for r in runs] == ["scratch_0", "pretrained_0", "scratch_1", "pretrained_1"]
    assert all(r[2] == 0.1 for r in runs)
    assert runs[1][1] == tmp_path / "le" / "pretrain_0" and runs[0][1] is None
    assert pretrained == ["pretrain_0", "pretrain_1"]
    assert results["pretrained_mean"]["failure_auroc"] == pytest.approx(0.8)
    assert results["scratch_mean"]["failure_auroc"] == pytest.approx(0.6)


def test_label_efficiency_repeats_over_asset_splits_and_pairs_the_starts(
    config: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[tuple[int, str, int]] = []
    monkeypatch.setattr(experiments, "pretrain", lambda run: run.out)

    def fake_train(run: TrainConfig) -> Path:
        trained.append((run.data.split_seed, run.out.name, run.seed))
        return run.out

    # The pretrained start is ahead on splits 0 and 2 only; the scratch score depends on the split.
    def fake_evaluate(bundle: Path, *args: Any, **kwargs: Any) -> SimpleNamespace:
        split = int(Path(bundle).parent.name.removeprefix("split_"))
        scratch = 0.5 + 0.1 * split
        auroc = scratch + (0.05 if split != 1 else -0.02) if "pretrained" in Path(bundle).name else scratch
        return SimpleNamespace(metrics=_metrics(auroc))

    monkeypatch.setattr(experiments, "train", fake_train)
    monkeypatch.setattr(experiments, "evaluate_bundle", fake_evaluate)
    out = tmp_path / "le"
    results = experiments.label_efficiency(config, out, seeds=(0,), split_seeds=(0, 1, 2))
    assert trained == [(s, name, 0) for s in (0, 1, 2) for name in ("scratch_0", "pretrained_0")]
    assert (out / "split_2" / "pretrained_0" / experiments.SCORES).is_file()
    assert [r["split_seed"] for r in results["pretrained"]] == [0, 1, 2]
    assert results["scratch_mean"]["failure_ap"] == pytest.approx(0.3)  # every score is averaged
    table = (out / "results.md").read_text()
    assert "(pretrained ahead in 2 of 3)" in table
    assert "| 1 | 0 | 0.600 | 0.580 |" in table  # split 1, seed 0: scratch then pretrained AUROC
    # Rerunning into the same folder reuses every finished run.
    trained.clear()
    assert experiments.label_efficiency(config, out, seeds=(0,), split_seeds=(0, 1, 2)) == results
    assert trained == []


def test_label_efficiency_scores_the_validation_machines_and_backfills_older_runs(
    config: TrainConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained: list[str] = []
    evaluated: list[tuple[str, str]] = []
    monkeypatch.setattr(experiments, "pretrain", lambda run: run.out)

    # On the validation machines the pretrained start is behind; on the test machines it is ahead.
    def fake_evaluate(bundle: Path, dataset: Path, split: str, **kwargs: Any) -> SimpleNamespace:
        evaluated.append((Path(bundle).name, split))
        pretrained = "pretrained" in str(bundle)
        return SimpleNamespace(metrics=_metrics(0.6 + (0.1 if pretrained else 0) * (-1 if split == "val" else 1)))

    monkeypatch.setattr(experiments, "train", lambda run: trained.append(run.out.name) or run.out / "bundle")
    monkeypatch.setattr(experiments, "evaluate_bundle", fake_evaluate)
    out = tmp_path / "le"
    results = experiments.label_efficiency(config, out, seeds=(0,))
    assert sorted(split for _, split in evaluated) == ["test", "test", "val", "val"]
    assert results["pretrained"][0]["val_failure_auroc"] == pytest.approx(0.5)
    table = (out / "results.md").read_text()
    assert "| pretrained − scratch, paired, on the validation machines | -0.100 (pretrained ahead in 0 of 1)" in table
    assert "| 0 | 0 | 0.600 | 0.700 | 0.200 | 0.233 | 0.600 | 0.500 |" in table

    # A run scored before validation figures were kept gets them on the rerun, without retraining.
    path = out / "pretrained_0" / experiments.SCORES
    older = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("val_")}
    path.write_text(json.dumps(older))
    trained.clear()
    evaluated.clear()
    assert experiments.label_efficiency(config, out, seeds=(0,)) == results
    assert trained == [] and evaluated == [("bundle", "val")]
    assert json.loads(path.read_text())["val_failure_auroc"] == pytest.approx(0.5)
