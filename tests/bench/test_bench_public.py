"""Public-dataset benchmarks (`make bench`): every protocol x baseline that applies to the datasets found.

Each public dataset under ``--data-dir`` is imported once into ``<bench-out>/datasets/<name>`` with the
project's adapters (reused when already there), then run with :func:`omnimaint.evaluation.bench.run_bench`;
records go to ``<bench-out>/*.json`` and ``<bench-out>/results.md``, exactly as ``omnimaint bench`` writes
them. Missing datasets are skipped with a message. The floors below catch regressions, not records.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import omnimaint.training.methods  # noqa: F401 (registers omnimodel)
from omnimaint.atomic import BENCH, claim_folder
from omnimaint.data import Dataset
from omnimaint.errors import DatasetError
from omnimaint.evaluation.bench import format_metric, run_bench, write_record
from omnimaint.evaluation.protocols import ProtocolError

pytestmark = pytest.mark.bench

SOURCES = {"cmapss": "cmapss", "cwru": "cwru", "azure_pdm": "azure", "neu_det": "images", "maintnet": "maintnet"}
"""Public dataset folder -> adapter format."""

BENCHMARKS = [
    # (dataset folder, protocol, method, metric, floor or ceiling)
    ("cmapss", "cmapss", "gbdt", "rmse", ("<", 25.0)),
    ("cmapss", "cmapss", "minirocket", "rmse", ("<", 35.0)),
    ("cmapss", "cmapss-long", "gbdt", "rmse", ("<", 25.0)),
    ("cmapss", "cmapss-regimes", "gbdt", "rmse", ("<", 25.0)),
    ("cwru", "cwru", "spectral", "accuracy", (">", 0.9)),
    ("cwru", "cwru", "minirocket", "accuracy", (">", 0.9)),
    ("cwru", "cwru-cross-load", "spectral", "accuracy", (">", 0.5)),
    ("azure_pdm", "azure-pdm", "gbdt", "f1_macro", (">", 0.5)),
    ("azure_pdm", "azure-pdm", "isolation-forest", "f1_macro", (">", 0.0)),
    ("neu_det", "images", "texture-gbdt", "accuracy", (">", 0.9)),
    ("neu_det", "images-anomaly", "isolation-forest", "auroc", (">", 0.6)),
    ("maintnet", "maintenance-text", "bm25", "recall_at_5", (">", 0.15)),
    # the multimodal model on each protocol it fits (minutes each on 2 cores: docs/benchmarks.md)
    ("cmapss", "cmapss", "omnimodel", "rmse", ("<", 20.0)),
    ("cmapss", "cmapss-long", "omnimodel", "rmse", ("<", 14.0)),
    ("cwru", "cwru", "omnimodel", "accuracy", (">", 0.95)),
    ("azure_pdm", "azure-pdm", "omnimodel", "f1_macro", (">", 0.5)),
    ("neu_det", "images", "omnimodel", "accuracy", (">", 0.9)),
]


@pytest.fixture(scope="session")
def bench_out(request: pytest.FixtureRequest) -> Path:
    return claim_folder(Path(request.config.getoption("--bench-out")), BENCH, reuse=True)


def imported(public_data_dir: Path, bench_out: Path, name: str) -> Path:
    """The canonical dataset of a public dataset, imported on first use."""
    source = public_data_dir / name
    if not source.is_dir():
        pytest.skip(f"public dataset {name!r} not found at {source}")
    target = bench_out / "datasets" / name
    if (target / "dataset.json").is_file():
        try:
            Dataset(target)
            return target
        except DatasetError as exc:
            pytest.fail(f"{target}: unreadable earlier import ({exc}); delete it to re-import")
    from omnimaint.adapters import get_adapter

    get_adapter(SOURCES[name]).convert(source, target, overwrite=False, show_progress=False)
    return target


@pytest.mark.parametrize(
    ("name", "protocol", "method", "metric", "bound"), BENCHMARKS, ids=[f"{b[1]}-{b[2]}" for b in BENCHMARKS]
)
def test_public_benchmark(
    public_data_dir: Path, bench_out: Path, name: str, protocol: str, method: str, metric: str, bound: tuple[str, float]
) -> None:
    dataset = imported(public_data_dir, bench_out, name)
    try:
        record = run_bench(protocol, dataset, method, seed=0)
    except ProtocolError as exc:
        if "not enough loads" in str(exc):
            pytest.skip(str(exc))
        raise
    write_record(record, bench_out)
    metrics = ", ".join(f"{k}={format_metric(v)}" for k, v in record.metrics.items())
    print(f"\n[bench] {protocol} / {method} on {name}: {metrics} ({record.wall_time_s:.1f} s)\n  {record.command}")
    value = record.metrics[metric]
    assert math.isfinite(value)
    direction, limit = bound
    assert value < limit if direction == "<" else value > limit, f"{metric}={value} not {direction} {limit}"
