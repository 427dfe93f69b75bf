"""Answer words: one normaliser, with the product's punctuation (typographic quotes and dashes
too) or the official SQuAD script's (ASCII only), and SQuAD's token F1."""

from __future__ import annotations

import pytest

from qa.text.normalize import SQUAD_PUNCTUATION, contains_words, normalize_answer, token_f1


def test_normalize_answer_follows_squad():
    assert normalize_answer("The  USSR!") == "ussr"
    assert normalize_answer("“soft” annexation") == "soft annexation"
    assert normalize_answer("an Apple, a day") == "apple day"


def test_squad_punctuation_keeps_typographic_quotes_as_the_official_script_does():
    assert normalize_answer("“soft” annexation", SQUAD_PUNCTUATION) == "“soft” annexation"
    assert normalize_answer("U.S.A. – the", SQUAD_PUNCTUATION) == "usa –"


def test_token_f1_counts_shared_tokens_once():
    assert token_f1(["a", "b"], ["a", "b"]) == 1.0
    assert token_f1(["a", "a", "b"], ["a", "c"]) == pytest.approx(
        2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2)
    )
    assert token_f1(["x"], ["y"]) == 0.0
    assert token_f1([], []) == 1.0 and token_f1([], ["a"]) == 0.0


def test_contains_words_on_word_boundaries():
    assert contains_words(["general", "jens", "stoltenberg"], ["jens", "stoltenberg"])
    assert not contains_words(["jens", "stoltenberg"], ["stolten"])
    assert not contains_words(["a"], [])
