"""The default reader: the trained span model and the packaged-parts reader, combined.

The two readers fail differently. The trained transformer (qa/models/reader) reads fluently but
learned from ~8k SQuAD questions, so it often picks a plausible span of the wrong kind ("Which news
agency ...?" -> a place); the packaged-parts reader knows what kind of thing a question asks for
(entity types, the noun after "which") and where question words sit in the parse, but reads
shallowly. Where they agree, the answer is far likelier right than either one's score says; where
they disagree, the better-supported one usually is.

Every distinct answer text (SQuAD-normalized, across all passages) either reader proposes becomes
one candidate, described by ``FEATURES``: each reader's score and share of probability for it, how
far it agrees with the other reader's first choice, the retrieval rank of its passage, how many
documents state it, and question-level evidence (the transformer's best score and no-answer
margin, the heuristic's no-answer estimate). Two small models fitted on held-out SQuAD articles by
``python -m qa.readers.ensemble_fit`` (weights in ensemble_weights.json) turn them into answers:

* rank model: a softmax over the candidates of one question (conditional logit), fitted on
  answerable questions: which candidate is the answer, if there is one;
* confidence model: a logistic over a candidate's features plus its rank probability and its lead
  over the runner-up, fitted on every candidate of answerable and unanswerable questions alike:
  the probability that answering with it is right (token F1 >= 0.5 with a gold answer; always
  wrong when the documents do not answer). The rank model's first choice is the answer, and its
  confidence is the ``score`` the threshold applies to. Alternatives are scored by the same
  model, capped so that none outscores a candidate the rank model prefers.

The transformer reads only the first ``transformer_passages`` passages: it costs ~30 ms per
window on two cores, and the fitted weights were chosen for that depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answers import normalize_answer, token_f1
from qa.readers.fitted import WeightsError, load_fitted, sigmoid, softmax, threshold_of
from qa.readers.heuristic import HeuristicReader
from qa.readers.transformer import TransformerReader
from qa.types import Passage, ReaderOutput, Span

WEIGHTS = Path(__file__).with_name("ensemble_weights.json")
#: spans asked of each reader; candidates beyond these carry too little probability to matter
SPANS_PER_READER = 20

FEATURES = (
    "t_present",  # the transformer proposes this text
    "t_prob",  # its calibrated probability for its best span of this text (0 if absent)
    "t_logit",  # that span's start+end logit, / 10 (0 if absent)
    "t_share",  # softmax share of the transformer's span logits that this text takes
    "t_top",  # it is the transformer's first choice
    "h_present",  # the packaged-parts reader proposes it
    "h_score",  # that reader's score (expected F1) for it
    "h_share",  # that reader's span probability, summed over passages
    "h_top",  # it is the packaged-parts reader's first choice
    "both",  # both readers propose exactly this text
    "agree_t",  # token F1 of this text with the transformer's first choice
    "agree_h",  # token F1 of this text with the packaged-parts reader's first choice
    "passage_rr",  # 1 / retrieval rank of the best passage stating it
    "documents",  # log(1 + documents stating it)
    "words",  # log(1 + its length in words)
    "q_t_best",  # question level: the transformer's best calibrated probability
    "q_t_null",  # question level: its best span-minus-null margin, / 10
    "q_h_no_answer",  # question level: the packaged-parts reader's no-answer probability
)
#: the confidence model reads a candidate's FEATURES and these two
CONFIDENCE_FEATURES = (
    *FEATURES,
    "p_rank",  # the rank model's probability for it
    "p_lead",  # that probability minus the best other candidate's
)


def load_weights(path: Path = WEIGHTS) -> dict[str, Any]:
    models = (("rank", FEATURES), ("confidence", CONFIDENCE_FEATURES))
    return load_fitted(path, models, "python -m qa.readers.ensemble_fit")


@dataclass
class Candidate:
    """One distinct answer text and every span, from either reader, that states it."""

    key: str
    t_spans: list[Span] = field(default_factory=list)
    h_spans: list[Span] = field(default_factory=list)
    t_share: float = 0.0
    h_share: float = 0.0

    @property
    def spans(self) -> list[Span]:
        """Transformer spans first (its boundaries are the cleaner), each best first."""
        t = sorted(self.t_spans, key=lambda s: -s.score)
        h = sorted(self.h_spans, key=lambda s: -s.score)
        return t + h


def candidates(t_out: ReaderOutput, h_out: ReaderOutput) -> list[Candidate]:
    """Group both readers' spans by normalized text; keep each reader's probability share."""
    by_key: dict[str, Candidate] = {}
    t_logits = np.array([s.features.get("span_logit", 0.0) for s in t_out.spans], dtype=float)
    t_soft = softmax(t_logits)
    for span, share in zip(t_out.spans, t_soft, strict=True):
        key = normalize_answer(span.text)
        if key:
            c = by_key.setdefault(key, Candidate(key))
            c.t_spans.append(span)
            c.t_share += float(share)
    for span in h_out.spans:
        key = normalize_answer(span.text)
        if key:
            c = by_key.setdefault(key, Candidate(key))
            c.h_spans.append(span)
            c.h_share += float(span.features.get("p_span", 0.0))
    return list(by_key.values())


def feature_matrix(cands: list[Candidate], t_out: ReaderOutput, h_out: ReaderOutput) -> np.ndarray:
    """Rows of ``FEATURES`` for ``cands``; the same code serves fitting and reading."""
    t_top = normalize_answer(t_out.spans[0].text) if t_out.spans else ""
    h_top = normalize_answer(h_out.spans[0].text) if h_out.spans else ""
    t_best = max((s.score for s in t_out.spans), default=0.0)
    t_null = max((s.features.get("null_margin", -30.0) for s in t_out.spans), default=-30.0)
    h_na = float(h_out.no_answer) if h_out.spans else 1.0
    rows = np.zeros((len(cands), len(FEATURES)), dtype=np.float64)
    for i, c in enumerate(cands):
        t = max(c.t_spans, key=lambda s: s.score) if c.t_spans else None
        h = max(c.h_spans, key=lambda s: s.score) if c.h_spans else None
        ranks = [s.passage_rank for s in c.t_spans + c.h_spans if s.passage_rank > 0]
        docs = {s.doc_id for s in c.t_spans + c.h_spans}
        rows[i] = (
            1.0 if t else 0.0,
            t.score if t else 0.0,
            t.features.get("span_logit", 0.0) / 10.0 if t else 0.0,
            c.t_share,
            1.0 if c.key == t_top else 0.0,
            1.0 if h else 0.0,
            h.score if h else 0.0,
            min(c.h_share, 1.0),
            1.0 if c.key == h_top else 0.0,
            1.0 if (t and h) else 0.0,
            _agreement(c.key, t_top),
            _agreement(c.key, h_top),
            1.0 / min(ranks) if ranks else 0.0,
            math.log1p(len(docs)),
            math.log1p(len(c.key.split())),
            t_best,
            max(t_null, -30.0) / 10.0,
            h_na,
        )
    return rows


def confidence_matrix(x: np.ndarray, p_rank: np.ndarray) -> np.ndarray:
    """``CONFIDENCE_FEATURES`` rows: each candidate's features, rank probability and lead."""
    if len(p_rank) == 0:
        return np.zeros((0, len(CONFIDENCE_FEATURES)))
    order = np.sort(p_rank)[::-1]
    runner_up = np.where(p_rank >= order[0], order[1] if len(order) > 1 else 0.0, order[0])
    return np.hstack([x, p_rank[:, None], (p_rank - runner_up)[:, None]])


