"""Hybrid retrieval of work orders by text: Okapi BM25 and sentence-embedding cosine, fused by reciprocal rank.

Owns the text encoders a case base embeds with (whatever the bundle's model reads text with: a frozen
``transformers`` sentence encoder, MiniLM by default, or the bundle's own domain encoder), reciprocal rank
fusion (Cormack, Clarke & Büttcher, SIGIR 2009), voting over the actions of the nearest work orders, and
:class:`HybridRetriever`, the ``hybrid`` method of the ``maintenance-text`` protocol. It imports no training
and no service code.

Why both: BM25 matches the plant's own jargon, part numbers and Chinese character bigrams exactly; a
sentence encoder matches paraphrases ("grinding noise" / "bearing running rough"). Reciprocal rank fusion
needs no calibration between their scores, which live on unrelated scales.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

import numpy as np
from sklearn.base import BaseEstimator

from omnimaint.baselines.bm25 import BM25Retriever
from omnimaint.errors import ConfigError

if TYPE_CHECKING:
    from omnimaint.inference.bundle import Bundle
    from omnimaint.models.omni import HealthModel

RRF_K = 60
"""The constant of reciprocal rank fusion, ``1 / (k + rank)``: 60 as in Cormack et al. (validation on MaintNet
changed recall@5 by less than 0.01 between 10 and 60, see docs/diagnosis.md)."""

_NON_WORD = re.compile(r"[^\w]+")


class TextEncoder(Protocol):
    """Turns texts into L2-normalised vectors, ``(n, dim)`` float32."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class TextEncoderSpec:
    """Which text encoder a case base was embedded with.

    Attributes:
        name: ``pretrained`` (a ``transformers`` sentence encoder) or ``domain`` (the bundle's domain encoder).
        model: For ``pretrained``: hub name or local path; ``None`` for the packaged all-MiniLM-L6-v2.
    """

    name: Literal["pretrained", "domain"]
    model: str | None = None


def bundle_text_encoder_spec(bundle: Bundle) -> TextEncoderSpec:
    """The text encoder of ``bundle``: its domain encoder when it was trained with one, else its pretrained
    sentence encoder (MiniLM unless its config names another; also for a bundle that reads no text)."""
    state = bundle.preprocessor
    if state.text.name == "domain" and state.domain_tokenizer is not None:
        return TextEncoderSpec("domain")
    return TextEncoderSpec("pretrained", state.text.model)


class DomainSentenceEncoder:
    """Sentence vectors from a bundle's domain text encoder: its tokenizer, then the transformer trained with the
    model (the work-order encoder's, else the event encoder's), mean-pooled and L2-normalised; for an ensemble,
    the normalised mean of the members' vectors.

    Args:
        bundle: A bundle trained with ``text.name: domain``.
        model: The bundle's model, when already built.

    Raises:
        ConfigError: if the bundle has no domain encoder.
    """

    def __init__(self, bundle: Bundle, model: HealthModel | None = None) -> None:
        from omnimaint.models.omni import members
        from omnimaint.models.text_embedding import DomainTokenizer

        state = bundle.preprocessor
        if state.domain_tokenizer is None:
            raise ConfigError(f"{bundle.path}: the bundle has no domain tokenizer (it reads no text)")
        reader = next((m for m in ("maintenance", "events") if m in bundle.model_config.modalities), None)
        if reader is None:
            raise ConfigError(f"{bundle.path}: the bundle's model reads neither work orders nor events")
        self.tokenizer = DomainTokenizer(state.domain_tokenizer, state.text.max_tokens)
        self.dim = bundle.model_config.d_model
        built = model if model is not None else bundle.build_model()
        self.text_modules = [cast(Callable[..., Any], member.encoders[reader].text) for member in members(built)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = torch.from_numpy(self.tokenizer.encode(list(texts))).unsqueeze(0)  # (1, n, T)
        present = torch.ones(ids.shape[:2], dtype=torch.bool)
        with torch.inference_mode():
            vectors = [torch.nn.functional.normalize(m(ids, present)[0], dim=-1) for m in self.text_modules]
            mean = torch.nn.functional.normalize(torch.stack(vectors).mean(dim=0), dim=-1)  # (n, D)
        return mean.numpy().astype(np.float32)


def load_text_encoder(spec: TextEncoderSpec, bundle: Bundle | None = None) -> TextEncoder:
    """The encoder ``spec`` names (the domain one needs its bundle). No download: the default MiniLM is packaged.

    Raises:
        ConfigError: if a domain encoder is asked for without its bundle, or the model cannot be loaded.
    """
    if spec.name == "domain":
        if bundle is None:
            raise ConfigError("a domain text encoder lives in its bundle; give the bundle")
        return DomainSentenceEncoder(bundle)
    from omnimaint.models.text_embedding import SentenceEmbedder

    return SentenceEmbedder(spec.model)


def ranks(scores: np.ndarray) -> np.ndarray:
    """Rank of every document per query (0 = best; ties by document order), same shape as ``scores``."""
    order = np.argsort(-scores, axis=1, kind="stable")
    out = np.empty_like(order)
    np.put_along_axis(out, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], axis=0), axis=1)
    return out


