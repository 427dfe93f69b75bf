"""Indexing chunks the next documents while it embeds the chunks before them
(``Indexer.prepare``): the chunks (order, offsets, text) and their vectors must be exactly
those of chunking everything at once and embedding each chunk alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import SEEDS

import qa.index.writer
from qa.index.chunk import chunk_documents
from qa.index.embed import Embedder, OnnxEncoder, onnx_artifact
from qa.pipeline import Pipeline
from qa.settings import Settings
from qa.types import Document


def _documents() -> list[Document]:
    docs = [
        Document(id=f"{p.stem}-{copy}", text=p.read_text(encoding="utf-8"))
        for copy in range(2)
        for p in sorted(SEEDS.glob("*.txt"))
    ]
    # a part whose documents give no chunk at all, and a tiny one between long ones
    docs[3:3] = [Document(id="blank-1", text="   \n  "), Document(id="blank-2", text="\n")]
    docs.insert(8, Document(id="tiny", text="One sentence only."))
    return docs


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder(Settings().embed_model)


def test_pipelined_chunks_and_vectors_equal_the_sequential_ones(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.index.writer, "CHUNK_STEP", 2)  # many parts, some of them empty
    pipeline = Pipeline(Settings(index_dir=tmp_path / "index"), embedder=embedder)
    config = pipeline.store_config()
    docs = _documents()
    chunks, vectors = pipeline.indexer.prepare(docs, config, progress=False)

    expected = [
        c
        for per_doc in chunk_documents(
            docs, embedder.count_tokens, config.chunk_tokens, config.chunk_overlap
        )
        for c in per_doc
    ]
    assert chunks == expected  # same documents, order, indexes, offsets and text
    by_id = {d.id: d.text for d in docs}
    assert all(by_id[c.doc_id][c.start : c.end] == c.text for c in chunks)
    alone = np.stack([embedder.encoder.encode([c.text], 1, False)[0] for c in expected])
    assert vectors.dtype == np.float32 and np.array_equal(vectors, alone)


def test_threads_keep_every_text_in_its_row(embedder: Embedder) -> None:
    """Threads take texts longest first as they come free; each vector still lands in its
    text's row, equal to the text's vector alone."""
    artifact = onnx_artifact(embedder.model_name, embedder.backend)
    encoder = OnnxEncoder(embedder.model_name, artifact, threads=3)
    texts = [f"Sentence {i} " + "about the parliament " * (i % 7) for i in range(23)]
    together = encoder.encode(texts, 4, False)
    alone = np.stack([encoder.encode([t], 1, False)[0] for t in texts])
    assert np.array_equal(together, alone)
