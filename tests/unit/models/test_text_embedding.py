"""Text into model inputs: the packaged MiniLM offline, and a tokenizer trained on the plant's own (Chinese) text."""

from __future__ import annotations

import numpy as np
import pytest

from omnimaint.models.text_embedding import DomainTokenizer, SentenceEmbedder

ZH = [
    "轴承异响，振动偏大，更换轴承",
    "轴承温度高，加注润滑脂",
    "密封泄漏，地面有积水，更换机械密封",
    "皮带打滑跑偏，调整张紧",
    "电机过流跳闸，检查接线端子",
] * 20


def test_domain_tokenizer_segments_chinese_and_round_trips_ids() -> None:
    tokenizer = DomainTokenizer.train(ZH, vocab_size=80, max_tokens=12)
    ids = tokenizer.encode(["轴承异响，振动偏大", "未知设备故障"])
    assert ids.shape == (2, 12)
    assert (ids[0] > 0).sum() >= 2  # more than one piece for a Chinese sentence
    assert (ids[:, -1] == 0).all() or (ids > 0).all()
    pieces = tokenizer.tokens("轴承异响")
    assert any("轴承" in p for p in pieces)
    restored = DomainTokenizer(tokenizer.to_json(), max_tokens=12)
    np.testing.assert_array_equal(restored.encode(["皮带打滑跑偏"]), tokenizer.encode(["皮带打滑跑偏"]))


def test_packaged_minilm_embeds_offline_and_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = SentenceEmbedder()
    vectors = embedder.embed(["bearing noise, high vibration", "brg noisy and vib high", "belt slipping off pulley"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, different = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > different
    assert len(embedder) == 3
    embedder.embed(["bearing noise, high vibration"])
    assert len(embedder) == 3
