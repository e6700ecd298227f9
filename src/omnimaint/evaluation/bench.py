"""Run one benchmark (protocol × dataset × method) and record it: a JSON file and a row of ``results.md``."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from omnimaint import __version__
from omnimaint.atomic import BENCH, BENCH_TITLE, claim_folder
from omnimaint.data.dataset import Dataset
from omnimaint.evaluation.protocols import get_method, get_protocol, run_protocol
from omnimaint.evaluation.protocols.base import check_subset
from omnimaint.evaluation.protocols.running import check_run

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
        subset: The subset evaluated, for a protocol with subsets (C-MAPSS ``FD001`` ...), else ``None``.
        notes: What the protocol says a reader of the numbers must know (a class left out, the subset chosen).
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
    subset: str | None = None
    notes: list[str] = field(default_factory=list)


def reproduce_command(protocol: str, dataset: Path, method: str, seed: int, subset: str | None = None) -> str:
    """The ``omnimaint bench`` command line of a run (with ``--subset`` when one was evaluated)."""
    command = f"omnimaint bench {protocol} --dataset {dataset} --method {method} --seed {seed}"
    return command if subset is None else f"{command} --subset {subset}"


def run_bench(
    protocol: str, dataset: Path, method: str, seed: int = 0, subset: str | None = None, *, out: Path | None = None
) -> BenchRecord:
    """Run a registered protocol on a dataset with a registered method and time it.

    Args:
        subset: For a protocol with subsets (``cmapss``, ``cmapss-long``), the one to evaluate; by default the
            first the dataset holds, and the record's notes say so when it holds several.
        out: The benchmark results folder the record will go to, claimed once the protocol, method and dataset
            are known to be good; a method that trains a bundle keeps its run folder in it
            (``<out>/runs/<protocol>__<method>__<dataset folder>__seed<seed>``, the bundle in its ``bundle/``).
            ``None``: the run folder is a temporary one.

    Raises:
        ProtocolError: if the protocol or method is unknown, the protocol cannot run on the dataset, or the
            subset is not one the protocol takes or the dataset holds.
        DatasetError: if the dataset is not a valid canonical dataset.
    """
    get_method(protocol, method)  # fail on an unknown name before reading the dataset
    check_subset(protocol, subset)
    opened = Dataset(dataset)
    workdir = None
    if out is not None and check_run(opened, protocol, method, subset)[1].trains_bundle:
        run = f"{protocol}__{method}__{dataset.name or opened.manifest.name}__seed{seed}"
        workdir = claim_folder(out, BENCH, reuse=True) / RUNS_DIR / run
    start = time.perf_counter()
    result = run_protocol(opened, protocol, method, seed, subset, workdir=workdir)
    wall = time.perf_counter() - start
    logger.info("%s / %s on %s: %s (%.1f s)", protocol, method, dataset, result.metrics, wall)
    evaluated = result.details.get("subset") if get_protocol(protocol).subsets is not None else None
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
        command=reproduce_command(protocol, dataset, method, seed, evaluated),
        subset=evaluated,
        notes=list(result.notes),
    )


def record_stem(record: BenchRecord) -> str:
    """File stem of a record: ``<protocol>__<method>__<dataset folder>``, ``__<subset>`` when there is one, then
    ``__seed<seed>``, so that runs on two subsets of one dataset, or with two seeds, keep two files."""
    stem = f"{record.protocol}__{record.method}__{Path(record.dataset).name or record.dataset_name}"
    if record.subset is not None:
        stem = f"{stem}__{record.subset}"
    return f"{stem}__seed{record.seed}"


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


RUNS_DIR = "runs"
"""The folder of a benchmark results folder that holds the run folders of bundle-training methods."""


def write_record(record: BenchRecord, out: Path) -> Path:
    """Write ``<out>/<protocol>__<method>__<dataset folder>[__<subset>]__seed<seed>.json`` (:func:`record_stem`)
    and append a row to ``<out>/results.md``.

    ``out`` is a benchmark results folder: a new one, or one that omnimaint wrote (a record of the same
    protocol, method, dataset, subset and seed there is replaced). Non-finite numbers are written as JSON ``null``.

    Returns:
        The JSON file written.

    Raises:
        OutputError: if ``out`` holds anything else (see :func:`omnimaint.atomic.check_target`).
    """
    claim_folder(out, BENCH, reuse=True)
    path = out / f"{record_stem(record)}.json"
    path.write_text(json.dumps(json_safe(asdict(record)), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    results = out / RESULTS_FILE
    if not results.exists():
        results.write_text(f"{BENCH_TITLE}\n\n{_RESULTS_HEADER}", encoding="utf-8")
    metrics = ", ".join(f"{k}={format_metric(v)}" for k, v in record.metrics.items())
    row = (
        f"| {record.created_at[:16].replace('T', ' ')} | {record.protocol} | {record.dataset_name} | {record.method} "
        f"| {metrics} | {record.seed} | {record.wall_time_s:.1f} | {record.omnimaint_version} | `{record.command}` |\n"
    )
    with results.open("a", encoding="utf-8") as handle:
        handle.write(row)
    return path
