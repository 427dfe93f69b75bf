"""The best answer spans of one window, shared by the reader and the training probe so that a
probe scores spans exactly as the service picks them: a start token and an end token no earlier
than it, at most a maximum length apart, scored by start logit + end logit."""

from __future__ import annotations

import numpy as np


def best_spans(
    start: np.ndarray,
    end: np.ndarray,
    max_tokens: int,
    k: int,
    allowed: np.ndarray | None = None,
) -> list[tuple[int, int, float]]:
    """``(i, j, start[i] + end[j])`` of the ``k`` best spans, best first; ``start`` and ``end``
    hold the logits of the context tokens only, and ``allowed[i, j]`` False rules a pair out (a
    span across a line break)."""
    scores = start[:, None] + end[None, :]
    i, j = np.indices(scores.shape)
    band = (j >= i) & (j - i < max_tokens)
    if allowed is not None:
        band &= allowed
    n = int(band.sum())
    if n == 0 or k <= 0:
        return []
    scores = np.where(band, scores, -np.inf)
    k = min(k, n)
    flat = np.argpartition(-scores.ravel(), k - 1)[:k]
    flat = flat[np.argsort(-scores.ravel()[flat], kind="stable")]
    cols = scores.shape[1]
    return [(int(f) // cols, int(f) % cols, float(scores.ravel()[f])) for f in flat]
