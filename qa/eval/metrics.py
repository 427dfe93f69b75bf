"""Scores: SQuAD exact match and token F1 (the official v2.0 script's definitions), abstention,
calibration, latency percentiles, and ranking metrics through ``ranx``.

The SQuAD functions reproduce ``evaluate-v2.0.py`` on purpose, including its quirks (only ASCII
punctuation is stripped; an empty gold list means "no answer" and only an empty prediction matches
it), so our numbers can be put next to published ones.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa.text.normalize import SQUAD_PUNCTUATION, normalize_answer, token_f1

# -- SQuAD -----------------------------------------------------------------------------------------


def squad_words(text: str) -> str:
    """The official script's normalisation: lower case, no ASCII punctuation, no articles."""
    return normalize_answer(text, SQUAD_PUNCTUATION)


def answer_tokens(text: str) -> list[str]:
    return squad_words(text).split() if text else []


def exact_match(prediction: str, gold: str) -> int:
    return int(squad_words(gold) == squad_words(prediction))


def f1_score(prediction: str, gold: str) -> float:
    # "no answer" (or an answer that normalizes to nothing) is right only against the same
    return token_f1(answer_tokens(prediction), answer_tokens(gold))


def gold_answers(answers: Sequence[str]) -> list[str]:
    """The official script's gold list: answers that normalize to nothing are dropped, and a
    question left without any is unanswerable (gold ``""``)."""
    kept = [a for a in answers if squad_words(a)]
    return kept or [""]


def best_exact(prediction: str, answers: Sequence[str]) -> int:
    return max(exact_match(prediction, g) for g in gold_answers(answers))


def best_f1(prediction: str, answers: Sequence[str]) -> float:
    return max(f1_score(prediction, g) for g in gold_answers(answers))


@dataclass
class Scored:
    """One question's outcome. ``candidate`` is the reader's best span whatever its confidence
    (None when it found nothing); ``answered`` says whether it cleared the operating threshold."""

    answerable: bool
    candidate: str | None
    confidence: float | None
    answered: bool
    exact: int = 0  # at the operating threshold
    f1: float = 0.0
    candidate_exact: int = 0  # if the candidate were given whatever its confidence
    candidate_f1: float = 0.0
    abstain_exact: int = 0  # if nothing were given
    abstain_f1: float = 0.0


def score_prediction(
    answers: Sequence[str], candidate: str | None, confidence: float | None, answered: bool
) -> Scored:
    s = Scored(bool(answers), candidate, confidence, answered and candidate is not None)
    s.abstain_exact, s.abstain_f1 = best_exact("", answers), best_f1("", answers)
    if candidate is not None:
        s.candidate_exact, s.candidate_f1 = (
            best_exact(candidate, answers),
            best_f1(candidate, answers),
        )
    else:
        s.candidate_exact, s.candidate_f1 = s.abstain_exact, s.abstain_f1
    if s.answered:
        s.exact, s.f1 = s.candidate_exact, s.candidate_f1
    else:
        s.exact, s.f1 = s.abstain_exact, s.abstain_f1
    return s


def _pct(values: Iterable[float]) -> float | None:
    vals = list(values)
    return round(100.0 * sum(vals) / len(vals), 2) if vals else None


def squad_summary(scored: Sequence[Scored]) -> dict[str, Any]:
    """EM/F1 in percent as the official script prints them, overall and split by has/no answer.
    ``no_answer_accuracy`` is the share of unanswerable questions left unanswered."""
    has = [s for s in scored if s.answerable]
    no = [s for s in scored if not s.answerable]
    return {
        "exact_match": _pct(s.exact for s in scored),
        "f1": _pct(s.f1 for s in scored),
        "has_answer_exact": _pct(s.exact for s in has),
        "has_answer_f1": _pct(s.f1 for s in has),
        "no_answer_accuracy": _pct(s.exact for s in no),
        "answered_rate": _pct(float(s.answered) for s in scored),
    }


def best_threshold(scored: Sequence[Scored], metric: str = "f1") -> tuple[float | None, float]:
    """The confidence threshold (answer when ``confidence >= t``) that maximizes overall F1 (or
    exact match), and that score in percent: the official script's ``find_best_thresh`` with our
    confidence in place of its no-answer probability. Questions without a candidate always
    abstain. Returns ``(None, score)`` when abstaining on everything is best."""
    if not scored:
        return None, 0.0
    answered_key, abstain_key = f"candidate_{metric}", f"abstain_{metric}"
    total = float(sum(getattr(s, abstain_key) for s in scored))
    best, best_t = total, None
    ranked = sorted(
        (s for s in scored if s.candidate is not None and s.confidence is not None),
        key=lambda s: -float(s.confidence or 0.0),
    )
    i = 0
    while i < len(ranked):
        conf = ranked[i].confidence
        # questions with the same confidence are answered together by any threshold
        while i < len(ranked) and ranked[i].confidence == conf:
            total += getattr(ranked[i], answered_key) - getattr(ranked[i], abstain_key)
            i += 1
        if total > best:
            best, best_t = total, float(conf or 0.0)
    return best_t, round(100.0 * best / len(scored), 2)


