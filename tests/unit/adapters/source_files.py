"""Writers of tiny source files in each publisher's real format (headers, separators, datetime formats)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

AZURE_TELEMETRY_HEADER = "datetime,machineID,volt,rotate,pressure,vibration"


def write_azure(folder: Path, *, hours: int = 6, telemetry_tail: str = "") -> Path:
    """Two machines, ``hours`` hourly readings each, with errors, maintenance and failures as Microsoft ships them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "PdM_machines.csv").write_text("machineID,model,age\n1,model3,18\n2,model4,7\n")
    lines = [AZURE_TELEMETRY_HEADER]
    for machine in (1, 2):
        for hour in range(hours):
            lines.append(f"2015-01-01 {6 + hour:02d}:00:00,{machine},{170 + hour}.5,{400 + machine}.25,100.0,40.{hour}")
    (folder / "PdM_telemetry.csv").write_text("\n".join(lines) + "\n" + telemetry_tail)
    (folder / "PdM_errors.csv").write_text(
        "datetime,machineID,errorID\n2015-01-01 07:00:00,1,error1\n2015-01-01 07:00:00,1,error3\n"
        "2015-01-01 09:00:00,2,error5\n"
    )
    (folder / "PdM_maint.csv").write_text(
        "datetime,machineID,comp\n2014-06-01 06:00:00,1,comp2\n2015-01-01 10:00:00,1,comp4\n"
        "2015-01-01 10:00:00,2,comp1\n"
    )
    (folder / "PdM_failures.csv").write_text("datetime,machineID,failure\n2015-01-01 10:00:00,1,comp4\n")
    return folder


def cmapss_line(unit: int, cycle: int, rng: np.random.Generator) -> str:
    """One C-MAPSS record: 26 space-separated numbers and the publisher's trailing spaces."""
    settings = " ".join(f"{v:.4f}" for v in rng.normal(0, 0.002, 2)) + " 100.0"
    sensors = " ".join(f"{v:.2f}" for v in rng.normal(500, 50, 21))
    return f"{unit} {cycle} {settings} {sensors}  "


def write_cmapss(
    folder: Path,
    subset: str = "FD001",
    *,
    train_cycles: tuple[int, ...] = (5, 3),
    test_cycles: tuple[int, ...] = (2, 4),
    rul: tuple[int, ...] = (10, 7),
    gz: bool = False,
    seed: int = 0,
) -> Path:
    """A tiny subset: train engines run ``train_cycles``, test engines ``test_cycles`` with true ``rul``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, text: str) -> None:
        if gz:
            with gzip.open(folder / f"{name}.txt.gz", "wt") as handle:
                handle.write(text)
        else:
            (folder / f"{name}.txt").write_text(text)

    for split, cycles in (("train", train_cycles), ("test", test_cycles)):
        lines = [cmapss_line(unit, c, rng) for unit, n in enumerate(cycles, 1) for c in range(1, n + 1)]
        write(f"{split}_{subset}", "\n".join(lines) + "\n")
    write(f"RUL_{subset}", "".join(f"{value} \n" for value in rul))
    return folder
