"""Aggregation: one answer per meaning, every supporting document cited."""

from __future__ import annotations

from dataclasses import replace

from qa.cite.answers import aggregate, sentence_around
from qa.read.meanings import group_by_meaning
from qa.types import Meta, Passage, ReaderOutput, Span

TEXT_A = "Intro line here. The treaty was signed in Moscow. It lasts 25 years."
TEXT_B = "Elsewhere: the treaty was signed in Moscow by both leaders."


def passage(doc_id: str, text: str, offset: int = 0) -> Passage:
    return Passage(
        doc_id=doc_id,
        chunk_index=0,
        start=offset,
        end=offset + len(text),
        text=text,
        meta=Meta(f"T {doc_id}", source="TASS"),
    )


def span(p: Passage, needle: str, score: float) -> Span:
    i = p.text.index(needle)
    return Span(needle, p.doc_id, p.start + i, p.start + i + len(needle), score)


def test_same_answer_from_two_documents_is_one_answer_citing_both():
    a, b = passage("a", TEXT_A, offset=100), passage("b", TEXT_B)
    out = ReaderOutput([span(a, "Moscow", 0.9), span(b, "Moscow", 0.7), span(a, "25 years", 0.6)])
    answers = aggregate(out, [a, b], threshold=0.5)
    assert [x.text for x in answers] == ["Moscow", "25 years"]
    best = answers[0]
    assert [c.doc_id for c in best.citations] == ["a", "b"]
    assert best.sentence == "The treaty was signed in Moscow."
    assert best.sentence_start == 100 + TEXT_A.index("The treaty")
    assert best.features["supporting_documents"] == 2.0
    assert best.citations[1].sentence_start == TEXT_B.index("Elsewhere")


def test_threshold_and_limit():
    a = passage("a", TEXT_A)
    out = ReaderOutput([span(a, "Moscow", 0.4), span(a, "25 years", 0.3)])
    assert aggregate(out, [a], threshold=0.5) == []
    assert len(aggregate(out, [a], threshold=0.0, max_answers=1)) == 1


def test_sentence_around_spanning_two_sentences():
    a = passage("a", TEXT_A, offset=10)
    s, e = sentence_around(a, 10 + TEXT_A.index("Moscow"), 10 + TEXT_A.index("lasts"))
    assert (s - 10, e - 10) == (TEXT_A.index("The treaty"), len(TEXT_A))


def test_contained_and_overlapping_spans_are_one_meaning_with_the_best_span():
    """ "Jens Stoltenberg", "General Jens Stoltenberg" and "Stoltenberg" are one answer, shown as
    the reader's best span and citing every document that states it."""
    text_a = "NATO chief General Jens Stoltenberg said on Monday that Stoltenberg's plan stands."
    text_b = "Jens Stoltenberg spoke in Brussels."
    a, b = passage("a", text_a), passage("b", text_b)
    spans = [
        span(a, "Jens Stoltenberg", 0.8),
        span(b, "Jens Stoltenberg", 0.8),
        span(a, "General Jens Stoltenberg", 0.8),
        span(a, "Monday", 0.3),
        span(a, "Stoltenberg said", 0.8),  # overlaps "General Jens Stoltenberg" in the text
    ]
    groups = group_by_meaning(spans)
    assert [[s.text for s in g] for g in groups] == [
        ["Jens Stoltenberg", "Jens Stoltenberg", "General Jens Stoltenberg", "Stoltenberg said"],
        ["Monday"],
    ]
    answers = aggregate(ReaderOutput(spans), [a, b], threshold=0.5)
    assert [x.text for x in answers] == ["Jens Stoltenberg"]
    assert [c.doc_id for c in answers[0].citations] == ["a", "b"]


def test_meanings_a_reader_assigned_are_kept():
    """A reader that grouped its spans marks each with its meaning; aggregation keeps that
    grouping even where the words alone would group otherwise."""
    a = passage("a", TEXT_A)
    spans = [
        replace(span(a, "Moscow", 0.9), meaning=0),
        replace(span(a, "signed in Moscow", 0.5), meaning=1),
    ]
    assert [[s.text for s in g] for g in group_by_meaning(spans)] == [
        ["Moscow"],
        ["signed in Moscow"],
    ]


def test_citations_agree_with_the_answer_shown():
    """A group chained through "USSR and Russia" cites only documents that state "USSR"."""
    a = passage("a", "The USSR and Russia differ.")
    b = passage("b", "Only Russia is named here.")
    c = passage("c", "The USSR is named here.")
    spans = [span(c, "USSR", 0.9), span(a, "USSR and Russia", 0.8), span(b, "Russia", 0.7)]
    (answer,) = aggregate(ReaderOutput(spans), [a, b, c], threshold=0.5)
    assert answer.text == "USSR"
    assert [x.doc_id for x in answer.citations] == ["c", "a"]


def test_unrelated_answers_stay_apart():
    a = passage("a", TEXT_A)
    groups = group_by_meaning([span(a, "Moscow", 0.9), span(a, "25 years", 0.6)])
    assert len(groups) == 2
    assert group_by_meaning([Span("the", "a", 0, 3, 0.9)]) == []
