"""Aggregation: one answer per normalized text, every supporting document cited."""

from __future__ import annotations

import pytest

from qa.answers import aggregate, normalize_answer, sentence_around, token_f1
from qa.types import Passage, ReaderOutput, Span

TEXT_A = "Intro line here. The treaty was signed in Moscow. It lasts 25 years."
TEXT_B = "Elsewhere: the treaty was signed in Moscow by both leaders."


def passage(doc_id: str, text: str, offset: int = 0) -> Passage:
    return Passage(
        doc_id=doc_id,
        chunk_index=0,
        start=offset,
        end=offset + len(text),
        text=text,
        title=f"T {doc_id}",
        source="TASS",
    )


def span(p: Passage, needle: str, score: float) -> Span:
    i = p.text.index(needle)
    return Span(needle, p.doc_id, p.start + i, p.start + i + len(needle), score)


def test_normalize_answer_follows_squad():
    assert normalize_answer("The  USSR!") == "ussr"
    assert normalize_answer("“soft” annexation") == "soft annexation"
    assert normalize_answer("an Apple, a day") == "apple day"


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


def test_token_f1_counts_shared_tokens_once():
    assert token_f1(["a", "b"], ["a", "b"]) == 1.0
    assert token_f1(["a", "a", "b"], ["a", "c"]) == pytest.approx(
        2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)
    )
    assert token_f1(["x"], ["y"]) == 0.0
    assert token_f1([], []) == 1.0 and token_f1([], ["a"]) == 0.0
