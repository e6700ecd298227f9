"""Fixtures shared by the diagnosis tests: the tiny bundle with the small plant's case base."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimaint.diagnosis.case_store import build_cases
from omnimaint.diagnosis.cases import CaseBase


@pytest.fixture(scope="session")
def cased(trained_bundle: Path, small_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CaseBase]:
    """The tiny bundle with the small plant's case base, written as a new bundle."""
    return build_cases(trained_bundle, small_plant, out=tmp_path_factory.mktemp("cased") / "bundle")
