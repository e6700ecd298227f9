"""Model commands: ``pretrain``, ``train``, ``evaluate``, ``export``, ``demo``, ``experiment``, ``probe``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer
import yaml
from rich.table import Table
from rich.text import Text

from omnimaint.cli.app import BundleArg, DatasetArg
from omnimaint.cli.output import console, print_metrics, print_table, reports_errors
from omnimaint.errors import ConfigError

commands = typer.Typer()

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML training config.")]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Run folder (checkpoints, logs, bundle/).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Any config field as dotted.path=value (repeatable), e.g. --set optim.lr=1e-3."),
]
EpochsOption = Annotated[int | None, typer.Option("--epochs", help="Maximum epochs.")]
BatchOption = Annotated[int | None, typer.Option("--batch-size", help="Global batch size.")]
LrOption = Annotated[float | None, typer.Option("--lr", help="Learning rate.")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Seed of everything.")]
DevicesOption = Annotated[int | None, typer.Option("--devices", help="Processes/accelerators (data parallel).")]
StrategyOption = Annotated[str | None, typer.Option("--strategy", help="Lightning strategy: auto, ddp, ddp_spawn.")]
AcceleratorOption = Annotated[
    str | None, typer.Option("--accelerator", help="cpu, gpu (CUDA or Apple MPS), cuda, mps or auto.")
]
InitOption = Annotated[Path | None, typer.Option("--init-from", help="Pretraining run (or bundle) to start from.")]
ResumeOption = Annotated[
    Path | None, typer.Option("--resume", help="Lightning checkpoint (.ckpt in the run's checkpoints/) to resume.")
]
LabelsOption = Annotated[float | None, typer.Option("--label-fraction", help="Share of training labels used.")]
SplitOption = Annotated[str | None, typer.Option("--split", help="Split strategy: asset, time, asset_time.")]
FusionOption = Annotated[str | None, typer.Option("--fusion", help="cross_attention or late.")]
ModalitiesOption = Annotated[
    str | None, typer.Option("--modalities", help="Comma-separated modalities to use (default: all in the config).")
]
TextOption = Annotated[str | None, typer.Option("--text-encoder", help="pretrained (MiniLM) or domain.")]
LimitOption = Annotated[int | None, typer.Option("--limit-batches", help="Cap on training batches per epoch.")]
WorkersOption = Annotated[int | None, typer.Option("--workers", help="Data-loader worker processes.")]
ProgressOption = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
PublicKeyOption = Annotated[
    Path | None, typer.Option("--public-key", help="Require the bundle's signature by this key (NAME.pub).")
]
ProtocolOption = Annotated[
    str | None,
    typer.Option(
        "--protocol",
        help="A benchmark protocol that scores bundles (azure-pdm): train on its training and validation "
        "anchors, with its config (src/omnimaint/configs/PROTOCOL.yaml) unless --config is given.",
        show_default=False,
    ),
]
ProtocolSubsetOption = Annotated[
    str | None,
    typer.Option(
        "--subset",
        help="With --protocol, its subset (C-MAPSS FD002; the training load of cwru-cross-load, 1HP); default: the "
        "dataset's first.",
        show_default=False,
    ),
]
RunOverwriteOption = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace a run of this command at --out (without it, such a run is continued only by --resume).",
    ),
]


def _parse_sets(values: list[str] | None) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for item in values or []:
        if "=" not in item:
            raise ConfigError(f"--set expects dotted.path=value, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            parsed[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "cannot be parsed"
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({problem}); quote it") from None
    return parsed


def build_config(config: Path | None, overrides: dict[str, Any], modalities: str | None) -> Any:
    """Load the YAML config, apply flags, and switch off the modalities not asked for."""
    from omnimaint.data.windows import MODALITIES
    from omnimaint.training.config import load_config

    loaded = load_config(config, overrides)
    if modalities is None:
        return loaded
    wanted = [m.strip() for m in modalities.split(",") if m.strip()]
    unknown = [m for m in wanted if m not in MODALITIES]
    if unknown or not wanted:
        raise ConfigError(f"--modalities: unknown {unknown or 'empty list'}; choose from {list(MODALITIES)}")
    window = loaded.data.window.without(*[m for m in MODALITIES if m not in wanted])  # type: ignore[arg-type]
    return loaded.model_copy(update={"data": loaded.data.model_copy(update={"window": window})})


def _training_config(
    dataset: Path,
    out: Path,
    config: Path | None,
    sets: list[str] | None,
    modalities: str | None,
    **flags: Any,
) -> Any:
    names = {
        "epochs": "optim.max_epochs",
        "batch_size": "optim.batch_size",
        "lr": "optim.lr",
        "seed": "seed",
        "devices": "devices",
        "strategy": "strategy",
        "accelerator": "accelerator",
        "init_from": "init_from",
        "resume": "resume",
        "label_fraction": "data.label_fraction",
        "split": "data.split",
        "fusion": "model.fusion.name",
        "text_encoder": "model.text.name",
        "limit_batches": "optim.limit_train_batches",
        "workers": "num_workers",
        "progress": "progress",
    }
    overrides = {"data.dataset": str(dataset), "out": str(out)}
    overrides |= {names[k]: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
    overrides |= _parse_sets(sets)
    return build_config(config, overrides, modalities)


@commands.command()
@reports_errors
def pretrain(
    dataset: DatasetArg,
    out: OutOption,
    config: ConfigOption = None,
    epochs: EpochsOption = None,
    batch_size: BatchOption = None,
    lr: LrOption = None,
    seed: SeedOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    accelerator: AcceleratorOption = None,
    resume: ResumeOption = None,
    split: SplitOption = None,
    modalities: ModalitiesOption = None,
    text_encoder: TextOption = None,
    limit_batches: LimitOption = None,
    workers: WorkersOption = None,
    progress: ProgressOption = True,
    set_: SetOption = None,
    overwrite: RunOverwriteOption = False,
) -> None:
    """Self-supervised pretraining (cross-modal contrastive + masked telemetry reconstruction), no labels."""
    from omnimaint.training.run import pretrain as run_pretrain

    settings = _training_config(
        dataset, out, config, set_, modalities,
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, devices=devices, strategy=strategy,
        accelerator=accelerator, resume=resume, split=split, text_encoder=text_encoder,
        limit_batches=limit_batches, workers=workers, progress=progress,
    )  # fmt: skip
    bundle = run_pretrain(settings, overwrite=overwrite)
    if bundle is not None:
        console.print(Text.assemble(("pretrained", "green"), f" bundle at {bundle}"))


@commands.command()
@reports_errors
def train(
    dataset: DatasetArg,
    out: OutOption,
    config: ConfigOption = None,
    epochs: EpochsOption = None,
    batch_size: BatchOption = None,
    lr: LrOption = None,
    seed: SeedOption = None,
    devices: DevicesOption = None,
    strategy: StrategyOption = None,
    accelerator: AcceleratorOption = None,
    init_from: InitOption = None,
    resume: ResumeOption = None,
    label_fraction: LabelsOption = None,
    split: SplitOption = None,
    fusion: FusionOption = None,
    modalities: ModalitiesOption = None,
    text_encoder: TextOption = None,
    limit_batches: LimitOption = None,
    workers: WorkersOption = None,
    progress: ProgressOption = True,
    set_: SetOption = None,
    overwrite: RunOverwriteOption = False,
    protocol: ProtocolOption = None,
    subset: ProtocolSubsetOption = None,
) -> None:
    """Multi-task fine-tuning (optionally from a pretraining run); writes a calibrated bundle."""
    from omnimaint.training.run import train as run_train

    if protocol is not None:
        from omnimaint.training.methods import protocol_config

        _bundle_protocol(protocol)  # refuse a protocol that does not score bundles before anything else
        if split is not None:
            raise ConfigError(f"--split: protocol {protocol!r} decides the split; drop one of the two")
        config = config or protocol_config(protocol)
    settings = _training_config(
        dataset, out, config, set_, modalities,
        epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, devices=devices, strategy=strategy,
        accelerator=accelerator, init_from=init_from, resume=resume, label_fraction=label_fraction,
        split=split, fusion=fusion, text_encoder=text_encoder, limit_batches=limit_batches,
        workers=workers, progress=progress,
    )  # fmt: skip
    if subset is not None and protocol is None:
        raise ConfigError("--subset names a subset of a protocol: give --protocol too")
    inputs = _protocol_parts(protocol, dataset, settings.seed, subset) if protocol is not None else None
    bundle = run_train(settings, overwrite=overwrite, inputs=inputs)
    if bundle is not None:
        console.print(Text.assemble(("trained", "green"), f" bundle at {bundle}"))


def _bundle_protocol(protocol: str) -> Any:
    """A registered protocol that scores bundles.

    Raises:
        ProtocolError: for an unknown protocol, or one that does not score bundles yet.
    """
    from omnimaint.evaluation.protocols import ProtocolError, get_protocol

    spec = get_protocol(protocol)
    if spec.bundle_inputs is None or spec.score_bundle is None:
        raise ProtocolError(f"protocol {protocol!r} does not score bundles yet; it runs with omnimaint bench")
    return spec


def _protocol_parts(protocol: str, dataset: Path, seed: int, subset: str | None) -> Any:
    """The train/val/test samples of a protocol that scores bundles (of one subset, for a protocol with some)."""
    from omnimaint.data.dataset import Dataset

    opened = Dataset(dataset)
    return _bundle_protocol(protocol).bundle_inputs(opened, seed, **_subset_keyword(opened, protocol, subset))


def _subset_keyword(dataset: Any, protocol: str, subset: str | None) -> dict[str, str]:
    """``subset=`` for a protocol with subsets: the dataset's name of the one asked for, or its first (said on
    the console); nothing for a protocol without.

    Raises:
        ProtocolError: for a subset of a protocol without subsets, or one the dataset does not hold.
    """
    from omnimaint.evaluation.protocols import ProtocolError, get_protocol
    from omnimaint.evaluation.protocols.base import check_subset, choose_subset

    check_subset(protocol, subset)
    lister = get_protocol(protocol).subsets
    if lister is None:
        return {}
    if subset is not None:
        return {"subset": choose_subset(dataset, protocol, subset)}
    available = lister(dataset)
    if not available:
        raise ProtocolError(f"{dataset.path}: protocol {protocol!r} finds no subset in this dataset")
    if len(available) > 1:
        console.print(f"subset {available[0]}, the dataset's first of {', '.join(available)} (--subset picks another)")
    return {"subset": available[0]}


@commands.command()
@reports_errors
def evaluate(
    bundle: BundleArg,
    dataset: DatasetArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Where metrics.json and report.html go.")] = Path(
        "evaluation"
    ),
    split: Annotated[str, typer.Option(help="test, val, train (the bundle's own split) or all.")] = "test",
    backend: Annotated[str, typer.Option(help="torch, onnx or onnx-int8 (after omnimaint export).")] = "torch",
    ablation: Annotated[bool, typer.Option("--ablation/--no-ablation", help="Mask each modality in turn.")] = True,
    progress: ProgressOption = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an evaluation folder at --out (never anything else).")
    ] = False,
    public_key: PublicKeyOption = None,
    protocol: Annotated[
        str | None,
        typer.Option(
            "--protocol",
            help="Score the bundle as a benchmark protocol does (azure-pdm: its test period, thresholds from its "
            "validation slice); writes the protocol's metrics.json.",
            show_default=False,
        ),
    ] = None,
    subset: ProtocolSubsetOption = None,
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt",
            help="With --protocol cwru-cross-load: before each test load is scored, re-estimate the bundle's input "
            "standardisers on that load's samples, without their labels (a machine under a new load).",
        ),
    ] = False,
    cards: Annotated[
        bool,
        typer.Option(
            "--cards/--no-cards",
            help="Write a diagnosis card (cards/ASSET-TIME.html) at the first warning before each detected failure, "
            "linked from report.html (about 1 s per failure).",
        ),
    ] = True,
) -> None:
    """Measure every head, early warning and modality ablations; write metrics.json, report.html and a diagnosis
    card for each detected failure."""
    from omnimaint.atomic import EVALUATION, check_target, staged_folder
    from omnimaint.cli.diagnose import evaluation_cards
    from omnimaint.evaluation.model_eval import SplitName, evaluate_bundle
    from omnimaint.evaluation.report import write_report
    from omnimaint.inference.predictor import Backend

    if split not in ("train", "val", "test", "all"):
        raise ConfigError(f"--split must be train, val, test or all, not {split!r}")
    if backend not in ("torch", "onnx", "onnx-int8"):
        raise ConfigError(f"--backend must be torch, onnx or onnx-int8, not {backend!r}")
    check_target(out, EVALUATION, overwrite=overwrite)  # before minutes of evaluation
    if protocol is not None:
        _evaluate_on_protocol(
            protocol, subset, adapt, bundle, dataset, out, cast("Backend", backend), public_key, overwrite
        )
        return
    if subset is not None or adapt:
        raise ConfigError(f"{'--subset' if subset is not None else '--adapt'} needs --protocol")
    evaluation = evaluate_bundle(
        bundle,
        dataset,
        split=cast("SplitName", split),
        ablation=ablation,
        backend=cast("Backend", backend),
        progress=progress,
        public_key=public_key,
    )
    with staged_folder(out, EVALUATION, overwrite=overwrite) as folder:  # appears whole, or not at all
        links = evaluation_cards(evaluation, bundle, dataset, folder, backend, public_key, progress) if cards else {}
        written = write_report(evaluation, folder, f"{bundle} on {dataset} ({split})", cards=links)
    metrics_path, report_path = (out / path.relative_to(folder) for path in written)
    _print_summary(evaluation.metrics, f"evaluation ({split} split)")
    console.print(f"wrote {metrics_path} and {report_path}")


def _evaluate_on_protocol(
    protocol: str,
    subset: str | None,
    adapt: bool,
    bundle: Path,
    dataset: Path,
    out: Path,
    backend: Any,
    public_key: Path | None,
    overwrite: bool,
) -> None:
    """``evaluate --protocol``: the protocol's own scoring of the bundle (with ``adapt``, adapted to each of its
    test conditions), into ``out/metrics.json``."""
    import json

    from omnimaint.atomic import EVALUATION, staged_folder
    from omnimaint.data.dataset import Dataset
    from omnimaint.evaluation.bench import json_safe
    from omnimaint.evaluation.protocols import get_protocol, list_protocols
    from omnimaint.inference.predictor import Predictor

    spec = _bundle_protocol(protocol)
    if adapt and not spec.adapts:
        adapting = ", ".join(name for name in list_protocols() if get_protocol(name).adapts)
        raise ConfigError(
            f"--adapt: protocol {protocol!r} has no operating conditions to adapt to (these do: {adapting})"
        )
    opened = Dataset(dataset)
    on: dict[str, Any] = _subset_keyword(opened, protocol, subset)
    predictor = Predictor.from_bundle(bundle, backend, public_key=public_key)
    result = spec.score_bundle(opened, predictor, 0, **on, **({"adapt": True} if adapt else {}))
    record = {"protocol": protocol, **on, "bundle": str(bundle), "dataset": str(dataset), "backend": backend}
    record |= {"metrics": result.metrics, "details": result.details, "notes": list(result.notes)}
    with staged_folder(out, EVALUATION, overwrite=overwrite) as folder:
        (folder / "metrics.json").write_text(json.dumps(json_safe(record), indent=2, ensure_ascii=False) + "\n")
    print_metrics(result.metrics, f"{protocol} · {backend}")
    for note in result.notes:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {out / 'metrics.json'}", markup=False, highlight=False, soft_wrap=True)


def _print_summary(metrics: dict[str, Any], title: str) -> None:
    """The headline figures of an evaluation as a table (undefined ones with their reason)."""
    from omnimaint.evaluation.report import summary_rows

    table = Table("metric", "value", title=title)
    for row in summary_rows(metrics):
        table.add_row(Text(row.name), Text(row.text))
    print_table(table)


@commands.command()
@reports_errors
def export(
    bundle: BundleArg,
    format_: Annotated[str, typer.Option("--format", help="Export format (onnx).")] = "onnx",
    int8: Annotated[bool, typer.Option("--int8", help="Also write a dynamically quantised int8 model.")] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset (14 to 20).")] = 17,
) -> None:
    """Export the bundle's model to ONNX (checked against PyTorch) and add it to the bundle; a bundle that
    fails verification is refused, never re-hashed."""
    from omnimaint.inference.export import export_bundle

    if format_ != "onnx":
        raise ConfigError(f"--format {format_!r} is not supported; use onnx")
    path, report = export_bundle(bundle, int8=int8, opset=opset)
    console.print(
        Text.assemble(("exported", "green"), f" {path} (largest difference from PyTorch: {report.worst:.2e})")
    )


@commands.command()
@reports_errors
def adapt(
    bundle: BundleArg,
    dataset: DatasetArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the adapted bundle.", show_default=False)],
    asset: Annotated[
        list[str] | None,
        typer.Option("--asset", "-a", help="An asset whose windows it adapts to (repeat; default: every asset)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Earliest window, ISO-8601 (UTC when no offset is given).", show_default=False)
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Latest window, ISO-8601 (UTC when no offset is given).", show_default=False)
    ] = None,
    stride: Annotated[
        str | None,
        typer.Option(
            help="Spacing of the windows adapted to (e.g. 10min, 200ms); default: the bundle's stride.",
            show_default=False,
        ),
    ] = None,
    progress: ProgressOption = True,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a bundle at --out (never anything else).")
    ] = False,
    public_key: PublicKeyOption = None,
) -> None:
    """Adapt a bundle to a new operating condition from its data, without labels: the input standardisers take
    the statistics of the chosen windows (their machines' usual mix of states), nothing else changes; writes a
    new bundle (export it again for ONNX)."""
    import pandas as pd

    from omnimaint.atomic import BUNDLE, check_target
    from omnimaint.data.dataset import Dataset
    from omnimaint.data.splits import Split
    from omnimaint.diagnosis.baseline import parse_time
    from omnimaint.inference.adaptation import adapt_bundle, save_adapted
    from omnimaint.inference.predictor import Predictor

    check_target(out, BUNDLE, overwrite=overwrite)
    start = parse_time(since, "--since") if since is not None else None
    end = parse_time(until, "--until") if until is not None else None
    predictor = Predictor.from_bundle(bundle, public_key=public_key)
    chosen = Split("adaptation", frozenset(asset) if asset else None, start, end)
    try:
        spacing = pd.Timedelta(stride).to_pytimedelta() if stride is not None else None
    except ValueError as exc:
        raise ConfigError(f"--stride {stride!r}: not a duration; give e.g. 10min or 200ms") from exc
    if spacing is not None and spacing.total_seconds() <= 0:
        raise ConfigError(f"--stride {stride!r}: must be positive")
    windows = predictor.windows(Dataset(dataset), split=chosen, stride=spacing)
    adapted = adapt_bundle(predictor.bundle, windows, preprocessor=predictor.preprocessor, progress=progress)
    save_adapted(adapted, out, overwrite=overwrite)
    console.print(
        Text.assemble(
            ("adapted", "green"),
            f" {bundle} to {len(windows)} windows of {dataset}: wrote {out} (omnimaint export {out} for ONNX)",
        )
    )


@commands.command()
@reports_errors
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the plant, runs and report.")] = Path(
        "demo-output"
    ),
    assets: Annotated[int, typer.Option(help="Simulated machines.")] = 12,
    days: Annotated[float, typer.Option(help="Simulated days.")] = 45,
    seed: Annotated[int, typer.Option(help="Seed of the plant and of training.")] = 0,
    lang: Annotated[str, typer.Option(help="Language of logs and work orders: en or zh.")] = "en",
    progress: ProgressOption = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an earlier demo at --out.")] = False,
    serve: Annotated[
        bool,
        typer.Option(help="End by serving the bundle on localhost with the plant replayed into it (Ctrl-C stops)."),
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the demo service.")] = 8000,
    speed: Annotated[float, typer.Option(help="Replay speed of the demo service (data time per wall time).")] = 3600.0,
) -> None:
    """The main job on the built-in simulated plant: simulate → pretrain → train → evaluate, with a metrics table;
    then the monitoring service on the bundle, the plant replayed into it, alarms printed as they are raised."""
    from omnimaint.data.dataset import Dataset
    from omnimaint.data.inspection import summarize
    from omnimaint.demo import DemoSettings, run_demo
    from omnimaint.sim.config import Language

    if lang not in ("en", "zh"):
        raise ConfigError(f"--lang must be 'en' or 'zh', got {lang!r}")
    settings = DemoSettings(assets=assets, days=days, seed=seed, lang=cast("Language", lang))
    result = run_demo(out, settings, overwrite=overwrite, progress=progress)
    summary = summarize(Dataset(result.dataset))
    console.print(
        f"plant: {len(summary.assets)} assets, {summary.rows['telemetry']:,} telemetry rows, "
        f"{summary.rows['waveforms']:,} bursts, {summary.rows['frames']:,} frames, {summary.rows['events']:,} events, "
        f"{summary.rows['maintenance']:,} work orders, {summary.rows['failures']} failures"
    )
    _print_summary(result.evaluation.metrics, "held-out assets (test split)")
    console.print(f"bundle: {result.bundle}\nreport: {result.report}")
    if serve:
        from omnimaint.service.live_demo import serve_demo

        serve_demo(
            result.bundle,
            result.dataset,
            out / "service",
            port=port,
            speed=speed,
            say=lambda line: console.print(line, markup=False, highlight=False),
        )


@commands.command()
@reports_errors
def probe(
    dataset: DatasetArg,
    out: OutOption,
    config: ConfigOption = None,
    init_from: InitOption = None,
    seed: SeedOption = None,
    fraction: Annotated[float, typer.Option(help="Share of (asset, day) label blocks of each low-label draw.")] = 0.1,
    draws: Annotated[int, typer.Option(help="Seeded low-label draws.")] = 10,
    progress: ProgressOption = True,
    set_: SetOption = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a linear-probe folder at --out.")] = False,
) -> None:
    """Linear probe of the encoders (a pretraining run, or fresh weights): validation failure AUROC of a
    logistic regression on their pooled outputs; writes OUT/probe.json."""
    from omnimaint.atomic import PROBE, check_target
    from omnimaint.training.probe import linear_probe, write_probe

    settings = _training_config(
        dataset, out, config, set_, None, init_from=init_from, seed=seed, progress=progress
    )  # fmt: skip
    check_target(out, PROBE, overwrite=overwrite)  # before minutes of probing
    result = linear_probe(settings, fraction, draws)
    write_probe(result, out, overwrite=overwrite)
    per_modality = ", ".join(f"{m} {v:.3f}" for m, v in result.modalities.items())
    console.print(f"failure AUROC (validation), all training labels: {result.all_labels:.3f}")
    console.print(
        f"  {result.fraction:.0%} of the label blocks: {result.few_labels:.3f} ± {result.few_labels_sd:.3f}"
        f" over {result.draws} draws"
    )
    console.print(f"  per modality, all labels: {per_modality}")


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(","))
    except ValueError:
        raise ConfigError(f"seeds must be comma-separated integers, got {text!r}") from None


@commands.command()
@reports_errors
def experiment(
    name: Annotated[str, typer.Argument(help="ablation (modalities) or label-efficiency (pretraining).")],
    dataset: DatasetArg,
    out: OutOption,
    config: ConfigOption = None,
    epochs: EpochsOption = None,
    fraction: Annotated[float, typer.Option(help="label-efficiency: share of training labels used.")] = 0.1,
    seeds: Annotated[str, typer.Option(help="label-efficiency: comma-separated seeds.")] = "0,1,2",
    split_seeds: Annotated[
        str | None, typer.Option(help="Comma-separated asset-split seeds to repeat over (default: the config's).")
    ] = None,
    finetune_epochs: Annotated[
        int | None, typer.Option(help="label-efficiency: fine-tuning epochs (over the labelled windows only).")
    ] = None,
    progress: ProgressOption = False,
    set_: SetOption = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Start afresh instead of reusing the finished runs at --out.")
    ] = False,
) -> None:
    """Run an experiment behind the model's claims and write results.md (a table) and results.json."""
    from omnimaint.training.experiments import label_efficiency, modality_ablation

    settings = _training_config(dataset, out, config, set_, None, epochs=epochs, progress=progress)
    splits = _seeds(split_seeds) if split_seeds is not None else None
    if name == "ablation":
        modality_ablation(settings, out, splits, overwrite=overwrite)
    elif name == "label-efficiency":
        label_efficiency(settings, out, fraction, _seeds(seeds), finetune_epochs, splits, overwrite=overwrite)
    else:
        raise ConfigError(f"unknown experiment {name!r}; choose ablation or label-efficiency")
    console.print((out / "results.md").read_text())
