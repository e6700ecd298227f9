"""Fixtures of the adapter tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .source_files import write_azure


@pytest.fixture
def azure_dir(tmp_path: Path) -> Path:
    return write_azure(tmp_path / "azure_src")
