"""BM25: tokenizer (English jargon and Chinese), exact-match retrieval, term weighting."""

from __future__ import annotations

import numpy as np

from omnimaint.baselines import BM25Retriever, tokenize


def test_tokenizer_splits_words_and_chinese_bigrams() -> None:
    assert tokenize("R&R Left MAGNETO, cyl #2!") == ["r", "r", "left", "magneto", "cyl", "2"]
    assert tokenize("主轴轴承异响") == ["主轴", "轴轴", "轴承", "承异", "异响"]
    assert tokenize("更换 轴 bearing") == ["更换", "轴", "bearing"]


DOCS = [
    "engine idle override killed engine",
    "left magneto drop excessive on run up",
    "oil leak at rocker cover gasket",
    "主轴 轴承 异响 振动 过大",
    "cracked exhaust stack",
]


def test_exact_match_document_ranks_first() -> None:
    retriever = BM25Retriever().fit(DOCS)
    assert retriever.top_k(DOCS, 1)[:, 0].tolist() == list(range(len(DOCS)))
    assert retriever.top_k(["轴承 异响"], 1)[0, 0] == 3
    assert retriever.score(["nothing in common"]).tolist() == [[0.0] * len(DOCS)]


def test_rare_terms_weigh_more_than_common_ones() -> None:
    docs = ["gasket leak", "gasket crack", "gasket wear", "magneto leak"]
    retriever = BM25Retriever().fit(docs)
    scores = retriever.score(["gasket magneto"])[0]
    assert int(np.argmax(scores)) == 3  # 'magneto' (1 document) outweighs 'gasket' (3 documents)
    assert retriever.idf_[retriever.vocabulary_["magneto"]] > retriever.idf_[retriever.vocabulary_["gasket"]]


def test_longer_documents_are_normalised() -> None:
    docs = ["leak", "leak " + "filler " * 30]
    scores = BM25Retriever(b=0.75).fit(docs).score(["leak"])[0]
    assert scores[0] > scores[1]
    flat = BM25Retriever(b=0.0).fit(docs).score(["leak"])[0]
    assert flat[0] == flat[1]