def _agreement(key: str, other: str) -> float:
    """Token F1 of two normalized answers; 0 when the other reader proposed nothing."""
    return token_f1(key.split(), other.split()) if other else 0.0


def score(
    x: np.ndarray, rank_w: np.ndarray, conf_w: np.ndarray, conf_b: float
) -> tuple[np.ndarray, np.ndarray]:
    """(rank probability, confidence) of each candidate from its ``FEATURES`` row; the same
    code serves fitting and reading."""
    p_rank = softmax(x @ rank_w)
    return p_rank, sigmoid(confidence_matrix(x, p_rank) @ conf_w + conf_b)


class EnsembleReader:
    """Trained transformer + packaged-parts reader, combined by fitted weights; see the module
    docstring."""

    def __init__(
        self,
        transformer: TransformerReader,
        heuristic: HeuristicReader,
        *,
        weights: Path | str | None = None,
        threshold: float | None = None,
        transformer_passages: int | None = None,
    ) -> None:
        self.transformer = transformer
        self.heuristic = heuristic
        self.weights_path = Path(weights) if weights is not None else WEIGHTS
        data = load_weights(self.weights_path)
        self._rank_w = np.asarray(data["rank"]["weights"], dtype=np.float64)
        self._conf_w = np.asarray(data["confidence"]["weights"], dtype=np.float64)
        self._conf_b = float(data["confidence"]["bias"])
        self.transformer_passages = int(
            transformer_passages
            if transformer_passages is not None
            else data.get("transformer_passages", 5)
        )
        if self.transformer_passages < 1:
            raise ValueError("transformer_passages must be >= 1")
        self.default_threshold = threshold_of(data, threshold)
        self.name = f"ensemble({self.transformer.name}+{self.heuristic.name})"

    def warm_up(self) -> None:
        self.transformer.warm_up()
        self.heuristic.warm_up()

    def read_both(
        self, question: str, passages: list[Passage]
    ) -> tuple[ReaderOutput, ReaderOutput]:
        """Each reader's own output over the passages it reads."""
        t_out = self.transformer.read(
            question, passages[: self.transformer_passages], top_n=SPANS_PER_READER
        )
        h_out = self.heuristic.read(question, passages, top_n=SPANS_PER_READER)
        return t_out, h_out

    def combine(self, t_out: ReaderOutput, h_out: ReaderOutput, top_n: int = 10) -> ReaderOutput:
        cands = candidates(t_out, h_out)
        if not cands:
            return ReaderOutput(spans=[], no_answer=1.0, features={"candidates": 0.0})
        x = feature_matrix(cands, t_out, h_out)
        p_rank, conf = score(x, self._rank_w, self._conf_w, self._conf_b)
        order = np.argsort(-p_rank, kind="stable")
        # the rank model decides the order; a later candidate never scores above an earlier one
        probs = np.minimum.accumulate(conf[order])
        xc = confidence_matrix(x, p_rank)
        spans: list[Span] = []
        for prob, i in zip(probs[:top_n], order[:top_n], strict=True):
            feats = {
                name: round(float(v), 4) for name, v in zip(CONFIDENCE_FEATURES, xc[i], strict=True)
            }
            spans += [
                replace(span, score=round(float(prob), 6), features=feats)
                for span in cands[i].spans
            ]
        return ReaderOutput(
            spans=spans,
            no_answer=round(1.0 - float(probs.max()), 6),
            features={
                "candidates": float(len(cands)),
                "transformer_no_answer": round(float(t_out.no_answer), 4),
                "heuristic_no_answer": round(float(h_out.no_answer), 4),
            },
        )

    def read(self, question: str, passages: list[Passage], top_n: int = 10) -> ReaderOutput:
        if not passages:
            return ReaderOutput(spans=[], no_answer=1.0)
        t_out, h_out = self.read_both(question, passages)
        return self.combine(t_out, h_out, top_n)


__all__ = [
    "CONFIDENCE_FEATURES",
    "FEATURES",
    "WEIGHTS",
    "EnsembleReader",
    "WeightsError",
    "candidates",
    "confidence_matrix",
    "feature_matrix",
    "load_weights",
    "score",
]
