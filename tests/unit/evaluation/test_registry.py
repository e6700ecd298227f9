"""The protocol and method registry: lookup, registration of a new method, clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from omnimaint.evaluation.protocols import (
    ProtocolError,
    get_method,
    get_protocol,
    list_protocols,
    register_method,
    run_protocol,
)
from tests.unit.evaluation.canonical import maintenance_dataset

EXPECTED = {
    "cmapss": {"gbdt", "minirocket"},
    "cmapss-long": {"gbdt"},
    "cmapss-regimes": {"gbdt"},
    "cwru": {"spectral", "minirocket"},
    "cwru-cross-load": {"spectral", "minirocket"},
    "azure-pdm": {"gbdt", "isolation-forest"},
    "images": {"texture-gbdt"},
    "images-anomaly": {"isolation-forest"},
    "maintenance-text": {"bm25", "hybrid"},
}


def test_every_protocol_has_its_baselines() -> None:
    assert set(EXPECTED) <= set(list_protocols())
    for protocol, methods in EXPECTED.items():
        spec = get_protocol(protocol)
        assert methods <= set(spec.methods), protocol
        assert spec.reference and spec.summary


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ProtocolError, match=r"known protocols: .*cmapss"):
        get_protocol("nope")
    with pytest.raises(ProtocolError, match="its methods: bm25, hybrid"):
        get_method("maintenance-text", "nope")


class _LongestOverlap:
    """A toy retriever: score = number of shared words."""

    def fit(self, documents: list[str], actions: list[str]) -> _LongestOverlap:
        self.documents_ = [set(d.lower().split()) for d in documents]
        return self

    def score(self, queries: list[str]) -> np.ndarray:
        return np.array([[len(set(q.lower().split()) & d) for d in self.documents_] for q in queries], dtype=float)


def test_a_registered_method_runs_through_the_protocol(tmp_path: Path) -> None:
    dataset = maintenance_dataset(tmp_path / "m")
    seeds: list[int] = []

    def factory(seed: int) -> Any:
        seeds.append(seed)
        return _LongestOverlap()

    register_method("maintenance-text", "word-overlap", factory, "toy")
    try:
        result = run_protocol(dataset, "maintenance-text", "word-overlap", seed=7)
    finally:
        get_protocol("maintenance-text").methods.pop("word-overlap")
    assert seeds == [7]
    assert result.metrics["recall_at_5"] > 0.5


def test_a_protocol_refuses_a_dataset_it_does_not_apply_to(tmp_path: Path) -> None:
    dataset = maintenance_dataset(tmp_path / "m")
    with pytest.raises(ProtocolError, match="does not apply"):
        run_protocol(dataset, "cmapss", "gbdt")
