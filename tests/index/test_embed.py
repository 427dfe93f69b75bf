"""The embedder on the packaged all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index.embed import RECENT_BATCH, Embedder, model_fingerprint, onnx_artifact, resolve_backend
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


# -- backends ------------------------------------------------------------------------------------

TEXTS = [
    "Who is the chairman of the Tskhinvali parliament?",
    "South Ossetia signed a treaty on alliance and integration with Russia in 2015.",
    "",
    "word " * 400,  # past the model's 256-token window: truncated alike by both backends
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(Settings().embed_model, backend="torch")


def test_the_packaged_model_runs_on_the_shipped_onnx_int8_encoder(embedder: Embedder):
    assert embedder.backend == "onnx-int8"
    assert onnx_artifact(embedder.model_name, "onnx-int8") is not None


def test_onnx_vectors_match_torch_and_count_the_same_tokens(
    embedder: Embedder, torch_embedder: Embedder
):
    onnx, torch = embedder.embed(TEXTS), torch_embedder.embed(TEXTS)
    assert onnx.shape == torch.shape == (len(TEXTS), 384) and onnx.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    cosines = (onnx * torch).sum(axis=1)
    assert cosines.min() > 0.97, cosines  # int8 weights: close to fp32, not equal
    assert embedder.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)
    assert embedder.max_tokens == torch_embedder.max_tokens == 256


def test_a_batch_gives_each_text_the_vector_it_gets_alone(embedder: Embedder):
    """Batches are sorted by length and padded: neither may leak into a text's vector."""
    texts = ["short", "a much longer sentence about the parliament of South Ossetia", "mid one"]
    together = embedder._encode(texts, False)
    alone = np.stack([embedder._encode([t], False)[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_each_backend_has_its_own_fingerprint(embedder: Embedder, torch_embedder: Embedder):
    name = embedder.model_name
    assert torch_embedder.fingerprint == model_fingerprint(name)
    assert embedder.fingerprint.startswith(model_fingerprint(name) + "+onnx-int8:")


def test_onnx_is_refused_for_a_model_it_was_not_built_from(tmp_path):
    with pytest.raises(ValueError, match="QA_EMBED_BACKEND=torch"):
        resolve_backend(str(tmp_path), "onnx-int8")
    assert resolve_backend(str(tmp_path), "auto") == "torch"
    assert resolve_backend("sentence-transformers/all-MiniLM-L6-v2") == "torch"
    with pytest.raises(ValueError, match="unknown embedding backend"):
        resolve_backend(str(tmp_path), "tensorflow")
