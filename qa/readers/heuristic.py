"""The packaged-parts reader: spaCy candidates scored by fitted logistic models.

No question-answering model ships with the product's dependencies, so this reader is assembled from
what does: spaCy (entities, noun phrases, the parse) proposes candidate spans, MiniLM says which
sentences are about the question, and three small models over readable features turn the evidence
into probabilities. Their weights are fitted on SQuAD articles by
``python -m qa.readers.heuristic_fit``, not set by hand, and ship in heuristic_weights.json:

* span model (conditional logit over heuristic_features.SPAN_FEATURES): a softmax over every
  candidate of every passage, ``p_span`` = how much of the answer probability a candidate takes
  (variants of one text in one passage, "the USSR" / "USSR", pooled), assuming an answer exists;
* no-answer model (logistic over NO_ANSWER_FEATURES): the probability that no passage answers,
  from how well the best candidate and the best sentences match the question;
* score model (logistic over SCORE_FEATURES): a span's final ``score``, its expected token F1,
  from its ``p_span``, the no-answer estimate and its own evidence. The reader's
  ``default_threshold`` applies to this score.

Parsing and embedding a passage cost far more than scoring it (hundreds of ms per 200 words on
two CPU cores), and a corpus hands the reader the same chunks again and again, so analyses are kept
in an LRU cache keyed by passage text.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed import Embedder
from qa.readers.fitted import WeightsError, load_fitted, sigmoid, softmax, threshold_of
from qa.readers.heuristic_features import (
    EXPLAIN_FEATURES,
    NO_ANSWER_FEATURES,
    SCORE_FEATURES,
    SPAN_FEATURES,
    Analysis,
    Question,
    Scored,
    analyse,
    features,
    parse_question,
    question_row,
    score_row,
)
from qa.types import Passage, ReaderOutput, Span

WEIGHTS = Path(__file__).with_name("heuristic_weights.json")


def load_weights(path: Path = WEIGHTS) -> dict[str, Any]:
    models = (("span", SPAN_FEATURES), ("no_answer", NO_ANSWER_FEATURES), ("score", SCORE_FEATURES))
    return load_fitted(path, models, "python -m qa.readers.heuristic_fit")


class HeuristicReader:
    """Extractive reader from spaCy + MiniLM with fitted weights; see the module docstring."""

    name = "heuristic"

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        threshold: float | None = None,
        weights: Path | str | None = None,
        cache_size: int = 4096,
    ) -> None:
        if embedder is None:
            from qa.settings import Settings

            embedder = Embedder(Settings().embed_model)
        self.embedder = embedder
        self.weights_path = Path(weights) if weights is not None else WEIGHTS
        # The weights file is a few hundred bytes of configuration, read now so that
        # ``default_threshold`` is right before any model is loaded.
        data = load_weights(self.weights_path)
        self._span_w = np.asarray(data["span"]["weights"], dtype=np.float64)
        self._na_w = np.asarray(data["no_answer"]["weights"], dtype=np.float64)
        self._na_b = float(data["no_answer"]["bias"])
        self._score_w = np.asarray(data["score"]["weights"], dtype=np.float64)
        self._score_b = float(data["score"]["bias"])
        self.default_threshold = threshold_of(data, threshold)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Analysis] = OrderedDict()
        self._lock = threading.Lock()
        self._nlp: Any = None

    def warm_up(self) -> None:
        if self._nlp is None:
            from qa.nlp import pipeline

            self.embedder.warm_up()
            self._nlp = pipeline()

    # -- analysis -------------------------------------------------------------------------

    def prepare(
        self, question: str, texts: list[str], question_vector: np.ndarray | None = None
    ) -> tuple[Question, list[Analysis]]:
        """Parse the question and the passages (cached), and embed the question together with
        the sentences of passages not seen before, in one call."""
        self.warm_up()
        with self._lock:
            q = parse_question(self._nlp, question)
            analyses: dict[str, Analysis] = {}
            for t in texts:
                hit = self._cache.get(t)
                if hit is not None:
                    self._cache.move_to_end(t)
                    analyses[t] = hit
            missing = list(dict.fromkeys(t for t in texts if t not in analyses))
            fresh = analyse(self._nlp, missing) if missing else []
        sentences = [a.sentence_text(i) for a in fresh for i in range(len(a.sentences))]
        if question_vector is None:
            vectors = self.embedder.embed([question, *sentences])
            q.vector, pos = vectors[0], 1
        else:
            vectors = self.embedder.embed(sentences) if sentences else np.zeros((0, 1))
            q.vector, pos = question_vector, 0
        for a in fresh:
            n = len(a.sentences)
            a.vectors = vectors[pos : pos + n]
            pos += n
        with self._lock:
            for t, a in zip(missing, fresh, strict=True):
                analyses[t] = a
                self._cache[t] = a
                self._cache.move_to_end(t)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return q, [analyses[t] for t in texts]

    def analyse_texts(self, texts: list[str]) -> None:
        """Fill the cache for many passages in batches (fitting, evaluation, corpus warm-up)."""
        self.warm_up()
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for i in range(0, len(todo), 256):
            batch = todo[i : i + 256]
            with self._lock:
                fresh = analyse(self._nlp, batch)
            sentences = [a.sentence_text(j) for a in fresh for j in range(len(a.sentences))]
            vectors = self.embedder.embed(sentences)
            pos = 0
            with self._lock:
                for t, a in zip(batch, fresh, strict=True):
                    a.vectors = vectors[pos : pos + len(a.sentences)]
                    pos += len(a.sentences)
                    self._cache[t] = a
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)

    def featurize(
        self, question: str, passages: list[Passage], question_vector: np.ndarray | None = None
    ) -> tuple[list[Analysis], Scored]:
        q, analyses = self.prepare(question, [p.text for p in passages], question_vector)
        ranks = [p.rank if p.rank > 0 else i + 1 for i, p in enumerate(passages)]
        return analyses, features(q, analyses, ranks)

    # -- scoring --------------------------------------------------------------------------

    def span_logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x @ self._span_w, dtype=np.float64)

    def no_answer_probability(self, scored: Scored, best_p: float, best: int | None) -> float:
        row = question_row(
            scored.question_features, best_p, None if best is None else scored.x[best]
        )
        return float(sigmoid(np.array([row @ self._na_w + self._na_b]))[0])

    def read(self, question: str, passages: list[Passage], top_n: int = 10) -> ReaderOutput:
        if not passages:
            return ReaderOutput(spans=[], no_answer=1.0)
        analyses, scored = self.featurize(question, passages)
        return self.output(passages, analyses, scored, top_n)

    def pooled(
        self, passages: list[Passage], analyses: list[Analysis], scored: Scored, logits: np.ndarray
    ) -> list[tuple[float, int]]:
        """(probability, best candidate row) per distinct answer of a passage, best first: the
        softmax over all candidates, summed over variants of one text ("the USSR" / "USSR")."""
        p = softmax(logits)
        groups: dict[tuple[int, str], list[int]] = {}
        for k in np.argsort(-logits, kind="stable"):
            pi, ci = scored.refs[int(k)][0], scored.index[int(k)]
            key = (pi, analyses[pi].norms[ci])
            if key[1]:
                groups.setdefault(key, []).append(int(k))
        return sorted(((float(p[ks].sum()), ks[0]) for ks in groups.values()), key=lambda t: -t[0])

    def output(
        self, passages: list[Passage], analyses: list[Analysis], scored: Scored, top_n: int = 10
    ) -> ReaderOutput:
        """Score featurized candidates: spans best first, one per normalized text per passage."""
        logits = self.span_logits(scored.x)
        pooled = self.pooled(passages, analyses, scored, logits)
        best_p, best = pooled[0] if pooled else (0.0, None)
        no_answer = self.no_answer_probability(scored, best_p, best)
        spans: list[Span] = []
        for rank, (p_span, k) in enumerate(pooled[:top_n]):
            pi, cand = scored.refs[k]
            passage = passages[pi]
            cs, ce = analyses[pi].char_range(cand)
            feats = dict(zip(EXPLAIN_FEATURES, scored.explain[k].tolist(), strict=True))
            feats.update(zip(SPAN_FEATURES, scored.x[k].tolist(), strict=True))
            feats = {name: round(float(v), 4) for name, v in feats.items()}
            feats["logit"] = round(float(logits[k]), 4)
            feats["p_span"] = round(p_span, 4)
            feats["no_answer"] = round(no_answer, 4)
            row = score_row(p_span, no_answer, rank == 0, scored.x[k], scored.explain[k])
            score = float(sigmoid(np.array([row @ self._score_w + self._score_b]))[0])
            spans.append(
                Span(
                    text=passage.text[cs:ce],
                    doc_id=passage.doc_id,
                    start=passage.start + cs,
                    end=passage.start + ce,
                    score=score,
                    passage_rank=passage.rank,
                    features=feats,
                )
            )
        spans.sort(key=lambda span: -span.score)
        summary = {k: round(float(v), 4) for k, v in scored.question_features.items()}
        summary["candidates"] = float(len(scored.refs))
        return ReaderOutput(spans=spans, no_answer=no_answer, features=summary)


__all__ = ["WEIGHTS", "HeuristicReader", "WeightsError", "load_weights"]
