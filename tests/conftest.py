"""Shared test fixtures: where the public datasets are, and a marker-aware skip for them."""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _sigint_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    """Put back the runner's Ctrl-C handler after a test that changed it, and say which test did (a warning in
    the summary, not a failure: it was seen once in a whole run and never alone). A child process inherits an
    ignored SIGINT, so such a test made a later Ctrl-C test depend on the order the tests ran in."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after is not before:
        signal.signal(signal.SIGINT, before)
        warnings.warn(f"{request.node.nodeid} left the SIGINT handler at {after!r} (was {before!r})", stacklevel=1)


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


@pytest.fixture(scope="session")
def small_plant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated plant (9 assets, 24 days, many faults), shared by model, training and inference tests."""
    from omnimaint.sim import PlantConfig, simulate

    config = PlantConfig(n_assets=9, days=24, seed=7, fault_rate_scale=4.0, telemetry_period_s=1800, workers=1)
    out = tmp_path_factory.mktemp("plant") / "plant"
    simulate(config, out)
    return out


@pytest.fixture(scope="session")
def trained_bundle(small_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle fine-tuned for a few batches on the small plant (enough to exercise every code path)."""
    from omnimaint.training.run import train
    from tests.unit.training.tiny import tiny_config

    bundle = train(tiny_config(small_plant, tmp_path_factory.mktemp("run")))
    assert bundle is not None
    return bundle


PATCHCORE_SETTINGS = {
    "frame_anomaly.method": "patchcore",
    "frame_anomaly.input_size": 64,
    "frame_anomaly.max_frames": 32,
    "frame_anomaly.coreset_ratio": 0.25,
}
"""The frame anomaly component made quick: 64 px backbone input (8 × 8 patches), 32 frames, a quarter kept."""


@pytest.fixture(scope="session")
def patchcore_bundle(small_plant: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bundle trained with the PatchCore frame anomaly component (EfficientNet-Lite0 from its package)."""
    from omnimaint.training.run import train
    from tests.unit.training.tiny import tiny_config

    bundle = train(tiny_config(small_plant, tmp_path_factory.mktemp("patchcore-run"), **PATCHCORE_SETTINGS))
    assert bundle is not None
    return bundle
