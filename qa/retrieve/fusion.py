"""How the dense and BM25 rankings become one.

The default is a convex combination of the two lists' min-max normalised scores: unlike
reciprocal rank fusion it keeps how far ahead a first hit is (a BM25 hit on a rare name that
towers over the rest of its list is worth more than a narrow win). Min-max puts cosine and BM25
on one scale within each question's candidates. RRF (``fusion="rrf"``) stays available; the
choice and the weight were made on held-out questions (``bench/fusion.py``).
"""

from __future__ import annotations

FUSIONS = ("convex", "rrf")


def check_fusion(fusion: str, dense_weight: float) -> None:
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, not {fusion!r}")
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be between 0 and 1, not {dense_weight}")


def fuse(
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    fusion: str = "convex",
    dense_weight: float = 0.5,
    rrf_k: int = 60,
) -> dict[int, dict[str, float]]:
    """Each candidate chunk's scores, ranks and ``fused`` score from two best-first lists of
    (chunk id, score). Convex: a chunk absent from a list counts as that list's minimum."""
    scores: dict[int, dict[str, float]] = {}
    for name, hits, weight in (("dense", dense, dense_weight), ("bm25", lexical, 1 - dense_weight)):
        if not hits:
            continue
        lo = min(score for _, score in hits)
        span = max(score for _, score in hits) - lo
        for rank, (cid, score) in enumerate(hits, start=1):
            entry = scores.setdefault(cid, {"fused": 0.0})
            entry[name] = score
            entry[f"{name}_rank"] = float(rank)
            if fusion == "rrf":
                entry["fused"] += 1.0 / (rrf_k + rank)
            else:
                entry["fused"] += weight * ((score - lo) / span if span > 0 else 1.0)
    return scores
