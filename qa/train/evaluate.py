"""Reader-only SQuAD metrics on held-out articles: EM/F1 (official normalisation), no-answer
accuracy at a threshold, expected calibration error.

Small on purpose: ``qa eval`` is the product's evaluation tool; this exists so training can be
measured without it, with the same definitions as the official SQuAD script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.answers import token_f1
from qa.eval.metrics import normalize_answer as normalize  # the official SQuAD normalisation
from qa.train.data import Example
from qa.types import Passage


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def f1(prediction: str, gold: str) -> float:
    return token_f1(normalize(prediction).split(), normalize(gold).split())


def best_over(metric: Any, prediction: str, golds: Sequence[str]) -> float:
    return max((metric(prediction, g) for g in golds), default=0.0)


@dataclass
class Prediction:
    """The reader's best span on a question's own paragraph (gold passage)."""

    id: str
    answerable: bool
    text: str  # best span, whether or not it clears the threshold
    score: float  # calibrated (or uncalibrated) probability of the best span
    raw: dict[str, float]
    em: float  # of ``text`` against the gold answers (0 for unanswerable questions)
    f1: float


def gold_passage(example: Example) -> Passage:
    return Passage(
        doc_id=example.title,
        chunk_index=0,
        start=0,
        end=len(example.context),
        text=example.context,
        title=example.title,
        rank=1,
    )


def predict(reader: Any, examples: list[Example]) -> list[Prediction]:
    out = []
    for ex in examples:
        result = reader.read(ex.question, [gold_passage(ex)], top_n=1)
        golds = [a for a, _ in ex.answers]
        if result.spans:
            span = result.spans[0]
            text, score, raw = span.text, span.score, dict(span.features)
        else:
            text, score, raw = "", 0.0, {}
        em = best_over(exact_match, text, golds) if golds else 0.0
        f = best_over(f1, text, golds) if golds else 0.0
        out.append(Prediction(ex.id, bool(golds), text, score, raw, em, f))
    return out


def correct(p: Prediction) -> float:
    """What a calibrated score promises: answering with this span is right (F1 >= 0.5 against a
    gold answer). Answering an unanswerable question is never right."""
    return float(p.answerable and p.f1 >= 0.5)


def ece(confidence: np.ndarray, outcome: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error with equal-width bins over [0, 1]."""
    if confidence.size == 0:
        return 0.0
    idx = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(confidence[mask].mean() - outcome[mask].mean())
    return float(total / confidence.size)


def reliability(
    confidence: np.ndarray, outcome: np.ndarray, bins: int = 10
) -> list[dict[str, float]]:
    idx = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = idx == b
        if mask.any():
            rows.append(
                {
                    "bin": b / bins,
                    "n": int(mask.sum()),
                    "confidence": round(float(confidence[mask].mean()), 4),
                    "accuracy": round(float(outcome[mask].mean()), 4),
                }
            )
    return rows


def summarize(preds: list[Prediction], threshold: float) -> dict[str, Any]:
    """SQuAD 2.0-style figures at ``threshold``: has-answer EM/F1 of the best span regardless of
    the threshold (reader quality), and with abstention (what users get)."""
    has = [p for p in preds if p.answerable]
    no = [p for p in preds if not p.answerable]
    conf = np.array([p.score for p in preds])
    outcome = np.array([correct(p) for p in preds])
    answered = [p.score >= threshold for p in preds]
    overall_f1 = [
        (p.f1 if a else 0.0) if p.answerable else float(not a)
        for p, a in zip(preds, answered, strict=True)
    ]
    return {
        "questions": len(preds),
        "has_answer": len(has),
        "no_answer": len(no),
        "threshold": round(threshold, 4),
        "has_answer_em": round(100 * _mean([p.em for p in has]), 2),
        "has_answer_f1": round(100 * _mean([p.f1 for p in has]), 2),
        "has_answer_f1_at_threshold": round(
            100 * _mean([p.f1 if p.score >= threshold else 0.0 for p in has]), 2
        ),
        "no_answer_accuracy": round(100 * _mean([float(p.score < threshold) for p in no]), 2),
        "overall_f1": round(100 * _mean(overall_f1), 2),
        "ece": round(ece(conf, outcome), 4),
        "reliability": reliability(conf, outcome),
    }


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else 0.0