def reciprocal_rank_fusion(
    rankings: Sequence[np.ndarray],
    weights: Sequence[float],
    k: int = RRF_K,
    retrieved: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """``Σ_i w_i / (k + 1 + rank_i)`` per (query, document), ``(n_queries, n_documents)``.

    Args:
        rankings: Per retriever, 0-based ranks ``(n_queries, n_documents)`` (see :func:`ranks`).
        weights: Per retriever, its weight.
        k: The fusion constant (a larger one flattens the head of each list).
        retrieved: Per retriever, a bool mask of the documents it retrieved at all (BM25 retrieves only those
            sharing a term with the query); the others get no share from it. ``None``: all.
    """
    fused = np.zeros(rankings[0].shape, dtype=np.float64)
    for i, (rank, weight) in enumerate(zip(rankings, weights, strict=True)):
        share = weight / (k + 1.0 + rank)
        fused += share if retrieved is None else np.where(retrieved[i], share, 0.0)
    return fused


def action_key(text: str) -> str:
    """An action as compared for identity: lower case, punctuation to spaces, white space collapsed."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).replace("_", " ").split())


def vote_actions(scores: np.ndarray, groups: np.ndarray, neighbours: int) -> np.ndarray:
    """Re-rank documents by what was done: each action group gets the summed score of its documents among the
    ``neighbours`` best, and its best document comes first, in the order of those votes; every other document
    follows in its own order. A top 5 then holds five different actions, the ones the nearest cases agree on.

    Args:
        scores: ``(n_queries, n_documents)``, higher = more relevant (non-negative, below 1: fused ranks).
        groups: ``(n_documents,)`` int action group of each document.
        neighbours: How many of the best documents vote.

    Returns:
        Scores of the same shape: ``2 + vote`` for each group's representative, the input score otherwise.
    """
    n_queries, n_documents = scores.shape
    top = np.argsort(-scores, axis=1, kind="stable")[:, : min(neighbours, n_documents)]  # (n_queries, N)
    out = scores.astype(np.float64, copy=True)
    for q in range(n_queries):
        voters = top[q]
        group_of = groups[voters]
        kinds, first, inverse = np.unique(group_of, return_index=True, return_inverse=True)
        votes = np.bincount(inverse, weights=scores[q, voters], minlength=kinds.size)
        out[q, voters[first]] = 2.0 + votes  # voters are best first: the first of a group is its best
    return out


class HybridRetriever(BaseEstimator):
    """BM25 and embedding cosine fused by reciprocal rank; with the documents' actions, voted by action.

    Args:
        rrf_k: Reciprocal-rank-fusion constant.
        bm25_weight: Weight of the BM25 ranking (the embedding ranking gets ``1 - bm25_weight``).
        neighbours: Documents whose actions vote (when :meth:`fit` was given actions).
        encoder: Sentence encoder; ``None`` loads the packaged all-MiniLM-L6-v2 on :meth:`fit`.
    """

    def __init__(
        self, rrf_k: int = RRF_K, bm25_weight: float = 0.5, neighbours: int = 100, encoder: TextEncoder | None = None
    ) -> None:
        self.rrf_k = rrf_k
        self.bm25_weight = bm25_weight
        self.neighbours = neighbours
        self.encoder = encoder

    def fit(
        self, documents: Sequence[str], actions: Sequence[str] | None = None, *, embeddings: np.ndarray | None = None
    ) -> HybridRetriever:
        """Index ``documents``.

        Args:
            documents: Problem texts.
            actions: What was done for each (training labels); given, :meth:`score` votes by action.
            embeddings: The documents' vectors when already computed with ``encoder`` (a stored case base).

        Raises:
            ConfigError: if ``actions`` or ``embeddings`` do not have one row per document.
        """
        if not 0.0 <= self.bm25_weight <= 1.0:
            raise ConfigError(f"bm25_weight must be in [0, 1], got {self.bm25_weight}")
        self.encoder_ = self.encoder if self.encoder is not None else load_text_encoder(TextEncoderSpec("pretrained"))
        self.bm25_ = BM25Retriever().fit(documents)
        vectors = self.encoder_.embed(list(documents)) if embeddings is None else np.asarray(embeddings, np.float32)
        if vectors.shape[0] != len(documents):
            raise ConfigError(f"{vectors.shape[0]} embeddings for {len(documents)} documents")
        self.embeddings_ = vectors
        if actions is not None and len(actions) != len(documents):
            raise ConfigError(f"{len(actions)} actions for {len(documents)} documents")
        self.action_groups_: np.ndarray | None = None
        if actions is not None:
            keys = [action_key(a) for a in actions]
            index: dict[str, int] = {}
            self.action_groups_ = np.asarray([index.setdefault(key, len(index)) for key in keys], dtype=np.int64)
        return self

    def fused_scores(self, queries: Sequence[str], query_embeddings: np.ndarray | None = None) -> np.ndarray:
        """Reciprocal-rank fusion of BM25 and cosine, ``(n_queries, n_documents)``."""
        lexical = self.bm25_.score(queries)
        vectors = self.encoder_.embed(list(queries)) if query_embeddings is None else query_embeddings
        semantic = vectors @ self.embeddings_.T  # (n_queries, n_documents), both L2-normalised
        return reciprocal_rank_fusion(
            [ranks(lexical), ranks(semantic)],
            [self.bm25_weight, 1.0 - self.bm25_weight],
            self.rrf_k,
            retrieved=[lexical > 0, np.ones_like(lexical, dtype=bool)],
        )

    def score(self, queries: Sequence[str]) -> np.ndarray:
        """Relevance of every document for every query, ``(n_queries, n_documents)``: fused, then voted by action
        when :meth:`fit` had actions (see :func:`vote_actions`)."""
        fused = self.fused_scores(queries)
        if self.action_groups_ is None:
            return fused
        return vote_actions(fused, self.action_groups_, self.neighbours)
