"""Shared test fixtures: where the public datasets are, and a marker-aware skip for them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--data-dir",
        default=os.environ.get("OMNIMAINT_DATA_DIR", str(DEFAULT_DATA_DIR)),
        help="folder holding the public datasets (azure_pdm/, cmapss/, cwru/, neu_det/, maintnet/)",
    )
    parser.addoption("--bench-out", default=str(REPO_ROOT / "bench-output"), help="where benchmarks write results")


@pytest.fixture(scope="session")
def public_data_dir(request: pytest.FixtureRequest) -> Path:
    """Root of the public datasets; the test is skipped when it is absent."""
    path = Path(request.config.getoption("--data-dir"))
    if not path.is_dir():
        pytest.skip(f"public datasets not found at {path} (pass --data-dir or set OMNIMAINT_DATA_DIR)")
    return path


@pytest.fixture
def public_dataset(public_data_dir: Path, request: pytest.FixtureRequest) -> Path:
    """One public dataset folder, named by ``@pytest.mark.parametrize('public_dataset', [...], indirect=True)``."""
    path = public_data_dir / str(request.param)
    if not path.is_dir():
        pytest.skip(f"public dataset {request.param!r} not found at {path}")
    return path
