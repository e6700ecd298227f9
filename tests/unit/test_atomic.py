"""omnimaint.atomic: what a target may hold, staged and claimed folders, and what killed writers leave behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omnimaint import atomic
from omnimaint.atomic import (
    ABLATION,
    BENCH,
    BENCH_TITLE,
    BUNDLE,
    DATASET,
    EVALUATION,
    KINDS,
    LABEL_EFFICIENCY,
    MARKER_FILE,
    PRETRAINING_RUN,
    TRAINING_RUN,
    OutputError,
    check_target,
    claim_folder,
    describe,
    discard,
    new_staging,
    recognise,
    staged_folder,
    swap_into_place,
)
from omnimaint.atomic import staging as staging_module
from omnimaint.atomic.staging import HOST, process_alive
from omnimaint.data import write_dataset
from omnimaint.errors import DatasetError
from tests.unit.data.tiny import tiny_manifest, tiny_tables, write_tiny

REPO = Path(__file__).resolve().parents[2]


def siblings(target: Path) -> list[str]:
    """The hidden staging and set-aside folders of ``target``."""
    return sorted(p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}."))


def evaluation_folder(path: Path, content: str = "old") -> Path:
    with staged_folder(path, EVALUATION) as folder:
        (folder / "metrics.json").write_text(content)
    return path


def user_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "readings.csv").write_text("ts,value\n1,2\n")
    (path / "plant.yaml").write_text("line: 3\n")
    return path


def test_all_is_declared_and_honest() -> None:
    assert atomic.__doc__ and len(atomic.__all__) == len(set(atomic.__all__))
    assert all(hasattr(atomic, name) for name in atomic.__all__)
    assert len({kind.name for kind in KINDS}) == len(KINDS)


def test_the_bundle_format_is_the_one_bundles_are_written_with() -> None:
    from omnimaint.atomic.kinds import BUNDLE_FORMAT
    from omnimaint.inference import bundle

    assert BUNDLE_FORMAT == bundle.BUNDLE_FORMAT


def test_each_kind_is_recognised_by_its_manifest(tmp_path: Path) -> None:
    assert recognise(write_tiny(tmp_path / "dataset").path) is DATASET
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "bundle.json").write_text(json.dumps({"format": "omnimaint-bundle", "version": 1}))
    assert recognise(tmp_path / "bundle") is BUNDLE
    for kind in KINDS:
        if kind.manifest == MARKER_FILE:
            claimed = claim_folder(tmp_path / kind.name, kind)
            assert recognise(claimed) is kind and describe(claimed) == kind.noun
            marker = json.loads((claimed / MARKER_FILE).read_text())
            assert marker["kind"] == kind.name and marker["omnimaint_version"] and marker["created_at"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (MARKER_FILE, b""),
        (MARKER_FILE, b'{"format": "omnimaint-output", "kind": "evaluation"'),  # truncated
        (MARKER_FILE, b"\xff\xfe\x00garbage\x80"),
        (MARKER_FILE, b"[" * 100_000),  # nesting deeper than the parser's recursion limit
        (MARKER_FILE, b'["evaluation"]'),
        (MARKER_FILE, b'{"kind": "evaluation"}'),  # no format
        (MARKER_FILE, b'{"format": "omnimaint-output", "kind": "spreadsheet"}'),
        ("dataset.json", b'{"channel_names": {"0": "CT"}, "labels": {"background": 0}, "numTraining": 4}'),  # nnU-Net
        ("dataset.json", b'{"schema_version": true, "timezone": "UTC", "tables": {}}'),
        ("bundle.json", b'{"format": "another-tool", "files": {}}'),
    ],
)
def test_damaged_or_foreign_manifests_are_not_recognised(tmp_path: Path, name: str, content: bytes) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / name).write_bytes(content)
    assert recognise(folder) is None
    assert describe(folder) == f"a folder whose {name} is damaged or not omnimaint's"
    for kind in KINDS:
        with pytest.raises(OutputError, match="damaged or not omnimaint's"):
            check_target(folder, kind, overwrite=True)


def test_a_manifest_that_is_a_link_or_a_folder_is_not_recognised(tmp_path: Path) -> None:
    real = evaluation_folder(tmp_path / "real")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / MARKER_FILE).symlink_to(real / MARKER_FILE)
    folder = tmp_path / "folder"
    (folder / MARKER_FILE).mkdir(parents=True)
    assert recognise(linked) is None and recognise(folder) is None


def test_what_a_target_may_hold(tmp_path: Path) -> None:
    evaluation = evaluation_folder(tmp_path / "evaluation")
    assert check_target(tmp_path / "absent", EVALUATION) is False
    (tmp_path / "empty").mkdir()
    assert check_target(tmp_path / "empty", EVALUATION) is False
    assert check_target(evaluation, EVALUATION, overwrite=True) is True
    with pytest.raises(OutputError, match=r"evaluation: already exists \(an evaluation folder; use --overwrite"):
        check_target(evaluation, EVALUATION)


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize(
    ("build", "kind", "expected"),
    [
        (lambda p: p.write_text("print(1)\n"), DATASET, "a file, not a dataset"),
        (user_folder, DATASET, "a folder of 2 entries without an omnimaint manifest, not a dataset"),
        (evaluation_folder, DATASET, "an evaluation folder, not a dataset"),
        (write_tiny, EVALUATION, "a dataset, not an evaluation folder"),
        (lambda p: claim_folder(p, PRETRAINING_RUN), TRAINING_RUN, "a pretraining run folder, not a training run"),
        (os.mkfifo, BENCH, "a special file, not a benchmark results folder"),
    ],
    ids=["file", "user-folder", "other-kind", "dataset", "other-run", "fifo"],
)
def test_anything_else_is_refused_in_one_line_naming_it(
    tmp_path: Path, build: Callable[[Path], object], kind: atomic.Kind, expected: str, overwrite: bool
) -> None:
    target = tmp_path / "target"
    build(target)
    with pytest.raises(OutputError) as info:
        check_target(target, kind, overwrite=overwrite)
    message = str(info.value)
    assert message.startswith(f"{target}: ") and expected in message and "\n" not in message
    assert "choose another --out" in message and "--overwrite" not in message  # it would not help


def test_a_link_is_never_written_through(tmp_path: Path) -> None:
    dataset = write_tiny(tmp_path / "dataset").path
    for name, destination in (("to-dataset", dataset), ("dangling", tmp_path / "nowhere")):
        link = tmp_path / name
        link.symlink_to(destination)
        expected = rf"{name}: is a symbolic link \(to {re.escape(str(destination))}\); omnimaint writes"
        with pytest.raises(OutputError, match=expected):
            check_target(link, DATASET, overwrite=True)


def test_a_target_inside_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match=r"notes\.txt/plant: cannot be created, .*notes\.txt is a file, not a folder"):
        check_target(tmp_path / "notes.txt" / "plant", DATASET)


def test_a_staged_folder_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "evaluation"
    with pytest.raises(RuntimeError), staged_folder(target, EVALUATION) as folder:
        (folder / "metrics.json").write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists() and siblings(target) == []
    evaluation_folder(target, "first")
    assert sorted(p.name for p in target.iterdir()) == ["metrics.json", MARKER_FILE]
    evaluation_folder_again = staged_folder(target, EVALUATION, overwrite=True)
    with evaluation_folder_again as folder:
        (folder / "metrics.json").write_text("second")
        assert (target / "metrics.json").read_text() == "first"  # readers see the old one until the swap
    assert (target / "metrics.json").read_text() == "second" and siblings(target) == []


def test_something_that_appears_while_writing_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "evaluation"
    with pytest.raises(OutputError, match="already exists"), staged_folder(target, EVALUATION) as folder:
        (folder / "metrics.json").write_text("new")
        user_folder(target)
    assert sorted(p.name for p in target.iterdir()) == ["plant.yaml", "readings.csv"] and siblings(target) == []


def test_a_rename_that_loses_the_race_replaces_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "evaluation"
    staging = new_staging(target)
    (staging / "metrics.json").write_text("new")
    user_folder(target)  # appears after the final check (simulated by skipping it)
    monkeypatch.setattr("omnimaint.atomic.targets.check_target", lambda *a, **k: False)
    with pytest.raises(OutputError, match="appeared there while omnimaint was writing; nothing was replaced"):
        swap_into_place(staging, target, EVALUATION)
    assert sorted(p.name for p in target.iterdir()) == ["plant.yaml", "readings.csv"] and siblings(target) == []


def test_a_claimed_folder_is_continued_replaced_or_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    claim_folder(run, TRAINING_RUN)
    claim_folder(run, TRAINING_RUN)  # only its marker: a run that stopped before writing anything
    (run / "checkpoints").mkdir()
    with pytest.raises(OutputError, match=r"already exists .* or --resume with one of its checkpoints"):
        claim_folder(run, TRAINING_RUN)
    claim_folder(run, TRAINING_RUN, reuse=True)
    assert (run / "checkpoints").is_dir()
    claim_folder(run, TRAINING_RUN, overwrite=True)
    assert [p.name for p in run.iterdir()] == [MARKER_FILE] and siblings(run) == []


def test_run_folders_from_before_markers_are_continued_and_marked(tmp_path: Path) -> None:
    legacy = tmp_path / "run"
    (legacy / "checkpoints").mkdir(parents=True)
    (legacy / "logs" / "version_0").mkdir(parents=True)
    assert recognise(legacy) is PRETRAINING_RUN  # without a bundle either kind could have written it
    claim_folder(legacy, TRAINING_RUN, reuse=True)
    assert recognise(legacy) is TRAINING_RUN
    lookalike = user_folder(tmp_path / "mine")
    (lookalike / "checkpoints").mkdir()
    assert recognise(lookalike) is None


def test_results_folders_from_before_markers_are_continued_and_marked(tmp_path: Path) -> None:
    bench = tmp_path / "bench-output"
    (bench / "datasets").mkdir(parents=True)
    (bench / "results.md").write_text(f"{BENCH_TITLE}\n\n| date (UTC) | protocol |\n")
    tuning = tmp_path / "tuning"
    tuning.mkdir()
    record = {"protocol": "cmapss", "method": "omnimodel", "settings": {}, "split_seed": 0, "metrics": {}}
    (tuning / "tuning.jsonl").write_text(json.dumps(record) + "\n")
    ablation = tmp_path / "ablation"
    (ablation / "split_0" / "fused").mkdir(parents=True)
    (ablation / "split_0" / "fused" / "scores.json").write_text('{"failure_auroc": 0.8}')
    efficiency = tmp_path / "label-efficiency"
    efficiency.mkdir()
    (efficiency / "results.json").write_text(json.dumps({"fraction": 0.1, "scratch": [], "pretrained": []}))
    for folder, kind in ((bench, BENCH), (tuning, BENCH), (ablation, ABLATION), (efficiency, LABEL_EFFICIENCY)):
        assert recognise(folder) is kind
        claim_folder(folder, kind, reuse=True)
        assert json.loads((folder / MARKER_FILE).read_text())["kind"] == kind.name
    mine = user_folder(tmp_path / "mine")
    (mine / "results.md").write_text("# My results\n")
    (mine / "results.json").write_text('{"fraction": 0.5}')
    assert recognise(mine) is None


def test_a_folder_of_imported_datasets_takes_benchmark_results(tmp_path: Path) -> None:
    """docs/benchmarks.md imports the public sets into bench-output/datasets/, then benches into bench-output."""
    bench = tmp_path / "bench-output"
    write_tiny(bench / "datasets" / "cwru")
    assert recognise(bench) is BENCH
    claim_folder(bench, BENCH, reuse=True)
    assert json.loads((bench / MARKER_FILE).read_text())["kind"] == BENCH.name
    mine = tmp_path / "mine"
    write_tiny(mine / "datasets" / "cwru")
    (mine / "datasets" / "notes.txt").write_text("my notes\n")  # something omnimaint did not write
    assert recognise(mine) is None
    (mine / "datasets" / "notes.txt").unlink()
    (mine / "notes.txt").write_text("my notes\n")
    assert recognise(mine) is None


def test_discard_removes_only_its_kind(tmp_path: Path) -> None:
    discard(tmp_path / "absent", TRAINING_RUN)
    run = claim_folder(tmp_path / "run", TRAINING_RUN)
    (run / "logs").mkdir()
    discard(run, TRAINING_RUN)
    assert not run.exists() and siblings(run) == []
    mine = user_folder(tmp_path / "mine")
    with pytest.raises(OutputError, match="not a training run folder"):
        discard(mine, TRAINING_RUN)
    assert len(list(mine.iterdir())) == 2


def test_a_dataset_is_replaced_only_by_a_dataset(tmp_path: Path) -> None:
    tables, blobs = tiny_tables()
    target = user_folder(tmp_path / "plant")
    with pytest.raises(DatasetError, match="not a dataset; omnimaint replaces only a dataset that it wrote"):
        write_dataset(target, tiny_manifest(), tables, blobs=blobs, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == ["plant.yaml", "readings.csv"] and siblings(target) == []


# --- what killed writers leave behind ---------------------------------------------------------------------

_WRITER = """
import sys, time
from pathlib import Path
from omnimaint.data import DatasetWriter
from tests.unit.data.tiny import tiny_manifest, tiny_tables

