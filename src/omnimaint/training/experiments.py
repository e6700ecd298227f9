"""The experiments behind the model's claims, each a sequence of ordinary train/evaluate calls.

- :func:`modality_ablation`: the fused model against one model per single modality and one per
  left-out modality (trained without it), and the fused model with each modality masked at inference;
  all on the held-out assets of one split, or repeated over several seeded asset splits.
- :func:`label_efficiency`: fine-tuning from self-supervised pretraining against fine-tuning from
  scratch, with a fraction of the training labels, over several seeds (and optionally asset splits).

Both write ``results.json`` and ``results.md`` (a markdown table) into their output folder, which is
marked as that experiment's (:mod:`omnimaint.atomic`): any other folder is refused. Each run keeps its
scores in ``scores.json`` in its own folder; a rerun into the same folder reuses them, so an interrupted
experiment resumes where it stopped instead of retraining hours of finished runs (a run killed before it
was scored is started again; ``overwrite`` starts the whole experiment afresh).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from omnimaint.atomic import ABLATION, LABEL_EFFICIENCY, PRETRAINING_RUN, TRAINING_RUN, claim_folder, discard
from omnimaint.evaluation.model_eval import evaluate_bundle
from omnimaint.training.config import OptimConfig, TrainConfig
from omnimaint.training.run import BUNDLE_DIR, pretrain, train

logger = logging.getLogger(__name__)

SCORES = "scores.json"


def _score(metrics: dict[str, Any]) -> dict[str, float | None]:
    longest = list(metrics["failure_within"])[-1]
    fault = metrics.get("fault_type", {})
    return {
        "failure_auroc": metrics["failure_within"][longest]["auroc"],
        "failure_ap": metrics["failure_within"][longest]["average_precision"],
        "fault_macro_f1": fault.get("macro_f1_before_failure"),
        "fault_macro_f1_all": fault.get("macro_f1"),
    }


def _with(config: TrainConfig, out: Path, **update: Any) -> TrainConfig:
    data = config.data.model_copy(update=update.pop("data", {}))
    return config.model_copy(update={"out": out, "data": data, **update})


def _once(folder: Path, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The scores of one run: read from ``folder/scores.json`` when a finished run left them, else ``run()``."""
    path = folder / SCORES
    if path.is_file():
        logger.info("%s: reusing the finished run's scores", folder)
        return dict(json.loads(path.read_text(encoding="utf-8")))
    discard(folder, TRAINING_RUN)  # a run killed before it was scored starts again
    scores = dict(run())
    _save(folder, scores)
    return scores