# -- calibration -----------------------------------------------------------------------------------

#: a span counts as right for calibration when its token F1 to a gold answer reaches this (the
#: target the shipped reader's confidence is calibrated to; see qa/models/reader/calibration.json)
CORRECT_F1 = 0.5


def calibration(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> tuple[float | None, list[dict[str, float]]]:
    """Expected calibration error over equal-width confidence bins, and the bins (for a
    reliability diagram): how far, on average, stated confidence is from observed accuracy."""
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct differ in length")
    if not confidences:
        return None, []
    conf = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    hit = np.asarray(correct, dtype=float)
    # bin i holds (i/bins, (i+1)/bins]; 0.0 goes to the first bin
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        row = {
            "lo": b / bins,
            "hi": (b + 1) / bins,
            "count": n,
            "confidence": float(conf[mask].mean()) if n else math.nan,
            "accuracy": float(hit[mask].mean()) if n else math.nan,
        }
        if n:
            ece += n / len(conf) * abs(row["accuracy"] - row["confidence"])
        table.append(row)
    return round(ece, 4), table


# -- latency ---------------------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "mean": None}
    arr = np.asarray(values, dtype=float)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "mean": round(float(arr.mean()), 2),
    }


# -- ranking ---------------------------------------------------------------------------------------

#: passage hit rate ("answer recall", DPR's top-k accuracy): a question counts when any of its top
#: k passages is relevant. In open-domain QA the relevant set is every passage that happens to
#: contain the answer string, which is unknowable in advance, so ranx's recall@k (share of ALL
#: relevant items found) would be meaningless there; hit_rate is the figure papers call recall@k.
QA_RANKING = {
    "recall@1": "hit_rate@1",
    "recall@5": "hit_rate@5",
    "recall@20": "hit_rate@20",
    "mrr@10": "mrr@10",
}
#: BEIR's measures: judgments are complete there, so recall@k is the usual share of all relevant
#: documents found in the top k
BEIR_RANKING = {
    "ndcg@10": "ndcg@10",
    "recall@100": "recall@100",
    "mrr@10": "mrr@10",
    "recall@1": "recall@1",
    "recall@5": "recall@5",
    "recall@20": "recall@20",
}


def ranking_metrics(
    qrels: dict[str, dict[str, int]],
    run: dict[str, list[str]],
    metrics: dict[str, str],
) -> dict[str, float | None]:
    """Evaluate ranked id lists (best first) against graded judgments with ranx. ``metrics`` maps
    our key to ranx's metric name. Queries with no relevant item are left out, as BEIR does."""
    judged = {q: rels for q, rels in qrels.items() if any(v > 0 for v in rels.values())}
    if not judged:
        return dict.fromkeys(metrics)
    from ranx import Qrels, Run, evaluate

    scores: dict[str, dict[str, float]] = {}
    for q in judged:
        ids = list(dict.fromkeys(run.get(q, [])))  # first occurrence wins
        # strictly decreasing scores keep our order whatever ranx does with ties
        scores[q] = {doc: float(len(ids) - i) for i, doc in enumerate(ids)} or {"\x00none": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's type-safety chatter
        values = evaluate(
            Qrels(judged),
            Run(scores),
            list(dict.fromkeys(metrics.values())),
            make_comparable=True,
        )
    if not isinstance(values, dict):  # ranx returns a bare float for a single metric
        values = {next(iter(metrics.values())): values}
    return {key: round(float(values[name]), 4) for key, name in metrics.items()}


def hit_curve(first_relevant: Sequence[int | None], max_k: int = 20) -> list[float]:
    """Share of questions with a relevant passage within the top k, for k = 1..max_k, from the
    1-based rank of each question's first relevant passage (None: none retrieved). The plotted
    curve; the reported recall@k numbers come from ranx."""
    n = len(first_relevant)
    if not n:
        return []
    return [
        sum(1 for r in first_relevant if r is not None and r <= k) / n for k in range(1, max_k + 1)
    ]


# -- question types --------------------------------------------------------------------------------

QUESTION_TYPES = ("who", "when", "where", "what", "how", "which", "why", "other")
_WH = re.compile(r"\b(who|whom|whose|when|where|what|how|which|why)\b", re.IGNORECASE)


def question_type(question: str) -> str:
    """The first wh-word anywhere in the question ("In what year ..." is a what-question)."""
    m = _WH.search(question)
    if not m:
        return "other"
    word = m.group(1).lower()
    return "who" if word in ("whom", "whose") else word
