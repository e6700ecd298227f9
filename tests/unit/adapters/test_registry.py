"""The adapter registry, the package's public surface, and the `omnimaint import` command group."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from omnimaint import adapters
from omnimaint.adapters import ADAPTERS, Adapter, AdapterOption, get_adapter, list_adapters, register_adapter
from omnimaint.cli import app
from omnimaint.data import Dataset
from omnimaint.errors import ConfigError

from .source_files import write_azure, write_cmapss


def test_registry_lists_every_format() -> None:
    assert list_adapters() == ["azure", "cmapss", "cwru", "generic", "images", "maintnet", "video"]
    assert get_adapter("cwru").convert is adapters.import_cwru
    with pytest.raises(ConfigError, match="unknown source format 'hdf5'; known source formats: azure, cmapss"):
        get_adapter("hdf5")


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_adapter_has_the_uniform_signature(name: str) -> None:
    adapter = get_adapter(name)
    parameters = inspect.signature(adapter.convert).parameters
    assert list(parameters)[:2] == ["src", "out"]
    assert parameters["overwrite"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["overwrite"].default is False
    assert parameters["show_progress"].default is True
    assert adapter.convert.__name__ == f"import_{name}"
    assert adapter.convert.__doc__ and "Raises:" in adapter.convert.__doc__


def test_all_is_honest() -> None:
    assert sorted(adapters.__all__) == sorted(set(adapters.__all__))
    for name in adapters.__all__:
        assert hasattr(adapters, name), name
    assert {f"import_{name}" for name in ADAPTERS} <= set(adapters.__all__)


def test_cli_has_a_command_per_adapter() -> None:
    group = get_command(app).commands["import"]  # type: ignore[attr-defined]
    assert group.list_commands(None) == ["formats", *(name for name, _ in ADAPTERS.items())]


def test_a_registered_adapter_gets_its_command(tmp_path: Path) -> None:
    converted: list[dict[str, object]] = []

    def import_noted_azure(
        src: Path, out: Path, *, overwrite: bool = False, note: str = "none", **options: object
    ) -> Dataset:
        converted.append({"note": note, **options})
        return adapters.import_azure(src, out, overwrite=overwrite)

    option = AdapterOption("note", "A note on the import.")
    register_adapter(
        Adapter("noted-azure", import_noted_azure, "Azure with a note", "folder", "Azure, with a note.", (option,))
    )
    try:
        runner = CliRunner()
        help_text = runner.invoke(app, ["import", "noted-azure", "--help"], env={"COLUMNS": "200"}).output
        assert "Azure, with a note." in help_text and "--note" in help_text and "[default: none]" in help_text
        src = write_azure(tmp_path / "azure")
        result = runner.invoke(app, ["import", "noted-azure", str(src), "--out", str(tmp_path / "ds"), "--note", "hi"])
    finally:
        ADAPTERS.pop("noted-azure")
    assert result.exit_code == 0, result.output
    assert converted == [{"note": "hi"}]
    assert "telemetry: 48" in result.output


def test_cli_imports_and_reports_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    src = write_azure(tmp_path / "azure")
    result = runner.invoke(app, ["import", "azure", str(src), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "telemetry: 48" in result.output
    again = runner.invoke(app, ["import", "azure", str(src), "--out", str(tmp_path / "ds")])
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert (
        runner.invoke(app, ["import", "azure", str(src), "--out", str(tmp_path / "ds"), "--overwrite"]).exit_code == 0
    )

    cmapss = write_cmapss(tmp_path / "cmapss")
    write_cmapss(cmapss, "FD002")
    result = runner.invoke(app, ["import", "cmapss", str(cmapss), "--out", str(tmp_path / "c"), "--subsets", "FD002"])
    assert result.exit_code == 0, result.output
    assert "assets: 4" in result.output

    bad = runner.invoke(app, ["import", "azure", str(src), "--out", str(tmp_path / "tz"), "--timezone", "Nope/Nope"])
    assert bad.exit_code == 1
    assert "unknown time zone" in bad.output


def test_cli_lists_formats() -> None:
    result = CliRunner().invoke(app, ["import", "formats"])
    assert result.exit_code == 0
    for name in ADAPTERS:
        assert name in result.output
