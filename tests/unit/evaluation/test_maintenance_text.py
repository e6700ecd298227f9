"""Maintenance-text retrieval: split by record id, hit on the normalised action, hand-computed scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omnimaint.data import Dataset
from omnimaint.evaluation.protocols.maintenance_text import (
    TextRetrievalConfig,
    normalize_action,
    record_split,
    run_maintenance_text,
    work_orders,
)
from tests.unit.evaluation.canonical import maintenance_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    return maintenance_dataset(tmp_path_factory.mktemp("maint") / "d")


class _FixedRanking:
    """Ranks the corpus in a fixed order for every query (first document best)."""

    def fit(self, documents: list[str], actions: list[str]) -> _FixedRanking:
        self.n_ = len(documents)
        return self

    def score(self, queries: list[str]) -> np.ndarray:
        return np.tile(-np.arange(self.n_, dtype=float), (len(queries), 1))


def test_normalised_actions_ignore_case_and_punctuation() -> None:
    assert normalize_action("REMOVED & Replaced  gasket.") == normalize_action("removed replaced gasket")
    assert normalize_action("更换 轴承。") == "更换 轴承"


def test_split_is_by_record_id(dataset: Dataset) -> None:
    records = work_orders(dataset)
    split = record_split(records, TextRetrievalConfig(test_fraction=0.3))
    ids = records["work_order_id"]
    assert set(ids.iloc[split.train]).isdisjoint(ids.iloc[split.test])
    assert len(split.train) + len(split.test) == len(records)


def test_scores_by_hand_with_a_fixed_ranking(dataset: Dataset) -> None:
    records = work_orders(dataset)
    config = TextRetrievalConfig()
    split = record_split(records, config)
    corpus = records.iloc[split.train]["action"].map(normalize_action).tolist()
    queries = records.iloc[split.test]["action"].map(normalize_action).tolist()
    ranks = [corpus.index(q) + 1 if q in corpus else 0 for q in queries]  # first corpus position with the action
    result = run_maintenance_text(dataset, lambda seed: _FixedRanking(), config=config)
    assert result.metrics["recall_at_1"] == pytest.approx(np.mean([r == 1 for r in ranks]))
    assert result.metrics["recall_at_5"] == pytest.approx(np.mean([1 <= r <= 5 for r in ranks]))
    assert result.metrics["mrr"] == pytest.approx(np.mean([1 / r if r else 0 for r in ranks]))
    assert result.metrics["answerable"] == pytest.approx(np.mean([r > 0 for r in ranks]))


def test_bm25_retrieves_the_matching_case(dataset: Dataset) -> None:
    from omnimaint.baselines import BM25Retriever

    result = run_maintenance_text(dataset, lambda seed: BM25Retriever())
    assert result.metrics["answerable"] == 1.0
    assert result.metrics["recall_at_1"] == 1.0


def test_records_without_text_are_ignored(tmp_path_factory: pytest.TempPathFactory) -> None:
    from omnimaint.data import Manifest, write_dataset
    from omnimaint.data.schema import SCHEMA_VERSION
    from omnimaint.evaluation.protocols import ProtocolError

    rows = pd.DataFrame(
        {
            "work_order_id": ["1", "2"],
            "asset_id": "aircraft",
            "ts_open": pd.Timestamp("2000-01-01", tz="UTC"),
            "kind": "corrective",
            "problem": ["", None],
            "action": ["x", "y"],
        }
    )
    assets = pd.DataFrame({"asset_id": ["aircraft"], "asset_type": ["aircraft"]})
    empty = write_dataset(
        tmp_path_factory.mktemp("empty") / "d",
        Manifest(schema_version=SCHEMA_VERSION),
        {"assets": assets, "maintenance": rows},
    )
    with pytest.raises(ProtocolError, match="both a problem and an action"):
        run_maintenance_text(empty, lambda seed: _FixedRanking())
