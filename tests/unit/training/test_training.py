"""Training: seeded determinism, pretrain → fine-tune, resume, label fraction, data-parallel batch order, configs."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from omnimaint.errors import ConfigError
from omnimaint.inference import Bundle
from omnimaint.training.config import load_config
from omnimaint.training.data import GlobalBatchSampler, WindowDataModule, labelled_mask
from omnimaint.training.run import _datamodule, prepare, pretrain, train
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
    # With the encoders frozen for the only epoch, fine-tuning moves fusion and heads and no encoder weight
    # (BatchNorm running statistics are buffers, not weights, and follow the data).
    settings = {"optim.limit_train_batches": 2, "optim.max_epochs": 1, "optim.pretrained_frozen_epochs": 1}
    tuned = train(tiny_config(small_plant, tmp_path / "probe", init_from=str(tmp_path / "pre"), **settings))
    assert tuned is not None
    weights = _weights(tuned)
    encoders = [f"encoders.{name}" for name, _ in prepared.model.encoders.named_parameters()]
    assert encoders and all(torch.equal(weights[name], bundle.state_dict[name]) for name in encoders)
    others = [name for name, _ in prepared.model.named_parameters() if name not in encoders]
    assert any(not torch.equal(weights[name], bundle.state_dict[name]) for name in others)


def test_masked_patch_pretraining_runs_with_the_temporal_conv_encoder(small_plant: Path, tmp_path: Path) -> None:
    overrides = {
        "optim.limit_train_batches": 2,
        "model.telemetry.name": "temporal_conv",
        "model.telemetry.conv_layers": 2,
    }
    pretrained = pretrain(tiny_config(small_plant, tmp_path / "pre", **overrides))
    assert pretrained is not None
    assert Bundle.load(pretrained).model_config.telemetry.name == "temporal_conv"
    logged = "".join(path.read_text() for path in (tmp_path / "pre" / "logs").rglob("metrics.csv"))
    assert "reconstruction" in logged  # the masked-patch objective ran on the convolutional encoder


def test_latest_patch_hiding_hides_the_end_of_every_window(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.models.encoders.telemetry import PatchedTelemetry
    from omnimaint.training.tasks import PretrainTask

    config = tiny_config(small_plant, tmp_path, **{"pretrain.hide": "latest", "pretrain.mask_ratio": 0.25})
    prepared = prepare(config)
    batch = next(
        iter(WindowDataModule(prepared.train, None, prepared.preprocessor, batch_size=8, seed=0).train_dataloader())
    )
    task = PretrainTask(prepared.model, config.optim, config.pretrain)
    masked, values, scored = task._hide_patches(batch)
    assert values is not None and scored is not None
    encoder = prepared.model.encoders["telemetry"]
    assert isinstance(encoder, PatchedTelemetry)
    n_tokens = values.shape[1]
    hidden_tokens = round(0.25 * n_tokens)
    steps = batch.inputs.telemetry.shape[1]
    hidden_steps = min(steps, hidden_tokens * encoder.patch)
    assert not masked.telemetry_mask[:, steps - hidden_steps :].any()  # the latest steps are hidden ...
    assert torch.equal(
        masked.telemetry_mask[:, : steps - hidden_steps], batch.inputs.telemetry_mask[:, : steps - hidden_steps]
    )
    assert not scored[:, : n_tokens - hidden_tokens].any()  # ... and only they are scored
    assert scored[:, n_tokens - hidden_tokens :].any()


def test_channel_hiding_hides_whole_channels_and_scores_only_them(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.training.tasks import PretrainTask

    config = tiny_config(small_plant, tmp_path, **{"pretrain.hide": "channels", "pretrain.mask_ratio": 0.5})
    prepared = prepare(config)
    batch = next(
        iter(WindowDataModule(prepared.train, None, prepared.preprocessor, batch_size=8, seed=0).train_dataloader())
    )
    torch.manual_seed(0)
    masked, values, scored = PretrainTask(prepared.model, config.optim, config.pretrain)._hide_patches(batch)
    assert values is not None and scored is not None
    original = batch.inputs.telemetry_mask
    channels = original.shape[-1]
    hidden = original.any(dim=1) & ~masked.telemetry_mask.any(dim=1)  # (B, C): observed, then hidden throughout
    assert hidden.any() and (~hidden).any()
    kept = ~hidden.unsqueeze(1).expand_as(original)
    assert torch.equal(masked.telemetry_mask, original & kept)  # the other channels are untouched
    assert not masked.telemetry[~kept].any()
    assert masked.telemetry_mask.any(dim=(1, 2)).all()  # no window loses every channel
    scored_channels = scored.reshape(*scored.shape[:2], -1, channels).sum(dim=(1, 2)) > 0  # (B, C)
    assert torch.equal(scored_channels, hidden)  # the reconstruction is scored on the hidden channels only


def test_grouped_batches_are_runs_of_one_asset_drawn_at_random(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = np.repeat(np.arange(5), 8)  # 5 assets x 8 windows
    sampler = GlobalBatchSampler(40, 8, shuffle=True, seed=3, groups=groups, group_size=4)
    batches = list(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(40))  # every window once
    for batch in batches:  # two runs of 4 windows of one asset each
        assert len(set(groups[batch[:4]])) == 1 and len(set(groups[batch[4:]])) == 1
    assert batches == list(GlobalBatchSampler(40, 8, shuffle=True, seed=3, groups=groups, group_size=4))
    assert batches != list(GlobalBatchSampler(40, 8, shuffle=True, seed=4, groups=groups, group_size=4))
    runs = {tuple(sorted(batch[:4])) for batch in batches}
    assert runs != {tuple(range(g * 8, g * 8 + 4)) for g in range(5)} | {
        tuple(range(g * 8 + 4, g * 8 + 8)) for g in range(5)
    }
    for rank in range(2):  # on two ranks each half of a batch keeps windows of both runs' assets
        monkeypatch.setattr(GlobalBatchSampler, "_rank_world", staticmethod(lambda rank=rank: (rank, 2)))
        part = list(GlobalBatchSampler(40, 8, shuffle=True, seed=3, groups=groups, group_size=4))
        assert [sorted(groups[p]) for p in part] == [sorted(groups[b[rank::2]]) for b in batches]
    with pytest.raises(ValueError, match="go together"):
        GlobalBatchSampler(40, 8, shuffle=True, seed=3, groups=groups)


def test_asset_negatives_contrast_windows_of_one_asset_only(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.training.losses import info_nce
    from omnimaint.training.tasks import PretrainTask

    torch.manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(7, 4), dim=-1)
    b = torch.nn.functional.normalize(a + 0.5 * torch.randn(7, 4), dim=-1)
    groups = torch.tensor([0, 0, 0, 1, 1, 1, 2])  # the last window is alone: nothing to tell it from
    temperature = torch.tensor(0.1)
    per_group = [info_nce(a[:3], b[:3], temperature), info_nce(a[3:6], b[3:6], temperature)]
    assert torch.allclose(info_nce(a, b, temperature, groups), torch.stack(per_group).mean())
    assert torch.allclose(info_nce(a, b, temperature, torch.zeros(7, dtype=torch.long)), info_nce(a, b, temperature))
    assert info_nce(a, b, temperature, torch.arange(7)) == 0.0

    config = tiny_config(small_plant, tmp_path, **{"pretrain.negatives": "asset", "pretrain.asset_group": 4})
    prepared = prepare(config)
    module = WindowDataModule(prepared.train, None, prepared.preprocessor, batch_size=8, seed=0, asset_group=4)
    loader = module.train_dataloader()
    anchors = prepared.train.anchors["asset_id"].to_numpy()
    names = sorted(set(anchors))
    batches = list(zip(loader.batch_sampler, loader, strict=True))
    for positions, batch in batches:
        assert batch.groups is not None
        assert [names[g] for g in batch.groups.tolist()] == [anchors[p] for p in positions]
    # The epoch's order is runs of 4 windows of one asset (the last run of an asset may be shorter): it
    # changes asset at most once per run, where a shuffle would change it at most every other window.
    order = [p for positions, _ in batches for p in positions]
    changes = sum(anchors[p] != anchors[q] for p, q in itertools.pairwise(order))
    runs = sum(-(-int(n) // 4) for n in np.unique(anchors, return_counts=True)[1])
    assert changes < runs <= len(order) / 2
    assert _datamodule(config, prepared, 1.0, "pretrained").asset_group == 4
    assert _datamodule(config, prepared, 1.0, "model").asset_group is None  # fine-tuning batches stay shuffled
    batch = next(b for _, b in batches if b.groups is not None and len(set(b.groups.tolist())) > 1)
    torch.manual_seed(0)
    within = PretrainTask(prepared.model, config.optim, config.pretrain).losses(batch)["contrastive"]
    torch.manual_seed(0)
    across = PretrainTask(prepared.model, config.optim, config.pretrain.model_copy(update={"negatives": "batch"}))
    assert not torch.isclose(within, across.losses(batch)["contrastive"])
    pretrained = pretrain(
        config.model_copy(update={"optim": config.optim.model_copy(update={"limit_train_batches": 2})})
    )
    assert pretrained is not None


def test_pretraining_stride_cuts_denser_training_windows_only(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.data.sample_builder import WindowedDataset

    config = tiny_config(small_plant, tmp_path, **{"pretrain.stride": "PT3H"})  # the data's stride is 6 h
    dense = prepare(config, "pretrained")
    assert dense.spec == config.data.window  # what the bundle stores, and fine-tuning from it cuts
    assert dense.train.spec.stride.total_seconds() == 3 * 3600
    assert dense.val is not None and dense.val.spec == config.data.window
    plain = WindowedDataset(dense.dataset, dense.spec, vocab=dense.train.vocab, split=dense.splits["train"])
    assert 1.8 * len(plain) < len(dense.train) <= 2 * len(plain)
    assert len(prepare(config).train) == len(plain)  # fine-tuning ignores pretrain.stride
    with pytest.raises(ConfigError, match=r"pretrain\.stride .*whole multiples of telemetry\.step"):
        prepare(tiny_config(small_plant, tmp_path, **{"pretrain.stride": "PT20M"}), "pretrained")
    with pytest.raises(ConfigError, match=r"field 'pretrain\.stride': .*must be positive"):
        tiny_config(small_plant, tmp_path, **{"pretrain.stride": "-PT1H"})


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


def test_a_label_fraction_trains_on_the_labelled_windows_only(small_plant: Path, tmp_path: Path) -> None:
    prepared = prepare(tiny_config(small_plant, tmp_path))
    module = WindowDataModule(
        prepared.train, None, prepared.preprocessor, batch_size=8, seed=0, label_fraction=0.1
    )  # fmt: skip
    loader = module.train_dataloader()
    seen = [loader.dataset[position] for batch in loader.batch_sampler for position in batch]
    assert sorted(seen) == np.flatnonzero(labelled_mask(prepared.train, 0.1, seed=0)).tolist()
    everything = WindowDataModule(prepared.train, None, prepared.preprocessor, batch_size=8, seed=0)
    assert len(everything.train_dataloader().dataset) == len(prepared.train)


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


def test_chinese_plant_trains_with_a_domain_text_encoder(tmp_path: Path) -> None:
    """Chinese logs and work orders: the tokenizer is trained on the plant's own text and ships in the bundle."""
    from omnimaint.models.text_embedding import DomainTokenizer
    from omnimaint.sim import PlantConfig, simulate

    plant = tmp_path / "plant-zh"
    simulate(PlantConfig(n_assets=3, days=12, seed=2, lang="zh", fault_rate_scale=4.0, workers=1), plant)
    config = tiny_config(plant, tmp_path / "run", **{"model.text.name": "domain", "model.text.vocab_size": 300})
    bundle_path = train(config.model_copy(update={"optim": config.optim.model_copy(update={"limit_train_batches": 1})}))
    assert bundle_path is not None
    bundle = Bundle.load(bundle_path)
    assert bundle.preprocessor.text.name == "domain" and bundle.preprocessor.domain_tokenizer is not None
    tokenizer = DomainTokenizer(bundle.preprocessor.domain_tokenizer, bundle.preprocessor.text.max_tokens)
    pieces = tokenizer.tokens("轴承异响")
    assert pieces and all(piece != "[UNK]" for piece in pieces)


