"""Simulate a whole plant into a canonical dataset, asset by asset, in parallel worker processes.

The parent draws the plant-wide context and every asset's profile, writes the ``assets`` table,
then hands assets to ``workers`` spawned processes and appends each asset's rows as soon as it (and
every asset before it) is done, so that the output bytes do not depend on the number of workers and
at most ``2 x workers`` assets are held in memory, whatever the plant size.

Ctrl-C reaches every process of a terminal's foreground group; only the parent acts on it. Workers start
with SIGINT blocked and then ignore it, and on any exception (an interrupt included) the parent cancels
the queued assets and ends the running workers at once, so the dataset writer aborts promptly and
nothing but the parent's one ``KeyboardInterrupt`` is reported.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa

from omnimaint.data import CameraInfo, ChannelInfo, Dataset, DatasetWriter, Manifest, describe_provenance
from omnimaint.data.schema import SCHEMA_VERSION
from omnimaint.progress import progress_bar
from omnimaint.sim.asset import AssetChunk, AssetTask, Stream, generate_asset, stream
from omnimaint.sim.catalog import (
    ASSET_TYPES,
    CAMERA,
    COMPONENTS,
    FAULT_TYPES,
    TELEMETRY_CHANNELS,
    WAVEFORM_CHANNEL,
)
from omnimaint.sim.clock import DAY, Clock
from omnimaint.sim.config import PlantConfig
from omnimaint.sim.context import PlantContext, draw_context
from omnimaint.sim.estimate import estimate
from omnimaint.sim.history import AssetHistory, simulate_history
from omnimaint.sim.profile import SITE, AssetProfile, asset_type_of, draw_profile

logger = logging.getLogger(__name__)

TABLE_ORDER = ("telemetry", "waveforms", "frames", "events", "maintenance", "failures")


def plant_seeds(config: PlantConfig) -> tuple[np.random.SeedSequence, list[np.random.SeedSequence]]:
    """The plant's seed sequence and one per asset: children of ``SeedSequence(seed)``."""
    children = np.random.SeedSequence(config.seed).spawn(config.n_assets + 1)
    return children[0], children[1:]


def plant_profiles(config: PlantConfig) -> list[AssetProfile]:
    """Every asset's constants, in plant order."""
    _, seeds = plant_seeds(config)
    return [draw_profile(i, config.n_assets, stream(seed, Stream.PROFILE)) for i, seed in enumerate(seeds)]


def ground_truth(config: PlantConfig) -> dict[str, AssetHistory]:
    """The hidden history (degradation episodes, work orders, failures) of every asset, by asset id.

    It is recomputed from the config, exactly as :func:`simulate` draws it, for evaluation and tests
    that need the hidden health state.
    """
    _, seeds = plant_seeds(config)
    clock = Clock.from_config(config)
    return {
        profile.asset_id: simulate_history(profile, config, clock, stream(seed, Stream.HISTORY))
        for profile, seed in zip(plant_profiles(config), seeds, strict=True)
    }


def build_manifest(config: PlantConfig) -> Manifest:
    """The manifest of a simulated plant (``tables`` is filled in by the writer)."""
    types = tuple(t for t in ASSET_TYPES if any(asset_type_of(i) == t for i in range(min(config.n_assets, 3))))
    channels = [
        ChannelInfo(
            name=c.name,
            kind="telemetry",
            unit=c.unit,
            sampling_rate_hz=1.0 / config.telemetry_period_s,
            asset_types=c.asset_types,
            description=c.description,
            role=c.role,
        )
        for c in TELEMETRY_CHANNELS
        if c.asset_types is None or set(c.asset_types) & set(types)
    ]
    channels.append(
        ChannelInfo(
            name=WAVEFORM_CHANNEL,
            kind="waveform",
            unit="g",
            sampling_rate_hz=config.waveform_rate_hz,
            description=(
                f"drive-end accelerometer, radial; bursts of {config.waveform_duration_s:g} s every "
                f"{config.waveform_period_s:g} s while the machine runs"
            ),
        )
    )
    camera = CameraInfo(
        name=CAMERA,
        width=config.frame_size,
        height=config.frame_size,
        description=f"fixed RGB camera on the machine and its safety zone, one frame every {config.frame_period_s:g} s",
    )
    return Manifest(
        schema_version=SCHEMA_VERSION,
        name=config.name,
        channels=tuple(channels),
        cameras=(camera,),
        components={t: COMPONENTS[t] for t in types},
        fault_types=FAULT_TYPES,
        provenance=describe_provenance(source="omnimaint.sim", config=config.to_dict()),
    )


