"""Bad flags, configs and names given to the command line: one `error:` line naming what and where, nothing changed.

Covers `simulate`, `inspect`, `tune`, `experiment`, the training config (`--config`, `--set`) that every model
command reads, usage errors (click's: exit code 2, still one line), and user data that looks like Rich markup or
an emoji code, which must be printed as it is: a path or a CSV header holding ``[/x]`` used to crash the printer
and ``:x:`` turned into ❌.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimaint.data import Dataset
from tests.unit.bad_inputs.harness import Snapshot, assert_refused, run_cli

MARKUP = "[/x] :x: [bold]"


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--assets", "0"], ("n_assets must be >= 1", "got 0")),
        (["--days", "-1"], ("days must be > 0", "-1")),
        (["--days", "inf"], ("days must be finite",)),
        (["--days", "nan"], ("days must be > 0", "nan")),
        (["--days", "5000"], ("days=5000", "a year from now", "at most")),
        (["--lang", "xx"], ("--lang must be 'en' or 'zh'", "'xx'")),
        (["--frame-size", "3"], ("frame_size must be in [32, 1024]", "got 3")),
        (["--workers", "0"], ("workers must be >= 1",)),
        (["--telemetry-period", "0.5"], ("telemetry_period_s must be >= 1 s", "0.5")),
        (["--waveform-period", "0.1"], ("waveform_duration_s must not exceed waveform_period_s",)),
        (["--seed", "-1"], ("seed must be >= 0",)),
        (["--fault-rate-scale", "-2"], ("fault_rate_scale must be >= 0",)),
    ],
)
def test_simulate_refuses_a_bad_plant_before_any_work(
    tmp_path: Path, flags: list[str], fragments: tuple[str, ...]
) -> None:
    before = Snapshot.of(tmp_path)
    result = run_cli("simulate", "--out", tmp_path / "plant", "--workers", "1", *flags)
    assert_refused(result, before, *fragments)


@pytest.mark.parametrize("kind", ["empty folder", "file", "missing", "markup in the name"])
def test_inspect_refuses_what_is_not_a_dataset(tmp_path: Path, kind: str) -> None:
    target = tmp_path / ("plant" if kind != "markup in the name" else f"plant {MARKUP}")
    if kind in ("empty folder", "markup in the name"):
        target.mkdir(parents=True)  # '[/x]' holds a slash: the path is 'plant [' / 'x] :x: [bold]'
    elif kind == "file":
        target.write_text("asset_id,ts\n", encoding="utf-8")
    before = Snapshot.of(tmp_path)
    assert_refused(run_cli("inspect", target), before, str(target), "not a dataset")


def test_a_csv_header_with_markup_is_quoted_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "pump.csv").write_text(f"timestamp,{MARKUP}\n2024-01-01T00:00:00Z,1\n", encoding="utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "sources:\n"
        "  - file: pump.csv\n"
        "    table: telemetry\n"
        "    time: {column: timestamp}\n"
        "    asset: {value: pump-1}\n"
        "    asset_type: {value: pump}\n"
        "    channels: {layout: wide, columns: {sensor_00: {sampling_rate_hz: 1}}}\n",
        encoding="utf-8",
    )
    before = Snapshot.of(tmp_path)
    line = assert_refused(run_cli("import", "generic", mapping, "--out", tmp_path / "ds"), before, "pump.csv")
    assert MARKUP in line and "❌" not in line


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["nope", "--method", "gbdt"], ("'nope'", "cmapss")),
        (["cmapss", "--method", "nope"], ("no method 'nope'", "gbdt")),
        (["cmapss", "--method", "gbdt", "--set", "patch"], ("setting 'patch'", "key=value")),
        (["cmapss", "--method", "gbdt", "--protocol-set", "window"], ("setting 'window'", "key=value")),
    ],
)
def test_tune_refuses_bad_names_and_settings(
    tiny_dataset: Dataset, tmp_path: Path, args: list[str], fragments: tuple[str, ...]
) -> None:
    before = Snapshot.of(tmp_path)
    result = run_cli("tune", *args[:1], "--dataset", tiny_dataset.path, *args[1:], "--out", tmp_path / "tuning")
    assert_refused(result, before, *fragments)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["nope"], ("unknown experiment 'nope'", "ablation or label-efficiency")),
        (["label-efficiency", "--seeds", "0,x"], ("seeds", "'0,x'")),
        (["ablation", "--split-seeds", "1;2"], ("seeds", "'1;2'")),
    ],
)
def test_experiment_refuses_bad_names(
    tiny_dataset: Dataset, tmp_path: Path, args: list[str], fragments: tuple[str, ...]
) -> None:
    before = Snapshot.of(tmp_path)
    result = run_cli("experiment", args[0], tiny_dataset.path, "--out", tmp_path / "experiment", *args[1:])
    assert_refused(result, before, *fragments)


CONFIGS: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "yaml syntax": (b"optim:\n  lr: [1\n", ("line 3, column 1", "not valid YAML")),
    "tab indentation": (b"optim:\n\tlr: 1\n", ("line 2, column 1", "not valid YAML")),
    "wrong type": (b"optim:\n  lr: fast\n", ("field 'optim.lr'", "valid number")),
    "unknown key": (b"optim:\n  learning_rate: 0.1\n", ("field 'optim.learning_rate'", "not permitted")),
    "unknown section": (b"optimiser:\n  lr: 0.1\n", ("field 'optimiser'",)),
    "a list": (b"- optim\n- data\n", ("a config file must be a mapping",)),
    "a value not a section": (b"optim: 3\n", ("field 'optim'",)),
    "not utf-8": (b"optim:\n  lr: 0.1 # \xff\xfe\n", ("not UTF-8", "byte")),
    "out of range": (b"optim:\n  batch_size: 0\n", ("field 'optim.batch_size'",)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_bad_config_file_names_the_file_and_field(tiny_dataset: Dataset, tmp_path: Path, name: str) -> None:
    content, fragments = CONFIGS[name]
    config = tmp_path / "train.yaml"
    config.write_bytes(content)
    before = Snapshot.of(tmp_path)
    result = run_cli("experiment", "ablation", tiny_dataset.path, "--out", tmp_path / "run", "--config", config)
    assert_refused(result, before, str(config), *fragments)


@pytest.mark.parametrize(
    ("command", "flags", "fragments"),
    [
        ("experiment", ["--config", "missing.yaml"], ("missing.yaml", "cannot read the config")),
        ("experiment", ["--config", "."], ("cannot read the config",)),
        ("experiment", ["--set", "optim.lr"], ("--set expects dotted.path=value", "'optim.lr'")),
        ("experiment", ["--set", "optim.lr=[1"], ("--set 'optim.lr=[1'", "not valid YAML")),
        ("experiment", ["--set", "optim.lr=fast"], ("field 'optim.lr'",)),
        ("experiment", ["--set", "optim.nope=1"], ("field 'optim.nope'",)),
        ("experiment", ["--set", "optim.lr.x=1"], ("field 'optim.lr'", "valid number")),
        ("train", ["--set", "model.d_model=-4"], ("field 'model.d_model'",)),
    ],
)
def test_bad_config_flags(
    tiny_dataset: Dataset, tmp_path: Path, command: str, flags: list[str], fragments: tuple[str, ...]
) -> None:
    flags = [str(tmp_path / f) if f.endswith(".yaml") or f == "." else f for f in flags]
    before = Snapshot.of(tmp_path)
    name = ["ablation"] if command == "experiment" else []
    result = run_cli(command, *name, tiny_dataset.path, "--out", tmp_path / "run", *flags)
    assert_refused(result, before, *fragments)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["simulate", "--assets", "many"], ("omnimaint simulate", "'--assets'", "integer")),
        (["simulate", "--out", "x", "--bogus"], ("omnimaint simulate", "No such option: --bogus")),
        (["simulate"], ("omnimaint simulate", "Missing option '--out'")),
        (["simulat"], ("No such command 'simulat'",)),
        (["evaluate"], ("omnimaint evaluate", "Missing argument")),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, args: list[str], fragments: tuple[str, ...]
) -> None:
    before = Snapshot.of(tmp_path)
    result = run_cli(*args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(fragment in lines[0] for fragment in fragments), lines[0]
    assert "--help" in lines[0]
    assert not before.changes(Snapshot.of(tmp_path))
