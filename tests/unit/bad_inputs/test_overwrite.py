"""Bad inputs of the family "data loss": an output path that holds what omnimaint did not write.

Every command that writes a dataset, run, bundle, evaluation, benchmark record, probe, experiment or demo
refuses, before any work, an ``--out`` holding a user's folder or file, a symbolic link, a damaged or
foreign manifest, or another kind of artefact, and says in one line what is there and what to do; the
user's files stay exactly as they were. ``--overwrite`` replaces only an artefact of the same kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from omnimaint.atomic import DEMO, EVALUATION, MARKER_FILE, PRETRAINING_RUN, TRAINING_RUN, claim_folder, staged_folder
from omnimaint.data import Dataset
from omnimaint.errors import ConfigError
from tests.unit.adapters.source_files import write_azure, write_cmapss
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli
from tests.unit.data.tiny import png_bytes, write_tiny
from tests.unit.training.tiny import tiny_config

# --- what a user may have at --out -------------------------------------------------------------------------


def measurements(root: Path) -> Path:
    """A user's folder of files (the issue's was 31 CSV and YAML files)."""
    folder = root / "measurements"
    (folder / "2024").mkdir(parents=True)
    (folder / "line3.csv").write_text("ts,temp\n2024-01-01T00:00:00Z,41.5\n")
    (folder / "plant.yaml").write_text("line: 3\npumps: [P1, P2]\n")
    (folder / "2024" / "january.csv").write_text("ts,temp\n")
    return folder


def user_file(root: Path) -> Path:
    (root / "corrupt.py").write_text("print('my script')\n")
    return root / "corrupt.py"


def link_to_user_folder(root: Path) -> Path:
    (root / "latest").symlink_to(measurements(root))
    return root / "latest"


def link_to_dataset(root: Path) -> Path:
    (root / "current").symlink_to(write_tiny(root / "plant-2024").path)
    return root / "current"


def bundle_folder(root: Path) -> Path:
    folder = root / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "bundle.json").write_text(json.dumps({"format": "omnimaint-bundle", "version": 1, "files": {}}))
    return folder


def damaged_dataset(root: Path) -> Path:
    folder = write_tiny(root / "plant").path
    (folder / "dataset.json").write_text('{"schema_version": 1, "name": "plant", "tabl')  # hand-edited, cut off
    return folder


def nnunet_dataset(root: Path) -> Path:
    folder = root / "Dataset001_Pump"
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "dataset.json").write_text(json.dumps({"channel_names": {"0": "CT"}, "labels": {"background": 0}}))
    return folder


def inside_a_file(root: Path) -> Path:
    return user_file(root) / "plant"


def evaluation_folder(root: Path) -> Path:
    with staged_folder(root / "evaluation", EVALUATION) as folder:
        (folder / "metrics.json").write_text("{}")
    return root / "evaluation"


def training_run(root: Path) -> Path:
    run = claim_folder(root / "run", TRAINING_RUN)
    (run / "checkpoints").mkdir()
    # What preflight checks of a fine-tuning checkpoint: a weights-only Lightning training state.
    state = {"state_dict": {"fault_weights": torch.ones(2)}, "epoch": 0, "global_step": 4, "loops": {}}
    torch.save(state, run / "checkpoints" / "last.ckpt")
    return run


NOT_A_DATASET: list[tuple[Callable[[Path], Path], tuple[str, ...]]] = [
    (measurements, ("measurements: is a folder of 3 entries without an omnimaint manifest, not a dataset",)),
    (user_file, ("corrupt.py: is a file, not a dataset", "choose another --out")),
    (link_to_user_folder, ("latest: is a symbolic link (to ", "never through a link")),
    (link_to_dataset, ("current: is a symbolic link (to ", "give the folder's own path")),
    (bundle_folder, ("model: is a model bundle, not a dataset",)),
    (damaged_dataset, ("plant: is a folder whose dataset.json is damaged or not omnimaint's, not a dataset",)),
    (nnunet_dataset, ("Dataset001_Pump: is a folder whose dataset.json is damaged or not omnimaint's",)),
    (inside_a_file, ("corrupt.py/plant: cannot be created,", "corrupt.py is a file, not a folder")),
]
_IDS = ["user-folder", "file", "link-to-folder", "link-to-dataset", "bundle", "damaged-manifest", "nnunet", "in-file"]


@pytest.mark.parametrize(("build", "fragments"), NOT_A_DATASET, ids=_IDS)
def test_simulate_overwrite_replaces_only_a_dataset(
    tmp_path: Path, build: Callable[[Path], Path], fragments: tuple[str, ...]
) -> None:
    target = build(tmp_path)
    before = Snapshot.of(tmp_path)
    result = run_cli("simulate", "--out", target, "--overwrite", "--assets", "1", "--days", "1", "--workers", "1")
    assert_refused(result, before, *fragments)


def test_without_overwrite_a_user_folder_is_refused_without_suggesting_it(tmp_path: Path) -> None:
    target = measurements(tmp_path)
    before = Snapshot.of(tmp_path)
    line = assert_refused(
        run_cli("simulate", "--out", target, "--assets", "1", "--days", "1"),
        before,
        "measurements: already exists (a folder of 3 entries without an omnimaint manifest, not a dataset)",
    )
    assert "--overwrite" not in line  # it would be refused too


# --- importers ---------------------------------------------------------------------------------------------


def cwru_source(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for name, record in (("Normal_0", "097"), ("12k_DE/IR007_0", "105")):
        path = root / "cwru" / f"{name}.mat"
        path.parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(path, {f"X{record}_DE_time": rng.normal(0, 0.1, (600, 1))})
    return root / "cwru"


def images_source(root: Path) -> Path:
    for label in ("scratch", "ok"):
        for n in (1, 2):
            path = root / "images" / label / f"{n}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_bytes(n * 40))
    return root / "images"


def maintnet_source(root: Path) -> Path:
    (root / "maintnet").mkdir()
    (root / "maintnet" / "problems_actions.csv").write_text(
        "IDENT,PROBLEM,ACTION\n100001,ENGINE IDLE OVERRIDE KILLED ENGINE.,ADJUSTED IDLE.\n"
    )
    return root / "maintnet"


def generic_source(root: Path) -> Path:
    (root / "generic").mkdir()
    (root / "generic" / "readings.csv").write_text("ts,machine,temp\n2024-07-01T08:00:00Z,P1,40.5\n")
    (root / "generic" / "mapping.yaml").write_text(
        "name: tiny\nsources:\n  - file: readings.csv\n    table: telemetry\n    time: {column: ts}\n"
        "    asset: {column: machine}\n    asset_type: {value: pump}\n    channels:\n      layout: wide\n"
        "      columns:\n        temp: {name: temperature, unit: degC}\n"
    )
    return root / "generic" / "mapping.yaml"


SOURCES: dict[str, Callable[[Path], Path]] = {
    "azure": lambda root: write_azure(root / "azure"),
    "cmapss": lambda root: write_cmapss(root / "cmapss"),
    "cwru": cwru_source,
    "images": images_source,
    "maintnet": maintnet_source,
    "generic": generic_source,
}


@pytest.mark.parametrize("name", SOURCES)
def test_every_importer_refuses_a_user_folder_before_reading_its_source(tmp_path: Path, name: str) -> None:
    source = SOURCES[name](tmp_path)
    target = measurements(tmp_path)
    before = Snapshot.of(tmp_path)
    result = run_cli("import", name, source, "--out", target, "--overwrite")
    assert_refused(result, before, "measurements: is a folder of 3 entries without an omnimaint manifest")


@pytest.mark.parametrize(
    ("name", "build", "fragment"),
    [
        ("maintnet", user_file, "corrupt.py: is a file, not a dataset"),  # the issue's: it became a dataset folder
        ("generic", link_to_user_folder, "latest: is a symbolic link"),
    ],
)
def test_an_importer_refuses_a_file_or_a_link(
    tmp_path: Path, name: str, build: Callable[[Path], Path], fragment: str
) -> None:
    source = SOURCES[name](tmp_path)
    target = build(tmp_path)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("import", name, source, "--out", target, "--overwrite"), before, fragment)


@pytest.mark.parametrize("name", SOURCES)
def test_overwrite_replaces_an_earlier_import(tmp_path: Path, name: str) -> None:
    source = SOURCES[name](tmp_path)
    out = tmp_path / "dataset"
    (tmp_path / ".dataset.partial-1a2b3c4d").mkdir()  # left by an import that an older omnimaint was killed in
    first = run_cli("import", name, source, "--out", out)
    assert first.exit_code == 0, first.output
    second = run_cli("import", name, source, "--out", out, "--overwrite")
    assert second.exit_code == 0, second.output
    Dataset(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dataset")] == []


# --- model commands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "overwrite", "fragments"),
    [
        (measurements, False, ("measurements: already exists (a folder of 3 entries", "not an evaluation folder)")),
        (user_file, True, ("corrupt.py: is a file, not an evaluation folder",)),
        (lambda root: write_tiny(root / "plant").path, True, ("plant: is a dataset, not an evaluation folder",)),
        (evaluation_folder, False, ("evaluation: already exists (an evaluation folder; use --overwrite",)),
    ],
    ids=["user-folder", "file", "dataset", "earlier-evaluation"],
)
def test_evaluate_refuses_before_evaluating(
    tmp_path: Path,
    trained_bundle: Path,
    small_plant: Path,
    build: Callable[[Path], Path],
    overwrite: bool,
    fragments: tuple[str, ...],
) -> None:
    target = build(tmp_path)
    before = Snapshot.of(tmp_path, trained_bundle)
    flags = ["--overwrite"] if overwrite else []
    result = run_cli("evaluate", trained_bundle, small_plant, "--out", target, "--no-progress", *flags)
    assert_refused(result, before, *fragments)


def test_evaluate_overwrite_replaces_an_evaluation_folder(
    tmp_path: Path, trained_bundle: Path, small_plant: Path
) -> None:
    out = evaluation_folder(tmp_path)
    args = ("evaluate", trained_bundle, small_plant, "--out", out, "--no-ablation", "--no-progress")
    result = run_cli(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text()) != {}
    assert (out / MARKER_FILE).is_file() and (out / "report.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation"]


@pytest.mark.parametrize(
    ("command", "build", "flags", "fragments"),
    [
        ("train", measurements, [], ("measurements: already exists (a folder of 3 entries", "not a training run")),
        ("train", measurements, ["--overwrite"], ("measurements: is a folder of 3 entries", "not a training run")),
        ("train", lambda root: root / "tiny", [], ("tiny: already exists (a dataset, not a training run folder)",)),
        ("train", training_run, [], ("run: already exists (a training run folder; use --overwrite", "--resume")),
        ("pretrain", training_run, [], ("run: already exists (a training run folder, not a pretraining run",)),
        ("pretrain", bundle_folder, ["--overwrite"], ("model: is a model bundle, not a pretraining run folder",)),
        ("probe", measurements, [], ("measurements: already exists", "not a linear-probe folder")),
        ("experiment", measurements, [], ("measurements: already exists", "not a modality-ablation experiment")),
    ],
    ids=["train", "train-overwrite", "train-into-dataset", "earlier-run", "other-run", "bundle", "probe", "experiment"],
)
def test_training_commands_refuse_before_reading_data(
    tmp_path: Path, command: str, build: Callable[[Path], Path], flags: list[str], fragments: tuple[str, ...]
) -> None:
    dataset = write_tiny(tmp_path / "tiny").path
    target = build(tmp_path)
    before = Snapshot.of(tmp_path)
    prefix = [command, "ablation"] if command == "experiment" else [command]
    assert_refused(run_cli(*prefix, dataset, "--out", target, "--no-progress", *flags), before, *fragments)


def test_a_resumed_run_replaces_its_bundle_folder_only_if_it_is_a_bundle(tmp_path: Path) -> None:
    from omnimaint.atomic import OutputError
    from omnimaint.training.run import train

    run = training_run(tmp_path)
    (run / "bundle").mkdir()
    (run / "bundle" / "notes.txt").write_text("mine")
    before = Snapshot.of(tmp_path)
    config = tiny_config(tmp_path / "tiny", run, resume=str(run / "checkpoints" / "last.ckpt"))
    with pytest.raises(OutputError, match=r"run/bundle: is a folder of 1 entry .*, not a model bundle"):
        train(config)
    assert before.changes(Snapshot.of(tmp_path)) == []


def test_overwrite_never_deletes_the_checkpoint_it_resumes_from(tmp_path: Path) -> None:
    from omnimaint.training.run import train

    run = training_run(tmp_path)
    before = Snapshot.of(tmp_path)
    config = tiny_config(tmp_path / "tiny", run, resume=str(run / "checkpoints" / "last.ckpt"))
    with pytest.raises(ConfigError, match=r"run: --overwrite would delete --resume .*last\.ckpt, which lies inside it"):
        train(config, overwrite=True)
    assert before.changes(Snapshot.of(tmp_path)) == []


def test_a_run_folder_is_claimed_before_preparation_and_replaced_only_with_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    from omnimaint.atomic import OutputError
    from omnimaint.training import run as run_module

    prepared: list[Path] = []
    monkeypatch.setattr(run_module, "_fit", lambda config, *args: prepared.append(config.out))  # None: no bundle
    config = tiny_config(tmp_path / "tiny", tmp_path / "pre")
    run_module.pretrain(config)
    assert json.loads((tmp_path / "pre" / MARKER_FILE).read_text())["kind"] == PRETRAINING_RUN.name
    stale = tmp_path / "pre" / "checkpoints" / "epoch=0.ckpt"
    stale.parent.mkdir()
    stale.write_bytes(b"from the earlier run")
    with pytest.raises(OutputError, match="already exists"):
        run_module.pretrain(config)
    run_module.pretrain(config, overwrite=True)
    assert [p.name for p in (tmp_path / "pre").iterdir()] == [MARKER_FILE] and len(prepared) == 2
    # The other processes of a data-parallel run leave the folder to rank zero.
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    run_module.pretrain(tiny_config(tmp_path / "tiny", tmp_path / "other"))
    assert not (tmp_path / "other").exists() and len(prepared) == 3


# --- results folders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "build", "fragments"),
    [
        ("bench", measurements, ("measurements: already exists (a folder of 3 entries", "benchmark results")),
        ("bench", evaluation_folder, ("evaluation: already exists (an evaluation folder, not a benchmark results",)),
        ("tune", measurements, ("measurements: already exists", "not a benchmark results folder")),
    ],
    ids=["bench", "bench-into-evaluation", "tune"],
)
def test_results_commands_refuse_a_folder_they_did_not_write(
    tmp_path: Path, command: str, build: Callable[[Path], Path], fragments: tuple[str, ...]
) -> None:
    dataset = write_tiny(tmp_path / "tiny").path
    target = build(tmp_path)
    before = Snapshot.of(tmp_path)
    protocol, method = ("maintenance-text", "bm25") if command == "bench" else ("cmapss", "omnimodel")
    result = run_cli(command, protocol, "--dataset", dataset, "--method", method, "--out", target)
    assert_refused(result, before, *fragments)


def earlier_demo(root: Path) -> Path:
    demo = claim_folder(root / "demo-output", DEMO)
    write_tiny(demo / "plant")
    return demo


@pytest.mark.parametrize(
    ("build", "fragments"),
    [
        (measurements, ("measurements: already exists (a folder of 3 entries", "not a demo folder)")),
        (earlier_demo, ("demo-output: already exists (a demo folder; use --overwrite to replace it)",)),
    ],
    ids=["user-folder", "earlier-demo"],
)
def test_demo_refuses_before_simulating(
    tmp_path: Path, build: Callable[[Path], Path], fragments: tuple[str, ...]
) -> None:
    target = build(tmp_path)
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("demo", "--out", target, "--no-progress"), before, *fragments)


def test_demo_overwrite_replaces_an_earlier_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from omnimaint import demo
    from omnimaint.atomic import OutputError

    def report(evaluation: object, out: Path, title: str, *, lang: str = "en") -> tuple[Path, Path]:
        (out / "metrics.json").write_text("{}")
        (out / "report.html").write_text(f"<h1>{title}</h1>")
        return out / "metrics.json", out / "report.html"

    # The demo's folder handling, with its minutes of simulation, training and evaluation left out.
    monkeypatch.setattr(demo, "simulate", lambda plant, out, progress: write_tiny(out))
    monkeypatch.setattr(demo, "pretrain", lambda config: claim_folder(config.out, PRETRAINING_RUN))
    monkeypatch.setattr(demo, "train", lambda config: claim_folder(config.out, TRAINING_RUN) / "bundle")
    monkeypatch.setattr(demo, "evaluate_bundle", lambda *args, **kwargs: None)
    monkeypatch.setattr(demo, "write_report", report)
    out = tmp_path / "demo-output"
    first = demo.run_demo(out, progress=False)
    assert (first.metrics, first.report) == (out / "evaluation" / "metrics.json", out / "evaluation" / "report.html")
    assert sorted(p.name for p in out.iterdir()) == ["evaluation", MARKER_FILE, "plant", "pretrain", "train"]
    with pytest.raises(OutputError, match=r"demo-output: already exists \(a demo folder; use --overwrite"):
        demo.run_demo(out, progress=False)
    (out / "train" / "checkpoints").mkdir()
    demo.run_demo(out, overwrite=True, progress=False)
    assert not (out / "train" / "checkpoints").exists() and first.report.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-output"]
