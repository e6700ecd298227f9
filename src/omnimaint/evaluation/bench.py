"""Run one benchmark (protocol × dataset × method) and record it: a JSON file and a row of ``results.md``."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from omnimaint import __version__
from omnimaint.data.dataset import Dataset
from omnimaint.evaluation.protocols import get_method, run_protocol

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.md"
_RESULTS_HEADER = (
    "| date (UTC) | protocol | dataset | method | metrics | seed | wall s | omnimaint | command |\n"
    "|---|---|---|---|---|---|---|---|---|\n"
)


@dataclass(frozen=True)
class BenchRecord:
    """One benchmark run.

    Attributes:
        protocol: Protocol name.
        method: Method name.
        dataset: Dataset folder as given.
        dataset_name: Name from the dataset's manifest.
        seed: Seed of split and method.
        metrics: Headline metrics.
        details: Protocol details (per-class scores, thresholds, split sizes ...).
        wall_time_s: Seconds the protocol took.
        omnimaint_version: Version that produced it.
        created_at: UTC time of the run (ISO 8601).
        command: The command line that reproduces it.
    """

    protocol: str
    method: str
    dataset: str
    dataset_name: str
    seed: int
    metrics: dict[str, float]
    details: dict[str, Any]
    wall_time_s: float
    omnimaint_version: str
    created_at: str
    command: str


def reproduce_command(protocol: str, dataset: Path, method: str, seed: int) -> str:
    """The ``omnimaint bench`` command line of a run."""
    return f"omnimaint bench {protocol} --dataset {dataset} --method {method} --seed {seed}"


def run_bench(protocol: str, dataset: Path, method: str, seed: int = 0) -> BenchRecord:
    """Run a registered protocol on a dataset with a registered method and time it.

    Raises:
        ProtocolError: if the protocol or method is unknown, or the protocol cannot run on the dataset.
        DatasetError: if the dataset is not a valid canonical dataset.
    """
    get_method(protocol, method)  # fail on an unknown name before reading the dataset
    opened = Dataset(dataset)
    start = time.perf_counter()
    result = run_protocol(opened, protocol, method, seed)
    wall = time.perf_counter() - start
    logger.info("%s / %s on %s: %s (%.1f s)", protocol, method, dataset, result.metrics, wall)
    return BenchRecord(
        protocol=protocol,
        method=method,
        dataset=str(dataset),
        dataset_name=opened.manifest.name,
        seed=seed,
        metrics=result.metrics,
        details=result.details,
        wall_time_s=wall,
        omnimaint_version=__version__,
        created_at=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        command=reproduce_command(protocol, dataset, method, seed),
    )


def format_metric(value: float) -> str:
    """A metric for tables: 4 significant digits, ``nan`` kept visible."""
    return "nan" if math.isnan(value) else f"{value:.4g}"


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as ``None`` (JSON has no NaN), recursively through dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_record(record: BenchRecord, out: Path) -> Path:
    """Write ``<out>/<protocol>__<method>__<dataset name>.json`` and append a row to ``<out>/results.md``.

    Non-finite numbers are written as JSON ``null``.

    Returns:
        The JSON file written.
    """
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{record.protocol}__{record.method}__{Path(record.dataset).name or record.dataset_name}"
    path = out / f"{stem}.json"
    path.write_text(json.dumps(json_safe(asdict(record)), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    results = out / RESULTS_FILE
    if not results.exists():
        results.write_text("# omnimaint benchmark results\n\n" + _RESULTS_HEADER, encoding="utf-8")
    metrics = ", ".join(f"{k}={format_metric(v)}" for k, v in record.metrics.items())
    row = (
        f"| {record.created_at[:16].replace('T', ' ')} | {record.protocol} | {record.dataset_name} | {record.method} "
        f"| {metrics} | {record.seed} | {record.wall_time_s:.1f} | {record.omnimaint_version} | `{record.command}` |\n"
    )
    with results.open("a", encoding="utf-8") as handle:
        handle.write(row)
    return path
