"""Every registered (protocol, method) pair fits and scores on a tiny canonical dataset of its kind.

Parametrised over the registry itself, so a method or protocol registered later is tried without anyone
listing it here. Bundle-training methods run with one small model trained for one epoch (their settings
changed through :func:`~omnimaint.evaluation.tuning.with_settings`, as ``omnimaint tune`` changes them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

import omnimaint.training.methods  # noqa: F401 (registers omnimodel)
from omnimaint.data import Dataset
from omnimaint.evaluation.protocols import get_method, get_protocol, list_protocols, run_protocol
from omnimaint.evaluation.protocols.running import run_bundle_method
from omnimaint.evaluation.tuning import with_settings
from tests.unit.evaluation.canonical import (
    azure_dataset,
    cmapss_dataset,
    cmapss_regime_dataset,
    cwru_dataset,
    image_dataset,
    maintenance_dataset,
)

DATASETS: dict[str, Callable[[Path], Dataset]] = {
    "cmapss": lambda path: cmapss_dataset(path, wear_sensors=True),
    "cmapss-long": lambda path: cmapss_dataset(path, wear_sensors=True),
    "cmapss-regimes": lambda path: cmapss_regime_dataset(path, wear_sensors=True),
    "cwru": cwru_dataset,
    "cwru-cross-load": lambda path: cwru_dataset(path, loads=(0, 1)),
    "azure-pdm": azure_dataset,
    "images": lambda path: image_dataset(path, ("horizontal", "vertical", "checks")),
    "images-anomaly": lambda path: image_dataset(path, ("normal", "horizontal", "checks"), mvtec=True),
    "maintenance-text": maintenance_dataset,
}
"""A tiny dataset each protocol applies to; a new protocol without one fails :func:`test_every_protocol_has_a_dataset`."""

SMALL_BUNDLE = {"optim.max_epochs": 1, "model.d_model": 16, "model.heads": 2, "model.ensemble": 1, "progress": False}
"""Training settings that make a bundle-training method quick."""

PAIRS = [(protocol, method) for protocol in list_protocols() for method in sorted(get_protocol(protocol).methods)]


def test_every_protocol_has_a_dataset() -> None:
    assert set(list_protocols()) <= set(DATASETS), "add a tiny dataset for the new protocol to DATASETS"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    return {name: build(tmp_path_factory.mktemp(name) / "d") for name, build in DATASETS.items()}


@pytest.mark.parametrize(("protocol", "method"), PAIRS, ids=[f"{p}/{m}" for p, m in PAIRS])
def test_every_registered_method_fits_and_scores(protocol: str, method: str, datasets: dict[str, Dataset]) -> None:
    spec = get_method(protocol, method)
    dataset = datasets[protocol]
    if spec.trains_bundle:  # trained, exported and scored by every backend, as bench does
        trainer = with_settings(spec.factory, SMALL_BUNDLE)(0)
        result = run_bundle_method(dataset, get_protocol(protocol), trainer, 0, None)
    else:
        result = run_protocol(dataset, protocol, method, seed=0)
    assert result.metrics, f"{protocol}/{method} reported no metric"
    for name, value in result.metrics.items():
        assert isinstance(value, float) and math.isfinite(value), f"{protocol}/{method}: {name} = {value!r}"
