"""Maintenance-text retrieval protocol: given a problem description, find what fixed it before.

Built on the MaintNet aviation logbook (Akhbardeh, Desell & Zampieri, COLING 2020 demos), whose records
pair a free-text problem with the action taken. This is the retrieval step of the case-based diagnosis
that omnimaint attaches to each alert.

- Split by record: a record is a test query when a hash of its ``work_order_id`` falls below
  ``test_fraction`` (:func:`omnimaint.evaluation.splits.hash_split`), so no record is on both sides and
  a record's side never depends on the rest of the data.
- Corpus: the problem texts of the training records. Query: a test record's problem text.
- A retrieved record is a hit when its action, normalised (lower case, punctuation and repeated white
  space removed), equals the query record's normalised action.
- Metrics: recall@1 and recall@5 (fraction of queries with a hit in the top 1 / 5) and the mean
  reciprocal rank of the first hit over the whole ranking (0 for a query without one). The fraction of
  queries whose action appears at all in the corpus (the ceiling of recall) is reported beside them.

Estimator interface: ``fit(documents, actions)`` on the training records' problem texts and their actions (the
training labels: a case-based method may vote by what was done; BM25 ignores them), ``score(queries)`` on
the test problem texts returning a float array ``(n_queries, n_documents)`` (higher = more relevant). A test
record's action is never shown to the method.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from omnimaint.data.dataset import Dataset
from omnimaint.evaluation.metrics import first_hit_ranks, mean_reciprocal_rank, recall_at_k
from omnimaint.evaluation.protocols.base import MethodFactory, ProtocolError, ProtocolResult
from omnimaint.evaluation.protocols.inputs import require_table
from omnimaint.evaluation.splits import IndexSplit, hash_split

logger = logging.getLogger(__name__)

_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class TextRetrievalConfig:
    """Settings of the maintenance-text protocol.

    Attributes:
        test_fraction: Expected fraction of records used as queries.
        salt: Salt of the record hash (changes the split like a seed).
    """

    test_fraction: float = 0.2
    salt: str = "omnimaint-maintenance-text"


def normalize_action(text: str) -> str:
    """Lower case, punctuation to spaces, white space collapsed (the hit criterion compares these)."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).replace("_", " ").split())


def work_orders(dataset: Dataset) -> pd.DataFrame:
    """Work orders with both a problem and an action: columns work_order_id, problem, action.

    Raises:
        ProtocolError: if there is none.
    """
    table = require_table(dataset, "maintenance", "maintenance-text")
    usable = table.dropna(subset=["problem", "action"])
    usable = usable[(usable["problem"].str.strip() != "") & (usable["action"].str.strip() != "")]
    if usable.empty:
        raise ProtocolError(f"{dataset.path}: no work order has both a problem and an action text")
    return usable[["work_order_id", "problem", "action"]].reset_index(drop=True)


def record_split(records: pd.DataFrame, config: TextRetrievalConfig) -> IndexSplit:
    """Split work orders by a hash of their id."""
    return hash_split(records["work_order_id"].astype(str).tolist(), config.test_fraction, config.salt)


def run_maintenance_text(
    dataset: Dataset, factory: MethodFactory, seed: int = 0, config: TextRetrievalConfig | None = None
) -> ProtocolResult:
    """Run the retrieval protocol (``seed`` only seeds the method; the split is fixed by the salt).

    Returns:
        ``recall_at_1``, ``recall_at_5``, ``mrr`` and ``answerable`` (fraction of queries whose action
        occurs in the corpus).
    """
    config = config or TextRetrievalConfig()
    records = work_orders(dataset)
    split = record_split(records, config)
    if split.train.size == 0 or split.test.size == 0:
        raise ProtocolError(f"{dataset.path}: too few work orders ({len(records)}) for a corpus and queries")
    corpus, queries = records.iloc[split.train], records.iloc[split.test]
    actions = pd.concat([corpus["action"], queries["action"]]).map(normalize_action)
    codes, _ = pd.factorize(actions)
    corpus_action, query_action = codes[: len(corpus)], codes[len(corpus) :]

    retriever = factory(seed)
    retriever.fit(corpus["problem"].tolist(), corpus["action"].tolist())
    scores = np.asarray(retriever.score(queries["problem"].tolist()), dtype=np.float64)
    if scores.shape != (len(queries), len(corpus)):
        raise ProtocolError(f"score() returned shape {scores.shape}, expected {(len(queries), len(corpus))}")
    ranking = np.argsort(-scores, axis=1, kind="stable")  # (n_queries, n_corpus), best first
    ranks = first_hit_ranks(corpus_action[ranking] == query_action[:, None])
    answerable = np.isin(query_action, corpus_action)
    metrics = {
        "recall_at_1": recall_at_k(ranks, 1),
        "recall_at_5": recall_at_k(ranks, 5),
        "mrr": mean_reciprocal_rank(ranks),
        "answerable": float(answerable.mean()),
    }
    details = {
        "config": asdict(config),
        "n_corpus": len(corpus),
        "n_queries": len(queries),
        "recall_at_5_answerable": recall_at_k(ranks[answerable], 5) if answerable.any() else float("nan"),
    }
    return ProtocolResult(metrics=metrics, details=details)
