"""The embedder on the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embed import RECENT_BATCH, Embedder
from qa.settings import Settings


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(Settings().embed_model)


def test_vectors_are_normalized_and_sized(embedder: Embedder):
    v = embedder.embed(["Who chairs the parliament?", "South Ossetia"])
    assert v.shape == (2, embedder.dimension) == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_a_question_embedded_again_is_not_encoded_again(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
):
    question = "Which news agency reported the signing?"
    first = embedder.embed_query(question)
    calls: list[list[str]] = []
    encode = embedder._encode

    def counting(texts: list[str], progress: bool) -> np.ndarray:
        calls.append(texts)
        return encode(texts, progress)

    monkeypatch.setattr(embedder, "_encode", counting)
    assert np.array_equal(embedder.embed([question]), first[None, :])
    assert calls == []
    # corpora (large batches) are never cached: they would crowd the questions out
    many = [f"sentence {i}" for i in range(RECENT_BATCH + 1)]
    embedder.embed(many)
    embedder.embed(many[:1])
    assert calls == [many, many[:1]]
