"""From reader candidates to cited answers.

Readers score spans passage by passage; users want one answer per meaning. Candidates are grouped
when one's SQuAD-normalized words contain the other's ("Stoltenberg" in "General Jens
Stoltenberg", "the USSR" and "USSR") or when they overlap in the same passage, so each meaning is
shown once, with its best span, citing every document that supports it.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from qa.text.pages import page_in
from qa.text.sentences import sentence_spans
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
def passage_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence offsets of a passage. A corpus hands the same chunks out again and again, and
    segmenting one costs a few ms, as much as the rest of citing together."""
    return tuple(sentence_spans(text))


def sentence_around(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the sentence(s) of ``passage`` that hold ``[start, end)``."""
    spans = passage_sentences(passage.text)
    if not spans:
        return passage.start, passage.end
    starts = [s for s, _ in spans]
    rel_s, rel_e = start - passage.start, end - passage.start
    i = max(bisect_right(starts, rel_s) - 1, 0)
    j = max(bisect_right(starts, max(rel_e - 1, rel_s)) - 1, i)
    return passage.start + spans[i][0], passage.start + max(spans[j][1], rel_e)


def _contains(outer: Sequence[str], inner: Sequence[str]) -> bool:
    """``inner`` occurs in ``outer`` as a run of whole words."""
    n = len(inner)
    return 0 < n <= len(outer) and any(
        list(outer[i : i + n]) == list(inner) for i in range(len(outer) - n + 1)
    )


def group_by_meaning(spans: Sequence[Span]) -> list[list[Span]]:
    """Spans that state one answer, grouped; groups and their members keep the input order, so
    with spans given best first, each group's first span is its best and groups come best first.

    A span joins the first group that has a member whose words contain its words or are contained
    in them, or a member it overlaps in the same document. Spans whose normalized text is empty
    (punctuation, a lone article) are dropped. Spans that a reader already grouped (``meaning``
    set) keep the reader's grouping, since it scored each meaning as a whole."""
    if spans and all(s.meaning >= 0 for s in spans):
        by_meaning: dict[int, list[Span]] = {}
        for s in spans:
            if normalize_answer(s.text):
                by_meaning.setdefault(s.meaning, []).append(s)
        return list(by_meaning.values())
    groups: list[list[Span]] = []
    words: list[list[list[str]]] = []
    for span in spans:
        toks = normalize_answer(span.text).split()
        if not toks:
            continue
        for group, group_words in zip(groups, words, strict=True):
            if any(
                _contains(w, toks)
                or _contains(toks, w)
                or (m.doc_id == span.doc_id and m.start < span.end and span.start < m.end)
                for m, w in zip(group, group_words, strict=True)
            ):
                group.append(span)
                group_words.append(toks)
                break
        else:
            groups.append([span])
            words.append([toks])
    return groups


def aggregate(
    output: ReaderOutput,
    passages: list[Passage],
    threshold: float,
    max_answers: int = 5,
) -> list[Answer]:
    """Answers at or above ``threshold``, best first, one per meaning (``group_by_meaning``).

    A group's answer is its first span, the reader's best way of stating it; its score is the
    group's best score (a reader that scores meanings gives every member the same one)."""
    answers: list[Answer] = []
    ranked = sorted(group_by_meaning(output.spans), key=lambda g: -max(s.score for s in g))
    for group in ranked:
        best = group[0]
        top_score = max(s.score for s in group)
        if top_score < threshold or len(answers) >= max_answers:
            break
        citations: list[Citation] = []
        sentence = (best.start, best.end)
        best_passage = None
        seen_docs: set[str] = set()
        for span in group:
            if span.doc_id in seen_docs or not _states(span, best):
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
                    meta=passage.meta,
                    start=span.start,
                    end=span.end,
                    sentence_start=s_start,
                    sentence_end=s_end,
                    page=None
                    if passage.page is None
                    else page_in(passage.text, passage.page, span.start - passage.start),
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
                score=round(float(top_score), 4),
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


def _states(span: Span, best: Span) -> bool:
    """Whether ``span`` states the answer ``best`` shows, so that citing it supports that text.
    A group joins spans through any member ("USSR" and "Russia" through "USSR and Russia"); a
    citation must agree with the answer shown: its words contain or are contained in the
    answer's, or it overlaps the answer in the text."""
    words, best_words = normalize_answer(span.text).split(), normalize_answer(best.text).split()
    return (
        _contains(words, best_words)
        or _contains(best_words, words)
        or (span.doc_id == best.doc_id and span.start < best.end and best.start < span.end)
    )


def _passage_of(span: Span, passages: list[Passage]) -> Passage | None:
    """The passage a span came from: the one of its document that contains it."""
    for p in passages:
        if p.doc_id == span.doc_id and p.start <= span.start and span.end <= p.end:
            return p
    return None
