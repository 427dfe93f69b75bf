"""Small documents and deterministic vectors for the store tests (no model needed)."""

from __future__ import annotations

import hashlib

import numpy as np

from qa.store import Store, StoreConfig
from qa.types import Chunk, Document, Meta

DIM = 8
CONFIG = StoreConfig(
    model="test-model", model_fingerprint="fp-1", dimension=DIM, chunk_tokens=256, chunk_overlap=1
)


def make_doc(doc_id: str, n_chunks: int = 3, **meta: str) -> tuple[Document, list[Chunk]]:
    sentences = [f"Sentence {i} of {doc_id}." for i in range(n_chunks)]
    text = " ".join(sentences)
    doc = Document(doc_id, text, meta=Meta(f"Title {doc_id}", **meta))
    chunks, pos = [], 0
    for i, s in enumerate(sentences):
        start = text.index(s, pos)
        chunks.append(Chunk(doc_id, i, start, start + len(s), s))
        pos = start + len(s)
    return doc, chunks


def vectors_for(chunks: list[Chunk]) -> np.ndarray:
    """Deterministic unit vectors derived from the chunk text."""
    out = []
    for c in chunks:
        seed = int.from_bytes(hashlib.sha256(c.text.encode()).digest()[:4], "little")
        v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.vstack(out) if out else np.zeros((0, DIM), np.float32)


def add(store: Store, doc_id: str, n: int = 3, **meta: str) -> list[Chunk]:
    doc, chunks = make_doc(doc_id, n, **meta)
    store.add([doc], chunks, vectors_for(chunks))
    return chunks
