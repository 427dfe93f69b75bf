"""Question-term coverage: stop words never count, inflections match, an empty question misses
nothing."""

from __future__ import annotations

import pytest

from qa.read.overlap import NEAR_CHARS, content_terms, coverage, near


def test_content_terms_drop_stop_words_and_stem() -> None:
    assert content_terms("When did the Huguenots reach the Cape?") == {"huguenot", "reach", "cape"}
    assert content_terms("Who is it?") == frozenset()


def test_coverage_is_the_share_of_question_terms_the_text_holds() -> None:
    asked = content_terms("When did the Huguenots reach the Cape?")
    assert coverage(asked, "Huguenot refugees reached the Cape in 1688.") == pytest.approx(1.0)
    assert coverage(asked, "Lutheran exiles reached Prussia.") == pytest.approx(1 / 3)
    assert coverage(asked, "") == 0.0
    assert coverage(frozenset(), "anything at all") == 1.0


def test_near_is_the_answer_and_about_a_sentence_either_side() -> None:
    text = "x" * 500 + "ANSWER" + "y" * 500
    around = near(text, 500, 506)
    assert around == "x" * NEAR_CHARS + "ANSWER" + "y" * NEAR_CHARS
    assert near("short ANSWER here", 6, 12) == "short ANSWER here"