def assets_table(profiles: list[AssetProfile], clock: Clock) -> pa.Table:
    """The ``assets`` rows of a plant."""
    installed = clock.timestamps(np.array([-np.floor(p.age_days) * DAY for p in profiles], dtype=np.float64))
    return pa.table(
        {
            "asset_id": pa.array([p.asset_id for p in profiles], type=pa.string()),
            "asset_type": pa.array([p.asset_type for p in profiles], type=pa.string()),
            "model": pa.array([p.model.name for p in profiles], type=pa.string()),
            "site": pa.array([SITE] * len(profiles), type=pa.string()),
            "line": pa.array([p.line for p in profiles], type=pa.string()),
            "install_date": installed,
            "metadata": pa.array([p.metadata_json() for p in profiles], type=pa.string()),
        }
    )


def _generate(tasks: Iterable[AssetTask], workers: int) -> Generator[AssetChunk, None, None]:
    """Run tasks, yielding chunks in task order; at most ``2 x workers`` in flight."""
    if workers == 1:
        yield from (generate_asset(task) for task in tasks)
        return
    queue = iter(tasks)
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
    )
    try:
        pending: deque[Future[AssetChunk]] = deque()
        for task in (t for _, t in zip(range(2 * workers), queue, strict=False)):
            pending.append(_submit(pool, task))
        while pending:
            chunk = pending.popleft().result()
            following = next(queue, None)
            if following is not None:
                pending.append(_submit(pool, following))
            yield chunk
    except BaseException:
        _stop_now(pool)
        raise
    pool.shutdown()


def _ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it ends the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _submit(pool: ProcessPoolExecutor, task: AssetTask) -> Future[AssetChunk]:
    """Submit a task; a worker process started by this call is born with SIGINT blocked, so that a Ctrl-C
    during its start-up (before its initializer runs) cannot print a traceback from it."""
    with _interrupts_blocked():
        return pool.submit(generate_asset, task)


@contextmanager
def _interrupts_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while the block runs; one that arrives meanwhile is delivered after it
    (children started meanwhile inherit the mask and keep it)."""
    if not hasattr(signal, "pthread_sigmask"):  # not on Windows, whose Ctrl-C does not reach children this way
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the running workers without waiting for their assets, and cancel the queued tasks
    (``ProcessPoolExecutor.terminate_workers`` from Python 3.14 on). Waiting for the pool's manager
    thread, which notices the ended workers at once, keeps its clean-up from racing the interpreter's exit."""
    for process in list(pool._processes.values()) if pool._processes else []:
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _numbered(maintenance: pa.Table, first: int) -> pa.Table:
    ids = pa.array([f"WO-{first + i:06d}" for i in range(maintenance.num_rows)], type=pa.string())
    return maintenance.add_column(0, "work_order_id", ids)


def simulate(config: PlantConfig, out: Path, *, overwrite: bool = False, progress: bool = False) -> Dataset:
    """Simulate a plant and write it as a canonical dataset.

    Args:
        config: What to simulate.
        out: Dataset folder to create.
        overwrite: Replace an existing dataset at ``out``.
        progress: Show a progress bar (one step per asset) on stderr when it is a terminal.

    Returns:
        The written dataset, opened.

    Raises:
        DatasetError: if ``out`` exists and ``overwrite`` is false, or the output breaks the data model.
        KeyboardInterrupt: on Ctrl-C, once the workers are ended and the partial dataset removed.
    """
    out = Path(out)
    clock = Clock.from_config(config)
    plant_seed, seeds = plant_seeds(config)
    context: PlantContext = draw_context(config, np.random.default_rng(plant_seed))
    profiles = plant_profiles(config)
    workers = min(config.workers, config.n_assets)
    logger.info("%s, into %s", estimate(config).describe(config), out)
    with (
        DatasetWriter(out, build_manifest(config), overwrite=overwrite) as writer,
        progress_bar("simulating", config.n_assets, enabled=progress) as advance,
    ):
        writer.append("assets", assets_table(profiles, clock))
        tasks = (
            AssetTask(config, p, context, seed, writer.blob_path(f"frames/{p.asset_id}/{CAMERA}/000000.png").parent)
            for p, seed in zip(profiles, seeds, strict=True)
        )
        work_orders = 1
        with closing(_generate(tasks, workers)) as chunks:
            for chunk in chunks:
                for name in TABLE_ORDER:
                    rows = chunk.tables[name]
                    if name == "maintenance":
                        rows = _numbered(rows, work_orders)
                        work_orders += rows.num_rows
                    writer.append(name, rows)
                logger.debug("wrote asset %s", chunk.asset_id)
                advance(1, description=f"simulated {chunk.asset_id}")
        return writer.commit()
