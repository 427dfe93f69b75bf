"""From reader candidates to cited answers: one answer per meaning (``qa.read.meanings``), with
its best span, citing every document that supports it and the sentence that holds it.
"""

from __future__ import annotations

from qa.read.meanings import group_by_meaning
from qa.text.normalize import contains_words, normalize_answer
from qa.text.pages import page_in
from qa.text.sentences import sentences_holding
from qa.types import Answer, Citation, Passage, ReaderOutput, Span


def sentence_around(passage: Passage, start: int, end: int) -> tuple[int, int]:
    """Document offsets of the sentence(s) of ``passage`` that hold ``[start, end)``."""
    held = sentences_holding(passage.text, start - passage.start, end - passage.start)
    if held is None:
        return passage.start, passage.end
    return passage.start + held[0], passage.start + held[1]


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
        contains_words(words, best_words)
        or contains_words(best_words, words)
        or (span.doc_id == best.doc_id and span.start < best.end and best.start < span.end)
    )


def _passage_of(span: Span, passages: list[Passage]) -> Passage | None:
    """The passage a span came from: the one of its document that contains it."""
    for p in passages:
        if p.doc_id == span.doc_id and p.start <= span.start and span.end <= p.end:
            return p
    return None