tables, _ = tiny_tables()
with DatasetWriter(Path(sys.argv[1]), tiny_manifest()) as writer:
    writer.append("assets", tables["assets"])
    writer.append("telemetry", tables["telemetry"])
    print(writer.staging, flush=True)
    time.sleep(600)
"""


@pytest.fixture
def writer_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A process half-way through writing a dataset at ``tmp_path/plant``, and its staging folder."""
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path / "plant")], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    staging = Path(process.stdout.readline().strip())
    try:
        assert staging.is_dir() and staging.name.startswith(f".plant.partial-{HOST}-{process.pid}-")
        yield process, staging
    finally:
        process.kill()
        process.wait()


def test_a_killed_writers_staging_folder_is_removed_by_the_next_write(
    writer_process: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    process, staging = writer_process
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert staging.is_dir() and not (tmp_path / "plant").exists()
    write_tiny(tmp_path / "plant")
    assert not staging.exists() and siblings(tmp_path / "plant") == []


def test_a_live_writers_staging_folder_is_left_alone(
    writer_process: tuple[subprocess.Popen[str], Path], tmp_path: Path
) -> None:
    _, staging = writer_process
    write_tiny(tmp_path / "plant")
    assert staging.is_dir() and any(staging.iterdir())


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are told apart through /proc")
def test_a_killed_but_unreaped_writer_counts_as_gone(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        assert process_alive(process.pid)
        os.kill(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(process.pid)  # a zombie until waited for
        staging = tmp_path / f".plant.partial-{HOST}-{process.pid}-0123abcd"
        staging.mkdir()
        check_target(tmp_path / "plant", DATASET)
        assert not staging.exists()
    finally:
        process.kill()
        process.wait()


def test_which_sibling_folders_count_as_abandoned(tmp_path: Path) -> None:
    target = tmp_path / "plant"
    target.mkdir()  # in place: set-aside folders are removed, not put back
    reaped = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = int(reaped.stdout)
    names = {
        ".plant.partial-1a2b3c4d": False,  # an older omnimaint's: no writer recorded
        ".plant.old-5e6f7a8b": False,
        f".plant.partial-{HOST}-{dead}-0123abcd": False,  # its writer has exited
        f".plant.partial-{HOST}-{os.getpid()}-0123abcd": False,  # this pid, not this process's folder
        f".plant.partial-{HOST}-{os.getppid()}-0123abcd": True,  # a live process
        ".plant.partial-far.example.org-1-0123abcd": True,  # another host's process cannot be seen
        ".plant.partial-notes": True,  # not a name omnimaint makes
        ".plants.partial-1a2b3c4d": True,  # another target's
    }
    for name in names:
        (tmp_path / name).mkdir()
    (tmp_path / ".plant.partial-9a8b7c6d").write_text("a file, not a staging folder")
    (tmp_path / ".plant.partial-0f0f0f0f").symlink_to(user_folder(tmp_path / "mine"))
    check_target(target, DATASET)
    assert {name: (tmp_path / name).exists() for name in names} == names
    assert (tmp_path / ".plant.partial-9a8b7c6d").is_file() and len(list((tmp_path / "mine").iterdir())) == 2
    assert (tmp_path / ".plant.partial-0f0f0f0f").is_symlink()


_SWAP_KILLED_HALF_WAY = """
import os, signal, sys
from pathlib import Path
from omnimaint.atomic import EVALUATION, staged_folder

rename = os.rename


def rename_then_die(source, destination):
    rename(source, destination)
    if ".old-" in os.fspath(destination):  # the old folder is aside, the new one not yet in place
        os.kill(os.getpid(), signal.SIGKILL)


os.rename = rename_then_die
with staged_folder(Path(sys.argv[1]), EVALUATION, overwrite=True) as folder:
    (folder / "metrics.json").write_text("new")
"""


def test_a_folder_set_aside_by_an_interrupted_replacement_is_put_back(tmp_path: Path) -> None:
    target = evaluation_folder(tmp_path / "evaluation", "old")
    killed = subprocess.run([sys.executable, "-c", _SWAP_KILLED_HALF_WAY, str(target)], cwd=REPO, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert not target.exists() and [n.split("-")[0] for n in siblings(target)] == [
        ".evaluation.old",
        ".evaluation.partial",
    ]
    with pytest.raises(OutputError, match="already exists"):
        check_target(target, EVALUATION)
    assert (target / "metrics.json").read_text() == "old" and siblings(target) == []


def test_a_set_aside_folder_whose_successor_is_in_place_is_removed(tmp_path: Path) -> None:
    target = evaluation_folder(tmp_path / "evaluation", "new")
    evaluation_folder(tmp_path / ".evaluation.old-1a2b3c4d", "old")
    assert check_target(target, EVALUATION, overwrite=True)
    assert (target / "metrics.json").read_text() == "new" and siblings(target) == []


def test_this_process_owns_its_staging_folders_until_they_are_swapped(tmp_path: Path) -> None:
    target = tmp_path / "evaluation"
    staging = new_staging(target)
    assert staging in staging_module._owned
    check_target(target, EVALUATION)  # this process's own pid, but its folder: kept
    assert staging.is_dir()
    swap_into_place(staging, target, EVALUATION)
    assert staging not in staging_module._owned and target.is_dir()