def _save(folder: Path, scores: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SCORES
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _fmt(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def modality_ablation(
    config: TrainConfig, out: Path, split_seeds: tuple[int, ...] | None = None, *, overwrite: bool = False
) -> dict[str, Any]:
    """Train the fused model, every single-modality model and every leave-one-out model; evaluate all on
    the test split; and evaluate the fused model with each modality masked at inference.

    With several ``split_seeds`` the whole comparison is repeated on each seeded split of the assets (runs
    in ``out/split_<seed>/``) and the tables give the mean ± standard deviation over splits, then each
    split's own figures: with a few test assets per split, one split's ranking is mostly luck.

    Args:
        config: The base training config (its window spec lists the modalities to compare).
        out: Folder for the runs and the results.
        split_seeds: Seeds of the asset splits (default: the config's ``data.split_seed``).
        overwrite: Start afresh in ``out`` instead of reusing the runs of an earlier ablation there.
    """
    claim_folder(out, ABLATION, overwrite=overwrite, reuse=True)
    seeds = split_seeds if split_seeds is not None else (config.data.split_seed,)
    splits = {
        seed: _ablation_split(_with(config, config.out, data={"split_seed": seed}), out / f"split_{seed}")
        for seed in seeds
    }
    modalities = config.data.window.enabled
    results: dict[str, Any] = {
        "split_seeds": list(seeds),
        "runs": {name: _mean([split["runs"][name] for split in splits.values()]) for name in splits[seeds[0]]["runs"]},
        "masked_at_inference": {
            m: _mean([split["masked_at_inference"][m] for split in splits.values()]) for m in modalities
        },
        "splits": {str(seed): split for seed, split in splits.items()},
    }
    title = "mean ± sd over asset splits " + ", ".join(map(str, seeds)) if len(seeds) > 1 else f"asset split {seeds[0]}"
    lines = [f"## {title}", "", *_ablation_tables(list(splits.values()), modalities)]
    if len(seeds) > 1:
        for seed, split in splits.items():
            lines += ["", f"## asset split {seed}", "", *_ablation_tables([split], modalities)]
    _write(out, results, lines)
    return results


def _ablation_split(config: TrainConfig, out: Path) -> dict[str, Any]:
    """The fused, single-modality and leave-one-out runs on the asset split of ``config``."""
    modalities = config.data.window.enabled
    runs: dict[str, tuple[str, ...]] = {"fused": ()}
    runs |= {f"only {m}": tuple(o for o in modalities if o != m) for m in modalities}
    runs |= {f"without {m}": (m,) for m in modalities}
    results: dict[str, Any] = {"runs": {}, "masked_at_inference": {}}
    for name, dropped in runs.items():
        folder = out / name.replace(" ", "_")

        def run(name: str = name, folder: Path = folder, dropped: tuple[str, ...] = dropped) -> dict[str, Any]:
            window = config.data.window.without(*dropped)  # type: ignore[arg-type]
            bundle = train(_with(config, folder, data={"window": window}))
            assert bundle is not None
            evaluation = evaluate_bundle(bundle, config.data.dataset, split="test", ablation=name == "fused")
            scores: dict[str, Any] = _score(evaluation.metrics)
            if name == "fused":
                scores["masked_at_inference"] = {
                    modality: {
                        "failure_auroc": ablated["failure_auroc"],
                        "fault_macro_f1": ablated["fault_macro_f1_before_failure"],
                    }
                    for modality, ablated in evaluation.metrics["ablation"].items()
                }
            return scores

        scores = _once(folder, run)
        results["masked_at_inference"] |= scores.pop("masked_at_inference", {})
        results["runs"][name] = scores
        logger.info("split %d, %s: %s", config.data.split_seed, name, scores)
    return results


def _mean(scores: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Key-wise mean of the finite values (``None`` where there are none)."""
    means: dict[str, float | None] = {}
    for key in scores[0]:
        finite = [s[key] for s in scores if s.get(key) is not None and np.isfinite(s[key])]  # type: ignore[arg-type]
        means[key] = float(np.mean(finite)) if finite else None  # type: ignore[arg-type]
    return means


def _cell(values: list[float | None]) -> str:
    """One value as ``0.862``; several as ``mean ± sd`` of the finite ones."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if len(values) == 1 or not finite:
        return _fmt(finite[0] if finite else None)
    return f"{np.mean(finite):.3f} ± {np.std(finite):.3f}"


def _ablation_tables(splits: list[dict[str, Any]], modalities: tuple[str, ...]) -> list[str]:
    """The runs table and the masked-vs-without table over ``splits`` (one split: its plain figures)."""
    lines = [
        "| model | failure AUROC | failure AP | fault macro-F1 (before failure) |",
        "|---|---|---|---|",
    ]
    for name in splits[0]["runs"]:
        cells = [
            _cell([s["runs"][name][key] for s in splits]) for key in ("failure_auroc", "failure_ap", "fault_macro_f1")
        ]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += [
        "",
        "| modality | AUROC, masked at inference | AUROC, trained without "
        "| F1, masked at inference | F1, trained without |",
        "|---|---|---|---|---|",
    ]
    for modality in modalities:
        masked = [s["masked_at_inference"].get(modality, {}) for s in splits]
        without = [s["runs"][f"without {modality}"] for s in splits]
        cells = [
            _cell([m.get("failure_auroc") for m in masked]),
            _cell([w["failure_auroc"] for w in without]),
            _cell([m.get("fault_macro_f1") for m in masked]),
            _cell([w["fault_macro_f1"] for w in without]),
        ]
        lines.append(f"| {modality} | {' | '.join(cells)} |")
    return lines


def label_efficiency(
    config: TrainConfig,
    out: Path,
    fraction: float = 0.1,
    seeds: tuple[int, ...] = (0, 1, 2),
    finetune_epochs: int | None = None,
    split_seeds: tuple[int, ...] | None = None,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fine-tune with ``fraction`` of the training labels, from pretraining and from scratch, per seed.

    Pretraining uses every training window without labels (the same split, so test assets stay unseen).
    Fine-tuning epochs run over the labelled windows only, so they are ``1 / fraction`` times shorter than
    pretraining epochs; ``finetune_epochs`` (default: the config's) lets both starts train longer.

    With ``split_seeds`` the comparison is repeated on each seeded asset split (runs in
    ``out/split_<seed>/``). Both starts of one (split, seed) share the split, the labelled blocks and the
    seed, so the table also gives their paired difference, which varies far less than either start.

    Each run is scored on the split's test machines and on its validation machines (``val_`` keys, and a
    paired row of their own), so that a fine-tuning recipe can be chosen without the test machines.
    ``overwrite`` starts afresh in ``out`` instead of reusing the runs of an earlier experiment there.
    """
    claim_folder(out, LABEL_EFFICIENCY, overwrite=overwrite, reuse=True)
    splits = split_seeds if split_seeds is not None else (config.data.split_seed,)
    results: dict[str, Any] = {
        "fraction": fraction,
        "seeds": list(seeds),
        "split_seeds": list(splits),
        "scratch": [],
        "pretrained": [],
    }
    optim = config.optim.model_copy(update={"max_epochs": finetune_epochs or config.optim.max_epochs})
    for split in splits:
        base = out / f"split_{split}" if split_seeds is not None else out
        split_config = _with(config, config.out, data={"split_seed": split})
        for seed in seeds:
            pretrained = base / f"pretrain_{seed}"
            for name, init in (("scratch", None), ("pretrained", pretrained)):
                folder = base / f"{name}_{seed}"
                run = partial(_label_efficiency_run, split_config, folder, init, seed, fraction, optim)
                scores = _once(folder, run)
                if "val_failure_auroc" not in scores:  # scored before validation figures were kept
                    scores |= _validation_scores(folder / BUNDLE_DIR, config.data.dataset)
                    _save(folder, scores)
                results[name].append({"split_seed": split, "seed": seed, **scores})
                logger.info("split %d, %s seed %d: %s", split, name, seed, scores)
    for name in ("scratch", "pretrained"):
        runs = [{k: v for k, v in r.items() if k not in ("split_seed", "seed")} for r in results[name]]
        results[f"{name}_mean"] = _mean(runs)
    _write(out, results, _label_efficiency_tables(results))
    return results


def _label_efficiency_run(
    config: TrainConfig, folder: Path, init: Path | None, seed: int, fraction: float, optim: OptimConfig
) -> dict[str, Any]:
    """Fine-tune one start (pretraining it first into ``init`` if needed) and score it on the test split."""
    if init is not None and not (init / BUNDLE_DIR).is_dir():  # pretrained once per seed
        discard(init, PRETRAINING_RUN)  # a pretraining run killed before its bundle was written
        assert pretrain(_with(config, init, seed=seed)) is not None
    labelled = {"label_fraction": fraction}
    bundle = train(_with(config, folder, seed=seed, init_from=init, optim=optim, data=labelled))
    assert bundle is not None
    evaluation = evaluate_bundle(bundle, config.data.dataset, split="test", ablation=False)
    return _score(evaluation.metrics) | _validation_scores(bundle, config.data.dataset)


def _validation_scores(bundle: Path, dataset: Path) -> dict[str, float | None]:
    """The scores on the run's validation machines (``val_`` keys), by which fine-tuning recipes may be
    chosen without looking at the test machines."""
    evaluation = evaluate_bundle(bundle, dataset, split="val", ablation=False)
    return {f"val_{key}": value for key, value in _score(evaluation.metrics).items()}


_LABEL_METRICS = (("failure_auroc", "failure AUROC"), ("fault_macro_f1", "fault macro-F1 (before failure)"))


def _label_efficiency_tables(results: dict[str, Any]) -> list[str]:
    """Mean ± sd of each start, their paired difference (on the test machines, then on the validation
    machines), and every (split, seed) pair."""
    runs = len(results["scratch"])
    lines = [
        f"| start | {' | '.join(f'{title}, mean ± sd over {runs} runs' for _, title in _LABEL_METRICS)} |",
        "|---|---|---|",
    ]
    for name in ("scratch", "pretrained"):
        lines.append(f"| {name} | {' | '.join(_cell([r[k] for r in results[name]]) for k, _ in _LABEL_METRICS)} |")
    pairs = list(zip(results["scratch"], results["pretrained"], strict=True))
    lines.append(f"| pretrained − scratch, paired | {_paired(pairs, '')} |")
    lines.append(f"| pretrained − scratch, paired, on the validation machines | {_paired(pairs, 'val_')} |")
    lines += [
        "",
        "| split | seed | AUROC scratch | AUROC pretrained | F1 scratch | F1 pretrained "
        "| validation AUROC scratch | validation AUROC pretrained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = [k for k, _ in _LABEL_METRICS] + ["val_failure_auroc"]
    for s, p in pairs:
        figures = [_fmt(r.get(k)) for k in keys for r in (s, p)]
        lines.append(f"| {s['split_seed']} | {s['seed']} | {' | '.join(figures)} |")
    return lines


def _paired(pairs: list[tuple[dict[str, Any], dict[str, Any]]], prefix: str) -> str:
    """The cells of pretrained − scratch over ``pairs``, per metric (``prefix`` picks the validation keys)."""
    cells = []
    for key in (prefix + k for k, _ in _LABEL_METRICS):
        differences = [p[key] - s[key] for s, p in pairs if s.get(key) is not None and p.get(key) is not None]
        wins = sum(d > 0 for d in differences)
        cells.append(f"{_cell(differences)} (pretrained ahead in {wins} of {len(differences)})")
    return " | ".join(cells)


def _write(out: Path, results: dict[str, Any], lines: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
