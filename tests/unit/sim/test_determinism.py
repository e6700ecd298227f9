"""The dataset is a pure function of the config: same seed, same bytes, whatever the workers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pytest

from omnimaint.data import Dataset
from omnimaint.data.schema import TABLES
from omnimaint.sim import PlantConfig, simulate

TINY = PlantConfig(n_assets=3, days=6, seed=5, fault_rate_scale=5.0, workers=1)


@dataclass(frozen=True)
class Fingerprint:
    """Every table's content (not file bytes: provenance holds the creation time) and every frame's hash."""

    tables: dict[str, pa.Table]
    frames: dict[str, str]


def _fingerprint(dataset: Dataset) -> Fingerprint:
    return Fingerprint(
        tables={name: dataset.arrow(name) for name in TABLES if dataset.has(name)},
        frames={
            path: hashlib.sha256(dataset.frame_file(path).read_bytes()).hexdigest()
            for path in dataset.table("frames")["path"]
        },
    )


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Fingerprint:
    return _fingerprint(simulate(TINY, tmp_path_factory.mktemp("det") / "serial"))


def test_same_seed_gives_identical_dataset_with_one_or_two_workers(
    serial: Fingerprint, tmp_path_factory: pytest.TempPathFactory
) -> None:
    parallel = _fingerprint(simulate(replace(TINY, workers=2), tmp_path_factory.mktemp("det") / "parallel"))
    assert len(serial.frames) > 100
    assert parallel.frames == serial.frames
    assert set(parallel.tables) == set(serial.tables)
    for name, table in serial.tables.items():
        assert parallel.tables[name].equals(table), name


def test_different_seed_gives_a_different_dataset(serial: Fingerprint, tmp_path: Path) -> None:
    other = _fingerprint(simulate(replace(TINY, seed=TINY.seed + 1), tmp_path / "other"))
    for name in ("telemetry", "waveforms", "events", "maintenance"):
        assert not other.tables[name].equals(serial.tables[name]), name
    assert other.frames != serial.frames


def test_overwrite_replaces_and_refuses_without_it(tmp_path: Path) -> None:
    from omnimaint.errors import DatasetError

    config = replace(TINY, n_assets=1, days=1)
    simulate(config, tmp_path / "once")
    with pytest.raises(DatasetError, match="already exists"):
        simulate(config, tmp_path / "once")
    again = simulate(replace(config, seed=99), tmp_path / "once", overwrite=True)
    assert again.manifest.provenance["config"]["seed"] == 99
