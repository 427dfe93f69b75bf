"""A question's constraints (names, numbers, ordinals), whether a text states them, and what a
sentence says in place of the ones it lacks."""

from __future__ import annotations

import pytest

from qa.read.constraints import question_constraints, share_stated, stated, unsupported
from qa.types import Unsupported

KGB_Q = "Who was the head of the Abkhazian KGB from 1992 to 1998?"
KGB_S = "Leonid Tibilov was the head of South Ossetian KGB from 1992 to 1998."


def test_constraints_are_names_numbers_and_ordinals_not_question_words() -> None:
    found = [(c.text, c.kind) for c in question_constraints(KGB_Q)]
    assert found == [("Abkhazian", "name"), ("KGB", "name"), ("1992", "number"), ("1998", "number")]
    assert [c.kind for c in question_constraints("What is the third largest city of 30,000?")] == [
        "ordinal",
        "number",
    ]
    assert question_constraints("who sang the national anthem?") == []
    assert [c.text for c in question_constraints("NATO opposed what?")] == ["NATO"]


def test_a_sentence_about_the_south_ossetian_kgb_does_not_state_the_abkhazian() -> None:
    cons = question_constraints(KGB_Q)
    assert stated(cons, KGB_S) == [False, True, True, True]
    assert share_stated(cons, KGB_S, ("name",)) == pytest.approx(0.5)
    assert share_stated(cons, KGB_S, ("number", "ordinal")) == 1.0
    assert share_stated(cons, "Abkhazian officials of the KGB", ("name",)) == 1.0


@pytest.mark.parametrize(
    ("question_word", "text", "holds"),
    [
        ("Abkhazian", "Abkhazia signed", True),  # a demonym and its country
        ("Russia", "the Russian army", True),
        ("Austria", "Australia", False),  # a shared beginning is not enough
        ("30,000", "about 30000 people", True),
        ("third", "the 3rd President", True),
        ("3rd", "the third President", True),
        ("fourth", "the 3rd President", False),
        ("1998", "in 1999", False),
    ],
)
def test_matching_forms(question_word: str, text: str, holds: bool) -> None:
    cons = question_constraints(f"Which {question_word} thing?")
    assert cons and stated(cons, text) == [holds]


def test_a_question_with_no_constraints_misses_nothing() -> None:
    assert share_stated(question_constraints("who won?"), "nothing here", ("name",)) == 1.0


def test_unsupported_names_what_the_sentence_says_instead() -> None:
    missing = unsupported(KGB_Q, KGB_S, (0, len("Leonid Tibilov")))
    assert missing == [Unsupported("Abkhazian", "name", "South Ossetian")]
    assert missing[0].sentence() == "the passage says South Ossetian, not Abkhazian"
    ordinal = unsupported(
        "Who became the 4th President of South Ossetia in 2012?",
        "Tibilov became the 3rd President of South Ossetia in 2012 after defeating Sanakoyev.",
        (0, 7),
    )
    assert ordinal == [Unsupported("4th", "ordinal", "3rd")]


def test_the_answer_itself_is_never_what_the_sentence_says_instead() -> None:
    missing = unsupported("Who led Abkhazia?", "Leonid Tibilov led it.", (0, 14))
    assert missing == [Unsupported("Abkhazia", "name", "")]
    assert missing[0].sentence() == "the passage does not mention Abkhazia"


def test_without_missing_constraints_the_missing_words_are_named() -> None:
    missing = unsupported(
        "Where did Putin and Raul Khadzhinba sign the treaty?",
        "Putin met Raul Khadzhinba in Moscow on Monday.",
        (29, 35),
    )
    assert [(u.text, u.kind) for u in missing] == [("sign", "term"), ("treaty", "term")]
    assert unsupported("Where does Putin meet?", "Putin meets him in Moscow.", (19, 25)) == []


def test_unsupported_round_trips() -> None:
    u = Unsupported("Abkhazian", "name", "South Ossetian")
    assert Unsupported.from_dict(u.to_dict()) == u


@pytest.mark.parametrize(
    "text",
    [
        KGB_S,
        "Russia’s 3rd and Third Division; 1,000 U.S. troops. Abkhazian's 21st year, the 1990s.",
        "On March 18, 2015, the first treaty was signed in Moscow by Putin's envoy.",
    ],
)
def test_text_keys_are_each_words_key_in_every_kind(text: str):
    """The unrolled key set that passages are checked with is the one the per-kind keys give."""
    from qa.read.constraints import _MATCHED_AS, _TOKEN, _key, text_keys

    expected = {_key(token, kind) for token in _TOKEN.findall(text) for kind in _MATCHED_AS}
    assert text_keys(text).keys == expected
    cons = question_constraints("Who signed the third treaty in Moscow in 2015?")
    assert stated(cons, text_keys(text)) == stated(cons, text)
