"""Simulator throughput (`make bench`): the 50-asset, 90-day plant on two workers, timed end to end.

Runs ``omnimaint simulate --assets 50 --days 90`` as a subprocess (default rates: 10-min telemetry,
hourly bursts and frames), then ``validate_dataset`` on the result, and prints and records wall time,
CPU time, peak resident memory of any process of the run, and the output size. The requirement is
under two minutes on two cores.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnimaint.atomic import BENCH, claim_folder
from omnimaint.data import validate_dataset

pytestmark = pytest.mark.bench

ASSETS, DAYS, LIMIT_S = 50, 90, 120.0


def _size_bytes(folder: Path) -> int:
    return sum(entry.stat().st_size for entry in folder.rglob("*") if entry.is_file())


def test_fifty_assets_ninety_days_under_two_minutes(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    out = tmp_path / "plant50"
    script = Path(sys.executable).parent / "omnimaint"  # the console script, as a user runs it
    command = [str(script), "simulate", "--assets", str(ASSETS), "--days", str(DAYS)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([*command, "--out", str(out), "--workers", "2"], check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    dataset = validate_dataset(out)
    results = {
        "command": "omnimaint simulate --assets 50 --days 90 --out DIR",
        "wall_s": round(wall, 1),
        "cpu_user_s": round(after.ru_utime - before.ru_utime, 1),
        "cpu_system_s": round(after.ru_stime - before.ru_stime, 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024),  # the largest single process of the run (Linux: KiB)
        "output_gb": round(_size_bytes(out) / 1e9, 2),
        "frames": dataset.manifest.tables["frames"].rows,
        "waveforms": dataset.manifest.tables["waveforms"].rows,
        "telemetry_rows": dataset.manifest.tables["telemetry"].rows,
        "validate_s": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
    }
    shutil.rmtree(out, ignore_errors=True)
    bench_out = claim_folder(Path(request.config.getoption("--bench-out")), BENCH, reuse=True)
    (bench_out / "simulator.json").write_text(json.dumps(results, indent=2) + "\n")
    print("\nsimulator, 50 assets x 90 days, 2 workers:")
    for name, value in results.items():
        print(f"  {name:16s} {value}")
    assert results["frames"] > ASSETS * DAYS * 24 * 0.8
    assert wall < LIMIT_S, f"simulating took {wall:.0f} s (limit {LIMIT_S:.0f} s)"
