"""From reader candidates to cited answers.

Readers score spans passage by passage; users want one answer per distinct answer. Candidates are
grouped by their SQuAD-normalized text, so "the USSR" in one article and "USSR" in another count as
one answer, shown once with every document that supports it cited.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from qa.nlp import sentence_spans
from qa.types import Answer, Citation, Passage, ReaderOutput, Span

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("‘’“”«»–—…")


def normalize_answer(text: str) -> str:
    """SQuAD's normalization (lowercase, no punctuation, no articles, single spaces), with
    typographic quotes and dashes treated as punctuation too."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: Sequence[str], gold: Sequence[str]) -> float:
    """SQuAD's token F1 of two already normalized token lists; empty matches only empty."""
    if not prediction or not gold:
        return float(list(prediction) == list(gold))
    same = sum((Counter(prediction) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(prediction), same / len(gold)
    return 2 * precision * recall / (precision + recall)


@lru_cache(maxsize=8192)
def _sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence offsets of a passage. A corpus hands the same chunks out again and again, and
    segmenting one costs a few ms, as much as the rest of citing together."""
    return tuple(sentence_spans(text))


def sentence_around(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the sentence(s) of ``passage`` that hold ``[start, end)``."""
    spans = _sentences(passage.text)
    if not spans:
        return passage.start, passage.end
    starts = [s for s, _ in spans]
    rel_s, rel_e = start - passage.start, end - passage.start
    i = max(bisect_right(starts, rel_s) - 1, 0)
    j = max(bisect_right(starts, max(rel_e - 1, rel_s)) - 1, i)
    return passage.start + spans[i][0], passage.start + max(spans[j][1], rel_e)


def aggregate(
    output: ReaderOutput,
    passages: list[Passage],
    threshold: float,
    max_answers: int = 5,
) -> list[Answer]:
    """Answers at or above ``threshold``, best first, one per normalized text."""
    groups: dict[str, list[Span]] = {}
    for span in output.spans:
        key = normalize_answer(span.text)
        if key:
            groups.setdefault(key, []).append(span)
    answers: list[Answer] = []
    ranked = sorted(groups.values(), key=lambda g: -max(s.score for s in g))
    for group in ranked:
        group.sort(key=lambda s: -s.score)
        best = group[0]
        if best.score < threshold or len(answers) >= max_answers:
            break
        citations: list[Citation] = []
        sentence = (best.start, best.end)
        best_passage = None
        seen_docs: set[str] = set()
        for span in group:
            if span.doc_id in seen_docs:
                continue
            passage = _passage_of(span, passages)
            if passage is None:
                continue
            seen_docs.add(span.doc_id)
            s_start, s_end = sentence_around(passage, span.start, span.end)
            if best_passage is None:
                best_passage, sentence = passage, (s_start, s_end)
            citations.append(
                Citation(
                    doc_id=span.doc_id,
                    title=passage.title,
                    source=passage.source,
                    date=passage.date,
                    url=passage.url,
                    path=passage.path,
                    start=span.start,
                    end=span.end,
                    sentence_start=s_start,
                    sentence_end=s_end,
                )
            )
        if best_passage is None:
            continue
        base = best_passage.start
        features = dict(best.features)
        features["supporting_documents"] = float(len(citations))
        answers.append(
            Answer(
                text=best.text,
                score=round(float(best.score), 4),
                doc_id=best.doc_id,
                start=best.start,
                end=best.end,
                sentence=best_passage.text[sentence[0] - base : sentence[1] - base],
                sentence_start=sentence[0],
                sentence_end=sentence[1],
                citations=citations,
                features=features,
            )
        )
    return answers


def _passage_of(span: Span, passages: list[Passage]) -> Passage | None:
    """The passage a span came from: the one of its document that contains it."""
    for p in passages:
        if p.doc_id == span.doc_id and p.start <= span.start and span.end <= p.end:
            return p
    return None
