"""Okapi BM25 text retrieval (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and
Beyond", 2009), with a tokenizer for English jargon and Chinese alike."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and numbers; runs of Chinese characters become overlapping character bigrams.

    Chinese has no spaces between words; character bigrams are the classic segmentation-free index
    unit (Nie et al., SIGIR 2000). A single isolated character is kept as a unigram.
    """
    tokens: list[str] = []
    for match in _TOKEN.findall(text.lower()):
        if _CJK.match(match):
            tokens.extend([match] if len(match) == 1 else [match[i : i + 2] for i in range(len(match) - 1)])
        else:
            tokens.append(match)
    return tokens


class BM25Retriever(BaseEstimator):
    """Rank documents for a query by Okapi BM25.

    Args:
        k1: Term-frequency saturation.
        b: Document-length normalisation (0 none, 1 full).
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b

    def fit(self, documents: Sequence[str], y: object = None) -> BM25Retriever:
        """Index the documents (``y`` is ignored)."""
        vocabulary: dict[str, int] = {}
        rows, cols = [], []
        for row, document in enumerate(documents):
            for token in tokenize(document):
                rows.append(row)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
        shape = (len(documents), len(vocabulary))
        counts = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)  # duplicates are summed
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        n_docs = max(len(documents), 1)
        document_frequency = np.bincount(counts.indices, minlength=len(vocabulary))
        self.idf_ = np.log1p((n_docs - document_frequency + 0.5) / (document_frequency + 0.5))
        norm = self.k1 * (1.0 - self.b + self.b * lengths / max(lengths.mean(), 1e-9))  # (n_docs,)
        weights = counts.tocoo()
        tf = weights.data
        saturated = tf * (self.k1 + 1.0) / (tf + norm[weights.row])
        self.weights_ = sp.csr_matrix((saturated * self.idf_[weights.col], (weights.row, weights.col)), shape=shape)
        self.vocabulary_ = vocabulary
        self.n_documents_ = len(documents)
        return self

    def _query_matrix(self, queries: Sequence[str]) -> sp.csr_matrix:
        rows, cols = [], []
        for row, query in enumerate(queries):
            for token in set(tokenize(query)):
                if token in self.vocabulary_:
                    rows.append(row)
                    cols.append(self.vocabulary_[token])
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(queries), len(self.vocabulary_)))

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for every query, shape ``(n_queries, n_documents)``."""
        return np.asarray((self._query_matrix(queries) @ self.weights_.T).todense())

    def top_k(self, queries: Sequence[str], k: int) -> np.ndarray:
        """Indices of the ``k`` best documents per query, best first, shape ``(n_queries, min(k, n_documents))``."""
        scores = self.score(queries)
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
