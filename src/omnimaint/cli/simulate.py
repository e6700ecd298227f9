"""``simulate``: the built-in plant simulator into a canonical dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omnimaint.atomic import DATASET, check_target
from omnimaint.cli.output import err_console, print_dataset_written, reports_errors

commands = typer.Typer()


@commands.command()
@reports_errors
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to create.", show_default=False)],
    assets: Annotated[int, typer.Option("--assets", help="Machines: pumps, spindles and conveyors in turn.")] = 12,
    days: Annotated[float, typer.Option(help="Length of the simulated period, in days.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Root seed: the same seed gives the same dataset.")] = 0,
    lang: Annotated[str, typer.Option(help="Language of event messages and work orders: en or zh.")] = "en",
    telemetry_period: Annotated[float, typer.Option(help="Seconds between telemetry readings.")] = 600.0,
    waveform_period: Annotated[float, typer.Option(help="Seconds between vibration bursts.")] = 3600.0,
    frame_period: Annotated[float, typer.Option(help="Seconds between camera frames.")] = 3600.0,
    frame_size: Annotated[int, typer.Option(help="Frame width and height in pixels.")] = 64,
    workers: Annotated[int, typer.Option(help="Worker processes (the output does not depend on it).")] = 2,
    fault_rate_scale: Annotated[
        float, typer.Option(help="Multiplies every fault-onset hazard (more failures in a short history).")
    ] = 1.0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Simulate a plant (telemetry, vibration, camera, events, work orders) into a canonical dataset.

    A run expected to take 30 s or more, or to write 1 GB or more, is announced first (on stderr).
    """
    import time

    from omnimaint.errors import ConfigError
    from omnimaint.sim import PlantConfig
    from omnimaint.sim import simulate as simulate_plant
    from omnimaint.sim.config import Language
    from omnimaint.sim.estimate import estimate

    languages: dict[str, Language] = {"en": "en", "zh": "zh"}
    if lang not in languages:
        raise ConfigError(f"--lang must be 'en' or 'zh', got {lang!r}")
    config = PlantConfig(
        n_assets=assets,
        days=days,
        seed=seed,
        lang=languages[lang],
        telemetry_period_s=telemetry_period,
        waveform_period_s=waveform_period,
        frame_period_s=frame_period,
        frame_size=frame_size,
        workers=workers,
        fault_rate_scale=fault_rate_scale,
    )
    check_target(out, DATASET, overwrite=overwrite)  # before simulating, which may take minutes
    expected = estimate(config)
    if expected.large:
        err_console.print(expected.describe(config), soft_wrap=True, highlight=False)
    started = time.perf_counter()
    dataset = simulate_plant(config, out, overwrite=overwrite, progress=progress)
    print_dataset_written(out, dataset, time.perf_counter() - started)
