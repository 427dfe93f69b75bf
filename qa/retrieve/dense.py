"""The dense leg's cosine for passages that come without one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from qa.index.embed import Embedder
from qa.types import Passage


def with_dense_scores(embedder: Embedder, question: str, passages: list[Passage]) -> list[Passage]:
    """Every passage with its cosine to the question: the reader's confidence weighs how close the
    passages are to the question, and a passage that BM25 alone found, or one handed in
    directly, comes without it."""
    missing = [i for i, p in enumerate(passages) if "dense" not in p.scores]
    if not missing:
        return passages
    query = embedder.embed_query(question)
    vectors = embedder.embed([passages[i].text for i in missing])
    out = list(passages)
    for i, vector in zip(missing, vectors, strict=True):
        cosine = round(float(np.dot(vector, query)), 6)
        out[i] = replace(out[i], scores={**out[i].scores, "dense": cosine})
    return out