def test_encoder_learning_rate_scale_applies_to_fine_tuning_only(small_plant: Path, tmp_path: Path) -> None:
    from omnimaint.training.tasks import FineTuneTask, PretrainTask

    config = tiny_config(small_plant, tmp_path, **{"optim.lr": 0.01})
    model = prepare(config).model
    encoders = {id(p) for p in model.encoders.parameters()}
    optimizer = FineTuneTask(model, config.optim, encoder_lr_scale=0.1).configure_optimizers()["optimizer"]
    (slow, slow_ids), (fast, fast_ids) = sorted(
        (group["lr"], {id(p) for p in group["params"]}) for group in optimizer.param_groups
    )
    assert (slow, fast) == (pytest.approx(0.001), pytest.approx(0.01))
    assert slow_ids == encoders and fast_ids and fast_ids.isdisjoint(encoders)
    pretraining = PretrainTask(model, config.optim, config.pretrain).configure_optimizers()["optimizer"]
    assert [group["lr"] for group in pretraining.param_groups] == [0.01]


def test_a_labelled_sensor_csv_trains_without_window_settings_and_finds_failures(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from omnimaint.notes import NOTE
    from tests.unit.data.sensor import SMALL_MODEL, write_sensor_dataset

    caplog.set_level(NOTE)  # the proposal is a note: captured whatever logging earlier tests configured
    # One machine, one reading a minute for four days, two failures: the default window (24 h lookback,
    # 72 h horizon, asset split) finds no validation asset and no window whose label is known.
    dataset = write_sensor_dataset(tmp_path / "csv", assets=1, days=4, failures_at_hours=(36, 72))
    config = load_config(None, {**SMALL_MODEL, "data.dataset": str(dataset.path), "out": str(tmp_path / "run")})
    prepared = prepare(config)
    assert prepared.data is not None and prepared.data.split == "time"
    assert prepared.spec != config.data.window and prepared.spec.enabled == ("telemetry",)
    assert "no window durations configured; proposed from the data: telemetry lookback" in caplog.text
    for windows in (prepared.train, prepared.val):
        assert windows is not None
        positive = (windows.labels.failure_within > 0) & (windows.labels.failure_within_known > 0)
        assert positive.any() and (~positive & (windows.labels.failure_within_known > 0)).any()
    bundle = train(config)
    assert bundle is not None
    loaded = Bundle.load(bundle)
    assert loaded.window == prepared.spec
    assert loaded.metrics["data"]["split"] == "time" and loaded.metrics["data"]["splits"]["val"]["start"]
    assert loaded.thresholds.failure_probability != (0.5, 0.5)  # calibrated on validation windows


def test_fine_tuning_keeps_the_split_strategy_of_its_pretraining(tmp_path: Path) -> None:
    from tests.unit.data.sensor import SMALL_MODEL, write_sensor_dataset

    dataset = write_sensor_dataset(tmp_path / "csv", assets=1, days=4, failures_at_hours=(36, 72))
    settings = {**SMALL_MODEL, "data.dataset": str(dataset.path)}
    assert pretrain(load_config(None, {**settings, "out": str(tmp_path / "pre")})) is not None
    fine = prepare(load_config(None, {**settings, "out": str(tmp_path / "ft"), "init_from": str(tmp_path / "pre")}))
    assert fine.data is not None and fine.data.split == "time"  # not the configured default, asset
    assert fine.spec == Bundle.load(tmp_path / "pre" / "bundle").window


def test_training_windows_without_a_failure_warn_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.unit.data.sensor import SMALL_MODEL, write_sensor_dataset

    dataset = write_sensor_dataset(tmp_path / "csv", assets=3, days=4)
    prepare(load_config(None, {**SMALL_MODEL, "data.dataset": str(dataset.path), "out": str(tmp_path / "run")}))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("training windows is followed by a failure" in m and "learn only 'no failure'" in m for m in warnings)
    assert any("validation windows is followed by a failure" in m for m in warnings)


def test_explicit_window_settings_without_training_windows_name_the_setting(tmp_path: Path) -> None:
    from tests.unit.data.sensor import SMALL_MODEL, write_sensor_dataset

    dataset = write_sensor_dataset(tmp_path / "csv", assets=3, days=4, failures_at_hours=(36,))
    settings = {**SMALL_MODEL, "data.dataset": str(dataset.path), "out": str(tmp_path / "run")}
    with pytest.raises(ConfigError, match=r"no training windows: .*data\.window\.telemetry\.lookback, 30 d"):
        prepare(load_config(None, {**settings, "data.window.telemetry.lookback": "P30D"}))


def test_the_anomaly_head_without_healthy_training_windows_is_fitted_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.unit.data.sensor import SMALL_MODEL, write_sensor_dataset

    # A failure every 12 hours: with a 7-day "degrading" reach no window is known to be healthy.
    dataset = write_sensor_dataset(tmp_path / "csv", assets=3, days=3, failures_at_hours=(12, 24, 36, 48, 60))
    settings = {**SMALL_MODEL, "data.dataset": str(dataset.path), "out": str(tmp_path / "run")}
    assert train(load_config(None, {**settings, "data.window.stride": "PT1H"})) is not None
    assert "training windows are known to be healthy" in caplog.text
